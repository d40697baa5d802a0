-- Bulk loader for the growth bench on PostgreSQL: adds :per settled dice bets
-- (1 CHIP, over 50.50) for each player named like :'pattern', in one
-- statement, on a database whose server is stopped. Run it repeatedly:
--   psql "$URL" -v pattern='bench-ID-%' -v per=1000 -f bench/pg-load.sql
--
-- The rows are the ones the bet batch in
-- crates/croupier-store-postgres/src/batch.rs writes: the nonce taken from
-- the active seed pair, the real provably-fair draw (HMAC-SHA256 of
-- "client_seed:nonce:0" keyed by the server seed, as sqlite-writeset.py),
-- a 'bet' ledger transaction with 2 postings for a loss and 4 for a win, the
-- wallet's new balance, the bet row and its bet.settled outbox row, left
-- unpublished so the server's own consumers project it when it starts.
-- Needs pgcrypto for hmac(); the bench creates it in its own database.
WITH pl AS (
    SELECT p.id AS player_id, sp.id AS pair_id, sp.server_seed, sp.client_seed,
           sp.nonce AS start, w.balance
    FROM players p
    JOIN seed_pairs sp ON sp.player_id = p.id AND sp.revealed_at IS NULL
    JOIN wallets w ON w.player_id = p.id AND w.currency = 'CHIP'
    WHERE p.username_lower LIKE :'pattern'
), draw AS (
    SELECT pl.*, n,
           (get_byte(mac, 0)::float8 * 16777216 + get_byte(mac, 1) * 65536
            + get_byte(mac, 2) * 256 + get_byte(mac, 3)) / 4294967296.0 AS f
    FROM pl
    CROSS JOIN LATERAL generate_series(pl.start, pl.start + :per - 1) AS n
    CROSS JOIN LATERAL hmac(pl.client_seed || ':' || n || ':0', pl.server_seed, 'sha256') AS mac
), roll AS (
    SELECT draw.*, LEAST(floor(f * 10001)::int, 10000) AS roll FROM draw
), rand AS (
    -- Volatile calls in the select list: evaluated per row.
    SELECT roll.*, md5(random()::text) AS r, md5(random()::text) AS e,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS at
    FROM roll
), bet AS (
    SELECT rand.*, roll > 5050 AS win,
           CASE WHEN roll > 5050 THEN 2 ELSE 0 END AS payout,
           -- UUIDv7: the time in ms, then random bits (as Uuid::now_v7()).
           regexp_replace(lpad(to_hex(at), 12, '0') || '7' || substr(r, 1, 3) || '8' || substr(r, 4, 15),
                          '(.{8})(.{4})(.{4})(.{4})(.{12})', '\1-\2-\3-\4-\5') AS bet_id,
           regexp_replace(lpad(to_hex(at), 12, '0') || '7' || substr(e, 1, 3) || '8' || substr(e, 4, 15),
                          '(.{8})(.{4})(.{4})(.{4})(.{12})', '\1-\2-\3-\4-\5')::uuid AS event_id
    FROM rand
), settled AS (
    SELECT bet.*,
           balance - SUM(1 - payout) OVER (PARTITION BY player_id ORDER BY n) AS after
    FROM bet
), t AS (
    INSERT INTO ledger_transactions (kind, currency, reference, created_at)
    SELECT 'bet', 'CHIP', bet_id, at FROM settled ORDER BY player_id, n
    RETURNING id, reference
), p AS (
    INSERT INTO postings (txn_id, account, player_id, currency, amount, balance_after)
    SELECT t.id, v.account, v.player_id, 'CHIP', v.amount, v.after
    FROM settled s
    JOIN t ON t.reference = s.bet_id
    CROSS JOIN LATERAL (VALUES
        (1, 'wallet', s.player_id, -1::bigint, s.after - s.payout),
        (2, 'house', NULL::uuid, 1::bigint, NULL::bigint),
        (3, 'house', NULL::uuid, -s.payout::bigint, NULL::bigint),
        (4, 'wallet', s.player_id, s.payout::bigint, s.after)) AS v(k, account, player_id, amount, after)
    WHERE s.payout > 0 OR v.k <= 2
    ORDER BY t.id, v.k
), b AS (
    INSERT INTO bets (id, player_id, game, currency, stake, payout, multiplier, win,
                      params, outcome, seed_pair_id, nonce, balance_after, created_at)
    SELECT bet_id, player_id, 'dice', 'CHIP', 1, payout, payout * 100, win,
           '{"direction":"over","target":50.5}'::jsonb,
           jsonb_build_object('outcome', jsonb_build_object('roll', roll / 100.0), 'floats', jsonb_build_array(f)),
           pair_id, n, after, at
    FROM settled ORDER BY player_id, n
), o AS (
    INSERT INTO outbox (event_id, event_type, payload, created_at, producer)
    SELECT event_id, 'bet.settled',
           jsonb_build_object('bet_id', bet_id, 'player_id', player_id, 'game', 'dice',
                              'currency', 'CHIP', 'stake', 1, 'payout', payout,
                              'multiplier', payout::float8, 'win', win, 'seed_pair_id', pair_id,
                              'nonce', n, 'balance', after),
           at, 'bench-load'
    FROM settled ORDER BY player_id, n
), w AS (
    UPDATE wallets SET balance = m.after
    FROM (SELECT player_id, MIN(after) FILTER (WHERE n = start + :per - 1) AS after
          FROM settled GROUP BY player_id) AS m
    WHERE wallets.player_id = m.player_id AND wallets.currency = 'CHIP'
), s AS (
    UPDATE seed_pairs SET nonce = nonce + :per WHERE id IN (SELECT pair_id FROM pl)
)
SELECT COUNT(*) AS bets, COUNT(*) FILTER (WHERE win) AS wins FROM settled;
