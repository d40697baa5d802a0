//! Coin flip: one float per flip, `f ≥ 0.5` is heads. A bet on `count` flips wins
//! only if every call matches and pays `floor2(0.99 · 2^count)`, capped at
//! [`Multiplier::MAX_PAYOUT`] (the cap binds only for 20 flips at 1 % edge).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ParamError;
use crate::fields::Fields;
use crate::multiplier::Multiplier;
use crate::stream::Floats;

pub const MAX_FLIPS: u8 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Heads,
    Tails,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Heads => "heads",
            Side::Tails => "tails",
        }
    }
}

fn one() -> u8 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlipParams {
    #[serde(default = "one")]
    pub count: u8,
    /// Required for a bet; verifiers may omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Side>>,
}

impl FlipParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let p = Self::parse(value)?;
        p.validate()?;
        Ok(p)
    }

    /// Parses and checks `count` only (what a verifier needs).
    pub(crate) fn parse(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["count", "choices"])?;
        let p = FlipParams {
            count: f.optional("count")?.unwrap_or(1),
            choices: f.optional("choices")?,
        };
        check_count(p.count)?;
        Ok(p)
    }

    /// Validation for a bet: `choices` must be present with exactly `count` entries.
    pub fn validate(&self) -> Result<(), ParamError> {
        check_count(self.count)?;
        match &self.choices {
            None => Err(ParamError::new("choices", "is required for a bet")),
            Some(c) if c.len() != self.count as usize => Err(ParamError::new(
                "choices",
                format!(
                    "must have exactly `count` = {} entries (got {})",
                    self.count,
                    c.len()
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    pub fn rtp(&self, edge_bps: u32) -> Result<f64, ParamError> {
        check_count(self.count)?;
        Ok(rtp(self.count, edge_bps))
    }
}

fn check_count(count: u8) -> Result<(), ParamError> {
    if !(1..=MAX_FLIPS).contains(&count) {
        return Err(ParamError::new(
            "count",
            format!("must be between 1 and 20 (got {count})"),
        ));
    }
    Ok(())
}

pub fn side_from_float(f: f64) -> Side {
    if f >= 0.5 {
        Side::Heads
    } else {
        Side::Tails
    }
}

pub fn flips(floats: &mut Floats<'_>, count: u8) -> Vec<Side> {
    (0..count)
        .map(|_| side_from_float(floats.next_float()))
        .collect()
}

/// `floor2((1 − edge) · 2^count)` = `floor((10000 − bps) · 2^count / 100)` hundredths, capped.
pub fn multiplier(count: u8, edge_bps: u32) -> Multiplier {
    let h = (10_000 - edge_bps.min(10_000)) as u128 * (1u128 << count.min(MAX_FLIPS)) / 100;
    Multiplier::from_hundredths(h as u64).capped()
}

/// Exact: one winning sequence out of `2^count`.
pub fn rtp(count: u8, edge_bps: u32) -> f64 {
    multiplier(count, edge_bps).as_f64() / (1u64 << count.min(MAX_FLIPS)) as f64
}
