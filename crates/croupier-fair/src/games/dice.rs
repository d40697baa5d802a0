//! Dice: `roll = floor(f · 10001) / 100` in 0.00..=100.00.
//!
//! RTP is computed exactly over the 10001 rolls taken as equally likely. The real
//! float has 2^32 values, so each roll has 429,446 or 429,447 of them: a relative
//! deviation below 3·10^-6, ignored here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ParamError;
use crate::fields::Fields;
use crate::multiplier::{two_decimals, Multiplier};
use crate::stream::Floats;

/// Number of equally likely rolls (0.00 to 100.00).
pub const ROLLS: u64 = 10_001;
/// Win chance bounds in hundredths of a percent (0.01 %..=98.00 %).
pub const MIN_CHANCE: u64 = 1;
pub const MAX_CHANCE: u64 = 9_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Over,
    Under,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiceParams {
    /// Two decimals, e.g. 50.5.
    pub target: f64,
    pub direction: Direction,
}

impl DiceParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["target", "direction"])?;
        let p = DiceParams {
            target: f.required("target")?,
            direction: f.required("direction")?,
        };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        self.win_chance().map(|_| ())
    }

    /// Target in hundredths (50.50 -> 5050).
    pub fn target_hundredths(&self) -> Result<u64, ParamError> {
        let t = two_decimals("target", self.target)?;
        if t > 10_000 {
            return Err(ParamError::new(
                "target",
                format!("must be between 0.00 and 100.00 (got {})", self.target),
            ));
        }
        Ok(t)
    }

    /// Win chance in hundredths of a percent: `100 − target` (over) or `target` (under).
    pub fn win_chance(&self) -> Result<u64, ParamError> {
        let t = self.target_hundredths()?;
        let chance = match self.direction {
            Direction::Over => 10_000 - t,
            Direction::Under => t,
        };
        if !(MIN_CHANCE..=MAX_CHANCE).contains(&chance) {
            return Err(ParamError::new(
                "target",
                format!(
                    "win chance must be between 0.01 % and 98.00 % (target {} {} gives {}.{:02} %)",
                    match self.direction {
                        Direction::Over => "over",
                        Direction::Under => "under",
                    },
                    self.target,
                    chance / 100,
                    chance % 100
                ),
            ));
        }
        Ok(chance)
    }

    /// Does `roll` (hundredths) win? Strict comparison: a roll equal to the target loses.
    pub fn wins(&self, roll: u64) -> Result<bool, ParamError> {
        let t = self.target_hundredths()?;
        Ok(match self.direction {
            Direction::Over => roll > t,
            Direction::Under => roll < t,
        })
    }

    /// The win multiplier; rejects a chance so high that, at this edge, a win would
    /// not pay more than the stake.
    pub fn multiplier(&self, edge_bps: u32) -> Result<Multiplier, ParamError> {
        let m = multiplier(self.win_chance()?, edge_bps);
        if m <= Multiplier::ONE {
            return Err(ParamError::new(
                "target",
                format!("win chance too high for a {edge_bps} bps house edge: a win would pay {m}"),
            ));
        }
        Ok(m)
    }

    /// Exact RTP: `chance/10001 · floor2((100 − edge%) / chance%)`; the winning rolls
    /// number exactly `chance` (in hundredths) for both directions.
    pub fn rtp(&self, edge_bps: u32) -> Result<f64, ParamError> {
        let chance = self.win_chance()?;
        let m = self.multiplier(edge_bps)?.hundredths();
        Ok((chance * m) as f64 / (ROLLS * 100) as f64)
    }
}

/// The roll in hundredths from one float. `f · 10001` is exact in f64 (the float has
/// 32 significant bits), so the floor is exact.
pub fn roll_from_float(f: f64) -> u64 {
    ((f * ROLLS as f64) as u64).min(ROLLS - 1)
}

pub fn roll(floats: &mut Floats<'_>) -> u64 {
    roll_from_float(floats.next_float())
}

/// `floor2((100 − edge%) / chance%)` = `floor(100 · (10000 − bps) / chance)` hundredths.
pub fn multiplier(chance_hundredths: u64, edge_bps: u32) -> Multiplier {
    Multiplier::floor_ratio(
        (10_000 - edge_bps.min(10_000)) as u128,
        chance_hundredths as u128,
    )
}
