package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/diffgate/diffgate/internal/apperr"
)

// A1: production hashes use bcrypt cost >= 12.
func TestNewHasherCost(t *testing.T) {
	for _, cost := range []int{-1, 0, bcrypt.MinCost, bcrypt.DefaultCost, 11, bcrypt.MaxCost + 1} {
		if h, err := NewHasher(cost, 1); err == nil {
			t.Errorf("NewHasher(%d, 1) = %v, nil; want error", cost, h)
		}
	}
	h, err := NewHasher(MinBcryptCost, 1)
	if err != nil {
		t.Fatalf("NewHasher(%d, 1) = %v", MinBcryptCost, err)
	}
	hash, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatalf("Hash = %v", err)
	}
	if c, err := bcrypt.Cost([]byte(hash)); err != nil || c < 12 {
		t.Errorf("bcrypt.Cost(hash) = %d, %v; want >= 12", c, err)
	}
	if c, _ := bcrypt.Cost(h.dummy); c != h.Cost() {
		t.Errorf("dummy hash cost = %d, want %d (same as real hashes, A4)", c, h.Cost())
	}
	if h.NeedsRehash(hash) {
		t.Error("NeedsRehash(own hash) = true, want false")
	}
	weak, _ := NewTestHasher(1).Hash(context.Background(), "correct horse battery")
	if !h.NeedsRehash(weak) {
		t.Error("NeedsRehash(cost-4 hash) = false, want true")
	}
}

func TestHasherRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := NewTestHasher(2)
	const pw = "correct horse battery staple"
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hash, pw) {
		t.Fatal("hash contains the password")
	}
	long72 := strings.Repeat("p", 72)
	hash72, err := h.Hash(ctx, long72)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, pw string
		want           bool
		wantErr        bool
	}{
		{"match", hash, pw, true, false},
		{"wrong", hash, pw + "!", false, false},
		{"case differs", hash, strings.ToUpper(pw), false, false},
		{"empty", hash, "", false, false},
		{"72 bytes match", hash72, long72, true, false},
		{"73 bytes sharing the first 72", hash72, long72 + "x", false, false},
		{"malformed hash", "not-a-hash", pw, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Compare(ctx, tt.hash, tt.pw)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Compare(%q) = %v, %v; want %v, error %v", tt.pw, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := h.Hash(ctx, long72+"x"); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("Hash(73 bytes) error = %v, want invalid", err)
	}
	if err := h.CompareDummy(ctx, pw); err != nil {
		t.Errorf("CompareDummy = %v, want nil", err)
	}
}

// Two hashes of one password differ (salted), and both verify.
func TestHasherSalts(t *testing.T) {
	ctx := context.Background()
	h := NewTestHasher(1)
	a, _ := h.Hash(ctx, "same password here")
	b, _ := h.Hash(ctx, "same password here")
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

// A4: bcrypt work is bounded so a login flood cannot starve the API.
func TestHasherBoundsConcurrency(t *testing.T) {
	const limit, workers = 3, 20
	h := NewTestHasher(limit)
	hash, _ := h.Hash(context.Background(), "bounded password")

	var mu sync.Mutex
	cur, peak := 0, 0
	entered := make(chan struct{}, workers)
	gate := make(chan struct{})
	h.inFlight = func(delta int) {
		mu.Lock()
		cur += delta
		peak = max(peak, cur)
		mu.Unlock()
		if delta > 0 {
			entered <- struct{}{}
			<-gate
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := h.Compare(context.Background(), hash, "bounded password"); !ok || err != nil {
				t.Errorf("Compare = %v, %v; want true, nil", ok, err)
			}
		}()
	}
	for i := 0; i < limit; i++ {
		<-entered
	}
	select {
	case <-entered:
		t.Fatalf("a %dth bcrypt operation started while %d were running", limit+1, limit)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	wg.Wait()
	if peak != limit {
		t.Errorf("peak concurrent bcrypt operations = %d, want %d", peak, limit)
	}
}

// A waiter gives up when its context ends, with an Unavailable error.
func TestHasherContextCancelWhileWaiting(t *testing.T) {
	h := NewTestHasher(1)
	hash, _ := h.Hash(context.Background(), "some password!")
	started, gate := make(chan struct{}), make(chan struct{})
	h.inFlight = func(delta int) {
		if delta > 0 {
			select {
			case <-started: // already signalled: later callers pass
			default:
				close(started)
				<-gate
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.Compare(context.Background(), hash, "some password!")
	}()
	<-started

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 3)
	go func() { _, err := h.Compare(ctx, hash, "some password!"); errc <- err }()
	go func() { _, err := h.Hash(ctx, "some password!"); errc <- err }()
	go func() { errc <- h.CompareDummy(ctx, "some password!") }()
	cancel()
	for i := 0; i < 3; i++ {
		err := <-errc
		wantKind(t, "call with cancelled context", err, apperr.Unavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want it to wrap context.Canceled", err)
		}
	}
	close(gate)
	<-done

	// An already-ended context fails even with a free slot.
	if _, err := h.Compare(ctx, hash, "some password!"); !errors.Is(err, context.Canceled) {
		t.Errorf("Compare(cancelled ctx) = %v, want context.Canceled", err)
	}
}
