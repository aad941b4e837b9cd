package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// WebhookEndpoint is a user's receiver of events (W1). SecretSealed is the
// signing secret sealed under the keyring; the store never sees it in the
// clear.
type WebhookEndpoint struct {
	ID                  int64
	UserID              int64
	URL                 string
	Events              []string // event types, or "*" for all
	SecretSealed        string
	Paused              bool
	Failing             bool // set after repeated failed attempts, cleared by a success or a resume
	ConsecutiveFailures int
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

const endpointColumns = `id, user_id, url, events, secret_sealed, paused, failing, consecutive_failures, created_at, updated_at`

func scanEndpoint(row interface{ Scan(...any) error }) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := row.Scan(&e.ID, &e.UserID, &e.URL, stringListCol{&e.Events}, &e.SecretSealed, &e.Paused, &e.Failing,
		&e.ConsecutiveFailures, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt})
	return e, err
}

func scanEndpoints(rows *sql.Rows) ([]WebhookEndpoint, error) {
	defer rows.Close()
	var out []WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func endpointNotFound() error { return apperr.New(apperr.NotFound, "webhook endpoint not found") }

// CreateWebhookEndpoint stores e and returns it with its new ID; UpdatedAt
// defaults to CreatedAt. An unknown user is NotFound.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error) {
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	err := db.w.QueryRowContext(ctx, `INSERT INTO webhook_endpoints
		(user_id, url, events, secret_sealed, paused, failing, consecutive_failures, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		e.UserID, e.URL, stringList(e.Events), e.SecretSealed, e.Paused, e.Failing, e.ConsecutiveFailures,
		db.ts(e.CreatedAt), db.ts(e.UpdatedAt)).Scan(&e.ID)
	if isForeignKey(err) {
		return WebhookEndpoint{}, apperr.Wrap(apperr.NotFound, "user not found", err)
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	e.CreatedAt = storedTime(e.CreatedAt)
	e.UpdatedAt = storedTime(e.UpdatedAt)
	return e, nil
}

// storedTime is t as the store gives it back.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ListWebhookEndpoints lists the user's endpoints, oldest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, userID int64) ([]WebhookEndpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	eps, err := scanEndpoints(rows)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return eps, nil
}

// WebhookEndpoint returns one of the user's endpoints. Another user's is
// NotFound, exactly like an unknown id, so ids cannot be probed.
func (db *DB) WebhookEndpoint(ctx context.Context, userID, id int64) (WebhookEndpoint, error) {
	e, err := scanEndpoint(db.r.QueryRowContext(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 AND user_id = $2`, id, userID))
	if noRows(err) {
		return WebhookEndpoint{}, endpointNotFound()
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint: %w", err)
	}
	return e, nil
}

// SetWebhookPaused pauses or resumes one of the user's endpoints. While
// paused it gets no new deliveries and its pending ones wait; resuming
// also clears Failing and ConsecutiveFailures, so the endpoint starts
// afresh.
func (db *DB) SetWebhookPaused(ctx context.Context, userID, id int64, paused bool, now time.Time) error {
	q := `UPDATE webhook_endpoints SET paused = $3, updated_at = $4 WHERE id = $1 AND user_id = $2`
	if !paused {
		q = `UPDATE webhook_endpoints SET paused = $3, updated_at = $4, failing = FALSE, consecutive_failures = 0
			WHERE id = $1 AND user_id = $2`
	}
	return db.updateEndpoint(ctx, "pause webhook endpoint", q, id, userID, paused, db.ts(now))
}

// SetWebhookSecret replaces the sealed secret of one of the user's
// endpoints (rotation); deliveries claimed from then on are signed with it.
func (db *DB) SetWebhookSecret(ctx context.Context, userID, id int64, sealed string, now time.Time) error {
	return db.updateEndpoint(ctx, "set webhook secret",
		`UPDATE webhook_endpoints SET secret_sealed = $3, updated_at = $4 WHERE id = $1 AND user_id = $2`,
		id, userID, sealed, db.ts(now))
}

// DeleteWebhookEndpoint deletes one of the user's endpoints with its
// deliveries and attempts.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, userID, id int64) error {
	return db.updateEndpoint(ctx, "delete webhook endpoint",
		`DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2`, id, userID)
}

func (db *DB) updateEndpoint(ctx context.Context, what, q string, args ...any) error {
	res, err := db.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return endpointNotFound()
	}
	return nil
}

// WebhookSecrets lists every endpoint of every user, for re-sealing the
// secrets under a new keyring key.
func (db *DB) WebhookSecrets(ctx context.Context) ([]WebhookEndpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	eps, err := scanEndpoints(rows)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	return eps, nil
}

// ResealWebhookSecret replaces the sealed secret only while it is still
// oldSealed, so a rotation racing a user's own secret change never undoes
// it: that race is Conflict, a deleted endpoint NotFound.
func (db *DB) ResealWebhookSecret(ctx context.Context, id int64, oldSealed, newSealed string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE webhook_endpoints SET secret_sealed = $3 WHERE id = $1 AND secret_sealed = $2`,
		id, oldSealed, newSealed)
	if err != nil {
		return fmt.Errorf("reseal webhook secret: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("reseal webhook secret: %w", err)
	} else if n > 0 {
		return nil
	}
	var exists int
	if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM webhook_endpoints WHERE id = $1`, id).Scan(&exists); err != nil {
		return fmt.Errorf("reseal webhook secret: %w", err)
	}
	if exists == 0 {
		return endpointNotFound()
	}
	return apperr.New(apperr.Conflict, "webhook secret changed meanwhile")
}
