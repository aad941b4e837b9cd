-- Webhooks (W1, W2) and asynchronous reviews. Like every table here they
-- hold metadata only (D2): an event's metadata is a small JSON object of
-- ids, counts and states, never a diff, finding text or code.

-- The outbox: an event is written in the same transaction as the change
-- that causes it, together with one delivery per subscribed endpoint, so a
-- crash can lose neither.
CREATE TABLE events (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    metadata   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_user ON events (user_id, created_at);

-- The signing secret is kept sealed (AES-256-GCM under a keyring); the
-- plaintext never reaches the store. events is a JSON array of event types.
CREATE TABLE webhook_endpoints (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                  TEXT    NOT NULL,
    events               TEXT    NOT NULL,
    secret_sealed        TEXT    NOT NULL,
    paused               INTEGER NOT NULL CHECK (paused IN (0, 1)),
    failing              INTEGER NOT NULL CHECK (failing IN (0, 1)),
    consecutive_failures INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, id);

-- A pending delivery is due at next_attempt_at; claiming it moves that
-- time forward by a lease, so a dispatcher that dies mid-delivery leaves it
-- due again (at least once).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempt         INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

-- error is a short reason written by diffgate (a status, a timeout), never
-- the receiver's response.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT    NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- Asynchronous reviews outlive the result cache only as this metadata; the
-- diff is never written. error is a short public reason.
CREATE TABLE reviews (
    id             TEXT    PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id         TEXT    NOT NULL,
    sandbox        INTEGER NOT NULL CHECK (sandbox IN (0, 1)),
    status         TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    reviewers      TEXT    NOT NULL,
    reserved       INTEGER NOT NULL CHECK (reserved >= 0),
    error          TEXT    NOT NULL,
    findings_count INTEGER NOT NULL,
    charged        INTEGER NOT NULL CHECK (charged >= 0),
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
);
CREATE INDEX reviews_user ON reviews (user_id, created_at);
CREATE INDEX reviews_unfinished ON reviews (created_at) WHERE status IN ('queued', 'running');
