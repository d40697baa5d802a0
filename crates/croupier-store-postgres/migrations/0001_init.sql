-- Croupier on PostgreSQL. Times are Unix milliseconds (UTC) in BIGINT, so they
-- round-trip exactly at the precision every backend stores. Money is BIGINT
-- minor units. The tables mirror the SQLite backend's.

CREATE TABLE players (
    id             UUID PRIMARY KEY,
    username       TEXT NOT NULL,
    username_lower TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL,           -- comma-separated role names
    created_at     BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,         -- SHA-256 of the token; the token itself is never stored
    player_id    UUID NOT NULL REFERENCES players(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_by_player ON sessions(player_id) WHERE revoked_at IS NULL;

-- One row per (player, currency): the only balance rows. System accounts (house,
-- faucet, adjustments) have no balance row; their balance is the sum of postings.
CREATE TABLE wallets (
    player_id UUID NOT NULL REFERENCES players(id),
    currency  TEXT NOT NULL,
    balance   BIGINT NOT NULL CHECK (balance >= 0),
    PRIMARY KEY (player_id, currency)
);

CREATE TABLE ledger_transactions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    reference  TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE postings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txn_id        BIGINT NOT NULL REFERENCES ledger_transactions(id),
    account       TEXT NOT NULL,            -- 'wallet' or a system account name
    player_id     UUID,                     -- set for wallet postings only
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    balance_after BIGINT,                   -- wallet postings only
    CHECK ((account = 'wallet') = (player_id IS NOT NULL))
);
CREATE INDEX postings_by_wallet ON postings(player_id, currency, id) WHERE player_id IS NOT NULL;
CREATE INDEX postings_by_txn ON postings(txn_id);

CREATE TABLE faucet_claims (
    player_id       UUID NOT NULL REFERENCES players(id),
    currency        TEXT NOT NULL,
    last_claimed_at BIGINT NOT NULL,
    PRIMARY KEY (player_id, currency)
);

CREATE TABLE admin_audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor      UUID NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    JSONB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       INTEGER,
    body         BYTEA,
    created_at   BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    position   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Provably fair seed pairs, bets, mines rounds and game overrides.

CREATE TABLE seed_pairs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    player_id        UUID NOT NULL REFERENCES players(id),
    server_seed      TEXT NOT NULL,         -- secret until revealed_at is set
    server_seed_hash TEXT NOT NULL,
    client_seed      TEXT NOT NULL,
    nonce            BIGINT NOT NULL DEFAULT 0 CHECK (nonce >= 0),  -- the next nonce to use
    created_at       BIGINT NOT NULL,
    revealed_at      BIGINT
);
-- At most one active (unrevealed) pair per player.
CREATE UNIQUE INDEX seed_pairs_one_active ON seed_pairs(player_id) WHERE revealed_at IS NULL;
CREATE INDEX seed_pairs_by_player ON seed_pairs(player_id, id);

CREATE TABLE bets (
    id            TEXT PRIMARY KEY,         -- UUIDv7: sorts by time
    player_id     UUID NOT NULL REFERENCES players(id),
    game          TEXT NOT NULL,
    currency      TEXT NOT NULL,
    stake         BIGINT NOT NULL CHECK (stake > 0),
    payout        BIGINT NOT NULL CHECK (payout >= 0),
    multiplier    BIGINT NOT NULL,          -- hundredths
    win           BOOLEAN NOT NULL,
    params        JSONB NOT NULL,
    outcome       JSONB NOT NULL,
    seed_pair_id  BIGINT NOT NULL REFERENCES seed_pairs(id),
    nonce         BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (seed_pair_id, nonce)            -- a nonce settles at most one bet; also the history index
);

CREATE TABLE mines_rounds (
    id           TEXT PRIMARY KEY,          -- also the id of the bet it settles as
    player_id    UUID NOT NULL REFERENCES players(id),
    currency     TEXT NOT NULL,
    stake        BIGINT NOT NULL CHECK (stake > 0),
    mines        SMALLINT NOT NULL CHECK (mines BETWEEN 1 AND 24),
    seed_pair_id BIGINT NOT NULL REFERENCES seed_pairs(id),
    nonce        BIGINT NOT NULL,
    revealed     JSONB NOT NULL DEFAULT '[]',  -- array of safe tiles, in order
    state        TEXT NOT NULL CHECK (state IN ('open', 'completed', 'cancelled')),
    bet_id       TEXT,
    created_at   BIGINT NOT NULL,
    closed_at    BIGINT
);
CREATE UNIQUE INDEX mines_one_open_round ON mines_rounds(player_id) WHERE state = 'open';

CREATE TABLE game_overrides (
    game       TEXT PRIMARY KEY,
    settings   JSONB NOT NULL,              -- object of overridden keys
    updated_at BIGINT NOT NULL
);
