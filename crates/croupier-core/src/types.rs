//! Identifiers, records and commands shared by the API and every storage backend.

use crate::money::CurrencyCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// The current time at the precision every backend stores (milliseconds), so
/// a value returned to a client equals the value read back later.
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = Utc::now();
    t.duration_trunc(Duration::milliseconds(1)).unwrap_or(t)
}

/// A player's id: a UUIDv7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlayerId(pub Uuid);

impl PlayerId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for PlayerId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for PlayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for PlayerId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Support,
    Player,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Support => "support",
            Role::Player => "player",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "support" => Some(Role::Support),
            "player" => Some(Role::Player),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Player {
    pub id: PlayerId,
    pub username: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}

impl Player {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A player together with their password hash, for login and password changes only.
#[derive(Clone, Debug)]
pub struct PlayerCredentials {
    pub player: Player,
    pub password_hash: String,
    /// When an admin blocked the player (`None`: not blocked). A blocked
    /// player cannot log in and earns no mission rewards.
    pub blocked_at: Option<DateTime<Utc>>,
}

/// An admin blocking (`reason` set) or unblocking a player.
#[derive(Clone, Debug)]
pub struct BlockCommand {
    pub player_id: PlayerId,
    /// `Some(why)` blocks, `None` unblocks.
    pub reason: Option<String>,
    pub actor: PlayerId,
    pub now: DateTime<Utc>,
}

impl BlockCommand {
    /// The audit-log action, the event type and its payload (the same on
    /// every backend).
    pub fn record(&self) -> (&'static str, &'static str, serde_json::Value) {
        match &self.reason {
            Some(reason) => (
                "player.block",
                event_type::PLAYER_BLOCKED,
                serde_json::json!({
                    "player_id": self.player_id, "actor": self.actor, "reason": reason,
                }),
            ),
            None => (
                "player.unblock",
                event_type::PLAYER_UNBLOCKED,
                serde_json::json!({ "player_id": self.player_id, "actor": self.actor }),
            ),
        }
    }
}

/// What a [`BlockCommand`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockChange {
    /// False when the player already was in the asked state (then nothing
    /// was written: no audit entry, no event).
    pub changed: bool,
    /// Sessions revoked by blocking, for the caches to forget.
    pub revoked: Vec<TokenHash>,
}

#[derive(Clone, Debug)]
pub struct NewPlayer {
    pub id: PlayerId,
    pub username: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}

/// SHA-256 of a session token: the only form in which a token is ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short prefix only: enough to correlate, not to look anything up.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[derive(Clone, Debug)]
pub struct NewSession {
    pub token_hash: TokenHash,
    pub player_id: PlayerId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub token_hash: TokenHash,
    pub player_id: PlayerId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Absolute expiry, fixed at login.
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// Claim the play-money bonus for one currency, at most once per `period`.
#[derive(Clone, Debug)]
pub struct ClaimCommand {
    pub player_id: PlayerId,
    pub currency: CurrencyCode,
    pub amount: i64,
    pub period: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimReceipt {
    pub transaction_id: i64,
    pub amount: i64,
    pub balance: i64,
    pub next_claim_at: DateTime<Utc>,
}

/// An operator's manual balance change; `amount` may be negative.
#[derive(Clone, Debug)]
pub struct AdjustCommand {
    pub player_id: PlayerId,
    pub currency: CurrencyCode,
    pub amount: i64,
    pub reason: String,
    pub actor: PlayerId,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdjustReceipt {
    pub transaction_id: i64,
    pub balance: i64,
}

/// One ledger transaction as seen from one wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletEntry {
    /// The ledger transaction's id.
    pub transaction_id: i64,
    /// The posting's id: the pagination cursor.
    pub posting_id: i64,
    pub kind: String,
    /// Signed change to this wallet.
    pub amount: i64,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
    pub reference: Option<String>,
}

/// One seed pair the nonce audit ([`GameStore::nonce_audit`]) found wrong:
/// `used` distinct nonces between `lowest` and `highest` where exactly
/// 0..`next` should be.
///
/// [`GameStore::nonce_audit`]: crate::ports::GameStore::nonce_audit
pub fn nonce_gap(
    pair: i64,
    next: i64,
    used: i64,
    lowest: Option<i64>,
    highest: Option<i64>,
) -> String {
    let range = match (lowest, highest) {
        (Some(lo), Some(hi)) => format!("{lo}..={hi}"),
        _ => "none".to_owned(),
    };
    format!("seed pair {pair}: next nonce {next}, but {used} distinct nonces used ({range})")
}

/// The result of checking the ledger's invariants.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AuditReport {
    pub ok: bool,
    pub currencies: Vec<CurrencyAudit>,
    pub problems: Vec<String>,
}

/// Sums are `i128`, computed exactly: a balance fits an `i64`, but a
/// currency's wallets together (or a system account paying them) may pass
/// `i64::MAX`, and an audit that overflows can no longer say anything. JSON
/// carries them as plain numbers.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CurrencyAudit {
    pub currency: String,
    /// Σ of every posting in this currency: must be 0.
    pub postings_sum: i128,
    /// Σ of every player wallet balance.
    pub wallets_total: i128,
    /// Balance of each system account (house, faucet, adjustments), derived from postings.
    pub system_accounts: BTreeMap<String, i128>,
    pub wallets: u64,
    pub transactions: u64,
    pub postings: u64,
}

/// What `IdempotencyStore::idempotency_begin` found for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No earlier request: the caller now holds the key and must complete or release it.
    Started,
    /// The same request already completed: return this response again.
    Replay(StoredResponse),
    /// The key was used with a different request.
    Mismatch,
    /// The same key is being processed right now.
    InProgress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An event waiting in (or relayed from) the transactional outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// Position in the outbox: increasing in insert order. On PostgreSQL that
    /// is not commit order (a lower position can commit later), which is why
    /// the relay claims unpublished rows instead of tailing positions.
    pub position: i64,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// The instance whose transaction wrote it ([`crate::trace::instance`];
    /// empty for rows written before instances were recorded).
    pub producer: String,
    /// W3C trace context of what caused it ([`crate::trace::current`]).
    pub traceparent: Option<String>,
}

impl OutboxEvent {
    /// The event's domain: its type up to the first dot (`bet` for
    /// `bet.settled`). One bus stream per domain.
    pub fn domain(&self) -> &str {
        event_domain(&self.event_type)
    }
}

/// The domain of an event type: up to the first dot.
pub fn event_domain(event_type: &str) -> &str {
    event_type.split_once('.').map_or(event_type, |(d, _)| d)
}

/// Ledger transaction kinds written by the foundation.
pub mod txn_kind {
    pub const FAUCET_CLAIM: &str = "faucet_claim";
    pub const ADMIN_ADJUSTMENT: &str = "admin_adjustment";
    pub const BET: &str = "bet";
    pub const MINES_STAKE: &str = "mines_stake";
    /// A mines round's cash-out: its stake went out as `mines_stake`.
    pub const MINES_PAYOUT: &str = "mines_payout";
    pub const MINES_REFUND: &str = "mines_refund";
    /// A mission's reward, from the `rewards` account.
    pub const MISSION_REWARD: &str = "mission_reward";
}

/// Event types written by the foundation.
pub mod event_type {
    pub const PLAYER_REGISTERED: &str = "player.registered";
    pub const PLAYER_BLOCKED: &str = "player.blocked";
    pub const PLAYER_UNBLOCKED: &str = "player.unblocked";
    pub const WALLET_CLAIMED: &str = "wallet.claimed";
    pub const WALLET_ADJUSTED: &str = "wallet.adjusted";
    pub const BET_SETTLED: &str = "bet.settled";
    pub const SEEDS_ROTATED: &str = "fairness.seeds_rotated";
    pub const GAME_UPDATED: &str = "game.updated";
    pub const MISSION_COMPLETED: &str = "mission.completed";
    pub const REWARD_GRANTED: &str = "reward.granted";
}

/// System ledger accounts. They keep no balance row (DESIGN invariant 3: no row that
/// every operation must update); their balance is the sum of their postings.
pub mod system_account {
    pub const HOUSE: &str = "house";
    pub const FAUCET: &str = "faucet";
    pub const ADJUSTMENTS: &str = "adjustments";
    /// Pays mission rewards.
    pub const REWARDS: &str = "rewards";
}
