package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/ids"
)

// S1: a data directory Open creates is 0700, and the database, WAL and
// shared-memory files in it are 0600.
func TestSQLiteFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "diffgate-data")
	path := filepath.Join(dir, "diffgate.db")
	db := openMigrated(t, "sqlite:"+path)
	if err := db.PutSetting(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("data directory mode = %o, want 700", got)
	}
	files := db.Files()
	want := []string{path, path + "-wal", path + "-shm"}
	if len(files) != len(want) {
		t.Fatalf("Files() = %v, want %v", files, want)
	}
	for i, f := range files {
		if f != want[i] {
			t.Errorf("Files()[%d] = %q, want %q", i, f, want[i])
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("stat %s: %v", f, err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(f), got)
		}
	}
}

// The connection settings the store relies on: WAL, a busy timeout, foreign
// keys and NORMAL sync everywhere; one writer; read-only readers.
func TestSQLiteConnectionSettings(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, filepath.Join(t.TempDir(), "diffgate.db"))
	if db.Dialect() != DialectSQLite {
		t.Fatalf("Dialect() = %q, want %q", db.Dialect(), DialectSQLite)
	}
	pragmas := []struct {
		name, want string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"},
	}
	for _, p := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"writer", func(q string) (string, error) { var v string; return v, db.w.QueryRowContext(ctx, q).Scan(&v) }},
		{"reader", func(q string) (string, error) { var v string; return v, db.r.QueryRowContext(ctx, q).Scan(&v) }},
	} {
		for _, pr := range pragmas {
			got, err := p.q("PRAGMA " + pr.name)
			if err != nil || got != pr.want {
				t.Errorf("%s PRAGMA %s = %q, %v, want %q", p.name, pr.name, got, err, pr.want)
			}
		}
	}
	var autockpt, tempStore string
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&autockpt); err != nil || autockpt != fmt.Sprint(walBackstop) {
		t.Errorf("writer PRAGMA wal_autocheckpoint = %q, %v; want %d (a backstop)", autockpt, err, walBackstop)
	}
	if err := db.w.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&tempStore); err != nil || tempStore != "2" {
		t.Errorf("writer PRAGMA temp_store = %q, %v; want 2 (memory)", tempStore, err)
	}
	if got := db.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool MaxOpenConnections = %d, want 1", got)
	}
	if got := db.r.Stats().MaxOpenConnections; got < 2 {
		t.Errorf("reader pool MaxOpenConnections = %d, want several", got)
	}
	if _, err := db.r.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('x', 'y')`); err == nil {
		t.Errorf("write through the reader pool succeeded, want query_only to refuse it")
	}
}

func TestOpenSQLiteDSN(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dsn  string
		file string // created file, "" when Open must fail
		kind apperr.Kind
	}{
		{filepath.Join(dir, "plain.db"), filepath.Join(dir, "plain.db"), 0},
		{"sqlite:" + filepath.Join(dir, "prefixed.db"), filepath.Join(dir, "prefixed.db"), 0},
		{"sqlite://" + filepath.Join(dir, "url.db"), filepath.Join(dir, "url.db"), 0},
		{filepath.Join(dir, "odd name?#%.db"), filepath.Join(dir, "odd name?#%.db"), 0},
		{":memory:", "", apperr.Invalid},
		{"", "", apperr.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			db, err := Open(context.Background(), tt.dsn)
			if tt.file == "" {
				if err == nil {
					db.Close()
				}
				wantKind(t, "Open("+tt.dsn+")", err, tt.kind)
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", tt.dsn, err)
			}
			defer db.Close()
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate() = %v", err)
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Errorf("Open(%q) did not create %s: %v", tt.dsn, tt.file, err)
			}
			if got := db.Files()[0]; got != tt.file {
				t.Errorf("Open(%q).Files()[0] = %q, want %q", tt.dsn, got, tt.file)
			}
		})
	}
}

// A PostgreSQL URL selects PostgreSQL; with nothing listening, Open fails as
// Unavailable instead of creating a SQLite file named like the URL.
func TestOpenPostgresUnavailable(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	for _, dsn := range []string{
		"postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
		"postgresql://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
	} {
		db, err := Open(context.Background(), dsn)
		if err == nil {
			db.Close()
		}
		wantKind(t, "Open("+dsn+")", err, apperr.Unavailable)
	}
	if entries, _ := os.ReadDir(wd); len(entries) != 0 {
		t.Errorf("Open of a postgres URL created files: %v", entries)
	}
}

// The README's default location is relative to the working directory.
func TestOpenSQLiteRelativePath(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	db := openMigrated(t, "./diffgate-data/diffgate.db")
	if err := db.PutSetting(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(wd, "diffgate-data", "diffgate.db")); err != nil {
		t.Errorf("Open(./diffgate-data/diffgate.db) did not create the file under the working directory: %v", err)
	}
}

// Under a sustained stream of writes, with readers busy at the same time,
// the write-ahead log stays short: the writer's checkpoints catch up.
func TestSQLiteWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "diffgate.db")
	db := openMigrated(t, path)
	u := mkUser(t, db, "ada@example.com")
	if _, err := db.Credit(ctx, u.ID, 1<<40, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.Balance(ctx, u.ID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	const reviews = 1500
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("openai-compatible/model-%03d", i)
	}
	var writers sync.WaitGroup
	var n atomic.Int64
	for range 16 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for n.Add(1) <= reviews {
				r := review(ids.New("rev_", time.Now()), u.ID, 3, false)
				r.Reviewers = names // large rows: many log pages per review
				if err := db.CreateReview(ctx, r, t0); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.FinishReview(ctx, r.ID, ReviewDone, "", 1, 2, t0, 0, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	// Without the writer finishing checkpoints the log would only start
	// over at the backstop; with them it starts over every few thousand
	// frames at most.
	if got := db.ckMaxFrames.Load(); got >= walBackstop*3/4 || db.ckFinished.Load() == 0 {
		t.Errorf("the log reached %d frames and the writer finished %d checkpoints; want it kept below %d by finishing",
			got, db.ckFinished.Load(), walBackstop*3/4)
	}
	if db.ckErrors.Load() != 0 {
		t.Errorf("%d checkpoints failed", db.ckErrors.Load())
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if max := int64(walBackstop*3/4) * 4096; fi.Size() > max {
		t.Errorf("after %d reviews the WAL is %d MiB, want it below %d MiB", reviews, fi.Size()>>20, max>>20)
	}
}
