-- Events a consumer gave up on (permanent error, or transient past
-- events.max_attempts): kept until re-driven, listed by the admin API.
CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY,  -- increasing: the admin API's id and cursor
    consumer        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    position        INTEGER NOT NULL,     -- the event's outbox position
    payload         TEXT NOT NULL,        -- the event's JSON payload, as delivered
    created_at      INTEGER NOT NULL,     -- the event's creation time (Unix ms)
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    UNIQUE (consumer, event_id)
) STRICT;
