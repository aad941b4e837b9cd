-- Several replicas share one database (S2), and a review's diff lives only
-- in the memory of the replica that took it (D2). That replica owns the
-- review and keeps renewing its lease; once a lease has passed, the owner
-- is gone and any replica fails the review and releases its credits. Rows
-- from before leases have lease_until 0: already expired.
ALTER TABLE reviews ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE reviews ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
DROP INDEX reviews_unfinished;
CREATE INDEX reviews_unfinished ON reviews (lease_until) WHERE status IN ('queued', 'running');
CREATE INDEX reviews_owner ON reviews (owner) WHERE status IN ('queued', 'running');
