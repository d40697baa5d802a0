-- Idempotency keys are pruned by age (http.idempotency_retention_hours).
-- Keys arrive in time order, so a BRIN index finds the old ones at the cost
-- of a few pages, not a b-tree entry per key.
CREATE INDEX idempotency_by_age ON idempotency USING BRIN (created_at);
