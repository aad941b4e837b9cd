package store

import (
	"context"
	"database/sql"
	"fmt"
)

// MaxRequestLogs caps one ListRequestLogs page.
const MaxRequestLogs = 1000

const insertRequestLog = `INSERT INTO request_logs (at, request_id, user_id, key_id, method, route, reviewers, models,
     status, latency_ms, diff_bytes, findings_count, cached)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

func (db *DB) requestLogArgs(l RequestLog) []any {
	return []any{db.ts(l.At), l.RequestID, l.UserID, l.KeyID, l.Method, l.Route, stringList(l.Reviewers), stringList(l.Models),
		l.Status, l.LatencyMS, l.DiffBytes, l.Findings, l.Cached}
}

// InsertRequestLog appends one metadata row (D2); l.ID is ignored and
// assigned by the database.
func (db *DB) InsertRequestLog(ctx context.Context, l RequestLog) error {
	if _, err := db.w.ExecContext(ctx, insertRequestLog, db.requestLogArgs(l)...); err != nil {
		return fmt.Errorf("insert request log: %w", err)
	}
	return nil
}

// InsertRequestLogs appends many rows in one transaction, which costs one
// commit instead of one per row.
func (db *DB) InsertRequestLogs(ctx context.Context, ls []RequestLog) error {
	if len(ls) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertRequestLog)
		if err != nil {
			return fmt.Errorf("insert request logs: %w", err)
		}
		defer stmt.Close()
		for _, l := range ls {
			if _, err := stmt.ExecContext(ctx, db.requestLogArgs(l)...); err != nil {
				return fmt.Errorf("insert request logs: %w", err)
			}
		}
		return nil
	})
}

// ListRequestLogs returns the user's most recent request logs, newest
// first. limit is clamped to 1..MaxRequestLogs; zero or less means 100.
func (db *DB) ListRequestLogs(ctx context.Context, userID int64, limit int) ([]RequestLog, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxRequestLogs)
	rows, err := db.r.QueryContext(ctx,
		`SELECT id, at, request_id, user_id, key_id, method, route, reviewers, models,
		     status, latency_ms, diff_bytes, findings_count, cached
		 FROM request_logs WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("list request logs: %w", err)
	}
	defer rows.Close()
	var out []RequestLog
	for rows.Next() {
		var l RequestLog
		if err := rows.Scan(&l.ID, timeCol{&l.At}, &l.RequestID, &l.UserID, &l.KeyID, &l.Method, &l.Route,
			stringListCol{&l.Reviewers}, stringListCol{&l.Models},
			&l.Status, &l.LatencyMS, &l.DiffBytes, &l.Findings, &l.Cached); err != nil {
			return nil, fmt.Errorf("list request logs: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list request logs: %w", err)
	}
	return out, nil
}
