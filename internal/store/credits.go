package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Ledger entry kinds. Credits (positive amounts): grant, purchase, refund.
// Debits (negative amounts): charge. Reserve and release entries were
// written before reservations became holds (migration 0008), which write
// no entry; older ledgers still hold them.
const (
	LedgerGrant    = "grant"
	LedgerPurchase = "purchase"
	LedgerCharge   = "charge"
	LedgerRefund   = "refund"
	LedgerReserve  = "reserve"
	LedgerRelease  = "release"
)

// LedgerEntry is one append-only movement of credits (L2). The balance and
// the holds of running reviews are kept in step in the same transaction:
// the entries sum to balance + held, and BalanceAfter is that sum.
type LedgerEntry struct {
	ID           int64
	UserID       int64
	Kind         string
	Amount       int64 // positive for credits, negative for debits
	BalanceAfter int64
	Reference    string // what the entry is for: a request id, a Stripe event id
	CreatedAt    time.Time
}

// Balance is what the user can spend: the ledger's sum less what running
// reviews hold; zero for a user who never had credits.
func (db *DB) Balance(ctx context.Context, userID int64) (int64, error) {
	b, _, err := db.BalanceAndHeld(ctx, userID)
	return b, err
}

// BalanceAndHeld is Balance and the credits held for the user's running
// reviews: the ledger sums to their total.
func (db *DB) BalanceAndHeld(ctx context.Context, userID int64) (balance, held int64, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT balance, held FROM balances WHERE user_id = $1`, userID).Scan(&balance, &held)
	if noRows(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("balance: %w", err)
	}
	return balance, held, nil
}

// Credit adds amount (> 0) to the user's balance as an entry of kind
// (grant, purchase or refund) and returns the new balance.
func (db *DB) Credit(ctx context.Context, userID, amount int64, kind, ref string, now time.Time) (int64, error) {
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		bal, err = db.credit(ctx, tx, userID, amount, kind, ref, now)
		return err
	})
	return bal, err
}

// Debit takes amount (>= 0) from the user's balance as an entry of kind
// charge when the balance covers it, and PaymentRequired otherwise. The check and the update are one statement, so concurrent
// debits can never take the balance below zero, on SQLite (one writer) or
// PostgreSQL (the row lock of the UPDATE, re-checked after waiting).
func (db *DB) Debit(ctx context.Context, userID, amount int64, kind, ref string, now time.Time) (int64, error) {
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		bal, err = db.debit(ctx, tx, userID, amount, kind, ref, now)
		return err
	})
	return bal, err
}

// Reserve holds amount (> 0) of the user's balance for a review about to
// run, when the balance covers it, and PaymentRequired otherwise; the
// check and the hold are one statement, like Debit's. A hold writes no
// ledger entry: Settle ends it.
func (db *DB) Reserve(ctx context.Context, userID, amount int64) (int64, error) {
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		bal, err = db.hold(ctx, tx, userID, amount)
		return err
	})
	return bal, err
}

// Settle ends a reservation: the hold is released and the actual cost (at
// most the reservation) charged, in one transaction that also appends evs
// to the outbox, so the events exist exactly when the settlement does (W1).
func (db *DB) Settle(ctx context.Context, userID, reserved, actual int64, ref string, now time.Time, evs ...Event) (int64, error) {
	return db.SettleLow(ctx, userID, reserved, actual, ref, now, 0, nil, evs...)
}

// SettleLow is Settle that also appends low(balance) when the charge takes
// the balance across threshold: at or above it after the release, below
// it after the charge. A threshold <= 0 or a nil low disables the check.
// Only the settlement that crosses fires, so one fall below the threshold
// is one event however many reviews follow.
func (db *DB) SettleLow(ctx context.Context, userID, reserved, actual int64, ref string, now time.Time, threshold int64, low func(balance int64) Event, evs ...Event) (int64, error) {
	if actual < 0 || actual > reserved {
		return 0, apperr.Newf(apperr.Invalid, "settle %d of a %d reservation", actual, reserved)
	}
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		bal, err = db.settle(ctx, tx, userID, reserved, actual, ref, now, threshold, low, evs)
		return err
	})
	return bal, err
}

// settle ends a hold of reserved, charges actual and appends evs and, on
// a crossing of threshold, low(balance), all inside tx: one statement
// moves the balance and the hold, and one ledger entry records the charge.
// This runs once per review, on SQLite's single writer.
func (db *DB) settle(ctx context.Context, tx *sql.Tx, userID, reserved, actual int64, ref string, now time.Time, threshold int64, low func(int64) Event, evs []Event) (int64, error) {
	// thr > 0 when this settlement checks the low-balance threshold: the
	// same statement then resets the flag when the balance after the
	// release is at or above it (see lowBalance). It is cast: PostgreSQL
	// would otherwise infer a 32-bit integer from "$4 > 0".
	thr := int64(0)
	if actual > 0 && threshold > 0 && low != nil {
		thr = threshold
	}
	var bal, held int64
	var notified bool
	if reserved > 0 {
		err := db.txQueryRow(ctx, tx, `UPDATE balances SET balance = balance + $1 - $2, held = held - $1,
				low_notified = CASE WHEN CAST($4 AS BIGINT) > 0 AND balance + $1 >= CAST($4 AS BIGINT) THEN 0 ELSE low_notified END
			WHERE user_id = $3 RETURNING balance, held, low_notified`, reserved, actual, userID, thr).Scan(&bal, &held, &notified)
		if noRows(err) {
			return 0, apperr.New(apperr.NotFound, "no credits are held for this user")
		}
		if isCheck(err) {
			return 0, apperr.Wrap(apperr.Conflict, "more credits released than held", err)
		}
		if err != nil {
			return 0, fmt.Errorf("settle: %w", err)
		}
	} else if err := db.txQueryRow(ctx, tx, `SELECT balance FROM balances WHERE user_id = $1`, userID).Scan(&bal); err != nil && !noRows(err) {
		return 0, fmt.Errorf("settle: %w", err)
	}
	if actual > 0 {
		if err := db.entry(ctx, tx, userID, LedgerCharge, -actual, bal+held, ref, now); err != nil {
			return 0, err
		}
		if thr > 0 && bal < thr && !notified {
			fire, err := db.lowBalance(ctx, tx, userID)
			if err != nil {
				return 0, err
			}
			if fire {
				evs = append(evs[:len(evs):len(evs)], low(bal))
			}
		}
	}
	if err := db.appendEvents(ctx, tx, now, evs); err != nil {
		return 0, err
	}
	return bal, nil
}

// hold moves amount from the user's balance to held when the balance
// covers it.
func (db *DB) hold(ctx context.Context, tx *sql.Tx, userID, amount int64) (int64, error) {
	if amount <= 0 {
		return 0, apperr.New(apperr.Invalid, "a reservation must be positive")
	}
	var bal int64
	err := db.txQueryRow(ctx, tx, `UPDATE balances SET balance = balance - $1, held = held + $1
		WHERE user_id = $2 AND balance >= $1 RETURNING balance`, amount, userID).Scan(&bal)
	if noRows(err) {
		return 0, apperr.New(apperr.PaymentRequired, "not enough credits")
	}
	if err != nil {
		return 0, fmt.Errorf("reserve: %w", err)
	}
	return bal, nil
}

// ApplyPurchase credits a Stripe purchase once per event id (L3): a
// replayed event changes nothing and reports applied false.
func (db *DB) ApplyPurchase(ctx context.Context, eventID string, userID, amount int64, now time.Time) (applied bool, balance int64, err error) {
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := db.txExec(ctx, tx, `INSERT INTO stripe_events (event_id, applied_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING`,
			eventID, db.ts(now))
		if err != nil {
			return fmt.Errorf("record stripe event: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		applied = true
		balance, err = db.credit(ctx, tx, userID, amount, LedgerPurchase, eventID, now)
		return err
	})
	return applied, balance, err
}

// Ledger lists the user's entries, newest first.
func (db *DB) Ledger(ctx context.Context, userID int64, limit int) ([]LedgerEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, user_id, kind, amount, balance_after, reference, created_at
		FROM ledger_entries WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var e LedgerEntry
		if err := rows.Scan(&e.ID, &e.UserID, &e.Kind, &e.Amount, &e.BalanceAfter, &e.Reference, timeCol{&e.CreatedAt}); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (db *DB) credit(ctx context.Context, tx *sql.Tx, userID, amount int64, kind, ref string, now time.Time) (int64, error) {
	switch kind {
	case LedgerGrant, LedgerPurchase, LedgerRefund:
	default:
		return 0, apperr.Newf(apperr.Invalid, "%q is not a credit", kind)
	}
	if amount <= 0 {
		return 0, apperr.New(apperr.Invalid, "a credit must be positive")
	}
	var bal, held int64
	err := db.txQueryRow(ctx, tx, `INSERT INTO balances (user_id, balance) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET balance = balances.balance + excluded.balance
		RETURNING balance, held`, userID, amount).Scan(&bal, &held)
	if isForeignKey(err) {
		return 0, apperr.Wrap(apperr.NotFound, "user not found", err)
	}
	if err != nil {
		return 0, fmt.Errorf("credit: %w", err)
	}
	return bal, db.entry(ctx, tx, userID, kind, amount, bal+held, ref, now)
}

func (db *DB) debit(ctx context.Context, tx *sql.Tx, userID, amount int64, kind, ref string, now time.Time) (int64, error) {
	switch kind {
	case LedgerCharge:
	default:
		return 0, apperr.Newf(apperr.Invalid, "%q is not a debit", kind)
	}
	if amount < 0 {
		return 0, apperr.New(apperr.Invalid, "a debit cannot be negative")
	}
	var bal, held int64
	err := db.txQueryRow(ctx, tx, `UPDATE balances SET balance = balance - $1
		WHERE user_id = $2 AND balance >= $1 RETURNING balance, held`, amount, userID).Scan(&bal, &held)
	if noRows(err) {
		return 0, apperr.New(apperr.PaymentRequired, "not enough credits")
	}
	if err != nil {
		return 0, fmt.Errorf("debit: %w", err)
	}
	if amount == 0 {
		return bal, nil
	}
	return bal, db.entry(ctx, tx, userID, kind, -amount, bal+held, ref, now)
}

func (db *DB) entry(ctx context.Context, tx *sql.Tx, userID int64, kind string, amount, bal int64, ref string, now time.Time) error {
	if _, err := db.txExec(ctx, tx, `INSERT INTO ledger_entries (user_id, kind, amount, balance_after, reference, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, userID, kind, amount, bal, ref, db.ts(now)); err != nil {
		return fmt.Errorf("ledger entry: %w", err)
	}
	return nil
}

// lowBalance raises the flag that a credits.low event went out, and
// reports whether this call raised it: a charge that leaves the balance
// below the threshold raises credits.low only if no event was raised since
// the balance was last seen at or above it. That is seen from the balance
// after the settlement's release (settle resets the flag in the same
// statement), so other reservations still out cannot hide a fall (they
// only delay the reset), and concurrent settlements raise it once.
func (db *DB) lowBalance(ctx context.Context, tx *sql.Tx, userID int64) (bool, error) {
	res, err := db.txExec(ctx, tx, `UPDATE balances SET low_notified = 1 WHERE user_id = $1 AND low_notified = 0`, userID)
	if err != nil {
		return false, fmt.Errorf("low balance: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
