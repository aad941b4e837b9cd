package account

import (
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// fakeClock is a settable clock for the time-dependent rules.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s = nil error, want %v", what, kind)
	}
	if got := apperr.KindOf(err); got != kind {
		t.Fatalf("%s kind = %v (%v), want %v", what, got, err, kind)
	}
}
