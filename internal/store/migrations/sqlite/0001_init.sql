-- diffgate schema, SQLite dialect. Times are INTEGER microseconds since the
-- Unix epoch (UTC); booleans are 0/1; name lists are JSON arrays in TEXT.
-- No table holds diff content, finding text or code (D2): request_logs is
-- metadata only.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'user')),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are kept only as hashes. used_at is set when a token is
-- rotated; presenting it again outside the grace window revokes its session.
CREATE TABLE refresh_tokens (
    token_hash BLOB    PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    sandbox      INTEGER NOT NULL CHECK (sandbox IN (0, 1)),
    key_hash     BLOB    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_user_id ON api_keys (user_id, created_at);

CREATE TABLE request_logs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    request_id     TEXT    NOT NULL,
    user_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    key_id         TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    route          TEXT    NOT NULL,
    reviewers      TEXT    NOT NULL,
    models         TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    latency_ms     INTEGER NOT NULL,
    diff_bytes     INTEGER NOT NULL,
    findings_count INTEGER NOT NULL,
    cached         INTEGER NOT NULL CHECK (cached IN (0, 1))
);
CREATE INDEX request_logs_user_at ON request_logs (user_id, at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
