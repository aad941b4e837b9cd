-- Idempotency-Key records (L2): a retried request with the same key gets the
-- first answer and is charged once. Only a keyed hash of the request is kept,
-- never the request; the answer itself lives in memory for at most the
-- result cache's TTL.
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key     TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
