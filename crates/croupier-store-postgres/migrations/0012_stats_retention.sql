-- The stats consumer's per-bet results are pruned once no late event can
-- need them (events.inbox_retention_hours after the bet): each row gets the
-- bet's time, and each win record a floor, the streaks of the results
-- folded into it; the exact streaks are the floor followed by the remaining
-- rows. The default 0 is for an earlier release's inserts (a rollback):
-- its rows count as old.
ALTER TABLE stats_bet_results ADD COLUMN at BIGINT NOT NULL DEFAULT 0;
UPDATE stats_bet_results s SET at = b.created_at
FROM bets b WHERE b.seed_pair_id = s.seed_pair_id AND b.nonce = s.nonce;
-- Rows arrive in time order: a BRIN index finds the old ones cheaply.
CREATE INDEX stats_bet_results_by_age ON stats_bet_results USING BRIN (at);

-- floor_seed_pair_id, floor_nonce: the last result folded (NULL: none).
ALTER TABLE player_win_records
    ADD COLUMN floor_seed_pair_id BIGINT,
    ADD COLUMN floor_nonce BIGINT,
    ADD COLUMN floor_current_streak BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN floor_longest_streak BIGINT NOT NULL DEFAULT 0;
