-- Recommendations (projection of bet.settled by the `recommendations`
-- consumer): play histories, item-to-item co-play counts, bets per game and
-- day. All counts, so events apply in any order with the same result.

-- Per player and game: bets and the latest settlement (Unix ms).
CREATE TABLE rec_player_games (
    player_id   TEXT NOT NULL,
    game        TEXT NOT NULL,
    bets        INTEGER NOT NULL,
    last_played INTEGER NOT NULL,
    PRIMARY KEY (player_id, game)
) STRICT, WITHOUT ROWID;

-- Distinct players per game.
CREATE TABLE rec_game_players (
    game    TEXT PRIMARY KEY,
    players INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Distinct players who played both games; one row per unordered pair.
CREATE TABLE rec_co_play (
    game_a  TEXT NOT NULL,
    game_b  TEXT NOT NULL,
    players INTEGER NOT NULL,
    PRIMARY KEY (game_a, game_b),
    CHECK (game_a < game_b)
) STRICT, WITHOUT ROWID;

-- Bets per UTC day (Unix ms of its start) and game, for decayed popularity;
-- keyed by day first so the read window is a range.
CREATE TABLE rec_game_daily (
    day  INTEGER NOT NULL,
    game TEXT NOT NULL,
    bets INTEGER NOT NULL,
    PRIMARY KEY (day, game)
) STRICT, WITHOUT ROWID;
