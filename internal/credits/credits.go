// Package credits holds the rules of diffgate's credit ledger (L2, K3):
// what a review costs, what is reserved before it runs and when a balance
// has crossed the low-balance threshold. It does no I/O; the store keeps
// the ledger and the server applies these rules.
package credits

import "math"

// Amount is a number of credits. Credits are whole units: nothing is
// ever charged in fractions, so every cost is rounded up (see Cost).
type Amount int64

// MaxAmount is where arithmetic on amounts saturates instead of wrapping.
const MaxAmount Amount = math.MaxInt64

// Kind is the kind of a ledger entry.
//
// The store keeps these invariants, on every database and under any
// concurrency:
//   - The ledger is append-only: an entry is never updated or deleted; a
//     mistake is corrected by a new entry (a refund, a release).
//   - A user's balance equals the sum of the signed amounts of their
//     entries (Kind.Sign), whether it is derived or kept in step in the
//     same transaction as the entry.
//   - The balance is never negative: a debit that the balance does not
//     cover is refused (PaymentRequired) and writes nothing.
//   - A reservation is ended exactly once: released in full when the
//     review fails, or released and charged its settled cost (Settle) in
//     one transaction when it succeeds, so the charge is never above what
//     was reserved and the balance never dips in between.
//   - Sandbox keys (K3) never write entries (ForKey makes their cost 0).
type Kind string

// Ledger entry kinds. The values are the names stored in the ledger.
const (
	// Grant adds credits given by an admin.
	Grant Kind = "grant"
	// Purchase adds credits bought through Stripe, once per event.
	Purchase Kind = "purchase"
	// Charge takes the settled cost of a review.
	Charge Kind = "charge"
	// Refund gives back credits of an earlier charge.
	Refund Kind = "refund"
	// Reserve holds a review's quote while it runs.
	Reserve Kind = "reserve"
	// Release gives back a reservation when the review ends.
	Release Kind = "release"
)

// Kinds lists every entry kind.
func Kinds() []Kind { return []Kind{Grant, Purchase, Charge, Refund, Reserve, Release} }

// Sign is +1 for kinds that add credits, -1 for kinds that take them and
// 0 for an unknown kind, which the store must refuse.
func (k Kind) Sign() int {
	switch k {
	case Grant, Purchase, Refund, Release:
		return 1
	case Charge, Reserve:
		return -1
	}
	return 0
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k.Sign() != 0 }

// Signed is a as it counts towards the balance for an entry of kind k:
// negative for debits. a is taken as a magnitude (its absolute value).
func Signed(k Kind, a Amount) Amount {
	if a < 0 {
		a = -a // -MinInt64 stays negative; amounts never get there
	}
	if k.Sign() < 0 {
		return -a
	}
	if k.Sign() == 0 {
		return 0
	}
	return a
}

// ForKey is the amount a key pays: nothing for a sandbox key (K3).
func ForKey(sandbox bool, a Amount) Amount {
	if sandbox {
		return 0
	}
	return a
}

// Settle is what a review is charged: its cost, but never more than was
// reserved for it and never less than nothing. The quote is the ceiling
// the user agreed to before the review ran; when a review costs more than
// quoted (an unusual diff, a corrective retry), the operator bears the
// difference rather than surprising the user.
func Settle(reserved, cost Amount) Amount {
	return max(0, min(cost, reserved))
}

// CrossedBelow reports whether a balance fell from at or above threshold
// to below it, so a low-balance event fires once per crossing rather than
// on every charge made while the balance stays low. A threshold of 0 or
// less never fires, as balances are never negative.
func CrossedBelow(before, after, threshold Amount) bool {
	return before >= threshold && after < threshold
}

// addSat adds non-negative amounts, saturating at MaxAmount.
func addSat(a, b Amount) Amount {
	if a > MaxAmount-b {
		return MaxAmount
	}
	return a + b
}
