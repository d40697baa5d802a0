//! Error types. Parameter errors always carry the offending field so that an API
//! layer can point the player at the exact input that was rejected.

use thiserror::Error;

/// A rejected game parameter. `field` is a JSON path such as `target`,
/// `bets[2].value` or `edge_bps`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid `{field}`: {message}")]
pub struct ParamError {
    pub field: String,
    pub message: String,
}

impl ParamError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Errors of the crate's entry points (`play`, `verify_json`, `rtp`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FairError {
    #[error("unknown game `{0}`")]
    UnknownGame(String),
    #[error(transparent)]
    Param(#[from] ParamError),
}
