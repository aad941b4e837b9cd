package ids

import (
	"strings"
	"testing"
	"time"
)

func TestNewSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 1000 {
		id := New("rev_", base.Add(time.Duration(i)*time.Millisecond))
		if !strings.HasPrefix(id, "rev_") || len(id) != 4+32 {
			t.Fatalf("New = %q, want rev_ and 32 hex digits", id)
		}
		if id <= prev {
			t.Fatalf("%q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	// The first 12 digits are the milliseconds.
	if got := New("", base)[:12]; got != "01a213a65e80" {
		t.Errorf("time part = %s, want 01a213a65e80 (%d ms)", got, base.UnixMilli())
	}
}

func TestNewIsUnique(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for range 100_000 {
		id := New("msg_", now) // same millisecond: the random part decides
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}
