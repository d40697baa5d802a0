-- Events a consumer gave up on (permanent error, or transient past
-- events.max_attempts): kept until re-driven, listed by the admin API.
-- Mirrors the SQLite backend's 0006_dead_letters.sql.
CREATE TABLE dead_letters (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer        TEXT NOT NULL,
    event_id        UUID NOT NULL,
    event_type      TEXT NOT NULL,
    position        BIGINT NOT NULL,      -- the event's outbox position
    payload         JSONB NOT NULL,       -- the event's payload, as delivered
    created_at      BIGINT NOT NULL,      -- the event's creation time (Unix ms)
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    last_failed_at  BIGINT NOT NULL,
    UNIQUE (consumer, event_id)
);
