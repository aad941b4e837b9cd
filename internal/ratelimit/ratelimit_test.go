package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// L1: 100 concurrent requests against a bucket of 10 with the clock frozen
// allow exactly 10.
func TestConcurrentExact(t *testing.T) {
	for round := range 20 {
		clk := newClock()
		m := NewMemory(10, time.Minute, clk.Now)
		var allowed, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				d, err := m.Allow(context.Background(), "user-1")
				if err != nil {
					t.Error(err)
				}
				if d.Allowed {
					allowed.Add(1)
				} else {
					refused.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if allowed.Load() != 10 || refused.Load() != 90 {
			t.Fatalf("round %d: 100 concurrent Allow with limit 10 allowed %d, refused %d; want 10 and 90",
				round, allowed.Load(), refused.Load())
		}
	}
}

// L1: many keys at once, each exact, none taking from another.
func TestConcurrentManyKeys(t *testing.T) {
	clk := newClock()
	m := NewMemory(5, time.Minute, clk.Now)
	const keys, calls = 200, 12
	var counts [keys]atomic.Int64
	var wg sync.WaitGroup
	for k := range keys {
		for range calls {
			wg.Go(func() {
				d, _ := m.Allow(context.Background(), fmt.Sprint("user-", k))
				if d.Allowed {
					counts[k].Add(1)
				}
			})
		}
	}
	wg.Wait()
	for k := range keys {
		if got := counts[k].Load(); got != 5 {
			t.Errorf("key %d: %d of %d calls allowed, want 5", k, got, calls)
		}
	}
}

// L1: the bucket refills limit tokens per period, one every per/limit, and
// the decision reports where the caller stands.
func TestSequence(t *testing.T) {
	clk := newClock()
	m := NewMemory(10, time.Minute, clk.Now)
	ctx := context.Background()
	type step struct {
		advance time.Duration
		want    Decision
	}
	steps := []step{
		{0, Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second}},
	}
	for i := 8; i >= 0; i-- {
		steps = append(steps, step{0, Decision{Allowed: true, Limit: 10, Remaining: i,
			Reset: time.Duration(10-i) * 6 * time.Second}})
	}
	steps = append(steps,
		// Empty: refused, the next token arrives in 6 s.
		step{0, Decision{Allowed: false, Limit: 10, Remaining: 0, Reset: time.Minute, RetryAfter: 6 * time.Second}},
		step{time.Second, Decision{Allowed: false, Limit: 10, Remaining: 0, Reset: 59 * time.Second, RetryAfter: 5 * time.Second}},
		// One nanosecond early is still early.
		step{5*time.Second - 1, Decision{Allowed: false, Limit: 10, Remaining: 0, Reset: 54*time.Second + 1, RetryAfter: 1}},
		step{1, Decision{Allowed: true, Limit: 10, Remaining: 0, Reset: time.Minute}},
		// Half a period later five tokens are back; this takes one.
		step{30 * time.Second, Decision{Allowed: true, Limit: 10, Remaining: 4, Reset: 36 * time.Second}},
		// A clock stepping back grants nothing.
		step{-time.Hour, Decision{Allowed: true, Limit: 10, Remaining: 3, Reset: 42 * time.Second}},
		// Long idle: full again, never above capacity.
		step{24 * time.Hour, Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second}},
	)
	for i, s := range steps {
		clk.Advance(s.advance)
		got, err := m.Allow(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Fatalf("step %d (advance %v): Allow = %+v, want %+v", i, s.advance, got, s.want)
		}
	}
}

// L1: a rate that does not divide evenly still allows exactly limit per
// period in the long run (integer arithmetic, no drift).
func TestNoDrift(t *testing.T) {
	clk := newClock()
	m := NewMemory(3, time.Second, clk.Now)
	allowed := 0
	// Drain the burst, then poll every millisecond for 100 s.
	for range 3 {
		m.Allow(context.Background(), "k")
	}
	for range 100_000 {
		clk.Advance(time.Millisecond)
		if d, _ := m.Allow(context.Background(), "k"); d.Allowed {
			allowed++
		}
	}
	if allowed != 300 {
		t.Errorf("3/s polled for 100 s allowed %d, want 300", allowed)
	}
}

// Memory stays bounded: buckets that have refilled are deleted, by Sweep
// and by the amortised sweep in Allow.
func TestSweep(t *testing.T) {
	clk := newClock()
	m := NewMemory(2, time.Minute, clk.Now)
	ctx := context.Background()
	for i := range 100 {
		m.Allow(ctx, fmt.Sprint("a", i))
	}
	clk.Advance(20 * time.Second)
	m.Allow(ctx, "fresh")
	m.Sweep()
	if got := m.Len(); got != 101 {
		t.Fatalf("Len after Sweep before refill = %d, want 101", got)
	}
	clk.Advance(10 * time.Second) // the first 100 refilled at 30 s
	m.Sweep()
	if got := m.Len(); got != 1 {
		t.Fatalf("Len after Sweep = %d, want 1 (only the bucket still refilling)", got)
	}

	// Amortised: a stream of one-off keys never builds up without bound.
	for i := range 200_000 {
		m.Allow(ctx, fmt.Sprint("b", i))
		clk.Advance(time.Millisecond)
	}
	// Only keys seen in the last 30 s (one refill) are live: 30,000; each
	// shard may hold up to twice its live share before it sweeps.
	if got := m.Len(); got > 2*30_000+shards*sweepFloor {
		t.Errorf("Len after 200,000 one-off keys = %d, want it bounded near the live 30,000", got)
	}
	// A swept key starts over with a full bucket.
	d, _ := m.Allow(ctx, "a1")
	if !d.Allowed || d.Remaining != 1 {
		t.Errorf("Allow(swept key) = %+v, want a full bucket", d)
	}
}

func TestNewMemoryPanics(t *testing.T) {
	tests := []struct {
		limit int
		per   time.Duration
	}{{0, time.Second}, {-1, time.Second}, {1, 0}, {1, -time.Second}, {1 << 40, 1 << 40}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit, "/", tt.per), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemory(%d, %v) did not panic", tt.limit, tt.per)
				}
			}()
			NewMemory(tt.limit, tt.per, nil)
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	m := NewMemory(1_000_000, time.Second, nil)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Allow(context.Background(), keys[i%len(keys)])
			i++
		}
	})
}
