package store

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Idempotency states.
const (
	IdemNew     = "new"     // first use of the key: run the request
	IdemPending = "pending" // another request with the key is running
	IdemDone    = "done"    // the key's request finished: replay its answer
)

// BeginIdempotent claims key for the user's request with hash. It reports
// IdemNew when this request is the first with the key, IdemPending or
// IdemDone when one came before; the same key with another request is
// Conflict. A claim still pending from before staleBefore belonged to a
// request that died with its process; it is taken over (IdemNew).
func (db *DB) BeginIdempotent(ctx context.Context, userID int64, key string, hash []byte, now, staleBefore time.Time) (string, error) {
	res, err := db.w.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, idem_key, request_hash, state, created_at)
		VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (user_id, idem_key) DO NOTHING`, userID, key, hash, db.ts(now))
	if err != nil {
		return "", fmt.Errorf("begin idempotent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return IdemNew, nil
	}
	var stored []byte
	var state string
	err = db.w.QueryRowContext(ctx, `SELECT request_hash, state FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2`,
		userID, key).Scan(&stored, &state)
	if noRows(err) {
		// Finished and forgotten between the two statements: try again.
		return db.BeginIdempotent(ctx, userID, key, hash, now, staleBefore)
	}
	if err != nil {
		return "", fmt.Errorf("begin idempotent: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hash) != 1 {
		return "", apperr.New(apperr.Conflict, "this Idempotency-Key was used with a different request")
	}
	if state == IdemPending {
		res, err := db.w.ExecContext(ctx, `UPDATE idempotency_keys SET created_at = $3
			WHERE user_id = $1 AND idem_key = $2 AND state = 'pending' AND created_at < $4`,
			userID, key, db.ts(now), db.ts(staleBefore))
		if err != nil {
			return "", fmt.Errorf("begin idempotent: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return IdemNew, nil
		}
	}
	return state, nil
}

// FinishIdempotent marks the key's request done, so retries replay it.
func (db *DB) FinishIdempotent(ctx context.Context, userID int64, key string) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'done' WHERE user_id = $1 AND idem_key = $2`,
		userID, key); err != nil {
		return fmt.Errorf("finish idempotent: %w", err)
	}
	return nil
}

// AbandonIdempotent forgets the key after a request that changed nothing
// (it failed before charging), so a retry runs afresh.
func (db *DB) AbandonIdempotent(ctx context.Context, userID int64, key string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 AND state = 'pending'`,
		userID, key); err != nil {
		return fmt.Errorf("abandon idempotent: %w", err)
	}
	return nil
}
