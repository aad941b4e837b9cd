package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

// L1: RateLimit-* on every answer, Retry-After only on refusals, seconds
// rounded up.
func TestWriteHeaders(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want map[string]string
	}{
		{"allowed", Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second},
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "9", "RateLimit-Reset": "6", "Retry-After": ""}},
		{"allowed, reset rounds up", Decision{Allowed: true, Limit: 10, Remaining: 3, Reset: 42*time.Second + 1},
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "3", "RateLimit-Reset": "43", "Retry-After": ""}},
		{"allowed, full", Decision{Allowed: true, Limit: 5, Remaining: 5},
			map[string]string{"RateLimit-Limit": "5", "RateLimit-Remaining": "5", "RateLimit-Reset": "0", "Retry-After": ""}},
		{"refused", Decision{Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second},
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "60", "Retry-After": "6"}},
		{"refused, a nanosecond to wait", Decision{Limit: 10, Reset: time.Second, RetryAfter: 1},
			map[string]string{"RateLimit-Reset": "1", "Retry-After": "1"}},
		{"refused, zero wait still says 1", Decision{Limit: 10},
			map[string]string{"Retry-After": "1"}},
		{"refused, 5.5 s", Decision{Limit: 10, RetryAfter: 5500 * time.Millisecond},
			map[string]string{"Retry-After": "6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, tt.d)
			for k, want := range tt.want {
				if got := h.Get(k); got != want {
					t.Errorf("WriteHeaders(%+v): %s = %q, want %q", tt.d, k, got, want)
				}
			}
		})
	}
}

// WriteHeaders agrees with a real bucket: a client waiting Retry-After
// seconds is then allowed.
func TestRetryAfterIsEnough(t *testing.T) {
	clk := newClock()
	m := NewMemory(7, time.Minute, clk.Now) // one token every 8.57 s
	for range 7 {
		m.Allow(t.Context(), "k")
	}
	d, _ := m.Allow(t.Context(), "k")
	h := http.Header{}
	WriteHeaders(h, d)
	secs, _ := time.ParseDuration(h.Get("Retry-After") + "s")
	if secs != 9*time.Second {
		t.Fatalf("Retry-After = %q, want 9", h.Get("Retry-After"))
	}
	clk.Advance(secs)
	if d, _ := m.Allow(t.Context(), "k"); !d.Allowed {
		t.Errorf("Allow after waiting Retry-After = %+v, want allowed", d)
	}
}
