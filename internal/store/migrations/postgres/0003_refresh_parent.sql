-- Each refresh token remembers the token it was rotated from, so a token
-- presented again inside the grace window is accepted only while none of
-- its successors has been used (A2).
ALTER TABLE refresh_tokens ADD COLUMN parent_hash BYTEA;
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash);
