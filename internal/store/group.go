package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// groupCommit batches SQLite write transactions: SQLite has one writer,
// and one commit costs about as much as the statements of many small
// transactions, so under load the writes that are waiting run together in
// one transaction, each inside its own savepoint (it commits or rolls back
// on its own, as if alone, in the order they came). A lone write runs as a
// plain transaction, without the savepoint.
type groupCommit struct {
	mu     sync.RWMutex
	closed bool
	jobs   chan *txJob
	done   chan struct{}
	// shared counts jobs that ran in a shared transaction (for tests).
	shared atomic.Int64
}

type txJob struct {
	ctx context.Context
	fn  func(*sql.Tx) error
	res chan error
}

// maxGroup bounds one batch, so the first write in it waits for at most
// this many others.
const maxGroup = 128

var errClosed = errors.New("store is closed")

func (db *DB) startGroupCommit() {
	g := &groupCommit{jobs: make(chan *txJob, 4*maxGroup), done: make(chan struct{})}
	db.group = g
	go db.commitLoop(g)
}

func (db *DB) stopGroupCommit() {
	g := db.group
	if g == nil {
		return
	}
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.jobs)
	}
	g.mu.Unlock()
	<-g.done
}

// grouped queues fn for the committer and waits for its outcome. It waits
// even if ctx ends meanwhile: once queued, fn may commit, and the caller
// must learn whether it did (a reservation must never be lost).
func (db *DB) grouped(ctx context.Context, fn func(*sql.Tx) error) error {
	g := db.group
	j := &txJob{ctx: ctx, fn: fn, res: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errClosed
	}
	g.jobs <- j
	g.mu.RUnlock()
	return <-j.res
}

func (db *DB) commitLoop(g *groupCommit) {
	defer close(g.done)
	for first := range g.jobs {
		batch := []*txJob{first}
	fill:
		for len(batch) < maxGroup {
			select {
			case j, ok := <-g.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		db.runBatch(batch)
		db.prepareWanted()
		db.finishCheckpoint()
	}
}

// runTx runs fn alone in a transaction.
func (db *DB) runTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := safely(fn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (db *DB) runBatch(batch []*txJob) {
	if len(batch) == 1 {
		batch[0].res <- db.runTx(batch[0].ctx, batch[0].fn)
		return
	}
	results := make([]error, len(batch))
	alone := func() {
		// The shared transaction failed as a whole: nothing of it was
		// kept, so every job runs again on its own.
		for i, j := range batch {
			results[i] = db.runTx(j.ctx, j.fn)
		}
	}
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		alone()
	} else if !db.runShared(tx, batch, results) {
		_ = tx.Rollback()
		alone()
	} else if err := tx.Commit(); err != nil {
		alone()
	}
	for i, j := range batch {
		j.res <- results[i]
	}
}

// runShared runs each job in a savepoint of tx; it reports false when the
// transaction itself broke and must be abandoned.
func (db *DB) runShared(tx *sql.Tx, batch []*txJob, results []error) bool {
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT grouped`); err != nil {
			return false
		}
		db.group.shared.Add(1)
		if err := safely(j.fn, tx); err != nil {
			results[i] = err
			if _, err := tx.Exec(`ROLLBACK TO grouped`); err != nil {
				return false
			}
		}
		if _, err := tx.Exec(`RELEASE grouped`); err != nil {
			return false
		}
	}
	return true
}

// safely runs fn, turning a panic into an error so one broken caller
// cannot stop the committer for everyone.
func safely(fn func(*sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in a transaction: %v", p)
		}
	}()
	return fn(tx)
}
