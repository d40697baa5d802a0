//! Seed pairs, bets and mines rounds as the store sees them. Game rules live in
//! `croupier-fair`; the API hands the store a closure that settles a bet from
//! the seed pair and the nonce reserved inside the transaction, so the store
//! needs no knowledge of any game.

use crate::error::StoreError;
use crate::money::CurrencyCode;
use crate::types::{IdempotencyBegin, PlayerId, StoredResponse};
use chrono::{DateTime, Utc};

/// A player's seed pair. `nonce` is the next nonce to be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedPair {
    pub id: i64,
    pub player_id: PlayerId,
    /// The secret; callers must show it only once `revealed_at` is set.
    pub server_seed: String,
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    pub created_at: DateTime<Utc>,
    pub revealed_at: Option<DateTime<Utc>>,
}

/// A freshly generated pair, committed (hash shown) before any bet uses it.
#[derive(Clone, Debug)]
pub struct NewSeedPair {
    pub server_seed: String,
    pub server_seed_hash: String,
    pub client_seed: String,
}

/// What a settlement closure sees: the seeds and the nonce reserved for this bet.
#[derive(Clone, Copy, Debug)]
pub struct Draw<'a> {
    pub server_seed: &'a str,
    pub client_seed: &'a str,
    pub nonce: u64,
}

/// A settled outcome, produced by the game engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Total returned to the player (0 on a loss), minor units.
    pub payout: i64,
    /// Effective multiplier in hundredths (payout / stake, for display).
    pub multiplier: u64,
    pub win: bool,
    /// Game-specific detail (e.g. `{"roll": 28.07}`), kept for replay.
    pub detail: serde_json::Value,
}

/// Settles a bet from its draw. A pure function of the draw: a store may call
/// it again when it retries a transaction that aborted (a conflict, a failed
/// batch), possibly with another nonce; only the committed call counts.
pub type Settle = Box<dyn Fn(Draw<'_>) -> Result<Outcome, StoreError> + Send>;

/// An `Idempotency-Key` claimed inside the command's own transaction, so the
/// stored response commits together with the effect.
pub struct IdempotentCommand {
    pub scope: String,
    pub key: String,
    pub fingerprint: [u8; 32],
    /// Renders the success response stored for replays (again if the store
    /// retries the transaction).
    pub render: Box<dyn Fn(&BetRecord) -> StoredResponse + Send>,
}

/// What an idempotent command found or did.
#[derive(Debug)]
pub enum Idempotent<T> {
    Done(T),
    /// An earlier request with the same key; its stored response (or why not).
    Earlier(IdempotencyBegin),
}

pub struct BetCommand {
    pub player_id: PlayerId,
    pub game: String,
    pub currency: CurrencyCode,
    pub stake: i64,
    pub params: serde_json::Value,
    pub now: DateTime<Utc>,
    /// Used if the player has no active seed pair yet.
    pub first_seed: NewSeedPair,
    pub settle: Settle,
    pub idempotency: Option<IdempotentCommand>,
}

/// A settled bet with everything a verifier needs.
#[derive(Clone, Debug, PartialEq)]
pub struct BetRecord {
    pub id: String,
    pub player_id: PlayerId,
    pub game: String,
    pub currency: CurrencyCode,
    pub stake: i64,
    pub payout: i64,
    pub multiplier: u64,
    pub win: bool,
    pub params: serde_json::Value,
    pub outcome: serde_json::Value,
    pub seed_pair_id: i64,
    pub server_seed_hash: String,
    pub client_seed: String,
    /// Present once the pair has been rotated (revealed).
    pub server_seed: Option<String>,
    pub nonce: u64,
    /// The player's balance right after settlement.
    pub balance: i64,
    pub created_at: DateTime<Utc>,
}

/// A bet as asked for, before settlement: with its outcome, the seed pair and
/// nonce it drew on and the balance it left, it becomes a [`BetRecord`].
#[derive(Clone, Copy, Debug)]
pub struct NewBet<'a> {
    pub id: &'a str,
    pub player_id: PlayerId,
    pub game: &'a str,
    pub currency: CurrencyCode,
    pub stake: i64,
    pub params: &'a serde_json::Value,
    pub at: DateTime<Utc>,
}

impl NewBet<'_> {
    /// The record of this bet settled as `outcome` on `pair` at `nonce`,
    /// leaving the wallet at `balance`.
    pub fn settled(
        self,
        outcome: &Outcome,
        pair: &SeedPair,
        nonce: u64,
        balance: i64,
    ) -> BetRecord {
        BetRecord {
            id: self.id.to_owned(),
            player_id: self.player_id,
            game: self.game.to_owned(),
            currency: self.currency,
            stake: self.stake,
            payout: outcome.payout,
            multiplier: outcome.multiplier,
            win: outcome.win,
            params: self.params.clone(),
            outcome: outcome.detail.clone(),
            seed_pair_id: pair.id,
            server_seed_hash: pair.server_seed_hash.clone(),
            client_seed: pair.client_seed.clone(),
            server_seed: None,
            nonce,
            balance,
            created_at: self.at,
        }
    }
}

impl BetRecord {
    /// The `bet.settled` event's payload, the same from every backend.
    pub fn event_payload(&self) -> serde_json::Value {
        serde_json::json!({
            "bet_id": self.id, "player_id": self.player_id, "game": self.game,
            "currency": self.currency, "stake": self.stake, "payout": self.payout,
            "multiplier": self.multiplier as f64 / 100.0, "win": self.win,
            "seed_pair_id": self.seed_pair_id, "nonce": self.nonce, "balance": self.balance,
        })
    }
}

/// Bet-history filter and page. History is in play order, newest first: by
/// seed pair, then nonce.
#[derive(Clone, Debug, Default)]
pub struct BetQuery {
    pub game: Option<String>,
    pub limit: u32,
    /// Return bets played before this position.
    pub before: Option<BetCursor>,
}

/// A position in a player's bet history: a seed pair and a nonce on it.
/// Rendered as `"{seed_pair_id}-{nonce}"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BetCursor {
    pub seed_pair_id: i64,
    pub nonce: u64,
}

impl BetCursor {
    pub fn of(bet: &BetRecord) -> Self {
        Self {
            seed_pair_id: bet.seed_pair_id,
            nonce: bet.nonce,
        }
    }
}

impl std::fmt::Display for BetCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.seed_pair_id, self.nonce)
    }
}

impl std::str::FromStr for BetCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (pair, nonce) = s.split_once('-').ok_or(())?;
        let seed_pair_id: i64 = pair.parse().map_err(|_| ())?;
        let nonce: u64 = nonce.parse().map_err(|_| ())?;
        if seed_pair_id < 1 || nonce > i64::MAX as u64 {
            return Err(());
        }
        Ok(Self {
            seed_pair_id,
            nonce,
        })
    }
}

/// One game's operator overrides (enabled, house edge, limits), as a JSON
/// object holding only the overridden keys; the API merges it over the
/// configured defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct GameOverride {
    pub game: String,
    pub settings: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// An open or closed mines round.
#[derive(Clone, Debug, PartialEq)]
pub struct MinesRound {
    pub id: String,
    pub player_id: PlayerId,
    pub currency: CurrencyCode,
    pub stake: i64,
    pub mines: u8,
    pub seed_pair_id: i64,
    /// The pair's public commitment (rotation is refused while a round is open).
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    /// Safe tiles revealed so far, in order.
    pub revealed: Vec<u8>,
    pub state: MinesState,
    /// Set when the round closed: the bet it settled as.
    pub bet_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl MinesRound {
    /// A round just opened by `cmd` on `pair`, with its id and reserved nonce.
    pub fn opened(id: String, cmd: &OpenMinesCommand, pair: &SeedPair, nonce: u64) -> Self {
        MinesRound {
            id,
            player_id: cmd.player_id,
            currency: cmd.currency,
            stake: cmd.stake,
            mines: cmd.mines,
            seed_pair_id: pair.id,
            server_seed_hash: pair.server_seed_hash.clone(),
            client_seed: pair.client_seed.clone(),
            nonce,
            revealed: vec![],
            state: MinesState::Open,
            bet_id: None,
            created_at: cmd.now,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinesState {
    Open,
    Completed,
    Cancelled,
}

impl MinesState {
    pub fn as_str(self) -> &'static str {
        match self {
            MinesState::Open => "open",
            MinesState::Completed => "completed",
            MinesState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(MinesState::Open),
            "completed" => Some(MinesState::Completed),
            "cancelled" => Some(MinesState::Cancelled),
            _ => None,
        }
    }
}

pub struct OpenMinesCommand {
    pub player_id: PlayerId,
    pub currency: CurrencyCode,
    pub stake: i64,
    pub mines: u8,
    pub now: DateTime<Utc>,
    pub first_seed: NewSeedPair,
}

/// What the game engine decides for a mines step, given the round and its seeds.
pub enum MinesStep {
    /// A safe tile: the round stays open with this tile revealed.
    Safe { tile: u8 },
    /// Cash-out before any reveal: the round is cancelled and the stake refunded.
    Cancel,
    /// The round ends and settles with this outcome (a mine hit: payout 0; a
    /// cash-out or the last safe tile: the multiplier's payout). `params` are
    /// the bet's parameters as a verifier replays them.
    Settle {
        outcome: Outcome,
        params: serde_json::Value,
    },
}

pub type MinesDecide =
    Box<dyn FnOnce(&MinesRound, Draw<'_>) -> Result<MinesStep, StoreError> + Send>;
