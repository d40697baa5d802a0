//! The ports: what the API needs from storage. Each backend crate implements
//! them and is held to the same conformance suite (`croupier-store-tests`).
//!
//! Every mutating method is one atomic transaction: the business rows, the
//! ledger postings, the balance updates and the outbox event commit together
//! or not at all.

use crate::error::StoreResult;
use crate::money::CurrencyCode;
use crate::types::*;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

#[async_trait]
pub trait PlayerStore: Send + Sync {
    /// Creates a player and emits `player.registered`. Fails with
    /// `UsernameTaken` if the name exists, compared case-insensitively.
    async fn create_player(&self, new: NewPlayer) -> StoreResult<Player>;
    /// Looks a player up by name, case-insensitively.
    async fn player_by_username(&self, username: &str) -> StoreResult<Option<PlayerCredentials>>;
    async fn player(&self, id: PlayerId) -> StoreResult<Option<PlayerCredentials>>;
    async fn set_password_hash(&self, id: PlayerId, password_hash: String) -> StoreResult<()>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session(&self, token_hash: TokenHash) -> StoreResult<Option<SessionRecord>>;
    /// Records activity for idle expiry. Callers coalesce touches; this is not per request.
    async fn touch_session(&self, token_hash: TokenHash, now: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes one session; `false` if it did not exist or was already revoked.
    async fn revoke_session(&self, token_hash: TokenHash) -> StoreResult<bool>;
    /// Revokes every live session of a player except `keep`; returns the revoked hashes
    /// so caches can drop them.
    async fn revoke_player_sessions(
        &self,
        player_id: PlayerId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>>;
}

#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Balances of every wallet the player has (currencies never used are absent).
    async fn balances(&self, player_id: PlayerId) -> StoreResult<Vec<(CurrencyCode, i64)>>;
    /// Credits the play-money bonus from the faucet account, at most once per period.
    async fn claim(&self, cmd: ClaimCommand) -> StoreResult<ClaimReceipt>;
    /// Applies an operator adjustment; never drives a balance below zero.
    async fn adjust(&self, cmd: AdjustCommand) -> StoreResult<AdjustReceipt>;
    /// A wallet's entries, newest first, strictly older than `before` (a posting id).
    async fn wallet_entries(
        &self,
        player_id: PlayerId,
        currency: CurrencyCode,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<WalletEntry>>;
    /// Checks every ledger invariant.
    async fn audit(&self) -> StoreResult<AuditReport>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(scope, key)` for a request whose fingerprint is `request_hash`.
    /// A key held by a request that has not completed within `lease` (its instance
    /// died) may be taken over.
    async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: [u8; 32],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<IdempotencyBegin>;
    async fn idempotency_complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()>;
    /// Forgets a started key (the request failed in a way worth retrying).
    async fn idempotency_release(&self, scope: &str, key: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events after `position`, oldest first.
    async fn outbox_after(&self, position: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
}

/// Everything the platform needs from its relational store.
#[async_trait]
pub trait Store: PlayerStore + SessionStore + LedgerStore + IdempotencyStore + OutboxStore {
    /// Cheap liveness check of the backend, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Backend name for logs and metrics (e.g. "sqlite").
    fn backend(&self) -> &'static str;
}
