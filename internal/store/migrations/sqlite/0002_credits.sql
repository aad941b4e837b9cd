-- Credits (L2, L3): an append-only ledger and a balance kept in step with it
-- in the same transaction. The CHECK makes a negative balance impossible
-- even for a bug in the code above.

CREATE TABLE balances (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance INTEGER NOT NULL CHECK (balance >= 0)
);

CREATE TABLE ledger_entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('grant', 'purchase', 'charge', 'refund', 'reserve', 'release')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    reference     TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX ledger_entries_user ON ledger_entries (user_id, id);

-- Stripe events applied, so each is applied exactly once (L3).
CREATE TABLE stripe_events (
    event_id   TEXT    PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
