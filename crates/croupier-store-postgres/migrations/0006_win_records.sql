-- Biggest win and win streaks (projection of bet.settled, `stats` consumer).
-- Filled for bets applied from now on: `croupier events replay --consumer stats
-- --from 0 --reset` fills them for earlier ones.

-- One row per bet the stats consumer applied, in the player's sequence
-- (seed pair, nonce): what exact streaks are recomputed from when an event
-- arrives after a later one of the same player was applied.
CREATE TABLE stats_bet_results (
    player_id    UUID NOT NULL,
    seed_pair_id BIGINT NOT NULL,
    nonce        BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    game         TEXT NOT NULL,
    win          BOOLEAN NOT NULL,
    PRIMARY KEY (player_id, seed_pair_id, nonce)
);

-- Per (player, currency, game); game '' is every game in the currency.
-- last_*: the latest bet applied (an older one arriving means recompute).
CREATE TABLE player_win_records (
    player_id          UUID NOT NULL,
    currency           TEXT NOT NULL,
    game               TEXT NOT NULL,
    last_seed_pair_id  BIGINT NOT NULL,
    last_nonce         BIGINT NOT NULL,
    current_win_streak BIGINT NOT NULL,
    longest_win_streak BIGINT NOT NULL,
    best_bet_id        TEXT,             -- NULL: no win yet (best_* all NULL)
    best_amount        BIGINT,
    best_multiplier    DOUBLE PRECISION,
    best_at            BIGINT,
    best_seed_pair_id  BIGINT,
    best_nonce         BIGINT,
    PRIMARY KEY (player_id, currency, game)
);
