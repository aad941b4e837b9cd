package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// errBadRefresh is the one answer for every refresh that must fail, so a
// caller cannot tell an unknown token from a revoked or expired session.
func errBadRefresh() error { return apperr.New(apperr.Unauthorized, "invalid refresh token") }

// CreateSession stores a new session and the hash of its first refresh
// token in one transaction. An unknown user is NotFound, a duplicate
// session id or token hash Conflict.
func (db *DB) CreateSession(ctx context.Context, s Session, firstRefreshHash []byte) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)`,
			s.ID, s.UserID, db.ts(s.CreatedAt), db.ts(s.ExpiresAt), db.tsPtr(s.RevokedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)`,
			firstRefreshHash, s.ID, db.ts(s.CreatedAt))
		return err
	})
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return apperr.Wrap(apperr.Conflict, "session already exists", err)
	case isForeignKey(err):
		return apperr.Wrap(apperr.NotFound, "user not found", err)
	}
	return fmt.Errorf("create session: %w", err)
}

// RotateRefresh exchanges the refresh token hashed as oldHash for newHash
// and returns the session (A2). It fails with Unauthorized when the token is
// unknown, or its session revoked or past ExpiresAt.
//
// A token already used is accepted again only within grace of its first use,
// because a client may legitimately send two refreshes at once; each such
// call gets its own new token. Outside the window (and always when grace <=
// 0) the reuse is treated as theft: the whole session is revoked and that
// revocation is committed before Unauthorized is returned.
//
// The session row is the lock: PostgreSQL takes it with SELECT … FOR UPDATE,
// SQLite by running every transaction on the single writer connection with
// BEGIN IMMEDIATE. Concurrent rotations of one token therefore see each
// other's used_at.
func (db *DB) RotateRefresh(ctx context.Context, oldHash, newHash []byte, now time.Time, grace time.Duration) (Session, error) {
	// Measure the grace window at the precision used_at is stored with.
	now = now.UTC().Truncate(time.Microsecond)
	// An unknown token is refused from the read pool: a flood of made-up
	// tokens must not queue for the single SQLite writer.
	var known int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens WHERE token_hash = $1`, oldHash).Scan(&known); err != nil {
		return Session{}, fmt.Errorf("rotate refresh: look up token: %w", err)
	}
	if known == 0 {
		return Session{}, errBadRefresh()
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return Session{}, fmt.Errorf("rotate refresh: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit

	// session_id never changes, so reading it before taking the lock is safe.
	var s Session
	err = tx.QueryRowContext(ctx, `SELECT session_id FROM refresh_tokens WHERE token_hash = $1`, oldHash).Scan(&s.ID)
	if noRows(err) {
		return Session{}, errBadRefresh()
	}
	if err != nil {
		return Session{}, fmt.Errorf("rotate refresh: find token: %w", err)
	}
	err = tx.QueryRowContext(ctx,
		`SELECT user_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1`+db.forUpdate(), s.ID).
		Scan(&s.UserID, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt}, nullTimeCol{&s.RevokedAt})
	if noRows(err) {
		return Session{}, errBadRefresh()
	}
	if err != nil {
		return Session{}, fmt.Errorf("rotate refresh: lock session: %w", err)
	}
	if s.RevokedAt != nil || !now.Before(s.ExpiresAt) {
		return Session{}, errBadRefresh()
	}
	// Read used_at only now, under the session lock, so a rotation that
	// committed while this one waited is visible.
	var usedAt *time.Time
	if err := tx.QueryRowContext(ctx, `SELECT used_at FROM refresh_tokens WHERE token_hash = $1`, oldHash).
		Scan(nullTimeCol{&usedAt}); err != nil {
		return Session{}, fmt.Errorf("rotate refresh: read token: %w", err)
	}
	// Inside the grace window a used token may be presented again by a
	// concurrent refresh of the rightful client, but only while no token
	// rotated from it has been used: after that, it is a replay.
	successorUsed := false
	if usedAt != nil && grace > 0 && now.Sub(*usedAt) <= grace {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens WHERE parent_hash = $1 AND used_at IS NOT NULL`, oldHash).
			Scan(&n); err != nil {
			return Session{}, fmt.Errorf("rotate refresh: read successors: %w", err)
		}
		successorUsed = n > 0
	}
	switch {
	case usedAt == nil:
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1`, oldHash, db.ts(now)); err != nil {
			return Session{}, fmt.Errorf("rotate refresh: mark used: %w", err)
		}
	case grace > 0 && now.Sub(*usedAt) <= grace && !successorUsed:
		// A concurrent refresh by the rightful client: issue another token.
	default:
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1`, s.ID, db.ts(now)); err != nil {
			return Session{}, fmt.Errorf("rotate refresh: revoke reused: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return Session{}, fmt.Errorf("rotate refresh: commit revocation: %w", err)
		}
		return Session{}, errBadRefresh()
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (token_hash, session_id, created_at, parent_hash) VALUES ($1, $2, $3, $4)`,
		newHash, s.ID, db.ts(now), oldHash); err != nil {
		if isUnique(err) {
			return Session{}, apperr.Wrap(apperr.Conflict, "refresh token already exists", err)
		}
		return Session{}, fmt.Errorf("rotate refresh: insert token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Session{}, fmt.Errorf("rotate refresh: commit: %w", err)
	}
	return s, nil
}

// SessionActive reports whether the session exists, is not revoked and has
// not expired at now. An unknown id is simply not active.
func (db *DB) SessionActive(ctx context.Context, id string, now time.Time) (bool, error) {
	st, err := db.readStmt(ctx, `SELECT count(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`)
	if err != nil {
		return false, fmt.Errorf("session active: %w", err)
	}
	var n int
	if err := st.QueryRowContext(ctx, id, db.ts(now)).Scan(&n); err != nil {
		return false, fmt.Errorf("session active: %w", err)
	}
	return n > 0, nil
}

// RevokeSession revokes one session; NotFound for an unknown id. Revoking
// an already revoked session succeeds and keeps the first revocation time.
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time) error {
	res, err := db.w.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, db.ts(now))
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return apperr.New(apperr.NotFound, "session not found")
	}
	return nil
}

// RevokeSessionByRefresh is logout: it revokes the session that the refresh
// token hashed as hash belongs to (whether or not that token was already
// rotated) and returns the session's user. An unknown token is
// Unauthorized; logging out twice succeeds.
func (db *DB) RevokeSessionByRefresh(ctx context.Context, hash []byte, now time.Time) (int64, error) {
	var userID int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var sid string
		err := tx.QueryRowContext(ctx,
			`SELECT s.id, s.user_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1`,
			hash).Scan(&sid, &userID)
		if noRows(err) {
			return errBadRefresh()
		}
		if err != nil {
			return fmt.Errorf("revoke by refresh: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, sid, db.ts(now)); err != nil {
			return fmt.Errorf("revoke by refresh: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return userID, nil
}

// RevokeUserSessions revokes every active session of the user.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, now time.Time) error {
	if _, err := db.w.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`,
		userID, db.ts(now)); err != nil {
		return fmt.Errorf("revoke user sessions: %w", err)
	}
	return nil
}
