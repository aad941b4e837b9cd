package account

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A4: at most 5 attempts a minute per client IP; the 6th is refused with a
// Retry-After.
func TestGuardAllowIP(t *testing.T) {
	clock := newFakeClock()
	g := NewGuard(GuardConfig{PerIPPerMinute: 5}, clock.Now)
	for i := 1; i <= 5; i++ {
		if ok, _ := g.AllowIP("203.0.113.7"); !ok {
			t.Fatalf("attempt %d refused, want allowed", i)
		}
		clock.Advance(time.Second)
	}
	ok, retry := g.AllowIP("203.0.113.7")
	if ok {
		t.Fatal("6th attempt within a minute allowed, want refused")
	}
	// The first attempt was 5s ago, so the window frees in 55s.
	if retry != 55*time.Second {
		t.Errorf("retryAfter = %v, want 55s", retry)
	}
	if RetryAfterSeconds(retry) != 55 {
		t.Errorf("RetryAfterSeconds(%v) = %d, want 55", retry, RetryAfterSeconds(retry))
	}
	if ok, _ := g.AllowIP("203.0.113.8"); !ok {
		t.Error("another IP refused, want allowed")
	}
	// Refused attempts do not extend the window.
	clock.Advance(54 * time.Second)
	if ok, _ := g.AllowIP("203.0.113.7"); ok {
		t.Error("attempt 1s before the window frees allowed, want refused")
	}
	clock.Advance(time.Second)
	if ok, _ := g.AllowIP("203.0.113.7"); !ok {
		t.Error("attempt after the oldest left the window refused, want allowed")
	}
	if ok, _ := g.AllowIP("203.0.113.7"); ok {
		t.Error("sliding window let 2 attempts through after 1 slot freed")
	}
}

// A4: IPv6 clients are counted per /64; IPv4-mapped addresses as IPv4.
func TestGuardIPKeys(t *testing.T) {
	clock := newFakeClock()
	g := NewGuard(GuardConfig{PerIPPerMinute: 2}, clock.Now)
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if ok, _ := g.AllowIP(ip); !ok {
			t.Fatalf("AllowIP(%s) refused", ip)
		}
	}
	if ok, _ := g.AllowIP("2001:db8:1:2::abcd"); ok {
		t.Error("a third address of one /64 allowed, want refused")
	}
	if ok, _ := g.AllowIP("2001:db8:1:3::1"); !ok {
		t.Error("another /64 refused, want allowed")
	}
	g.AllowIP("192.0.2.1")
	g.AllowIP("::ffff:192.0.2.1")
	if ok, _ := g.AllowIP("192.0.2.1"); ok {
		t.Error("IPv4-mapped form counted apart from IPv4")
	}
}

// A4: exact under concurrency: 50 simultaneous attempts, 5 pass.
func TestGuardAllowIPConcurrent(t *testing.T) {
	g := NewGuard(DefaultGuardConfig(), newFakeClock().Now)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if ok, retry := g.AllowIP("198.51.100.1"); ok {
				allowed.Add(1)
			} else if retry <= 0 {
				t.Errorf("refused with retryAfter %v, want > 0", retry)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Errorf("%d of 50 concurrent attempts allowed, want exactly 5", n)
	}
}

// A4: per-account delays grow after the free failures, cap, and decay.
func TestGuardAccountDelay(t *testing.T) {
	clock := newFakeClock()
	g := NewGuard(GuardConfig{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, QuietPeriod: time.Hour}, clock.Now)
	const email = "victim@example.com"
	want := []time.Duration{0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for d := 16 * time.Second; d < 15*time.Minute; d *= 2 {
		want = append(want, d)
	}
	want = append(want, 15*time.Minute, 15*time.Minute, 15*time.Minute)
	for i, w := range want {
		if d := g.AdmitAccount(email); d != 0 {
			t.Fatalf("before failure %d: AdmitAccount = %v, want 0 (waited out)", i+1, d)
		}
		if d := g.AccountDelay(email); d != g.delayFor(i+1) {
			t.Fatalf("with attempt %d in flight AccountDelay = %v, want %v", i+1, d, g.delayFor(i+1))
		}
		g.RecordFailure(email)
		if got := g.AccountDelay(email); got != w {
			t.Fatalf("after %d failures AccountDelay = %v, want %v", i+1, got, w)
		}
		clock.Advance(w)
	}
	// Quiet for the whole period: forgotten.
	clock.Advance(time.Hour)
	if d := g.AccountDelay(email); d != 0 {
		t.Fatalf("after a quiet hour AccountDelay = %v, want 0", d)
	}
	for i := 0; i < 4; i++ {
		if d := g.AdmitAccount(email); d != 0 {
			t.Fatalf("after a quiet hour, attempt %d delayed %v, want 0", i+1, d)
		}
		g.RecordFailure(email)
	}
	if d := g.AdmitAccount(email); d != time.Second {
		t.Errorf("after 4 failures following decay: delay %v, want 1s", d)
	}
	// Success forgets at once.
	clock.Advance(time.Second)
	if d := g.AdmitAccount(email); d != 0 {
		t.Fatalf("AdmitAccount after waiting = %v, want 0", d)
	}
	g.RecordSuccess(email)
	if d := g.AccountDelay(email); d != 0 {
		t.Errorf("after success AccountDelay = %v, want 0", d)
	}
}

// A4: concurrent guesses cannot all use one free slot.
func TestGuardAccountConcurrent(t *testing.T) {
	g := NewGuard(DefaultGuardConfig(), newFakeClock().Now)
	var admitted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if g.AdmitAccount("target@example.com") == 0 {
				admitted.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	// 3 free failures cost no wait, so a 4th check is free too; only after
	// a 4th failure is there a 1s wait, and the clock is stopped.
	if n := admitted.Load(); n != 4 {
		t.Errorf("%d of 40 concurrent password checks admitted, want 4", n)
	}
	if d := g.AccountDelay("target@example.com"); d != time.Second {
		t.Errorf("AccountDelay with 4 checks in flight = %v, want 1s", d)
	}
}

// A4: an unknown email is throttled exactly like a known one; the guard
// cannot tell them apart.
func TestGuardUnknownAndKnownAlike(t *testing.T) {
	trace := func(email string) []time.Duration {
		clock := newFakeClock()
		g := NewGuard(DefaultGuardConfig(), clock.Now)
		var out []time.Duration
		for i := 0; i < 8; i++ {
			ok, retry := g.AllowIP("192.0.2.10")
			out = append(out, retry)
			if ok {
				if d := g.AdmitAccount(email); d == 0 {
					g.RecordFailure(email)
				} else {
					out = append(out, d)
				}
			}
			clock.Advance(7 * time.Second)
		}
		return out
	}
	known, unknown := trace("alice@example.com"), trace("nobody-here@example.com")
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("known account trace %v, unknown %v; want identical", known, unknown)
	}
}

// A4: memory is bounded: entries expire and at most MaxKeys are tracked.
func TestGuardMemoryBounded(t *testing.T) {
	clock := newFakeClock()
	g := NewGuard(GuardConfig{MaxKeys: 100}, clock.Now)
	for i := 0; i < 1000; i++ {
		g.AllowIP(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		g.RecordFailure(fmt.Sprintf("user%d@example.com", i))
	}
	ips, accounts := g.sizes()
	if ips > 100 || accounts > 100 {
		t.Fatalf("tracking %d IPs and %d accounts, want at most 100 each", ips, accounts)
	}
	// The most recent survive eviction.
	if ok, _ := g.AllowIP("10.0.3.231"); !ok {
		t.Error("recent IP refused after a single attempt")
	}
	if g.AdmitAccount("user999@example.com") != 0 {
		t.Error("a recent account with one failure is delayed")
	}

	clock.Advance(2 * time.Minute)
	g.Sweep()
	if ips, _ := g.sizes(); ips != 0 {
		t.Errorf("after the IP window, Sweep left %d IPs", ips)
	}
	if _, accounts := g.sizes(); accounts == 0 {
		t.Error("Sweep dropped account failures before their quiet period")
	}
	clock.Advance(time.Hour)
	g.Sweep()
	if ips, accounts := g.sizes(); ips != 0 || accounts != 0 {
		t.Errorf("after an hour Sweep left %d IPs, %d accounts; want none", ips, accounts)
	}

	// Expired entries also go a few at a time without Sweep.
	for i := 0; i < 50; i++ {
		g.AllowIP(fmt.Sprintf("10.1.0.%d", i))
	}
	clock.Advance(2 * time.Minute)
	for i := 0; i < 10; i++ {
		g.AllowIP("10.2.0.1")
	}
	if ips, _ := g.sizes(); ips > 50-sweepBatch*5 {
		t.Errorf("without Sweep %d IPs tracked after 10 calls, want expired ones dropped on the way", ips)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {15 * time.Minute, 900},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.in); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
