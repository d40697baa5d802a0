-- Missions: rules set through the admin API (config rules live in the config
-- file), progress per (mission, player, period) and the rewards granted.
-- Kept by the `missions` consumer, inbox-guarded. Mirrors SQLite's 0005_missions.sql.

CREATE TABLE mission_rules (
    id         TEXT PRIMARY KEY,
    rule       JSONB NOT NULL,              -- MissionRule
    updated_at BIGINT NOT NULL
);

-- A count or sum (order-independent, so events may arrive in any order).
CREATE TABLE mission_progress (
    mission_id TEXT NOT NULL,
    player_id  UUID NOT NULL,
    period     TEXT NOT NULL,               -- '2026-11-22' or '2026-W47' (UTC)
    progress   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (mission_id, player_id, period)
);

-- The games a distinct_games mission has seen: progress counts new rows only.
CREATE TABLE mission_games (
    mission_id TEXT NOT NULL,
    player_id  UUID NOT NULL,
    period     TEXT NOT NULL,
    game       TEXT NOT NULL,
    PRIMARY KEY (mission_id, player_id, period, game)
);

-- One row per reward ever granted: the key makes the grant happen once
-- (a concurrent worker's insert waits on it, then does nothing).
CREATE TABLE mission_rewards (
    mission_id TEXT NOT NULL,
    player_id  UUID NOT NULL,
    period     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    txn_id     BIGINT REFERENCES ledger_transactions(id),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (mission_id, player_id, period)
);
