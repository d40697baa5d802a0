//! The ports: what the API needs from storage. Each backend crate implements
//! them and is held to the same conformance suite (`croupier-store-tests`).
//!
//! Every mutating method is one atomic transaction: the business rows, the
//! ledger postings, the balance updates and the outbox event commit together
//! or not at all.

use crate::error::StoreResult;
use crate::events::*;
use crate::games::*;
use crate::missions::{MissionProgress, MissionRule};
use crate::money::CurrencyCode;
use crate::recommendations::{PlayedGame, RecommendationData};
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
    /// Blocks or unblocks a player in one transaction with its admin audit
    /// entry and a `player.blocked` / `player.unblocked` event; blocking also
    /// revokes every session of the player. `Ok(None)`: no such player.
    async fn set_player_blocked(&self, cmd: BlockCommand) -> StoreResult<Option<BlockChange>>;
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
    /// Sessions live at `now`: not revoked, not past their absolute expiry,
    /// and seen within `idle` (for the active-sessions gauge).
    async fn count_live_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64>;
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

/// The transactional outbox, as the relay sees it. Rows are *claimed* rather
/// than tailed by position: on PostgreSQL positions follow insert order, not
/// commit order, so a position cursor could skip a row that commits late.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events after `position`, oldest first (published or not).
    async fn outbox_after(&self, position: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// Leases up to `limit` unpublished events to `owner` until `now + lease`,
    /// oldest first. Only events whose lease is free or expired (`lease_until
    /// <= now`) are taken, so concurrent claimers get disjoint events and an
    /// event held by a relay that died is claimable again once its lease ends.
    async fn outbox_claim(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxEvent>>;
    /// Marks events published at `now` (after the bus acknowledged them);
    /// returns how many were not already. Unknown positions are ignored.
    async fn outbox_mark_published(
        &self,
        positions: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Ends `owner`'s lease on unpublished events at `positions` (the bus
    /// could not take them), so the next claim takes them again at once
    /// instead of after the lease. Returns how many were released; events
    /// leased to another owner, or published, are left alone.
    async fn outbox_release(&self, owner: &str, positions: &[i64]) -> StoreResult<u64>;
    /// How many events are not yet published.
    async fn outbox_backlog(&self) -> StoreResult<u64>;
    /// Deletes up to `limit` events published before `published_before`;
    /// returns how many. Unpublished events are never deleted.
    async fn outbox_prune(&self, published_before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

/// The statistics projection, maintained by the `stats` consumer. Its writes
/// are inbox-guarded: each event applies at most once per consumer name.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Adds settled bets to the per-player and per-game statistics in one
    /// transaction, recording each event id in `consumer`'s inbox; events
    /// already there (redeliveries) are skipped. Returns how many were applied.
    async fn apply_settled_bets(
        &self,
        consumer: &str,
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A player's results per (currency, game), ordered by currency then game.
    async fn player_stats(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerGameStats>>;
    /// A player's win records (biggest win, win streaks), ordered by currency
    /// then game, the currency-wide record (`game: None`) first in each. Kept
    /// by `apply_settled_bets` too: exact whatever order events arrive in.
    async fn player_win_records(&self, player_id: PlayerId) -> StoreResult<Vec<PlayerWinRecord>>;
    /// A game's results per currency over bets settled since `since` (whole
    /// hours: the hour holding `since` counts in full), ordered by currency.
    async fn game_stats(
        &self,
        game: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(CurrencyCode, BetCounters)>>;
}

/// Mission rules set by operators and players' progress, maintained by the
/// `missions` consumer. Its writes are inbox-guarded like the statistics'.
#[async_trait]
pub trait MissionStore: Send + Sync {
    /// Applies settled bets to every enabled rule in `rules`, in one
    /// transaction, recording each event id in `consumer`'s inbox (events
    /// already there are skipped). A (mission, player, period) whose progress
    /// reaches its target gets the reward once, ever: a `mission_reward`
    /// ledger transaction from the `rewards` account, with `mission.completed`
    /// and `reward.granted` events. Returns how many events were applied.
    async fn apply_mission_bets(
        &self,
        consumer: &str,
        rules: &[MissionRule],
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A player's progress for each `(mission id, period key)` that has any.
    async fn mission_progress(
        &self,
        player_id: PlayerId,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<MissionProgress>>;
    /// Rules stored through the admin API, by id.
    async fn mission_rules(&self) -> StoreResult<Vec<MissionRule>>;
    /// Stores (creates or replaces) a rule and records it in the admin audit log.
    async fn put_mission_rule(
        &self,
        rule: MissionRule,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes a stored rule and records it in the admin audit log; `false`
    /// if there was none (nothing is logged then).
    async fn delete_mission_rule(
        &self,
        id: &str,
        actor: PlayerId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Play histories and co-play counts for recommendations, maintained by the
/// `recommendations` consumer. Its writes are inbox-guarded like the
/// statistics', and concurrent handlers serialise per player, so co-play
/// counts are exact under any delivery order.
#[async_trait]
pub trait RecommendationStore: Send + Sync {
    /// Applies settled bets in one transaction, recording each event id in
    /// `consumer`'s inbox (events already there are skipped): per (player,
    /// game) bets and last play; on a player's first bet in a game, +1 to
    /// that game's players and to its co-play count with every game the
    /// player played before; +1 bet to the game's day. Returns how many
    /// events were applied.
    async fn apply_recommendation_bets(
        &self,
        consumer: &str,
        bets: &[SettledBetEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// The games a player has played, by game.
    async fn played_games(&self, player_id: PlayerId) -> StoreResult<Vec<PlayedGame>>;
    /// The platform-wide counts; bets per day from the day holding `since`.
    async fn recommendation_data(&self, since: DateTime<Utc>) -> StoreResult<RecommendationData>;
    /// In one transaction, forgets every event `consumer` handled and empties
    /// the recommendation tables, for a rebuild by replay. Returns the inbox
    /// rows removed.
    async fn reset_recommendations(&self, consumer: &str) -> StoreResult<u64>;
}

#[async_trait]
pub trait GameStore: Send + Sync {
    /// The player's active seed pair, created from `fresh` if there is none.
    async fn active_seed_pair(
        &self,
        player_id: PlayerId,
        fresh: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<SeedPair>;
    /// The active pair first, then revealed pairs, newest first.
    async fn seed_pairs(&self, player_id: PlayerId, limit: u32) -> StoreResult<Vec<SeedPair>>;
    /// Revealed pairs only, newest first, those with an id below `before`.
    async fn revealed_seed_pairs(
        &self,
        player_id: PlayerId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<SeedPair>>;
    /// Reveals the active pair (if any) and activates `next`. Refused with
    /// `MinesRoundOpen` while a mines round is open. Returns (revealed, new active).
    async fn rotate_seed_pair(
        &self,
        player_id: PlayerId,
        next: NewSeedPair,
        now: DateTime<Utc>,
    ) -> StoreResult<(Option<SeedPair>, SeedPair)>;
    /// Reserves the next nonce, settles through `cmd.settle`, posts stake and
    /// payout, writes the bet and its `bet.settled` event: one transaction.
    async fn place_bet(&self, cmd: BetCommand) -> StoreResult<Idempotent<BetRecord>>;
    /// The provably fair bookkeeping: for every seed pair, the nonces its bets
    /// and mines rounds used are exactly 0 up to its next nonce — none skipped,
    /// none used twice. One line per pair that breaks it; empty when all hold.
    async fn nonce_audit(&self) -> StoreResult<Vec<String>>;
    async fn bet(&self, bet_id: &str) -> StoreResult<Option<BetRecord>>;
    /// A player's bets, newest first.
    async fn bets(&self, player_id: PlayerId, query: BetQuery) -> StoreResult<Vec<BetRecord>>;
    async fn game_overrides(&self) -> StoreResult<Vec<GameOverride>>;
    /// Stores a game's overrides and records the change in the admin audit log.
    async fn set_game_override(
        &self,
        game_override: GameOverride,
        actor: PlayerId,
        change: serde_json::Value,
    ) -> StoreResult<()>;
    /// Debits the stake, reserves a nonce and opens a round. `MinesRoundOpen` if the
    /// player already has an open round.
    async fn open_mines(&self, cmd: OpenMinesCommand) -> StoreResult<MinesRound>;
    async fn mines_round(
        &self,
        player_id: PlayerId,
        round_id: &str,
    ) -> StoreResult<Option<MinesRound>>;
    /// Advances an open round by `decide` (reveal or cash-out), atomically;
    /// a settling step pays out and writes the bet. `NotFound` if the round is
    /// not the player's, `RoundClosed` if it is closed.
    async fn mines_step(
        &self,
        player_id: PlayerId,
        round_id: &str,
        decide: MinesDecide,
        now: DateTime<Utc>,
    ) -> StoreResult<(MinesRound, Option<BetRecord>)>;
}

/// Everything the platform needs from its relational store.
#[async_trait]
pub trait Store:
    PlayerStore
    + SessionStore
    + LedgerStore
    + IdempotencyStore
    + OutboxStore
    + GameStore
    + StatsStore
    + MissionStore
    + RecommendationStore
    + crate::dead_letters::DeadLetterStore
    + crate::dead_letters::ReplayStore
    + crate::export::ExportStore
    + crate::console::ConsoleStore
    + crate::retention::RetentionStore
{
    /// Cheap liveness check of the backend, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Backend name for logs and metrics (e.g. "sqlite").
    fn backend(&self) -> &'static str;
}
