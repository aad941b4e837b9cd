package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Delivery is one event due at one endpoint, as claimed by a dispatcher.
type Delivery struct {
	ID             int64
	EventID        string
	EndpointID     int64
	UserID         int64
	URL            string
	SecretSealed   string
	Type           string
	Payload        []byte
	EventCreatedAt time.Time
	Attempt        int // attempts made before this one
}

// AttemptResult is the outcome of one delivery attempt.
type AttemptResult struct {
	At        time.Time
	Status    int // HTTP status; 0 when no answer came
	LatencyMS int64
	Err       string // a short reason written by diffgate, never the receiver's body
	Delivered bool
	NextAt    *time.Time // when to try again; nil with !Delivered gives up
}

// DeliveryAttempt is one recorded attempt, as listed to the endpoint's
// owner (W1).
type DeliveryAttempt struct {
	ID, DeliveryID, EndpointID int64
	EventID, Type              string
	Attempt                    int // 1 for the first attempt of a delivery
	At                         time.Time
	Status                     int
	LatencyMS                  int64
	Err                        string
}

// maxAttemptErr bounds the stored reason, so nothing long (such as a
// response body) can end up in the table by mistake.
const maxAttemptErr = 200

// ClaimDeliveries takes up to limit pending deliveries that are due at now
// and whose endpoint is not paused, oldest due first, and leases them: they
// become due again at now+lease. A dispatcher that dies before recording
// the attempt thus leaves them to be delivered again (at least once;
// receivers de-duplicate by event id). On PostgreSQL, SKIP LOCKED lets
// concurrent dispatchers take disjoint rows; on SQLite the single writer
// serialises them.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	if lease <= 0 {
		return nil, apperr.New(apperr.Invalid, "a delivery lease must be positive")
	}
	if limit <= 0 {
		limit = 10
	}
	lock := ""
	if db.dialect == DialectPostgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	var out []Delivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := db.txQuery(ctx, tx, `SELECT d.id, d.event_id, d.endpoint_id, e.user_id, w.url, w.secret_sealed,
				e.type, e.metadata, e.created_at, d.attempt
			FROM webhook_deliveries d
			JOIN webhook_endpoints w ON w.id = d.endpoint_id
			JOIN events e ON e.id = d.event_id
			WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND NOT w.paused
			ORDER BY d.next_attempt_at, d.id
			LIMIT $2`+lock, db.ts(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d Delivery
			if err := rows.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.UserID, &d.URL, &d.SecretSealed,
				&d.Type, &d.Payload, timeCol{&d.EventCreatedAt}, &d.Attempt); err != nil {
				return err
			}
			out = append(out, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		until := db.ts(now.Add(lease))
		for _, d := range out {
			if _, err := db.txExec(ctx, tx, `UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1`, d.ID, until); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// RecordAttempt records one attempt of a delivery and moves it on, in one
// transaction: delivered, given up (failed), or due again at NextAt. The
// endpoint's failure streak restarts on success and grows on failure; the
// endpoint is marked failing once it reaches failingAfter (<= 0 never
// marks it). A delivery already finished (a second dispatcher after an
// expired lease) keeps its state, but the attempt is still recorded.
func (db *DB) RecordAttempt(ctx context.Context, deliveryID int64, r AttemptResult, failingAfter int) error {
	if failingAfter <= 0 {
		failingAfter = math.MaxInt32
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		// The endpoint row is locked before the delivery row, the order a
		// cascading DeleteWebhookEndpoint takes them in, so the two cannot
		// deadlock on PostgreSQL.
		var endpointID int64
		err := db.txQueryRow(ctx, tx, `SELECT endpoint_id FROM webhook_deliveries WHERE id = $1`, deliveryID).Scan(&endpointID)
		if noRows(err) {
			return apperr.New(apperr.NotFound, "delivery not found")
		}
		if err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		var res sql.Result
		if r.Delivered {
			res, err = db.txExec(ctx, tx, `UPDATE webhook_endpoints SET consecutive_failures = 0, failing = FALSE WHERE id = $1`, endpointID)
		} else {
			res, err = db.txExec(ctx, tx, `UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
				failing = (failing OR consecutive_failures + 1 >= $2) WHERE id = $1`, endpointID, failingAfter)
		}
		if err != nil {
			return fmt.Errorf("record attempt: update endpoint: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("record attempt: update endpoint: %w", err)
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "delivery not found")
		}
		var attempt int
		var state string
		err = db.txQueryRow(ctx, tx, `SELECT attempt, state FROM webhook_deliveries WHERE id = $1`+db.forUpdate(),
			deliveryID).Scan(&attempt, &state)
		if noRows(err) {
			return apperr.New(apperr.NotFound, "delivery not found")
		}
		if err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		if _, err := db.txExec(ctx, tx, `INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, at, status, latency_ms, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			deliveryID, endpointID, attempt+1, db.ts(r.At), r.Status, r.LatencyMS, shortReason(r.Err)); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		if state != "pending" {
			return nil
		}
		q := `UPDATE webhook_deliveries SET attempt = attempt + 1, next_attempt_at = $2 WHERE id = $1`
		args := []any{deliveryID}
		switch {
		case r.Delivered:
			q = `UPDATE webhook_deliveries SET state = 'delivered', attempt = attempt + 1 WHERE id = $1`
		case r.NextAt == nil:
			q = `UPDATE webhook_deliveries SET state = 'failed', attempt = attempt + 1 WHERE id = $1`
		default:
			args = append(args, db.ts(*r.NextAt))
		}
		if _, err := db.txExec(ctx, tx, q, args...); err != nil {
			return fmt.Errorf("record attempt: update delivery: %w", err)
		}
		return nil
	})
}

// shortReason caps s at maxAttemptErr bytes on a rune boundary.
func shortReason(s string) string {
	if len(s) <= maxAttemptErr {
		return s
	}
	s = s[:maxAttemptErr]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// ListDeliveryAttempts lists the attempts made for one of the user's
// endpoints, newest first. Another user's endpoint is NotFound.
func (db *DB) ListDeliveryAttempts(ctx context.Context, userID, endpointID int64, limit int) ([]DeliveryAttempt, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND user_id = $2`,
		endpointID, userID).Scan(&n); err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", err)
	}
	if n == 0 {
		return nil, endpointNotFound()
	}
	rows, err := db.r.QueryContext(ctx, `SELECT a.id, a.delivery_id, a.endpoint_id, d.event_id, e.type, a.attempt, a.at,
			a.status, a.latency_ms, a.error
		FROM webhook_attempts a
		JOIN webhook_deliveries d ON d.id = a.delivery_id
		JOIN events e ON e.id = d.event_id
		WHERE a.endpoint_id = $1 ORDER BY a.id DESC LIMIT $2`, endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", err)
	}
	defer rows.Close()
	var out []DeliveryAttempt
	for rows.Next() {
		var a DeliveryAttempt
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.EventID, &a.Type, &a.Attempt, timeCol{&a.At},
			&a.Status, &a.LatencyMS, &a.Err); err != nil {
			return nil, fmt.Errorf("list delivery attempts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", err)
	}
	return out, nil
}
