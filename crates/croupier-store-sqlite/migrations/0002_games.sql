-- Provably fair seed pairs, bets, mines rounds and game overrides.

CREATE TABLE seed_pairs (
    id               INTEGER PRIMARY KEY,
    player_id        TEXT NOT NULL REFERENCES players(id),
    server_seed      TEXT NOT NULL,         -- secret until revealed_at is set
    server_seed_hash TEXT NOT NULL,
    client_seed      TEXT NOT NULL,
    nonce            INTEGER NOT NULL DEFAULT 0 CHECK (nonce >= 0),  -- the next nonce to use
    created_at       INTEGER NOT NULL,
    revealed_at      INTEGER
) STRICT;
-- At most one active (unrevealed) pair per player.
CREATE UNIQUE INDEX seed_pairs_one_active ON seed_pairs(player_id) WHERE revealed_at IS NULL;
CREATE INDEX seed_pairs_by_player ON seed_pairs(player_id, id);

CREATE TABLE bets (
    id            TEXT PRIMARY KEY,         -- UUIDv7: sorts by time
    player_id     TEXT NOT NULL REFERENCES players(id),
    game          TEXT NOT NULL,
    currency      TEXT NOT NULL,
    stake         INTEGER NOT NULL CHECK (stake > 0),
    payout        INTEGER NOT NULL CHECK (payout >= 0),
    multiplier    INTEGER NOT NULL,         -- hundredths
    win           INTEGER NOT NULL,
    params        TEXT NOT NULL,            -- JSON
    outcome       TEXT NOT NULL,            -- JSON
    seed_pair_id  INTEGER NOT NULL REFERENCES seed_pairs(id),
    nonce         INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (seed_pair_id, nonce)            -- a nonce settles at most one bet
) STRICT, WITHOUT ROWID;
CREATE INDEX bets_by_player ON bets(player_id, id);
CREATE INDEX bets_by_player_game ON bets(player_id, game, id);

CREATE TABLE mines_rounds (
    id           TEXT PRIMARY KEY,          -- also the id of the bet it settles as
    player_id    TEXT NOT NULL REFERENCES players(id),
    currency     TEXT NOT NULL,
    stake        INTEGER NOT NULL CHECK (stake > 0),
    mines        INTEGER NOT NULL CHECK (mines BETWEEN 1 AND 24),
    seed_pair_id INTEGER NOT NULL REFERENCES seed_pairs(id),
    nonce        INTEGER NOT NULL,
    revealed     TEXT NOT NULL DEFAULT '[]',  -- JSON array of safe tiles, in order
    state        TEXT NOT NULL CHECK (state IN ('open', 'completed', 'cancelled')),
    bet_id       TEXT,
    created_at   INTEGER NOT NULL,
    closed_at    INTEGER
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX mines_one_open_round ON mines_rounds(player_id) WHERE state = 'open';

CREATE TABLE game_overrides (
    game       TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,               -- JSON object of overridden keys
    updated_at INTEGER NOT NULL
) STRICT;
