package cache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// janitor runs m's janitor on a tick channel the test drives.
type janitor struct {
	tick chan time.Time
	stop context.CancelFunc
	done chan struct{}
}

func startJanitor(m *Memory) *janitor {
	ctx, cancel := context.WithCancel(context.Background())
	j := &janitor{tick: make(chan time.Time), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		m.RunTicks(ctx, j.tick)
	}()
	return j
}

// sweep makes the janitor sweep once and returns after the sweep ended:
// the channel is unbuffered, so the second send is only taken once the
// janitor is back in its loop.
func (j *janitor) sweep() {
	j.tick <- time.Time{}
	j.tick <- time.Time{}
}

func (j *janitor) close() {
	j.stop()
	<-j.done
}

// D1: expired entries are deleted by the janitor without any Get.
func TestJanitorDeletesExpired(t *testing.T) {
	clk := newClock()
	m := NewMemory(time.Minute, 1<<20, clk.Now)
	j := startJanitor(m)
	defer j.close()
	ctx := context.Background()
	m.Set(ctx, "short", []byte("a"), 10*time.Second)
	m.Set(ctx, "long", []byte("b"), 50*time.Second)
	m.Set(ctx, "default", []byte("c"), 0)

	steps := []struct {
		advance time.Duration
		wantLen int
	}{
		{0, 3},
		{10*time.Second - 1, 3},
		{1, 2}, // "short" expires at exactly its TTL
		{40 * time.Second, 1},
		{10 * time.Second, 0}, // ttl 0 means the maximum, one minute
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		j.sweep()
		if got := m.Len(); got != s.wantLen {
			t.Fatalf("step %d: Len after janitor sweep = %d, want %d", i, got, s.wantLen)
		}
	}
	if got := m.Bytes(); got != 0 {
		t.Errorf("Bytes after everything expired = %d, want 0", got)
	}
}

// D1: the janitor stops with its context and leaves nothing behind.
func TestJanitorStopPurges(t *testing.T) {
	m := NewMemory(time.Minute, 1<<20, newClock().Now)
	j := startJanitor(m)
	m.Set(context.Background(), "k", []byte("v"), time.Minute)
	j.close()
	if got := m.Len(); got != 0 {
		t.Errorf("Len after janitor stopped = %d, want 0", got)
	}
}

// D1: Run with a real ticker sweeps too and returns when ctx ends.
func TestRunStops(t *testing.T) {
	clk := newClock()
	m := NewMemory(10*time.Millisecond, 0, clk.Now)
	m.Set(context.Background(), "k", []byte("v"), time.Minute)
	clk.Advance(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for m.Len() != 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

// D1: an expired entry is also deleted the moment a Get finds it.
func TestGetDeletesExpired(t *testing.T) {
	clk := newClock()
	m := NewMemory(time.Minute, 0, clk.Now)
	ctx := context.Background()
	m.Set(ctx, "k", []byte("v"), time.Second)
	if v, ok, _ := m.Get(ctx, "k"); !ok || string(v) != "v" {
		t.Fatalf("Get before expiry = %q, %v; want v, true", v, ok)
	}
	clk.Advance(time.Second)
	if v, ok, _ := m.Get(ctx, "k"); ok {
		t.Fatalf("Get after expiry = %q, true; want a miss", v)
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len after Get of expired entry = %d, want 0", got)
	}
}

// D1: no configuration and no Set keeps an entry beyond five minutes.
func TestTTLClamp(t *testing.T) {
	tests := []struct {
		maxTTL, ttl, want time.Duration
	}{
		{time.Hour, time.Hour, MaxTTL},
		{time.Hour, 0, MaxTTL},
		{0, 24 * time.Hour, MaxTTL},
		{-time.Second, time.Minute, time.Minute},
		{MaxTTL + 1, MaxTTL + 1, MaxTTL},
		{time.Minute, 10 * time.Minute, time.Minute},
		{time.Minute, 30 * time.Second, 30 * time.Second},
		{time.Minute, -1, time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxTTL, "/", tt.ttl), func(t *testing.T) {
			clk := newClock()
			m := NewMemory(tt.maxTTL, 0, clk.Now)
			if m.TTL() > MaxTTL {
				t.Errorf("NewMemory(%v).TTL() = %v, above %v", tt.maxTTL, m.TTL(), MaxTTL)
			}
			ctx := context.Background()
			m.Set(ctx, "k", []byte("v"), tt.ttl)
			clk.Advance(tt.want - 1)
			if _, ok, _ := m.Get(ctx, "k"); !ok {
				t.Fatalf("NewMemory(%v).Set(ttl %v): gone before %v", tt.maxTTL, tt.ttl, tt.want)
			}
			clk.Advance(1)
			if m.DeleteExpired() != 1 {
				t.Errorf("NewMemory(%v).Set(ttl %v): still alive after %v", tt.maxTTL, tt.ttl, tt.want)
			}
		})
	}
}

// D1: the cache stays within maxBytes by dropping the oldest entries.
func TestEvictionBySize(t *testing.T) {
	m := NewMemory(time.Minute, 100, newClock().Now)
	ctx := context.Background()
	val := bytes.Repeat([]byte("x"), 29) // 30 bytes with a 1-byte key
	for _, k := range []string{"a", "b", "c"} {
		m.Set(ctx, k, val, 0)
	}
	if got := m.Bytes(); got != 90 {
		t.Fatalf("Bytes after three 30-byte entries = %d, want 90", got)
	}
	m.Get(ctx, "a") // reading does not save an entry: eviction is by age
	m.Set(ctx, "d", val, 0)
	m.Set(ctx, "e", bytes.Repeat([]byte("y"), 49), 0) // 50 bytes: needs two more out
	tests := []struct {
		key  string
		want bool
	}{{"a", false}, {"b", false}, {"c", false}, {"d", true}, {"e", true}}
	for _, tt := range tests {
		if _, ok, _ := m.Get(ctx, tt.key); ok != tt.want {
			t.Errorf("Get(%q) after eviction = %v, want %v", tt.key, ok, tt.want)
		}
	}
	if got := m.Bytes(); got > 100 || got != 80 {
		t.Errorf("Bytes = %d, want 80 (limit 100)", got)
	}
	// Larger than the whole cache: not stored, and nothing else evicted.
	m.Set(ctx, "huge", make([]byte, 200), 0)
	if _, ok, _ := m.Get(ctx, "huge"); ok || m.Len() != 2 {
		t.Errorf("Set of 200 bytes into a 100-byte cache: stored=%v, Len=%d; want false, 2", ok, m.Len())
	}
	// Overwriting replaces the size, it does not add to it.
	m.Set(ctx, "d", []byte("z"), 0)
	if got := m.Bytes(); got != 52 {
		t.Errorf("Bytes after overwrite = %d, want 52", got)
	}
}

// D1: removed values are zeroed; callers hold copies, never the cache's
// own bytes.
func TestZeroingAndCopies(t *testing.T) {
	clk := newClock()
	m := NewMemory(time.Minute, 0, clk.Now)
	ctx := context.Background()
	in := []byte("result")
	m.Set(ctx, "k", in, 0)
	in[0] = 'X'
	got, _, _ := m.Get(ctx, "k")
	if string(got) != "result" {
		t.Fatalf("Get after caller changed its slice = %q, want %q", got, "result")
	}
	// Reach the stored slice to prove it is cleared on removal.
	m.mu.Lock()
	stored := m.entries["k"].Value.(*entry).val
	m.mu.Unlock()
	clk.Advance(time.Minute)
	m.DeleteExpired()
	if !bytes.Equal(stored, make([]byte, len("result"))) {
		t.Errorf("stored bytes after expiry = %q, want zeros", stored)
	}
	if string(got) != "result" {
		t.Errorf("caller's copy after expiry = %q, want it untouched", got)
	}
}

func TestDelete(t *testing.T) {
	m := NewMemory(time.Minute, 0, nil)
	ctx := context.Background()
	m.Set(ctx, "k", []byte("v"), 0)
	m.Delete(ctx, "k")
	m.Delete(ctx, "absent")
	if _, ok, _ := m.Get(ctx, "k"); ok || m.Len() != 0 || m.Bytes() != 0 {
		t.Errorf("after Delete: found=%v Len=%d Bytes=%d, want false 0 0", ok, m.Len(), m.Bytes())
	}
}

// D1: concurrent use is safe (run with -race) and keeps the size bound.
func TestConcurrent(t *testing.T) {
	clk := newClock()
	m := NewMemory(time.Minute, 4096, clk.Now)
	j := startJanitor(m)
	defer j.close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(i % 50)
				switch i % 4 {
				case 0:
					m.Set(ctx, k, bytes.Repeat([]byte{byte(g)}, 100), time.Duration(i%7)*time.Second)
				case 1:
					if v, ok, _ := m.Get(ctx, k); ok && (len(v) != 100 || v[0] != v[99]) {
						t.Errorf("Get(%q) = torn value", k)
					}
				case 2:
					m.Delete(ctx, k)
				case 3:
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			j.sweep()
		}
	})
	wg.Wait()
	if got := m.Bytes(); got > 4096 {
		t.Errorf("Bytes = %d, above the 4096 limit", got)
	}
}

// D1: the key is a hash; no part of what went in shows in it.
func TestKey(t *testing.T) {
	marker := "UNIQUE-MARKER-7f3a"
	diff := []byte("+password := \"" + marker + "\"\n")
	k := Key(diff, []byte("builtin,anthropic"))
	if strings.Contains(k, marker) || strings.Contains(k, "anthropic") || strings.Contains(k, "password") {
		t.Errorf("Key holds plaintext: %s", k)
	}
	if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
		t.Errorf("Key = %q, want 64 hex digits", k)
	}
	tests := []struct {
		a, b [][]byte
		same bool
	}{
		{[][]byte{[]byte("ab"), []byte("c")}, [][]byte{[]byte("a"), []byte("bc")}, false},
		{[][]byte{[]byte("abc")}, [][]byte{[]byte("abc"), nil}, false},
		{[][]byte{nil}, [][]byte{}, false},
		{[][]byte{[]byte("x"), []byte("y")}, [][]byte{[]byte("y"), []byte("x")}, false},
		{[][]byte{[]byte("x"), []byte("y")}, [][]byte{[]byte("x"), []byte("y")}, true},
	}
	for _, tt := range tests {
		if got := Key(tt.a...) == Key(tt.b...); got != tt.same {
			t.Errorf("Key(%q) == Key(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

func BenchmarkSetGet(b *testing.B) {
	m := NewMemory(time.Minute, 64<<20, nil)
	ctx := context.Background()
	val := make([]byte, 4096)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = Key([]byte(fmt.Sprint(i)))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		m.Set(ctx, k, val, 0)
		m.Get(ctx, k)
		i++
	}
}
