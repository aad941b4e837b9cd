package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

const userColumns = `id, email, password_hash, role, created_at, password_changed_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, timeCol{&u.CreatedAt}, timeCol{&u.PasswordChangedAt})
	return u, err
}

// CreateUser stores u and returns it with its new ID. The email is stored
// exactly as given, so callers normalise it first; a duplicate is Conflict.
func (db *DB) CreateUser(ctx context.Context, u User) (User, error) {
	switch u.Role {
	case RoleOwner, RoleAdmin, RoleUser:
	default:
		return User{}, apperr.Newf(apperr.Invalid, "unknown role %q", u.Role)
	}
	return db.insertUser(ctx, db.w, u)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) insertUser(ctx context.Context, q queryRower, u User) (User, error) {
	err := q.QueryRowContext(ctx,
		`INSERT INTO users (email, password_hash, role, created_at, password_changed_at)
		 VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Email, u.PasswordHash, u.Role, db.ts(u.CreatedAt), db.ts(u.PasswordChangedAt)).Scan(&u.ID)
	if isUnique(err) {
		return User{}, apperr.Wrap(apperr.Conflict, "email already registered", err)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	u.PasswordChangedAt = u.PasswordChangedAt.UTC().Truncate(time.Microsecond)
	return u, nil
}

// UserByEmail finds a user by the exact stored email; NotFound otherwise.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if noRows(err) {
		return User{}, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return User{}, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// UserByID finds a user; NotFound otherwise.
func (db *DB) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if noRows(err) {
		return User{}, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return User{}, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}

// CountUsers is the number of accounts; zero means the server still needs
// its owner.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// SetPassword replaces the user's password hash and, in the same
// transaction, revokes all of the user's sessions (A2), so a stolen session
// cannot outlive a password change.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash string, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1`,
			userID, hash, db.ts(now))
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set password: %w", err)
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "user not found")
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`,
			userID, db.ts(now)); err != nil {
			return fmt.Errorf("set password: revoke sessions: %w", err)
		}
		return nil
	})
}

// ClaimSetup creates the owner account with the one-time setup token whose
// stored value is want, in one transaction: the token is consumed only
// when the account is created, so a failed attempt (the email taken, say)
// leaves it usable. A wrong or used token is Unauthorized.
func (db *DB) ClaimSetup(ctx context.Context, key, want string, u User) (User, error) {
	if u.Role != RoleOwner {
		return User{}, apperr.New(apperr.Invalid, "setup creates the owner")
	}
	var out User
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var v string
		err := db.txQueryRow(ctx, tx, `SELECT value FROM settings WHERE key = $1`+db.forUpdate(), key).Scan(&v)
		if noRows(err) {
			return apperr.New(apperr.Unauthorized, "invalid or used setup token")
		}
		if err != nil {
			return fmt.Errorf("claim setup: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(v), []byte(want)) != 1 {
			return apperr.New(apperr.Unauthorized, "invalid or used setup token")
		}
		if out, err = db.insertUser(ctx, tx, u); err != nil {
			return err
		}
		if _, err := db.txExec(ctx, tx, `DELETE FROM settings WHERE key = $1`, key); err != nil {
			return fmt.Errorf("claim setup: %w", err)
		}
		return nil
	})
	return out, err
}

// OwnerExists reports whether the server has its owner account.
func (db *DB) OwnerExists(ctx context.Context) (bool, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = $1`, RoleOwner).Scan(&n); err != nil {
		return false, fmt.Errorf("owner exists: %w", err)
	}
	return n > 0, nil
}

// UpdatePasswordHash replaces the stored hash of the same password (a
// rehash at a new bcrypt cost); sessions stay valid.
func (db *DB) UpdatePasswordHash(ctx context.Context, userID int64, hash string) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash); err != nil {
		return fmt.Errorf("update password hash: %w", err)
	}
	return nil
}
