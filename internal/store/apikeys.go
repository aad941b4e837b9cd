package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

const apiKeyColumns = `id, user_id, name, sandbox, key_hash, scopes, created_at, last_used_at, expires_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.Sandbox, &k.Hash, stringListCol{&k.Scopes},
		timeCol{&k.CreatedAt}, nullTimeCol{&k.LastUsedAt}, nullTimeCol{&k.ExpiresAt}, nullTimeCol{&k.RevokedAt})
	return k, err
}

// CreateAPIKey stores k. A duplicate id is Conflict, an unknown user
// NotFound.
func (db *DB) CreateAPIKey(ctx context.Context, k APIKey) error {
	_, err := db.w.ExecContext(ctx,
		`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.UserID, k.Name, k.Sandbox, k.Hash, stringList(k.Scopes),
		db.ts(k.CreatedAt), db.tsPtr(k.LastUsedAt), db.tsPtr(k.ExpiresAt), db.tsPtr(k.RevokedAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return apperr.Wrap(apperr.Conflict, "API key id already exists", err)
	case isForeignKey(err):
		return apperr.Wrap(apperr.NotFound, "user not found", err)
	}
	return fmt.Errorf("create API key: %w", err)
}

// APIKeyByID returns the key with that public id, revoked and expired ones
// included: the caller decides, and must check RevokedAt and ExpiresAt. It
// always queries the database, so a revocation is seen by the very next
// request on every replica (K4); NotFound for an unknown id.
func (db *DB) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	st, err := db.readStmt(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`)
	if err != nil {
		return APIKey{}, fmt.Errorf("API key by id: %w", err)
	}
	k, err := scanAPIKey(st.QueryRowContext(ctx, id))
	if noRows(err) {
		return APIKey{}, apperr.New(apperr.NotFound, "API key not found")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("API key by id: %w", err)
	}
	return k, nil
}

// ListAPIKeys lists the user's keys, revoked ones included, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	rows, err := db.r.QueryContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes one of the user's keys and appends evs to the
// outbox in the same transaction, so the events exist exactly when the
// revocation does (W1). Another user's key is NotFound, exactly like an
// unknown id, so ids cannot be probed; a key already revoked is Conflict.
func (db *DB) RevokeAPIKey(ctx context.Context, userID int64, id string, now time.Time, evs ...Event) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
			id, userID, db.ts(now))
		if err != nil {
			return fmt.Errorf("revoke API key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("revoke API key: %w", err)
		}
		if n > 0 {
			return db.appendEvents(ctx, tx, now, evs)
		}
		var exists int
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID).Scan(&exists); err != nil {
			return fmt.Errorf("revoke API key: %w", err)
		}
		if exists == 0 {
			return apperr.New(apperr.NotFound, "API key not found")
		}
		return apperr.New(apperr.Conflict, "API key already revoked")
	})
}

// TouchAPIKey records a use of the key (K5). It only moves last_used_at
// forward and reports nothing for an unknown id: it runs on every request
// and must stay one cheap statement.
func (db *DB) TouchAPIKey(ctx context.Context, id string, now time.Time) error {
	if _, err := db.w.ExecContext(ctx,
		`UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`,
		id, db.ts(now)); err != nil {
		return fmt.Errorf("touch API key: %w", err)
	}
	return nil
}
