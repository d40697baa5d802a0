-- Biggest win and win streaks (projection of bet.settled, `stats` consumer).
-- Filled for bets applied from now on: `croupier events replay --consumer stats
-- --from 0 --reset` fills them for earlier ones.

-- One row per bet the stats consumer applied, in the player's sequence
-- (seed pair, nonce): what exact streaks are recomputed from when an event
-- arrives after a later one of the same player was applied.
CREATE TABLE stats_bet_results (
    player_id    TEXT NOT NULL,
    seed_pair_id INTEGER NOT NULL,
    nonce        INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    game         TEXT NOT NULL,
    win          INTEGER NOT NULL,
    PRIMARY KEY (player_id, seed_pair_id, nonce)
) STRICT, WITHOUT ROWID;

-- Per (player, currency, game); game '' is every game in the currency.
-- last_*: the latest bet applied (an older one arriving means recompute).
CREATE TABLE player_win_records (
    player_id          TEXT NOT NULL,
    currency           TEXT NOT NULL,
    game               TEXT NOT NULL,
    last_seed_pair_id  INTEGER NOT NULL,
    last_nonce         INTEGER NOT NULL,
    current_win_streak INTEGER NOT NULL,
    longest_win_streak INTEGER NOT NULL,
    best_bet_id        TEXT,             -- NULL: no win yet (best_* all NULL)
    best_amount        INTEGER,
    best_multiplier    REAL,
    best_at            INTEGER,
    best_seed_pair_id  INTEGER,
    best_nonce         INTEGER,
    PRIMARY KEY (player_id, currency, game)
) STRICT, WITHOUT ROWID;
