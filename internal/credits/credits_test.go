package credits

import (
	"math"
	"testing"
)

// L2: every kind moves the balance one way; unknown kinds move nothing.
func TestKindSign(t *testing.T) {
	tests := []struct {
		kind  Kind
		sign  int
		valid bool
	}{
		{Grant, 1, true},
		{Purchase, 1, true},
		{Refund, 1, true},
		{Release, 1, true},
		{Charge, -1, true},
		{Reserve, -1, true},
		{"bonus", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			if got := tt.kind.Sign(); got != tt.sign {
				t.Errorf("Kind(%q).Sign() = %d, want %d", tt.kind, got, tt.sign)
			}
			if got := tt.kind.Valid(); got != tt.valid {
				t.Errorf("Kind(%q).Valid() = %v, want %v", tt.kind, got, tt.valid)
			}
		})
	}
	if n := len(Kinds()); n != 6 {
		t.Errorf("len(Kinds()) = %d, want 6", n)
	}
	for _, k := range Kinds() {
		if !k.Valid() {
			t.Errorf("Kinds() holds %q, which is not Valid", k)
		}
	}
}

// L2: the balance is the sum of signed entries, so a reserve, its release
// and a charge at most the reservation leave exactly the cost taken.
func TestSigned(t *testing.T) {
	tests := []struct {
		kind Kind
		a    Amount
		want Amount
	}{
		{Grant, 10, 10},
		{Grant, -10, 10},
		{Charge, 7, -7},
		{Charge, -7, -7},
		{Reserve, 0, 0},
		{Release, 5, 5},
		{"bogus", 5, 0},
	}
	for _, tt := range tests {
		if got := Signed(tt.kind, tt.a); got != tt.want {
			t.Errorf("Signed(%q, %d) = %d, want %d", tt.kind, tt.a, got, tt.want)
		}
	}
	var bal Amount
	for _, e := range []struct {
		k Kind
		a Amount
	}{{Purchase, 100}, {Reserve, 40}, {Release, 40}, {Charge, Settle(40, 55)}, {Grant, 3}} {
		bal += Signed(e.k, e.a)
	}
	if want := Amount(100 - 40 + 3); bal != want {
		t.Errorf("balance after purchase, reserve 40, settle 55 of 40, grant 3 = %d, want %d", bal, want)
	}
}

// K3: sandbox keys cost nothing.
func TestForKey(t *testing.T) {
	tests := []struct {
		sandbox bool
		a, want Amount
	}{
		{true, 0, 0},
		{true, 37, 0},
		{true, MaxAmount, 0},
		{false, 0, 0},
		{false, 37, 37},
		{false, MaxAmount, MaxAmount},
	}
	for _, tt := range tests {
		if got := ForKey(tt.sandbox, tt.a); got != tt.want {
			t.Errorf("ForKey(%v, %d) = %d, want %d", tt.sandbox, tt.a, got, tt.want)
		}
	}
}

// L2: a review is never charged more than it reserved.
func TestSettle(t *testing.T) {
	tests := []struct {
		reserved, cost, want Amount
	}{
		{10, 3, 3},
		{10, 10, 10},
		{10, 11, 10},
		{10, MaxAmount, 10},
		{0, 5, 0},
		{10, -1, 0},
		{-1, 5, 0},
	}
	for _, tt := range tests {
		if got := Settle(tt.reserved, tt.cost); got != tt.want {
			t.Errorf("Settle(%d, %d) = %d, want %d", tt.reserved, tt.cost, got, tt.want)
		}
	}
}

// L2: the low-balance event fires once, when the balance crosses.
func TestCrossedBelow(t *testing.T) {
	tests := []struct {
		before, after, threshold Amount
		want                     bool
	}{
		{100, 50, 60, true},
		{60, 59, 60, true},
		{60, 60, 60, false},
		{59, 40, 60, false}, // already below: no second event
		{50, 100, 60, false},
		{40, 100, 60, false},
		{100, 0, 1, true},
		{100, 0, 0, false}, // 0 disables: balances are never negative
		{100, 0, -5, false},
		{MaxAmount, 0, MaxAmount, true},
	}
	for _, tt := range tests {
		if got := CrossedBelow(tt.before, tt.after, tt.threshold); got != tt.want {
			t.Errorf("CrossedBelow(%d, %d, %d) = %v, want %v", tt.before, tt.after, tt.threshold, got, tt.want)
		}
	}
}

func TestAddSat(t *testing.T) {
	tests := []struct{ a, b, want Amount }{
		{1, 2, 3},
		{MaxAmount, 0, MaxAmount},
		{MaxAmount, 1, MaxAmount},
		{MaxAmount - 1, 1, MaxAmount},
		{MaxAmount / 2, MaxAmount/2 + 5, MaxAmount},
	}
	for _, tt := range tests {
		if got := addSat(tt.a, tt.b); got != tt.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if MaxAmount != math.MaxInt64 {
		t.Errorf("MaxAmount = %d, want %d", MaxAmount, int64(math.MaxInt64))
	}
}
