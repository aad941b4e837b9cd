// Package store is diffgate's persistence: accounts, sessions, API keys,
// metadata-only request logs and settings, over embedded SQLite by default
// and PostgreSQL when given a postgres:// URL. It holds no diff, finding
// text or code of any kind (D2).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Dialect names, as returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DB is an open store. SQLite gets two pools: exactly one writer connection,
// which serialises every write and transaction inside this process (the
// SQLite equivalent of a row lock), and several read-only connections that
// WAL lets run alongside it. PostgreSQL uses one pool for both.
type DB struct {
	dialect string
	w       *sql.DB // writes and transactions
	r       *sql.DB // plain reads
	path    string  // SQLite database file; empty for PostgreSQL
	// stmts caches prepared reads of the request path (key and session
	// lookups), which would otherwise be parsed again on every request.
	stmts sync.Map // query -> *sql.Stmt
	// group batches SQLite's write transactions (nil for PostgreSQL).
	group *groupCommit
	// wstmts caches prepared write statements (SQLite).
	wstmts     sync.Map // query -> *sql.Stmt
	wstmtCount atomic.Int64
	wanted     sync.Map // queries to prepare between batches
	// SQLite's checkpointer (checkpoint.go): stopped by Close; ckFinish
	// asks the committer to finish a checkpoint; ckErrors counts failures.
	ckStop   chan struct{}
	ckDone   chan error
	ckOnce   sync.Once
	ckFinish atomic.Bool
	ckErrors atomic.Int64
	// ckMaxFrames is the longest log a background checkpoint met, and
	// ckFinished counts the writer's finishing checkpoints (for tests).
	ckMaxFrames atomic.Int64
	ckFinished  atomic.Int64
}

// readStmt is a prepared statement for query on the read pool, prepared
// once per store and reused by every request.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Open connects to dsn: a "postgres://" or "postgresql://" URL selects
// PostgreSQL; anything else is a SQLite file path, optionally prefixed with
// "sqlite:". A missing SQLite directory is created with mode 0700 and a new
// database file with mode 0600. Open does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	return openSQLite(ctx, path)
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "invalid database URL", err)
	}
	db.SetMaxOpenConns(25)
	db.SetMaxIdleConns(25)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, apperr.Wrap(apperr.Unavailable, "database unavailable", fmt.Errorf("open postgres: %w", err))
	}
	return &DB{dialect: DialectPostgres, w: db, r: db}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// Two pools over one in-memory database would be two databases.
		return nil, apperr.Newf(apperr.Invalid, "SQLite needs a database file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: create data directory: %w", err)
	}
	// SQLite gives its -wal and -shm files the mode of the database file, so
	// creating that file 0600 before SQLite does keeps all three private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	f.Close()

	common := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	u := url.URL{Scheme: "file", Opaque: url.PathEscape(path)}
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction that
	// reads and then writes cannot fail half-way with SQLITE_BUSY when another
	// process holds the file.
	// temp_store(MEMORY) keeps the savepoint journal of a group commit in
	// memory: spilled to a temporary file it cost a write per page. The
	// log is checkpointed mostly beside the writer (see checkpoint.go).
	w, err := sql.Open("sqlite", u.String()+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=temp_store(MEMORY)"+
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", walBackstop)+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first so the file is in WAL mode before any reader
	// (which may not change it) opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, apperr.Wrap(apperr.Unavailable, "database unavailable", fmt.Errorf("open sqlite writer: %w", err))
	}
	r, err := sql.Open("sqlite", u.String()+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	n := max(16, 2*runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, apperr.Wrap(apperr.Unavailable, "database unavailable", fmt.Errorf("open sqlite reader: %w", err))
	}
	ck, err := sql.Open("sqlite", u.String()+"?"+common)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	ck.SetMaxOpenConns(1)
	db := &DB{dialect: DialectSQLite, w: w, r: r, path: path}
	db.tightenFiles()
	db.startGroupCommit()
	db.startCheckpointer(ck)
	return db, nil
}

// tightenFiles makes sure the WAL side files are private even when an older
// SQLite file with laxer permissions left them behind.
func (db *DB) tightenFiles() {
	for _, p := range db.Files()[1:] {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, 0o600)
		}
	}
}

// Dialect is DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Files lists the SQLite database file and its WAL and shared-memory files,
// for callers that must inspect everything on disk; nil for PostgreSQL.
func (db *DB) Files() []string {
	if db.path == "" {
		return nil
	}
	return []string{db.path, db.path + "-wal", db.path + "-shm"}
}

// Ping checks that the database answers on every pool.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return apperr.Wrap(apperr.Unavailable, "database unavailable", fmt.Errorf("ping: %w", err))
	}
	if db.r != db.w {
		if err := db.r.PingContext(ctx); err != nil {
			return apperr.Wrap(apperr.Unavailable, "database unavailable", fmt.Errorf("ping: %w", err))
		}
	}
	return nil
}

// Close closes the pools. The writer closes last so SQLite checkpoints the
// WAL on its final connection.
func (db *DB) Close() error {
	db.stopGroupCommit()
	var errs []error
	if db.ckStop != nil {
		db.ckOnce.Do(func() {
			close(db.ckStop)
			errs = append(errs, <-db.ckDone)
		})
	}
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, st any) bool {
			errs = append(errs, st.(*sql.Stmt).Close())
			return true
		})
	}
	if db.r != db.w {
		errs = append(errs, db.r.Close())
	}
	errs = append(errs, db.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction on the writer and commits when fn returns
// nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.group != nil {
		return db.grouped(ctx, fn)
	}
	return db.runTx(ctx, fn)
}

// forUpdate is the row-lock suffix for a SELECT inside a transaction. SQLite
// has none and needs none: its transactions are serialised by the single
// writer connection and BEGIN IMMEDIATE.
func (db *DB) forUpdate() string {
	if db.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// maxWriteStmts bounds the cache of prepared write statements; queries
// past it run unprepared.
const maxWriteStmts = 256

// txStmt is query prepared once on the writer and bound to tx. SQLite's
// single writer connection keeps its prepared statements, so a hot write
// is parsed once per store instead of once per call; PostgreSQL's driver
// caches statements itself, so it gets nil (run the query directly).
//
// Inside a transaction the writer's only connection is taken, so a query
// not yet prepared runs unprepared this time and is prepared by the group
// committer between batches, when the connection is free.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if db.dialect != DialectSQLite {
		return nil
	}
	if st, ok := db.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt))
	}
	if db.wstmtCount.Load() < maxWriteStmts {
		db.wanted.Store(query, struct{}{})
	}
	return nil
}

// prepareWanted prepares the write statements transactions asked for. It
// runs while no transaction of the committer holds the connection.
func (db *DB) prepareWanted() {
	db.wanted.Range(func(q, _ any) bool {
		db.wanted.Delete(q)
		query := q.(string)
		if _, ok := db.wstmts.Load(query); ok || db.wstmtCount.Load() >= maxWriteStmts {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := db.w.PrepareContext(ctx, query)
		cancel()
		if err == nil {
			db.wstmts.Store(query, st)
			db.wstmtCount.Add(1)
		}
		return true
	})
}

func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

func (db *DB) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}
