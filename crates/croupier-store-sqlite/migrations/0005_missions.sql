-- Missions: rules set through the admin API (config rules live in the config
-- file), progress per (mission, player, period) and the rewards granted.
-- Kept by the `missions` consumer, inbox-guarded. Mirrors PostgreSQL's 0004_missions.sql.

CREATE TABLE mission_rules (
    id         TEXT PRIMARY KEY,
    rule       TEXT NOT NULL,               -- JSON MissionRule
    updated_at INTEGER NOT NULL
) STRICT;

-- A count or sum (order-independent, so events may arrive in any order).
CREATE TABLE mission_progress (
    mission_id TEXT NOT NULL,
    player_id  TEXT NOT NULL,
    period     TEXT NOT NULL,               -- '2026-11-22' or '2026-W47' (UTC)
    progress   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (mission_id, player_id, period)
) STRICT, WITHOUT ROWID;

-- The games a distinct_games mission has seen: progress counts new rows only.
CREATE TABLE mission_games (
    mission_id TEXT NOT NULL,
    player_id  TEXT NOT NULL,
    period     TEXT NOT NULL,
    game       TEXT NOT NULL,
    PRIMARY KEY (mission_id, player_id, period, game)
) STRICT, WITHOUT ROWID;

-- One row per reward ever granted: the key makes the grant happen once.
CREATE TABLE mission_rewards (
    mission_id TEXT NOT NULL,
    player_id  TEXT NOT NULL,
    period     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    txn_id     INTEGER REFERENCES ledger_transactions(id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (mission_id, player_id, period)
) STRICT, WITHOUT ROWID;
