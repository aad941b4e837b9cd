-- Refunds (L2): an admin gives back what a review was charged, once. The
-- review remembers what was refunded, so a second refund finds nothing to
-- give back, whatever the concurrency.
ALTER TABLE reviews ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0);
