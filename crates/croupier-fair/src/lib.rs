//! croupier-fair: provably-fair outcomes, payouts and RTP maths for croupier.
//!
//! Pure and synchronous: no IO, no clock, no money storage. Outcomes come from the
//! Stake-compatible HMAC-SHA256 byte stream ([`stream`]); multipliers are exact
//! two-decimal values ([`Multiplier`]) and payouts are integer minor units.
//!
//! The platform's bet handler does
//! ```
//! use croupier_fair::{play, Game, GameParams};
//! let params = GameParams::from_json(Game::Dice, &serde_json::json!({"target": 50.5, "direction": "over"})).unwrap();
//! let s = play(&params, "server seed", "client seed", 1, croupier_fair::DEFAULT_EDGE_BPS).unwrap();
//! let payout = s.payout(1_000); // minor units; 0 on a loss
//! assert_eq!(s.outcome["roll"], 74.67);
//! assert!(s.win && payout == 2_000);
//! ```

pub mod crash;
pub mod error;
mod fields;
mod game;
pub mod games;
pub mod multiplier;
pub mod rtp;
pub mod stream;
pub mod verify;

pub use crash::{crash_json, crash_point, previous_hash, verify_chain_link};
pub use error::{FairError, ParamError};
pub use game::{play, Game, GameParams, Settlement};
pub use games::dice::{DiceParams, Direction};
pub use games::flip::{FlipParams, Side};
pub use games::keno::{KenoParams, KenoRisk};
pub use games::limbo::LimboParams;
pub use games::mines::{cashout_multiplier, mine_positions, mines_multiplier, MinesParams};
pub use games::plinko::{PlinkoParams, PlinkoRisk};
pub use games::roulette::{BetKind, RouletteBet, RouletteParams};
pub use multiplier::Multiplier;
pub use rtp::{simulate, theoretical_rtp, Simulation};
pub use stream::{server_seed_hash, Floats};
pub use verify::verify_json;

/// The default house edge: 1 % (100 basis points).
pub const DEFAULT_EDGE_BPS: u32 = 100;
/// Largest configurable house edge (10 %).
pub const MAX_EDGE_BPS: u32 = 1_000;

/// Rejects an edge outside 0..=10 %.
pub fn check_edge(edge_bps: u32) -> Result<(), ParamError> {
    if edge_bps > MAX_EDGE_BPS {
        return Err(ParamError::new(
            "edge_bps",
            format!(
                "house edge must be between 0 and {MAX_EDGE_BPS} basis points (got {edge_bps})"
            ),
        ));
    }
    Ok(())
}

/// `1 − edge` as the f64 used by the float formulas (limbo, crash). For 100 bps this
/// is exactly the double nearest 0.99, i.e. the published constant.
pub(crate) fn edge_factor(edge_bps: u32) -> f64 {
    (10_000 - edge_bps.min(10_000)) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_edge_factor_is_the_published_constant() {
        assert_eq!(super::edge_factor(100), 0.99);
        assert_eq!(super::edge_factor(0), 1.0);
    }
}
