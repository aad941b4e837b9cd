package account

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// A2: refresh tokens are random, prefixed, and stored only as a hash.
func TestNewRefreshToken(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		tok, hash, err := NewRefreshToken()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "dgr_") || len(tok) != 4+43 {
			t.Fatalf("NewRefreshToken() = %q, want dgr_ and 43 base64url characters", tok)
		}
		if !WellFormedRefreshToken(tok) {
			t.Fatalf("WellFormedRefreshToken(%q) = false", tok)
		}
		if seen[tok] {
			t.Fatalf("NewRefreshToken repeated %q", tok)
		}
		seen[tok] = true
		want := sha256.Sum256([]byte(tok))
		if !bytes.Equal(hash, want[:]) || !bytes.Equal(HashRefreshToken(tok), hash) {
			t.Fatalf("hash of %q = %x, want SHA-256 %x", tok, hash, want)
		}
		if bytes.Contains(hash, []byte(tok[4:])) {
			t.Fatal("hash contains the token")
		}
	}
	a, _, _ := NewRefreshToken()
	if bytes.Equal(HashRefreshToken(a), HashRefreshToken(a[:len(a)-1]+"x")) {
		t.Error("different tokens hash alike")
	}
}

func TestWellFormedRefreshToken(t *testing.T) {
	good, _, _ := NewRefreshToken()
	tests := []struct {
		in   string
		want bool
	}{
		{good, true},
		{"", false},
		{"dgr_", false},
		{good[4:], false},
		{"dgx_" + good[4:], false},
		{good + "A", false},
		{good[:len(good)-1], false},
		{"dgr_" + strings.Repeat("+", 43), false},
		{"dgr_" + strings.Repeat("A", 42) + "B", false}, // non-canonical final character
		{"dgr_" + strings.Repeat("A", 43), true},
	}
	for _, tt := range tests {
		if got := WellFormedRefreshToken(tt.in); got != tt.want {
			t.Errorf("WellFormedRefreshToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// A2: rotation, the grace window for concurrent refreshes, reuse detection
// and the absolute lifetime.
func TestRefreshPolicyDecide(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	var never time.Time
	tests := []struct {
		name    string
		policy  RefreshPolicy
		now     time.Time
		usedAt  time.Time
		revoked bool
		want    RefreshOutcome
	}{
		{"unused", RefreshPolicy{}, now, never, false, RefreshRotate},
		{"used just now", RefreshPolicy{}, now, now, false, RefreshGrace},
		{"used 10s ago", RefreshPolicy{}, now, now.Add(-10 * time.Second), false, RefreshGrace},
		{"used 11s ago", RefreshPolicy{}, now, now.Add(-11 * time.Second), false, RefreshReuse},
		{"used a day ago", RefreshPolicy{}, now, now.Add(-24 * time.Hour), false, RefreshReuse},
		{"custom grace", RefreshPolicy{Grace: 2 * time.Second}, now, now.Add(-3 * time.Second), false, RefreshReuse},
		{"revoked family", RefreshPolicy{}, now, never, true, RefreshExpired},
		{"revoked family, in grace", RefreshPolicy{}, now, now, true, RefreshExpired},
		{"one second before 30 days", RefreshPolicy{}, created.Add(30*24*time.Hour - time.Second), never, false, RefreshRotate},
		{"at 30 days", RefreshPolicy{}, created.Add(30 * 24 * time.Hour), never, false, RefreshExpired},
		{"custom lifetime", RefreshPolicy{Lifetime: time.Hour}, now, never, false, RefreshExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Decide(tt.now, created, tt.usedAt, tt.revoked); got != tt.want {
				t.Errorf("Decide(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
