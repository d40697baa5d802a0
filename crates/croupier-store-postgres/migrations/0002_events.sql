-- Events: the relay claims outbox rows with a lease (FOR UPDATE SKIP LOCKED)
-- and marks them published; consumers record what they handled in an inbox,
-- in the same transaction as their effect; the first consumer keeps play
-- statistics. Mirrors the SQLite backend's 0004_events.sql.

ALTER TABLE outbox
    ADD COLUMN published_at BIGINT,         -- set once the bus acknowledged the event
    ADD COLUMN lease_owner  TEXT,           -- the relay holding it, while published_at IS NULL
    ADD COLUMN lease_until  BIGINT;
-- Unpublished rows only: what claims scan; it stays as small as the backlog.
CREATE INDEX outbox_unpublished ON outbox(position) WHERE published_at IS NULL;
-- Published rows by age, for pruning (written by the relay, off the bet path).
CREATE INDEX outbox_published ON outbox(published_at) WHERE published_at IS NOT NULL;

-- One row per (consumer, event) it applied: a redelivered event is a no-op.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   UUID NOT NULL,
    handled_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- A player's results per currency and game (projection of bet.settled).
CREATE TABLE player_stats (
    player_id  UUID NOT NULL,
    currency   TEXT NOT NULL,
    game       TEXT NOT NULL,
    bets       BIGINT NOT NULL,
    wins       BIGINT NOT NULL,
    losses     BIGINT NOT NULL,
    pushes     BIGINT NOT NULL,
    wagered    BIGINT NOT NULL,
    paid_out   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (player_id, currency, game)
);

-- A game's results per hour (Unix ms of the hour's start) and currency:
-- buckets, so windows (24 h, 7 d, 30 d) are sums and no row is shared forever.
CREATE TABLE game_stats_hourly (
    game     TEXT NOT NULL,
    hour     BIGINT NOT NULL,
    currency TEXT NOT NULL,
    bets     BIGINT NOT NULL,
    wins     BIGINT NOT NULL,
    losses   BIGINT NOT NULL,
    pushes   BIGINT NOT NULL,
    wagered  BIGINT NOT NULL,
    paid_out BIGINT NOT NULL,
    PRIMARY KEY (game, hour, currency)
);
