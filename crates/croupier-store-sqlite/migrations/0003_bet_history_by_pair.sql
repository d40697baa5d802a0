-- Bet history reads bets through seed_pairs and the (seed_pair_id, nonce)
-- unique index. Two per-player indexes go: every bet inserted into each of
-- them at a different place per player, dirtying a page per player per
-- commit, and they cost a third of the write throughput with many players.
DROP INDEX bets_by_player;
DROP INDEX bets_by_player_game;
