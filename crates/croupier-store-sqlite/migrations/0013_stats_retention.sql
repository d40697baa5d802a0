-- The stats consumer's per-bet results are pruned once no late event can
-- need them (events.inbox_retention_hours after the bet): each row gets the
-- bet's time, and each win record a floor, the streaks of the results
-- folded into it; the exact streaks are the floor followed by the remaining
-- rows. The default 0 is for an earlier release's inserts (a rollback):
-- its rows count as old.
ALTER TABLE stats_bet_results ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
UPDATE stats_bet_results SET at = COALESCE(
    (SELECT b.created_at FROM bets b
     WHERE b.seed_pair_id = stats_bet_results.seed_pair_id
       AND b.nonce = stats_bet_results.nonce), 0);
-- Rows arrive in time order: each insert lands at the index's right edge.
CREATE INDEX stats_bet_results_by_age ON stats_bet_results(at);

-- floor_seed_pair_id, floor_nonce: the last result folded (NULL: none).
ALTER TABLE player_win_records ADD COLUMN floor_seed_pair_id INTEGER;
ALTER TABLE player_win_records ADD COLUMN floor_nonce INTEGER;
ALTER TABLE player_win_records ADD COLUMN floor_current_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE player_win_records ADD COLUMN floor_longest_streak INTEGER NOT NULL DEFAULT 0;
