-- Whether a credits.low event was raised since the balance was last at or
-- above the threshold, so concurrent settlements raise it exactly once.
ALTER TABLE balances ADD COLUMN low_notified INTEGER NOT NULL DEFAULT 0;
