package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Grouped SQLite transactions keep each caller's transaction atomic: what
// a failing or panicking caller wrote is rolled back, what the others
// wrote in the same batch is committed.
func TestGroupCommitIsolatesCallers(t *testing.T) {
	db := openMigrated(t, filepath.Join(t.TempDir(), "g.db"))
	if db.group == nil {
		t.Fatal("SQLite store without group commit")
	}
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.inTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, 'x')`, fmt.Sprint("k", i)); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errors.New("caller changed its mind")
				case 7:
					panic("caller bug")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if db.group.shared.Load() == 0 {
		t.Error("no transaction was shared: the batch path went untested")
	}
	for i, err := range errs {
		_, gerr := db.GetSetting(ctx, fmt.Sprint("k", i))
		switch i % 10 {
		case 3, 7:
			if err == nil || gerr == nil {
				t.Errorf("caller %d: error %v, row kept %v; want an error and no row", i, err, gerr == nil)
			}
		default:
			if err != nil || gerr != nil {
				t.Errorf("caller %d: error %v, row error %v; want it committed", i, err, gerr)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.inTx(ctx, func(*sql.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("inTx after Close = %v, want errClosed", err)
	}
}
