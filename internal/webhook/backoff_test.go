package webhook

import (
	"testing"
	"time"
)

// W1: ceilings double from BaseDelay and stop at MaxDelay.
func TestCeiling_W1(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{10, 256 * time.Minute},
		{11, MaxDelay},
		{12, MaxDelay},
		{1000, MaxDelay},
	}
	for _, tt := range tests {
		if got := Ceiling(tt.attempt); got != tt.want {
			t.Errorf("Ceiling(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

// W1: full jitter over [MinDelay, Ceiling].
func TestNextAttempt_W1(t *testing.T) {
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, MinDelay},
		{1, 0.5, 15 * time.Second},
		{1, 1, 30 * time.Second},
		{3, 0.25, 30 * time.Second},
		{12, 0.5, MaxDelay / 2},
		{12, 2, MaxDelay},
		{12, -1, MinDelay},
	}
	for _, tt := range tests {
		if got := NextAttempt(tt.attempt, func() float64 { return tt.r }); got != tt.want {
			t.Errorf("NextAttempt(%d, %v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
	}
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		for range 100 {
			if got := NextAttempt(attempt, nil); got < MinDelay || got > Ceiling(attempt) {
				t.Fatalf("NextAttempt(%d, nil) = %v, want within [%v, %v]", attempt, got, MinDelay, Ceiling(attempt))
			}
		}
	}
}

// W1: all retries of one event fit in a day, and the last ones are hours
// apart, so a receiver down for most of a day still gets its events.
func TestScheduleSpan_W1(t *testing.T) {
	var total time.Duration
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		total += NextAttempt(attempt, func() float64 { return 1 })
	}
	if total > 24*time.Hour || total < 20*time.Hour {
		t.Errorf("longest schedule over %d attempts = %v, want between 20h and 24h", MaxAttempts, total)
	}
}
