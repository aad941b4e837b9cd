-- A review's reservation is a hold: it moves credits from balance (what can
-- be spent) to held (what running reviews may still spend), and writes no
-- ledger entry. The ledger records only what really moved (grants,
-- purchases, charges, refunds), one charge per review instead of a
-- reserve, a release and a charge, so at all times the ledger sums to
-- balance + held and each entry's balance_after is that sum.
ALTER TABLE balances ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0);

-- Reservations of reviews still unfinished were ledger entries until now:
-- they become holds, and one release entry per user keeps the ledger's sum.
UPDATE balances SET held = (
    SELECT coalesce(sum(r.reserved), 0) FROM reviews r
    WHERE r.user_id = balances.user_id AND r.status IN ('queued', 'running') AND r.sandbox = 0);
INSERT INTO ledger_entries (user_id, kind, amount, balance_after, reference, created_at)
    SELECT user_id, 'release', held, balance + held, 'reservations become holds',
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
    FROM balances WHERE held > 0;
