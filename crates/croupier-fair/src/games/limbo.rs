//! Limbo: `m = floor(1e8 / (floor(f · 1e8) + 1) · 0.99 · 100) / 100`, at least 1.00.
//! The bet wins if `m ≥ target` and then pays exactly the target.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ParamError;
use crate::fields::Fields;
use crate::multiplier::{two_decimals, Multiplier};
use crate::stream::Floats;

pub const MIN_TARGET: u64 = 101; // 1.01
pub const MAX_TARGET: u64 = 100_000_000; // 1,000,000.00
const SCALE: f64 = 1e8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimboParams {
    /// Target multiplier, two decimals, 1.01..=1,000,000.00.
    pub target: f64,
}

impl LimboParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["target"])?;
        let p = LimboParams {
            target: f.required("target")?,
        };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        self.target_multiplier().map(|_| ())
    }

    pub fn target_multiplier(&self) -> Result<Multiplier, ParamError> {
        let t = two_decimals("target", self.target)?;
        if !(MIN_TARGET..=MAX_TARGET).contains(&t) {
            return Err(ParamError::new(
                "target",
                format!("must be between 1.01 and 1000000.00 (got {})", self.target),
            ));
        }
        Ok(Multiplier::from_hundredths(t))
    }

    pub fn rtp(&self, edge_bps: u32) -> Result<f64, ParamError> {
        Ok(rtp(self.target_multiplier()?, edge_bps))
    }
}

/// The limbo result for one float, evaluated in f64 in exactly the published order
/// so that it matches third-party (JavaScript) verifiers bit for bit.
pub fn outcome_from_float(f: f64, edge_bps: u32) -> Multiplier {
    outcome_from_k((f * SCALE).floor() as u64, edge_bps)
}

/// The result for `k = floor(f · 1e8)` (0..1e8), same f64 evaluation.
pub fn outcome_from_k(k: u64, edge_bps: u32) -> Multiplier {
    let x = (SCALE / (k as f64 + 1.0) * crate::edge_factor(edge_bps) * 100.0).floor();
    Multiplier::from_hundredths((x as u64).max(100))
}

pub fn outcome(floats: &mut Floats<'_>, edge_bps: u32) -> Multiplier {
    outcome_from_float(floats.next_float(), edge_bps)
}

/// Closed form. With `k = floor(f · 1e8)` uniform on 0..1e8, the result is
/// `floor(1e6 · (10000 − bps) / (k + 1))` hundredths, so `m ≥ T` iff
/// `k + 1 ≤ floor(1e6 · (10000 − bps) / T)`. RTP = that count / 1e8 · T.
///
/// When that quotient is exact, f64 rounding can put the boundary k just below T
/// (e.g. 41 of the 281 such targets under 10,000×); that k is then re-evaluated with
/// the real formula so the count matches the implementation exactly.
///
/// Ignored: the 2^32 float granularity (each k has 42 or 43 of the 2^32 floats), a
/// relative effect below 10^-7 on the win probability.
pub fn rtp(target: Multiplier, edge_bps: u32) -> f64 {
    let t = target.hundredths().max(1) as u128;
    let num = 1_000_000u128 * (10_000 - edge_bps.min(10_000)) as u128;
    let mut winners = (num / t).min(100_000_000) as u64;
    if num % t == 0
        && winners > 0
        && winners < 100_000_000
        && outcome_from_k(winners - 1, edge_bps) < target
    {
        winners -= 1;
    }
    (winners as u128 * t) as f64 / 1e10
}
