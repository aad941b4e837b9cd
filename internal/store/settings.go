package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"

	"github.com/diffgate/diffgate/internal/apperr"
)

// PutSetting sets key to value, replacing any earlier value.
func (db *DB) PutSetting(ctx context.Context, key, value string) error {
	if _, err := db.w.ExecContext(ctx,
		`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, value); err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}

// GetSetting returns the value of key; NotFound when unset.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if noRows(err) {
		return "", apperr.New(apperr.NotFound, "setting not found")
	}
	if err != nil {
		return "", fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}

// TakeSetting deletes key and reports true only when it is set and equal to
// want, compared in constant time. It is atomic, so a one-time value (the
// setup token) is taken by exactly one caller however many race for it. A
// wrong guess leaves the value in place.
func (db *DB) TakeSetting(ctx context.Context, key, want string) (bool, error) {
	var taken bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var v string
		err := db.txQueryRow(ctx, tx, `SELECT value FROM settings WHERE key = $1`+db.forUpdate(), key).Scan(&v)
		if noRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(v), []byte(want)) != 1 {
			return nil
		}
		if _, err := db.txExec(ctx, tx, `DELETE FROM settings WHERE key = $1`, key); err != nil {
			return err
		}
		taken = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("take setting: %w", err)
	}
	return taken, nil
}
