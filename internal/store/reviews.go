package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Review states.
const (
	ReviewQueued  = "queued"
	ReviewRunning = "running"
	ReviewDone    = "done"
	ReviewFailed  = "failed"
)

// Review is the metadata of an asynchronous review: what outlives the
// result cache (D1, D2). Error is a short public reason, never code.
type Review struct {
	ID         string
	UserID     int64
	KeyID      string // empty when a session token asked for it
	Sandbox    bool
	Status     string // ReviewQueued, ReviewRunning, ReviewDone or ReviewFailed
	Reviewers  []string
	Reserved   int64 // credits reserved when queued
	Error      string
	Findings   int   // count only
	Charged    int64 // credits the ledger actually took: 0 for sandbox reviews
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	// Owner is the replica holding the review's diff in memory (D2), and
	// LeaseUntil how long it is known to be alive: the owner renews the
	// lease (RenewReviewLeases) and, once it has passed, any replica may
	// fail the review (FailExpiredReviews).
	Owner      string
	LeaseUntil time.Time
	Refunded   int64 // credits given back by a refund (RefundReview)
}

const reviewColumns = `id, user_id, key_id, sandbox, status, reviewers, reserved, error, findings_count, charged,
	created_at, started_at, finished_at, owner, lease_until, refunded`

func scanReview(row interface{ Scan(...any) error }) (Review, error) {
	var r Review
	err := row.Scan(&r.ID, &r.UserID, &r.KeyID, &r.Sandbox, &r.Status, stringListCol{&r.Reviewers}, &r.Reserved,
		&r.Error, &r.Findings, &r.Charged, timeCol{&r.CreatedAt}, nullTimeCol{&r.StartedAt}, nullTimeCol{&r.FinishedAt},
		&r.Owner, timeCol{&r.LeaseUntil}, &r.Refunded)
	return r, err
}

// charges reports whether the review moves credits at all.
func (r Review) charges() bool { return !r.Sandbox && r.Reserved > 0 }

// CreateReview stores r as queued (CreatedAt defaults to now), owned by
// r.Owner until r.LeaseUntil (both required), and, unless
// it is a sandbox review or reserves nothing, holds r.Reserved credits for
// it in the same transaction (L2). A balance that does
// not cover it is PaymentRequired and nothing is stored; a duplicate id is
// Conflict, an unknown user NotFound.
func (db *DB) CreateReview(ctx context.Context, r Review, now time.Time) error {
	if r.Reserved < 0 {
		return apperr.New(apperr.Invalid, "a reservation cannot be negative")
	}
	if r.Owner == "" || r.LeaseUntil.IsZero() {
		return apperr.New(apperr.Invalid, "a review needs an owner and a lease")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if db.dialect == DialectPostgres {
		return db.createReviewPostgres(ctx, r)
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if r.charges() {
			if _, err := db.hold(ctx, tx, r.UserID, r.Reserved); err != nil {
				return err
			}
		}
		_, err := db.txExec(ctx, tx, `INSERT INTO reviews (`+reviewColumns+`)
			VALUES ($1, $2, $3, $4, 'queued', $5, $6, '', 0, 0, $7, NULL, NULL, $8, $9, 0)`,
			r.ID, r.UserID, r.KeyID, r.Sandbox, stringList(r.Reviewers), r.Reserved, db.ts(r.CreatedAt), r.Owner, db.ts(r.LeaseUntil))
		switch {
		case isUnique(err):
			return apperr.Wrap(apperr.Conflict, "review id already exists", err)
		case isForeignKey(err):
			return apperr.Wrap(apperr.NotFound, "user not found", err)
		case err != nil:
			return fmt.Errorf("create review: %w", err)
		}
		return nil
	})
}

// createReviewPostgres is CreateReview as one statement, so one round
// trip instead of four (BEGIN, hold, insert, COMMIT) on every review: the
// hold and the insert are data-modifying parts of one statement, which
// commits or fails as a whole.
func (db *DB) createReviewPostgres(ctx context.Context, r Review) error {
	hold := int64(0)
	if r.charges() {
		hold = r.Reserved
	}
	// $6 is cast at every use: PostgreSQL would otherwise infer a 32-bit
	// integer from "$6 > 0" and refuse holds above 2^31.
	res, err := db.w.ExecContext(ctx, `WITH hold AS (
			UPDATE balances SET balance = balance - $6::bigint, held = held + $6::bigint
			WHERE $6::bigint > 0 AND user_id = $2 AND balance >= $6::bigint RETURNING user_id)
		INSERT INTO reviews (`+reviewColumns+`)
		SELECT $1, $2, $3, $4, 'queued', $5, $10::bigint, '', 0, 0, $7, NULL, NULL, $8, $9, 0
		WHERE $6::bigint = 0 OR EXISTS (SELECT 1 FROM hold)`,
		r.ID, r.UserID, r.KeyID, r.Sandbox, stringList(r.Reviewers), hold, db.ts(r.CreatedAt), r.Owner, db.ts(r.LeaseUntil), r.Reserved)
	switch {
	case isUnique(err):
		return apperr.Wrap(apperr.Conflict, "review id already exists", err)
	case isForeignKey(err):
		return apperr.Wrap(apperr.NotFound, "user not found", err)
	case err != nil:
		return fmt.Errorf("create review: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create review: %w", err)
	} else if n == 0 {
		return apperr.New(apperr.PaymentRequired, "not enough credits")
	}
	return nil
}

// ReviewByID returns one of the user's reviews. Another user's is
// NotFound, exactly like an unknown id, so ids cannot be probed.
func (db *DB) ReviewByID(ctx context.Context, userID int64, id string) (Review, error) {
	r, err := scanReview(db.r.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE id = $1 AND user_id = $2`, id, userID))
	if noRows(err) {
		return Review{}, apperr.New(apperr.NotFound, "review not found")
	}
	if err != nil {
		return Review{}, fmt.Errorf("review by id: %w", err)
	}
	return r, nil
}

// MarkReviewRunning moves a queued review to running. A review no longer
// queued (already failed by a restart, say) is Conflict, so the worker
// does not run it.
func (db *DB) MarkReviewRunning(ctx context.Context, id string, now time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE reviews SET status = 'running', started_at = $2 WHERE id = $1 AND status = 'queued'`,
		id, db.ts(now))
	if err != nil {
		return fmt.Errorf("mark review running: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark review running: %w", err)
	} else if n > 0 {
		return nil
	}
	var exists int
	if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM reviews WHERE id = $1`, id).Scan(&exists); err != nil {
		return fmt.Errorf("mark review running: %w", err)
	}
	if exists == 0 {
		return apperr.New(apperr.NotFound, "review not found")
	}
	return apperr.New(apperr.Conflict, "review is not queued")
}

// FinishReview ends a queued or running review in one transaction: its
// status (done or failed), public error, findings count and charge are
// stored, its hold settled (released, and min(charged, Reserved) charged)
// unless it is a sandbox review or reserved nothing, evs appended, and
// low(balance) appended when the charge crosses threshold as in SettleLow.
// It returns the user's balance after. A review already finished is
// Conflict and changes nothing, so a hold is never settled twice.
func (db *DB) FinishReview(ctx context.Context, id string, status string, errMsg string, findings int, charged int64, now time.Time, threshold int64, low func(balance int64) Event, evs ...Event) (int64, error) {
	if status != ReviewDone && status != ReviewFailed {
		return 0, apperr.Newf(apperr.Invalid, "a review cannot finish as %q", status)
	}
	if charged < 0 || findings < 0 {
		return 0, apperr.New(apperr.Invalid, "charge and findings cannot be negative")
	}
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// One statement finishes the review only if it is unfinished (the
		// row lock on PostgreSQL) and works out the charge.
		var r Review
		err := db.txQueryRow(ctx, tx, `UPDATE reviews SET status = $2, error = $3, findings_count = $4,
			charged = CASE WHEN sandbox OR reserved = 0 THEN 0 WHEN $5 < reserved THEN $5 ELSE reserved END, finished_at = $6
			WHERE id = $1 AND status IN ('queued', 'running')
			RETURNING user_id, sandbox, reserved, charged`, id, status, errMsg, findings, charged, db.ts(now)).
			Scan(&r.UserID, &r.Sandbox, &r.Reserved, &r.Charged)
		if noRows(err) {
			var n int
			if err := db.txQueryRow(ctx, tx, `SELECT count(*) FROM reviews WHERE id = $1`, id).Scan(&n); err != nil {
				return fmt.Errorf("finish review: %w", err)
			}
			if n == 0 {
				return apperr.New(apperr.NotFound, "review not found")
			}
			return apperr.New(apperr.Conflict, "review already finished")
		}
		if err != nil {
			return fmt.Errorf("finish review: %w", err)
		}
		reserved := int64(0)
		if r.charges() {
			reserved = r.Reserved
		}
		bal, err = db.settle(ctx, tx, r.UserID, reserved, r.Charged, id, now, threshold, low, evs)
		return err
	})
	return bal, err
}

// lockUnfinishedReview reads a review inside tx, row-locked on PostgreSQL;
// NotFound when unknown, Conflict when already finished.
func (db *DB) lockUnfinishedReview(ctx context.Context, tx *sql.Tx, id string) (Review, error) {
	r, err := scanReview(db.txQueryRow(ctx, tx, `SELECT `+reviewColumns+` FROM reviews WHERE id = $1`+db.forUpdate(), id))
	if noRows(err) {
		return Review{}, apperr.New(apperr.NotFound, "review not found")
	}
	if err != nil {
		return Review{}, fmt.Errorf("finish review: %w", err)
	}
	if r.Status != ReviewQueued && r.Status != ReviewRunning {
		return Review{}, apperr.New(apperr.Conflict, "review already finished")
	}
	return r, nil
}

// RefundReview gives the user back everything a finished review was
// charged, as a refund entry referencing the review, exactly once: the
// review is marked refunded by the same conditional statement that finds
// it, so a second or concurrent refund is Conflict. It returns the review
// (Refunded set) and the user's balance after. An unknown review is
// NotFound; an unfinished one, or one that was charged nothing, Conflict.
func (db *DB) RefundReview(ctx context.Context, id string, now time.Time) (Review, int64, error) {
	var r Review
	var bal int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanReview(db.txQueryRow(ctx, tx, `UPDATE reviews SET refunded = charged
			WHERE id = $1 AND status IN ('done', 'failed') AND charged > 0 AND refunded = 0
			RETURNING `+reviewColumns, id))
		if noRows(err) {
			cur, err := scanReview(db.txQueryRow(ctx, tx, `SELECT `+reviewColumns+` FROM reviews WHERE id = $1`, id))
			switch {
			case noRows(err):
				return apperr.New(apperr.NotFound, "review not found")
			case err != nil:
				return fmt.Errorf("refund review: %w", err)
			case cur.Refunded > 0:
				return apperr.New(apperr.Conflict, "the review was already refunded")
			case cur.Status == ReviewQueued || cur.Status == ReviewRunning:
				return apperr.New(apperr.Conflict, "the review has not finished")
			default:
				return apperr.New(apperr.Conflict, "the review was charged nothing")
			}
		}
		if err != nil {
			return fmt.Errorf("refund review: %w", err)
		}
		bal, err = db.credit(ctx, tx, r.UserID, r.Refunded, LedgerRefund, r.ID, now)
		return err
	})
	if err != nil {
		return Review{}, 0, err
	}
	return r, bal, nil
}

// RenewReviewLeases extends to until the lease of every queued or running
// review owner holds, returning how many it renewed. A review another
// replica has failed meanwhile stays failed.
func (db *DB) RenewReviewLeases(ctx context.Context, owner string, until time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE reviews SET lease_until = $2
		WHERE owner = $1 AND status IN ('queued', 'running') AND lease_until < $2`, owner, db.ts(until))
	if err != nil {
		return 0, fmt.Errorf("renew review leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("renew review leases: %w", err)
	}
	return n, nil
}

// FailExpiredReviews fails every queued or running review whose lease
// passed before now: its owner stopped (crashed, or lost the database for
// longer than a lease) and the diff was only ever in that owner's memory,
// so the review cannot resume. Each review is failed with reason, its
// whole reservation released and event(r) (r as failed; nil event for
// none) appended, in a transaction of its own so one bad row cannot hold
// back the rest; the lease is checked again under the row lock, so a
// review renewed meanwhile is left alone and replicas sweeping at once
// fail each review exactly once. It returns how many reviews it failed,
// also alongside the errors of those it could not fail.
func (db *DB) FailExpiredReviews(ctx context.Context, reason string, now time.Time, event func(r Review) Event) (int, error) {
	rows, err := db.w.QueryContext(ctx, `SELECT id FROM reviews WHERE status IN ('queued', 'running') AND lease_until < $1
		ORDER BY lease_until, id`, db.ts(now))
	if err != nil {
		return 0, fmt.Errorf("fail expired reviews: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("fail expired reviews: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("fail expired reviews: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		failed := false
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			r, err := db.lockUnfinishedReview(ctx, tx, id)
			if apperr.KindOf(err) == apperr.Conflict {
				return nil // finished by its owner or failed by another replica meanwhile
			}
			if err != nil {
				return err
			}
			if !r.LeaseUntil.Before(storedTime(now)) {
				return nil // renewed meanwhile: its owner is alive
			}
			if _, err := db.txExec(ctx, tx, `UPDATE reviews SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1`,
				id, reason, db.ts(now)); err != nil {
				return fmt.Errorf("fail review: %w", err)
			}
			if r.charges() {
				if _, err := db.txExec(ctx, tx, `UPDATE balances SET balance = balance + $1, held = held - $1 WHERE user_id = $2`,
					r.Reserved, r.UserID); err != nil {
					return fmt.Errorf("release hold: %w", err)
				}
			}
			failed = true
			if event == nil {
				return nil
			}
			r.Status, r.Error, r.Charged = ReviewFailed, reason, 0
			fin := storedTime(now)
			r.FinishedAt = &fin
			return db.appendEvents(ctx, tx, now, []Event{event(r)})
		})
		if err != nil {
			// One bad row must not hold back the rest: the others are
			// still failed, and the errors reported together.
			errs = append(errs, fmt.Errorf("fail expired review %s: %w", id, err))
			continue
		}
		if failed {
			n++
		}
	}
	return n, errors.Join(errs...)
}
