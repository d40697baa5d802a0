-- Idempotency keys are pruned by age (http.idempotency_retention_hours):
-- this index finds the old ones without scanning every key.
CREATE INDEX idempotency_by_age ON idempotency(created_at);
