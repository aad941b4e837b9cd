package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// UserAgent identifies deliveries to receivers.
const UserAgent = "diffgate-webhooks/1"

// Event is one delivery's content.
type Event struct {
	// ID is the event id, the same on every retry, so receivers can
	// de-duplicate by webhook-id. It must not contain "." or spaces.
	ID string
	// Type is the event type (e.g. "review.completed"); it travels inside
	// Payload and is kept here for the dispatcher's filtering and logs.
	Type string
	// Timestamp is the time of this attempt, from the dispatcher's clock:
	// it is sent as webhook-timestamp and signed, and Standard Webhooks has
	// it change on each retry. When the event happened belongs in Payload.
	Timestamp time.Time
	// Payload is the exact body sent and signed.
	Payload []byte
}

// Attempt is the outcome of one delivery attempt, safe to store and show
// to the endpoint's owner: Err is a fixed, short description, never a
// response body, URL or secret.
type Attempt struct {
	Status  int           // HTTP status; 0 when no response arrived
	Latency time.Duration // until the (capped) body was read
	Err     string        // "" on success
	// RetryAfter is the receiver's Retry-After (seconds form) on 429 and
	// 503; the dispatcher should wait at least this long.
	RetryAfter time.Duration
}

// OK reports a successful delivery: a 2xx answer.
func (a Attempt) OK() bool { return a.Err == "" && a.Status >= 200 && a.Status < 300 }

// Gone reports 410 Gone, with which Standard Webhooks lets a receiver ask
// to be disabled.
func (a Attempt) Gone() bool { return a.Status == http.StatusGone }

// NewPayload builds the body Standard Webhooks recommends:
// {"type": ..., "timestamp": RFC 3339 of when the event occurred, "data": ...}.
func NewPayload(typ string, occurred time.Time, data any) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{typ, occurred.UTC(), data})
	if err != nil {
		return nil, fmt.Errorf("webhook payload: %w", err)
	}
	return b, nil
}

// Deliver makes one signed POST of ev to endpointURL with client (from
// NewClient). Success is a 2xx answer; a 3xx is a failure, never followed.
func Deliver(ctx context.Context, client *http.Client, endpointURL, secret string, ev Event) Attempt {
	h, err := Headers(secret, ev.ID, ev.Timestamp, ev.Payload)
	if err != nil {
		return Attempt{Err: "cannot sign: " + errText(err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpointURL, bytes.NewReader(ev.Payload))
	if err != nil {
		return Attempt{Err: "invalid endpoint URL"}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Attempt{Latency: time.Since(start), Err: describe(err)}
	}
	// The guard in NewClient already caps the body; this covers other
	// clients. Reading what is left lets a small answer keep the connection.
	io.Copy(io.Discard, io.LimitReader(resp.Body, DefaultMaxResponseBytes))
	resp.Body.Close()
	a := Attempt{Status: resp.StatusCode, Latency: time.Since(start)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Err = fmt.Sprintf("%s (status %d)", errText(ErrRedirect), resp.StatusCode)
	default:
		a.Err = fmt.Sprintf("unexpected status %d", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			a.RetryAfter = min(time.Duration(s)*time.Second, MaxDelay)
		}
	}
	return a
}

func errText(err error) string {
	const prefix = "webhook: "
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// describe maps a transport error to a fixed description: the raw error
// may name resolved internal addresses, which the endpoint's owner must not
// learn from us.
func describe(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return errText(ErrBlockedAddress)
	case errors.Is(err, ErrScheme):
		return errText(ErrScheme)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		return "could not resolve host"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by receiver"
	case errors.As(err, &certErr):
		return "TLS certificate verification failed"
	}
	return "connection failed"
}
