-- Where an event came from: the instance that wrote it and the W3C trace
-- context of the request or event that caused it (docs/events.md).
ALTER TABLE outbox ADD COLUMN producer TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
ALTER TABLE dead_letters ADD COLUMN producer TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN traceparent TEXT;
