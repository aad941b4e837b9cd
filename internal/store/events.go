package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Event is one entry of the webhook outbox (W1). Payload is a small JSON
// object of metadata (ids, counts, states); it never carries a diff,
// finding text or code (D2).
type Event struct {
	ID        string // chosen by the caller; receivers de-duplicate by it
	UserID    int64
	Type      string
	Payload   []byte
	CreatedAt time.Time // now when zero
}

// AppendEvents writes evs to the outbox in a transaction of their own. An
// event that causes a change must instead go through the method making the
// change (RevokeAPIKey, Settle, FinishReview…), so both commit together.
func (db *DB) AppendEvents(ctx context.Context, now time.Time, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.appendEvents(ctx, tx, now, evs) })
}

// appendEvents inserts each event to which at least one unpaused endpoint
// of its user subscribes (by its type or "*"), with one pending delivery,
// due now, per such endpoint. An event no endpoint wants is not stored at
// all: nothing would ever deliver or read it, and it would only cost a
// write on every review. A duplicate event id is Conflict.
func (db *DB) appendEvents(ctx context.Context, tx *sql.Tx, now time.Time, evs []Event) error {
	subscribers := map[int64][]WebhookEndpoint{} // per user, read once per transaction
	for _, ev := range evs {
		if ev.ID == "" || ev.Type == "" {
			return apperr.New(apperr.Invalid, "an event needs an id and a type")
		}
		payload := ev.Payload
		if len(payload) == 0 {
			payload = []byte("{}")
		}
		if !json.Valid(payload) {
			return apperr.Newf(apperr.Invalid, "event %s: payload is not JSON", ev.ID)
		}
		eps, ok := subscribers[ev.UserID]
		if !ok {
			var err error
			if eps, err = db.activeEndpoints(ctx, tx, ev.UserID); err != nil {
				return err
			}
			subscribers[ev.UserID] = eps
		}
		wanted := eps[:0:0]
		for _, ep := range eps {
			if slices.Contains(ep.Events, ev.Type) || slices.Contains(ep.Events, "*") {
				wanted = append(wanted, ep)
			}
		}
		if len(wanted) == 0 {
			continue
		}
		created := ev.CreatedAt
		if created.IsZero() {
			created = now
		}
		_, err := db.txExec(ctx, tx, `INSERT INTO events (id, user_id, type, metadata, created_at) VALUES ($1, $2, $3, $4, $5)`,
			ev.ID, ev.UserID, ev.Type, string(payload), db.ts(created))
		switch {
		case isUnique(err):
			return apperr.Wrap(apperr.Conflict, "event id already exists", err)
		case err != nil:
			return fmt.Errorf("append event: %w", err)
		}
		for _, ep := range wanted {
			if _, err := db.txExec(ctx, tx, `INSERT INTO webhook_deliveries (event_id, endpoint_id, state, attempt, next_attempt_at)
				VALUES ($1, $2, 'pending', 0, $3)`, ev.ID, ep.ID, db.ts(now)); err != nil {
				return fmt.Errorf("append event: queue delivery: %w", err)
			}
		}
	}
	return nil
}

func (db *DB) activeEndpoints(ctx context.Context, tx *sql.Tx, userID int64) ([]WebhookEndpoint, error) {
	rows, err := db.txQuery(ctx, tx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE user_id = $1 AND NOT paused ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("append event: endpoints: %w", err)
	}
	eps, err := scanEndpoints(rows)
	if err != nil {
		return nil, fmt.Errorf("append event: endpoints: %w", err)
	}
	return eps, nil
}
