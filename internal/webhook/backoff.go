package webhook

import (
	"math/rand/v2"
	"time"
)

// The retry schedule (W1). After the n-th failed attempt the next one is
// due after a delay drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))]
// ("full jitter"), so receivers that failed together do not get retried in
// lock step. Ceilings run 30 s, 1 min, 2 min … 4 h 16 min, then 7 h 30 min
// twice: at most 23 h 31.5 min from the first failure to the last attempt,
// about half that on average. After MaxAttempts attempts the event is given
// up on and the endpoint may be marked failing.
const (
	BaseDelay = 30 * time.Second
	MaxDelay  = 7*time.Hour + 30*time.Minute
	// MinDelay keeps a near-zero draw from retrying at once.
	MinDelay = time.Second
	// MaxAttempts counts the first attempt: 1 + 12 retries.
	MaxAttempts = 13
)

// NextAttempt is the delay after the attempt-th failed attempt (1-based),
// using rnd in [0, 1) for jitter (math/rand/v2's Float64 when nil). Callers
// stop once attempt reaches MaxAttempts.
func NextAttempt(attempt int, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	r := min(max(rnd(), 0), 1)
	return max(MinDelay, time.Duration(r*float64(Ceiling(attempt))))
}

// Ceiling is the largest delay NextAttempt may return after the attempt-th
// failure.
func Ceiling(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := BaseDelay
	for i := 1; i < attempt && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay)
}
