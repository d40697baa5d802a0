-- One bet: debit a random wallet with a balance check and credit a
-- payout, insert the bet, insert its outbox event. One transaction, five
-- round trips (BEGIN, three statements, END), like a naive per-bet service.
-- Needs `-D players=N` (the wallets created by setup.sql).
\set wid random(1, :players)
\set payout 2 * random(0, 1)
BEGIN;
UPDATE pgb_wallets SET balance = balance - 1 + :payout WHERE id = :wid AND balance >= 1;
INSERT INTO pgb_bets (id, wallet_id, stake, payout, outcome, created_at)
  VALUES (gen_random_uuid(), :wid, 1, :payout, jsonb_build_object('roll', 50.5, 'win', :payout::int > 0), 0);
INSERT INTO pgb_outbox (event_id, event_type, payload, created_at)
  VALUES (gen_random_uuid(), 'bet.settled', jsonb_build_object('wallet', :wid::int, 'stake', 1, 'payout', :payout::int), 0);
END;
