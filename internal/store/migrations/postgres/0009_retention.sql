-- Retention (O2): the scheduled purge finds old rows by time.
CREATE INDEX request_logs_at ON request_logs (at);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX reviews_finished ON reviews (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
