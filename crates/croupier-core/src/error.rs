//! Errors a port can return. Domain refusals (insufficient funds, a taken
//! username, …) are distinct variants so the API can map each to a stable code.

use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("username is already taken")]
    UsernameTaken,
    #[error("insufficient funds")]
    InsufficientFunds,
    /// A credit would take a wallet past [`crate::money::MAX_BALANCE`];
    /// nothing was written.
    #[error("the balance would exceed its ceiling")]
    BalanceLimit,
    #[error("claim not ready until {next_claim_at}")]
    ClaimNotReady { next_claim_at: DateTime<Utc> },
    #[error("not found")]
    NotFound,
    /// The player has an open mines round: another cannot open, and the
    /// seed pair cannot rotate, until it ends.
    #[error("a mines round is open")]
    MinesRoundOpen,
    /// The mines round is no longer open.
    #[error("round is {}", state.as_str())]
    RoundClosed { state: crate::games::MinesState },
    /// The tile was revealed by an earlier step of the round.
    #[error("tile already revealed")]
    TileRevealed,
    /// Some events or files of an export batch are already recorded (a
    /// concurrent exporter got there first); nothing was written.
    #[error("already exported: {0}")]
    AlreadyExported(String),
    /// The backend is unreachable or overloaded; the request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupted store.
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
