//! The shape of a ledger transaction, shared by every storage backend.

use crate::error::{StoreError, StoreResult};
use crate::types::PlayerId;

/// One side of a ledger transaction: a player's wallet or a system account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg<'a> {
    Wallet(PlayerId, i64),
    System(&'a str, i64),
}

impl Leg<'_> {
    pub fn amount(&self) -> i64 {
        match self {
            Leg::Wallet(_, a) | Leg::System(_, a) => *a,
        }
    }
}

/// A transaction needs at least two legs summing to zero; anything else is a
/// bug in the caller, never a player's mistake.
pub fn check_balanced(kind: &str, legs: &[Leg<'_>]) -> StoreResult<()> {
    if legs.len() < 2 || legs.iter().map(Leg::amount).sum::<i64>() != 0 {
        return Err(StoreError::Internal(format!(
            "unbalanced {kind} transaction"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_balanced_transactions_of_two_or_more_legs_pass() {
        let p = PlayerId::new();
        assert!(check_balanced("t", &[Leg::Wallet(p, 5), Leg::System("house", -5)]).is_ok());
        assert!(check_balanced("t", &[Leg::Wallet(p, 5), Leg::System("house", -4)]).is_err());
        assert!(check_balanced("t", &[Leg::Wallet(p, 0)]).is_err());
        assert!(check_balanced("t", &[]).is_err());
    }
}
