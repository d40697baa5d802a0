-- Times are Unix milliseconds (UTC). Player ids are UUID text.

CREATE TABLE players (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    username_lower TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL,           -- comma-separated role names
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,          -- SHA-256 of the token; the token itself is never stored
    player_id    TEXT NOT NULL REFERENCES players(id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_player ON sessions(player_id) WHERE revoked_at IS NULL;

-- One row per (player, currency): the only balance rows. System accounts (house,
-- faucet, adjustments) have no balance row; their balance is the sum of postings.
CREATE TABLE wallets (
    player_id TEXT NOT NULL REFERENCES players(id),
    currency  TEXT NOT NULL,
    balance   INTEGER NOT NULL CHECK (balance >= 0),
    PRIMARY KEY (player_id, currency)
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_transactions (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    reference  TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE postings (
    id            INTEGER PRIMARY KEY,
    txn_id        INTEGER NOT NULL REFERENCES ledger_transactions(id),
    account       TEXT NOT NULL,            -- 'wallet' or a system account name
    player_id     TEXT,                     -- set for wallet postings only
    currency      TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    balance_after INTEGER,                  -- wallet postings only
    CHECK ((account = 'wallet') = (player_id IS NOT NULL))
) STRICT;
CREATE INDEX postings_by_wallet ON postings(player_id, currency, id) WHERE player_id IS NOT NULL;
CREATE INDEX postings_by_txn ON postings(txn_id);

CREATE TABLE faucet_claims (
    player_id       TEXT NOT NULL REFERENCES players(id),
    currency        TEXT NOT NULL,
    last_claimed_at INTEGER NOT NULL,
    PRIMARY KEY (player_id, currency)
) STRICT, WITHOUT ROWID;

CREATE TABLE admin_audit_log (
    id         INTEGER PRIMARY KEY,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,               -- JSON
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       INTEGER,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;

-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    position   INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,               -- JSON
    created_at INTEGER NOT NULL
) STRICT;
