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
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend is unreachable or overloaded; the request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupted store.
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
