-- Recommendations (projection of bet.settled by the `recommendations`
-- consumer): play histories, item-to-item co-play counts, bets per game and
-- day. All counts, so events apply in any order with the same result.
-- Mirrors the SQLite backend's 0008_recommendations.sql; game names sort
-- bytewise (COLLATE "C") as in Rust, which orders each pair.

-- Per player and game: bets and the latest settlement (Unix ms).
CREATE TABLE rec_player_games (
    player_id   UUID NOT NULL,
    game        TEXT COLLATE "C" NOT NULL,
    bets        BIGINT NOT NULL,
    last_played BIGINT NOT NULL,
    PRIMARY KEY (player_id, game)
);

-- Distinct players per game.
CREATE TABLE rec_game_players (
    game    TEXT COLLATE "C" PRIMARY KEY,
    players BIGINT NOT NULL
);

-- Distinct players who played both games; one row per unordered pair.
CREATE TABLE rec_co_play (
    game_a  TEXT COLLATE "C" NOT NULL,
    game_b  TEXT COLLATE "C" NOT NULL,
    players BIGINT NOT NULL,
    PRIMARY KEY (game_a, game_b),
    CHECK (game_a < game_b)
);

-- Bets per UTC day (Unix ms of its start) and game, for decayed popularity;
-- keyed by day first so the read window is a range.
CREATE TABLE rec_game_daily (
    day  BIGINT NOT NULL,
    game TEXT COLLATE "C" NOT NULL,
    bets BIGINT NOT NULL,
    PRIMARY KEY (day, game)
);
