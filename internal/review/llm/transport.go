package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// errRedirectMessage is the APIError message of a 3xx answer.
const errRedirectMessage = "provider answered with a redirect to another location; refusing to follow it"

const (
	maxAnswerBytes  = 8 << 20
	maxErrorBytes   = 64 << 10
	maxErrorMessage = 300
)

// APIError is a provider's non-2xx answer. Its text is one line that is
// safe to show: provider, status, the provider's error type and message,
// with the API key removed should the provider echo it.
type APIError struct {
	Provider string
	Status   int
	// Type is the provider's error kind: Anthropic's error.type, OpenAI's
	// error.code or error.type, Gemini's error.status.
	Type    string
	Message string
	// RetryAfter is the wait the provider asked for, if any.
	RetryAfter time.Duration
	Retryable  bool
	// final is set by a parser that knows a usually retried status will
	// not clear by waiting.
	final bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.Provider, e.Status)
	if e.Type != "" {
		b.WriteString(" ")
		b.WriteString(e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// post sends one request. It returns the body of a 2xx answer, or the
// provider's error, or a transport error.
func (b *base) post(ctx context.Context, c call) ([]byte, *APIError, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: build request: %w", c.provider, err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: request failed: %w", c.provider, redactErr(err, c.key))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		// The client does not follow redirects (withoutRedirects); a
		// provider API has no reason to send one, and the Location is not
		// shown as it may be anything.
		return nil, &APIError{Provider: c.provider, Status: resp.StatusCode, Message: errRedirectMessage}, nil
	}
	if resp.StatusCode/100 == 2 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: read answer: %w", c.provider, redactErr(err, c.key))
		}
		if len(body) > maxAnswerBytes {
			return nil, &APIError{Provider: c.provider, Status: resp.StatusCode, Message: fmt.Sprintf("answer larger than %d bytes", maxAnswerBytes)}, nil
		}
		return body, nil, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := c.parseError(resp.StatusCode, resp.Header, body)
	e.Provider = c.provider
	e.Status = resp.StatusCode
	e.Type = clean(e.Type, c.key, 60)
	e.Message = clean(e.Message, c.key, maxErrorMessage)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.RetryAfter <= 0 {
		e.RetryAfter = parseRetryAfter(resp.Header, time.Now())
	}
	e.Retryable = retryable(resp.StatusCode) && !e.final
	return nil, e, nil
}

// clean makes provider text safe for a one-line error: no key, no line
// breaks or control characters, bounded length.
func clean(s, key string, limit int) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		s = string(r[:limit]) + "…"
	}
	return s
}

type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

func redactErr(err error, key string) error {
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), key, "[redacted]")}
}

// openAIStyleError reads {"error":{"message","type","param","code"}}, which
// OpenAI and most compatible servers send, and the variants some of them
// use instead ({"error":"text"}, or the fields at the top level).
func openAIStyleError(status int, _ http.Header, body []byte) *APIError {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
	}
	out := &APIError{}
	if json.Unmarshal(body, &e) != nil {
		return out
	}
	var inner struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Param   string          `json:"param"`
	}
	var text string
	switch {
	case json.Unmarshal(e.Error, &inner) == nil && inner.Message != "":
		out.Message = inner.Message
		out.Type = inner.Type
		var code string
		if json.Unmarshal(inner.Code, &code) == nil && code != "" {
			out.Type = code
		}
		if inner.Param != "" && !strings.Contains(out.Message, inner.Param) {
			out.Message += " (param " + inner.Param + ")"
		}
	case json.Unmarshal(e.Error, &text) == nil && text != "":
		out.Message = text
	default:
		out.Message, out.Type = e.Message, e.Type
	}
	// A 429 about money, not pace, will not clear by waiting.
	if status == http.StatusTooManyRequests && out.Type == "insufficient_quota" {
		out.final = true
	}
	return out
}
