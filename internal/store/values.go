package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Times are kept in UTC at microsecond precision, the finest PostgreSQL
// offers. SQLite stores them as INTEGER microseconds since the epoch so they
// compare numerically in SQL; PostgreSQL as TIMESTAMPTZ.
func (db *DB) ts(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if db.dialect == DialectSQLite {
		return t.UnixMicro()
	}
	return t
}

func (db *DB) tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// timeCol scans a timestamp column of either dialect.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// nullTimeCol scans a nullable timestamp column into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// stringList stores a short list of names (scopes, reviewers, models) as a
// JSON array in a TEXT column, the same in both dialects.
func stringList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // cannot fail for []string
	return string(b)
}

type stringListCol struct{ v *[]string }

func (c stringListCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan list: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan list: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	*c.v = out
	return nil
}

// isUnique reports a unique or primary-key violation in either dialect.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKey reports a foreign-key violation: a row pointing at a user or
// session that does not exist.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// isCheck reports a CHECK constraint violation, such as a balance or a
// hold that would go negative.
func isCheck(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514"
}
