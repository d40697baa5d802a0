-- pgbench's side of bench/pg-compare.sh: a bet reduced to its essentials on
-- tables shaped like Croupier's (wallet balance with a non-negative check,
-- bet row with a JSON outcome, outbox row with a unique event id and a JSON
-- payload). Run with `psql -v players=N -f setup.sql` in a scratch database.

DROP TABLE IF EXISTS pgb_outbox, pgb_bets, pgb_wallets;

CREATE TABLE pgb_wallets (
    id      INTEGER PRIMARY KEY,
    balance BIGINT NOT NULL CHECK (balance >= 0)
);

CREATE TABLE pgb_bets (
    id         UUID PRIMARY KEY,
    wallet_id  INTEGER NOT NULL,
    stake      BIGINT NOT NULL,
    payout     BIGINT NOT NULL,
    outcome    JSONB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE pgb_outbox (
    position   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at BIGINT NOT NULL
);

-- As many wallets as Croupier's run has players, funded for any run length.
INSERT INTO pgb_wallets SELECT g, 1000000000000 FROM generate_series(1, :players) AS g;
VACUUM ANALYZE pgb_wallets;
