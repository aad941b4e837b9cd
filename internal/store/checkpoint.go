package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// checkpointEvery is how often SQLite's write-ahead log is copied back into
// the database file.
const checkpointEvery = 200 * time.Millisecond

// startCheckpointer checkpoints SQLite's write-ahead log from ck, a
// connection of its own, so the single writer never waits for a
// checkpoint's copy and sync. PASSIVE checkpoints run beside the writer
// and the readers: they copy what no reader still needs and never block.
// Close stops it and closes ck; SQLite's last connection to close then
// checkpoints everything.
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
				_ = db.checkpoint(ck)
			}
		}
	}()
}

func (db *DB) checkpoint(ck *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, logFrames, done int
	if err := ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
