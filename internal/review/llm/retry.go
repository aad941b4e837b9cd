package llm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how provider faults are retried (R6): 429, 5xx, 529
// and network errors, with exponential backoff and full jitter, waiting
// at least as long as the provider asks, and never past the deadline of
// the Review call's context.
type RetryPolicy struct {
	// MaxAttempts counts the first try (default 4).
	MaxAttempts int
	// BaseDelay is the backoff ceiling of the first retry (default 1s); it
	// doubles each retry up to MaxDelay (default 30s).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Sleep waits for d or until ctx ends; tests replace it so they do not
	// sleep. The default uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// maxHonouredWait bounds a provider-requested wait when the context has
// no deadline: a quota that resets in an hour is a failure, not a pause.
const maxHonouredWait = 5 * time.Minute

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the full-jitter delay before retry number n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	ceil := p.BaseDelay
	for i := 1; i < n && ceil < p.MaxDelay; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.MaxDelay)
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// retryable reports whether a provider's answer is worth another try.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// parseRetryAfter reads Retry-After (delay-seconds or HTTP-date) and
// OpenAI's retry-after-ms; 0 when absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if ms := strings.TrimSpace(h.Get("Retry-After-Ms")); ms != "" {
		if v, err := strconv.ParseFloat(ms, 64); err == nil && v > 0 {
			return time.Duration(v * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// call is one HTTP request of a provider, sent by withRetry.
type call struct {
	provider string
	key      string // only to redact it from error messages
	url      string
	header   http.Header
	body     []byte
	// parseError turns a non-2xx answer into an APIError.
	parseError func(status int, h http.Header, body []byte) *APIError
}

// withRetry sends c until it succeeds, fails for good, runs out of
// attempts, or would have to wait past the context's deadline.
func (b *base) withRetry(ctx context.Context, c call) ([]byte, error) {
	p := b.retry
	for attempt := 1; ; attempt++ {
		body, apiErr, err := b.post(ctx, c)
		if err == nil && apiErr == nil {
			return body, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", c.provider, ctxErr)
		}
		var wait time.Duration
		var fault error
		if apiErr != nil {
			if !apiErr.Retryable {
				return nil, apiErr
			}
			fault = apiErr
			wait = apiErr.RetryAfter
		} else {
			fault = err
		}
		if attempt >= p.MaxAttempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", fault, attempt)
		}
		if wait <= 0 {
			wait = p.backoff(attempt)
		} else if _, ok := ctx.Deadline(); !ok && wait > maxHonouredWait {
			return nil, fmt.Errorf("%w (provider asks to wait %s; not retried)", fault, wait.Round(time.Second))
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("%w (retry in %s would pass the deadline; not retried)", fault, wait.Round(time.Millisecond))
		}
		if err := p.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w", c.provider, err)
		}
	}
}
