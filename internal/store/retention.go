package store

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long each kind of record is kept (O2). A zero field
// keeps that kind for ever.
type Retention struct {
	// RequestLogs: request metadata (30 days).
	RequestLogs time.Duration
	// Webhooks: events, their deliveries and every attempt, once no
	// delivery of the event is still pending.
	Webhooks time.Duration
	// Reviews: the metadata of finished reviews. The ledger keeps their
	// charges for ever.
	Reviews time.Duration
	// Sessions: sessions (and their refresh tokens) this long after they
	// expired or were revoked.
	Sessions time.Duration
	// Idempotency: Idempotency-Keys, after which a retry with the same key
	// runs again. A claim still pending this long belonged to a request
	// that died with its process (claims go stale within minutes).
	Idempotency time.Duration
}

// DefaultRetention is diffgate's retention policy.
var DefaultRetention = Retention{
	RequestLogs: 30 * 24 * time.Hour,
	Webhooks:    30 * 24 * time.Hour,
	Reviews:     30 * 24 * time.Hour,
	Sessions:    24 * time.Hour,
	Idempotency: 24 * time.Hour,
}

// Purged counts the rows a Purge deleted, per kind.
type Purged struct {
	RequestLogs, Events, Reviews, Sessions, IdempotencyKeys int64
}

// purgeBatch bounds one delete, so a purge of a large backlog never holds
// SQLite's single writer for long.
const purgeBatch = 1000

// Purge deletes what the retention policy no longer keeps, as of now, in
// batches of at most purgeBatch rows per transaction. Deleting an event
// deletes its deliveries and their attempts; deleting a session, its
// refresh tokens. Several replicas may purge at once.
func (db *DB) Purge(ctx context.Context, now time.Time, r Retention) (Purged, error) {
	var p Purged
	jobs := []struct {
		keep  time.Duration
		n     *int64
		table string
		// where selects the rows to delete, with $1 the cut-off time.
		key, where string
	}{
		{r.RequestLogs, &p.RequestLogs, "request_logs", "id", `at < $1`},
		{r.Webhooks, &p.Events, "events", "id", `created_at < $1 AND NOT EXISTS
			(SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.state = 'pending')`},
		{r.Reviews, &p.Reviews, "reviews", "id", `finished_at < $1`},
		{r.Sessions, &p.Sessions, "sessions", "id", `(expires_at < $1 OR revoked_at < $1)`},
		{r.Idempotency, &p.IdempotencyKeys, "idempotency_keys", db.rowKey(), `created_at < $1`},
	}
	for _, j := range jobs {
		if j.keep <= 0 {
			continue
		}
		cut := db.ts(now.Add(-j.keep))
		q := `DELETE FROM ` + j.table + ` WHERE ` + j.key + ` IN (SELECT ` + j.key + ` FROM ` + j.table +
			` WHERE ` + j.where + ` LIMIT ` + fmt.Sprint(purgeBatch) + `)`
		for {
			res, err := db.w.ExecContext(ctx, q, cut)
			if err != nil {
				return p, fmt.Errorf("purge %s: %w", j.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return p, fmt.Errorf("purge %s: %w", j.table, err)
			}
			*j.n += n
			if n < purgeBatch {
				break
			}
		}
	}
	return p, nil
}

// rowKey names the physical row id of a table without a single-column key:
// rowid on SQLite, ctid on PostgreSQL.
func (db *DB) rowKey() string {
	if db.dialect == DialectSQLite {
		return "rowid"
	}
	return "ctid"
}
