package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SQLite's write-ahead log is copied back into the database file by
// checkpoints. A checkpoint on the writer holds every write behind it
// while it copies and syncs: with SQLite's automatic checkpoint that was
// the p99 latency of a review. So the copying happens on a connection of
// its own, beside the writer: PASSIVE checkpoints never block anyone.
// Alone they cannot finish under steady writes (new frames arrive while
// they copy) and the log starts over only once all of it has been copied;
// so after each background checkpoint of a log that has grown past
// walFinishFrames, the writer itself, between two batches, checkpoints
// the little that is left, and the log starts over at its next commit.
// wal_autocheckpoint stays on the writer as a backstop at walBackstop.
const (
	checkpointEvery = 100 * time.Millisecond
	walFinishFrames = 1000
	walBackstop     = 10000 // pages
)

// startCheckpointer runs background checkpoints from ck until Close.
func (db *DB) startCheckpointer(ck *sql.DB) {
	db.ckStop, db.ckDone = make(chan struct{}), make(chan error, 1)
	go func() {
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-db.ckStop:
				db.ckDone <- ck.Close()
				return
			case <-t.C:
			}
			logFrames, _, err := checkpoint(ck)
			if err != nil {
				db.ckErrors.Add(1)
				continue
			}
			if logFrames > db.ckMaxFrames.Load() {
				db.ckMaxFrames.Store(logFrames)
			}
			if logFrames >= walFinishFrames {
				db.ckFinish.Store(true)
			}
		}
	}()
}

// finishCheckpoint is called by the committer between batches: when the
// background checkpointer asked for it, the writer checkpoints what is
// left of the log.
func (db *DB) finishCheckpoint() {
	if !db.ckFinish.CompareAndSwap(true, false) {
		return
	}
	if _, _, err := checkpoint(db.w); err != nil {
		db.ckErrors.Add(1)
	}
	db.ckFinished.Add(1)
}

// checkpoint runs a PASSIVE checkpoint and returns the frames in the log
// and how many of them are now in the database.
func checkpoint(c *sql.DB) (logFrames, done int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy int64
	if err := c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	return logFrames, done, nil
}
