package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/store/storetest"
)

// migrateTo applies the embedded migrations up to and including version.
func (db *DB) migrateTo(ctx context.Context, version int) error {
	ms, err := loadMigrations(db.dialect)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if err := db.inTx(ctx, func(tx *sql.Tx) error { return db.applyMigration(ctx, tx, m) }); err != nil {
			return err
		}
	}
	return nil
}

// L2: migration 0008 turns the reservations of reviews still running
// (ledger entries until then) into holds, keeping the ledger's sum equal to
// balance + held, and a later failure releases them like any hold.
func TestMigrationHolds(t *testing.T) {
	for _, tt := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "diffgate.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := openDSN(t, tt.dsn(t))
			if err := db.migrateTo(ctx, 7); err != nil {
				t.Fatal(err)
			}
			u := mkUser(t, db, "ada@example.com")
			// What the code before holds wrote: a grant of 100, a review
			// reserving 30 (ledger entry and all) still running, a sandbox
			// one and a finished one.
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.w.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO balances (user_id, balance) VALUES ($1, 70)`, u.ID)
			exec(`INSERT INTO ledger_entries (user_id, kind, amount, balance_after, reference, created_at) VALUES
				($1, 'grant', 100, 100, 'g', $2), ($1, 'reserve', -30, 70, 'rev_old', $2)`, u.ID, db.ts(t0))
			for _, r := range []struct {
				id, status string
				sandbox    bool
				reserved   int64
			}{{"rev_old", "running", false, 30}, {"rev_sb", "queued", true, 10}, {"rev_done", "done", false, 5}} {
				exec(`INSERT INTO reviews (id, user_id, key_id, sandbox, status, reviewers, reserved, error, findings_count, charged, created_at)
					VALUES ($1, $2, '', $3, $4, '["builtin"]', $5, '', 0, 0, $6)`, r.id, u.ID, r.sandbox, r.status, r.reserved, db.ts(t0))
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if held := countRows(t, db, `SELECT held FROM balances WHERE user_id = $1`, u.ID); held != 30 {
				t.Errorf("held = %d, want 30: the running review's reservation", held)
			}
			if sum, settled := ledgerSum(t, db, u.ID); sum != 100 || settled != 100 {
				t.Errorf("ledger sums to %d, balance + held %d; want 100 and 100", sum, settled)
			}
			// Reviews from before leases have expired ones: the first sweep
			// fails the two unfinished reviews and releases the hold.
			n, err := db.FailExpiredReviews(ctx, "stopped", t0.Add(time.Minute), nil)
			if err != nil || n != 2 {
				t.Fatalf("FailExpiredReviews = %d, %v; want 2", n, err)
			}
			if bal, _ := db.Balance(ctx, u.ID); bal != 100 {
				t.Errorf("balance after the release = %d, want 100", bal)
			}
			if held := countRows(t, db, `SELECT held FROM balances WHERE user_id = $1`, u.ID); held != 0 {
				t.Errorf("held after the release = %d, want 0", held)
			}
			if sum, settled := ledgerSum(t, db, u.ID); sum != 100 || settled != 100 {
				t.Errorf("ledger sums to %d, balance + held %d; want 100 and 100", sum, settled)
			}
		})
	}
}
