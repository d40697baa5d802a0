//! Keno: 40 squares, 10 drawn by draw-and-remove; the player picks 1..=10 squares and
//! is paid `table[risk][picks][hits]`.
//!
//! The tables are croupier's own: for each (risk, picks) payouts start at a first
//! paying hit count (later for higher risk) and grow geometrically to a fixed top
//! prize; the start value is solved for 99 % exact hypergeometric RTP, rounded to two
//! decimals and fine-tuned. Low risk pays something on common results (even zero hits
//! for 1–2 picks); high risk pays only near the top.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keno_tables::KENO_TABLES;
use super::{choose, draw_and_remove};
use crate::error::ParamError;
use crate::fields::Fields;
use crate::multiplier::Multiplier;
use crate::stream::Floats;

pub const SQUARES: u8 = 40;
pub const DRAWN: usize = 10;
pub const MAX_PICKS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KenoRisk {
    Classic,
    Low,
    Medium,
    High,
}

impl KenoRisk {
    pub const ALL: [KenoRisk; 4] = [
        KenoRisk::Classic,
        KenoRisk::Low,
        KenoRisk::Medium,
        KenoRisk::High,
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KenoParams {
    /// 1..=10 distinct squares in 1..=40.
    pub picks: Vec<u8>,
    pub risk: KenoRisk,
}

impl KenoParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["picks", "risk"])?;
        let p = KenoParams {
            picks: f.required("picks")?,
            risk: f.required("risk")?,
        };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        if self.picks.is_empty() || self.picks.len() > MAX_PICKS {
            return Err(ParamError::new(
                "picks",
                format!(
                    "must have between 1 and 10 squares (got {})",
                    self.picks.len()
                ),
            ));
        }
        for (i, &p) in self.picks.iter().enumerate() {
            if !(1..=SQUARES).contains(&p) {
                return Err(ParamError::new(
                    format!("picks[{i}]"),
                    format!("must be between 1 and 40 (got {p})"),
                ));
            }
            if self.picks[..i].contains(&p) {
                return Err(ParamError::new(
                    format!("picks[{i}]"),
                    format!("{p} is picked twice"),
                ));
            }
        }
        Ok(())
    }

    /// Bit `n` set for each picked square `n`.
    pub fn mask(&self) -> u64 {
        self.picks.iter().fold(0u64, |m, &p| m | 1 << p)
    }

    pub fn table(&self) -> Result<&'static [u32], ParamError> {
        self.validate()?;
        Ok(table(self.risk, self.picks.len()))
    }

    pub fn rtp(&self) -> Result<f64, ParamError> {
        self.validate()?;
        Ok(rtp(self.risk, self.picks.len()))
    }
}

/// Payout table in hundredths, indexed by hits (`picks + 1` entries).
/// Panics if `picks` is not 1..=10.
pub fn table(risk: KenoRisk, picks: usize) -> &'static [u32] {
    KENO_TABLES[risk as usize][picks - 1]
}

pub fn multiplier(risk: KenoRisk, picks: usize, hits: usize) -> Multiplier {
    Multiplier::from_hundredths(table(risk, picks)[hits] as u64)
}

/// The 10 drawn squares (1..=40) in draw order from 10 floats.
pub fn draw_from(floats: &[f64; DRAWN]) -> [u8; DRAWN] {
    let picks = draw_and_remove(SQUARES, floats);
    let mut out = [0u8; DRAWN];
    for (o, p) in out.iter_mut().zip(picks) {
        *o = p + 1;
    }
    out
}

pub fn draw(floats: &mut Floats<'_>) -> [u8; DRAWN] {
    draw_from(&floats.take_array())
}

pub fn hits(picks_mask: u64, drawn: &[u8]) -> usize {
    drawn
        .iter()
        .filter(|&&d| picks_mask & (1 << d) != 0)
        .count()
}

/// `P(h hits | p picks) = C(p, h) · C(40 − p, 10 − h) / C(40, 10)` as (numerator, denominator).
pub fn hit_probability(picks: usize, hits: usize) -> (u128, u128) {
    let p = picks as u64;
    let h = hits as u64;
    let num = if h > p || h > DRAWN as u64 {
        0
    } else {
        choose(p, h) * choose(SQUARES as u64 - p, DRAWN as u64 - h)
    };
    (num, choose(SQUARES as u64, DRAWN as u64))
}

/// Exact hypergeometric RTP of one (risk, picks) table.
pub fn rtp(risk: KenoRisk, picks: usize) -> f64 {
    let den = choose(SQUARES as u64, DRAWN as u64) * 100;
    let num: u128 = table(risk, picks)
        .iter()
        .enumerate()
        .map(|(h, &m)| hit_probability(picks, h).0 * m as u128)
        .sum();
    num as f64 / den as f64
}
