//! European roulette (single zero): `pocket = floor(f · 37)`.
//!
//! Every bet pays `36 / numbers covered` including the stake, so every bet type has
//! RTP exactly 36/37 ≈ 97.30 %: roulette's edge (2.70 %) is fixed by the wheel and
//! does not follow the configurable house edge. Zero loses every outside bet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ParamError;
use crate::fields::Fields;
use crate::stream::Floats;

pub const POCKETS: u8 = 37;
pub const MAX_BETS: usize = 64;
/// Cap on the summed amounts so that 36 × total always fits in an i64.
pub const MAX_TOTAL_AMOUNT: i64 = i64::MAX / 36;
pub const RED: [u8; 18] = [
    1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetKind {
    Straight,
    Split,
    Street,
    Corner,
    #[serde(alias = "six_line")]
    Line,
    Red,
    Black,
    Odd,
    Even,
    Low,
    High,
    Dozen,
    Column,
}

impl BetKind {
    pub const ALL: [BetKind; 13] = [
        BetKind::Straight,
        BetKind::Split,
        BetKind::Street,
        BetKind::Corner,
        BetKind::Line,
        BetKind::Red,
        BetKind::Black,
        BetKind::Odd,
        BetKind::Even,
        BetKind::Low,
        BetKind::High,
        BetKind::Dozen,
        BetKind::Column,
    ];

    /// Payout multiplier including the stake.
    pub fn multiplier(self) -> i64 {
        match self {
            BetKind::Straight => 36,
            BetKind::Split => 18,
            BetKind::Street => 12,
            BetKind::Corner => 9,
            BetKind::Line => 6,
            BetKind::Dozen | BetKind::Column => 3,
            _ => 2,
        }
    }
}

/// One bet: `{"type": "split", "value": [17, 20], "amount": 100}`. `amount` is in
/// minor units; `value` depends on the type (absent for even-money bets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouletteBet {
    #[serde(rename = "type")]
    pub kind: BetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub amount: i64,
}

/// A validated bet: the pockets it covers (bit n = pocket n) and what it pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedBet {
    pub pockets: u64,
    pub multiplier: i64,
    pub amount: i64,
}

impl ResolvedBet {
    pub fn covers(&self, pocket: u8) -> bool {
        self.pockets & (1 << pocket) != 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouletteParams {
    pub bets: Vec<RouletteBet>,
}

impl RouletteParams {
    pub fn from_json(value: &Value) -> Result<Self, ParamError> {
        let f = Fields::new("", value, &["bets"])?;
        let raw: Vec<Value> = f.required("bets")?;
        let mut bets = Vec::with_capacity(raw.len());
        for (i, b) in raw.iter().enumerate() {
            let prefix = format!("bets[{i}]");
            let bf = Fields::new(&prefix, b, &["type", "value", "amount"])?;
            bets.push(RouletteBet {
                kind: bf.required("type")?,
                value: bf.raw("value").cloned(),
                amount: bf.required("amount")?,
            });
        }
        let p = RouletteParams { bets };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        self.resolve().map(|_| ())
    }

    /// Validates every bet and returns what each covers.
    pub fn resolve(&self) -> Result<Vec<ResolvedBet>, ParamError> {
        if self.bets.is_empty() || self.bets.len() > MAX_BETS {
            return Err(ParamError::new(
                "bets",
                format!(
                    "must contain between 1 and {MAX_BETS} bets (got {})",
                    self.bets.len()
                ),
            ));
        }
        let resolved = self
            .bets
            .iter()
            .enumerate()
            .map(|(i, b)| b.resolve(i))
            .collect::<Result<Vec<_>, _>>()?;
        let total = resolved
            .iter()
            .try_fold(0i64, |t, b| t.checked_add(b.amount));
        if !matches!(total, Some(t) if t <= MAX_TOTAL_AMOUNT) {
            return Err(ParamError::new("bets", "total amount is too large"));
        }
        Ok(resolved)
    }

    /// Sum of all bet amounts: the stake of the round.
    pub fn total_amount(&self) -> i64 {
        self.bets
            .iter()
            .map(|b| b.amount)
            .fold(0i64, i64::saturating_add)
    }

    /// Exact RTP of the bet set: amount-weighted, = 36/37 for any valid set.
    pub fn rtp(&self) -> Result<f64, ParamError> {
        let bets = self.resolve()?;
        let total: i128 = bets.iter().map(|b| b.amount as i128).sum();
        let expected: i128 = bets
            .iter()
            .map(|b| b.amount as i128 * b.multiplier as i128 * b.pockets.count_ones() as i128)
            .sum();
        Ok(expected as f64 / (total * POCKETS as i128) as f64)
    }
}

impl RouletteBet {
    pub fn resolve(&self, index: usize) -> Result<ResolvedBet, ParamError> {
        let field = |name: &str| format!("bets[{index}].{name}");
        if self.amount <= 0 {
            return Err(ParamError::new(
                field("amount"),
                format!("must be positive (got {})", self.amount),
            ));
        }
        let bad = |msg: String| ParamError::new(field("value"), msg);
        let number = || -> Result<u8, ParamError> {
            match &self.value {
                Some(Value::Number(n)) => n
                    .as_u64()
                    .filter(|&n| n <= 36)
                    .map(|n| n as u8)
                    .ok_or_else(|| bad(format!("must be a number between 0 and 36 (got {n})"))),
                Some(other) => Err(bad(format!("must be a number (got {other})"))),
                None => Err(bad("is required for this bet type".into())),
            }
        };
        let set = |ns: &[u8]| ns.iter().fold(0u64, |m, &n| m | 1 << n);
        let range =
            |lo: u8, hi: u8, step: usize| (lo..=hi).step_by(step).fold(0u64, |m, n| m | 1 << n);
        let pockets = match self.kind {
            BetKind::Straight => set(&[number()?]),
            BetKind::Split => {
                let pair: [u8; 2] = match &self.value {
                    Some(v @ Value::Array(_)) => {
                        serde_json::from_value(v.clone()).map_err(|_| {
                            bad(format!("must be two numbers, e.g. [17, 20] (got {v})"))
                        })?
                    }
                    Some(v) => {
                        return Err(bad(format!("must be two numbers, e.g. [17, 20] (got {v})")))
                    }
                    None => return Err(bad("is required for this bet type".into())),
                };
                let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
                if b > 36 || !adjacent(a, b) {
                    return Err(bad(format!("{a} and {b} are not adjacent on the table")));
                }
                set(&[a, b])
            }
            BetKind::Street => {
                let n = number()?;
                if n == 0 || n % 3 != 1 {
                    return Err(bad(format!(
                        "must be the first number of a row: 1, 4, …, 34 (got {n})"
                    )));
                }
                set(&[n, n + 1, n + 2])
            }
            BetKind::Corner => {
                let n = number()?;
                if n == 0 || n % 3 == 0 || n > 32 {
                    return Err(bad(format!(
                        "must be the smallest number of a 2×2 block: not in column 3, at most 32 (got {n})"
                    )));
                }
                set(&[n, n + 1, n + 3, n + 4])
            }
            BetKind::Line => {
                let n = number()?;
                if n == 0 || n % 3 != 1 || n > 31 {
                    return Err(bad(format!(
                        "must be the first number of a row: 1, 4, …, 31 (got {n})"
                    )));
                }
                range(n, n + 5, 1)
            }
            BetKind::Dozen | BetKind::Column => {
                let n = number()?;
                if !(1..=3).contains(&n) {
                    return Err(bad(format!("must be 1, 2 or 3 (got {n})")));
                }
                if self.kind == BetKind::Dozen {
                    range(12 * (n - 1) + 1, 12 * n, 1)
                } else {
                    range(n, 36, 3)
                }
            }
            outside => {
                if self.value.is_some() {
                    return Err(bad("is not allowed for this bet type".into()));
                }
                match outside {
                    BetKind::Red => set(&RED),
                    BetKind::Black => range(1, 36, 1) & !set(&RED),
                    BetKind::Odd => range(1, 35, 2),
                    BetKind::Even => range(2, 36, 2),
                    BetKind::Low => range(1, 18, 1),
                    _ => range(19, 36, 1), // High
                }
            }
        };
        Ok(ResolvedBet {
            pockets,
            multiplier: self.kind.multiplier(),
            amount: self.amount,
        })
    }
}

/// Adjacent on the layout (rows of three: 1-2-3, 4-5-6, …), including zero's
/// splits with 1, 2 and 3. Requires `a < b`.
pub fn adjacent(a: u8, b: u8) -> bool {
    match (a, b) {
        (0, 1..=3) => true,
        (0, _) => false,
        _ => b == a + 3 || (b == a + 1 && a % 3 != 0),
    }
}

pub fn pocket_from_float(f: f64) -> u8 {
    ((f * POCKETS as f64) as u8).min(POCKETS - 1)
}

pub fn pocket(floats: &mut Floats<'_>) -> u8 {
    pocket_from_float(floats.next_float())
}

/// Total paid (minor units) for `pocket`: Σ amount · multiplier over winning bets.
/// Cannot overflow for validated bets (total ≤ `MAX_TOTAL_AMOUNT`).
pub fn total_payout(bets: &[ResolvedBet], pocket: u8) -> i64 {
    bets.iter()
        .filter(|b| b.covers(pocket))
        .map(|b| b.amount * b.multiplier)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacency() {
        assert!(adjacent(1, 2) && adjacent(2, 3) && adjacent(1, 4) && adjacent(33, 36));
        assert!(adjacent(0, 2));
        assert!(!adjacent(3, 4) && !adjacent(1, 3) && !adjacent(0, 4) && !adjacent(1, 5));
    }

    #[test]
    fn coverage_counts() {
        let bet = |kind, value: Option<Value>| {
            RouletteBet {
                kind,
                value,
                amount: 1,
            }
            .resolve(0)
            .unwrap()
            .pockets
        };
        assert_eq!(bet(BetKind::Red, None).count_ones(), 18);
        assert_eq!(bet(BetKind::Black, None).count_ones(), 18);
        assert_eq!(bet(BetKind::Red, None) & bet(BetKind::Black, None), 0);
        assert_eq!(bet(BetKind::Column, Some(2.into())).count_ones(), 12);
        assert!(RouletteBet {
            kind: BetKind::Column,
            value: Some(3.into()),
            amount: 1
        }
        .resolve(0)
        .unwrap()
        .covers(36));
        assert_eq!(
            bet(BetKind::Corner, Some(32.into())),
            (1 << 32) | (1 << 33) | (1 << 35) | (1 << 36)
        );
        assert_eq!(bet(BetKind::Line, Some(31.into())).count_ones(), 6);
        for kind in [
            BetKind::Red,
            BetKind::Black,
            BetKind::Odd,
            BetKind::Even,
            BetKind::Low,
            BetKind::High,
        ] {
            assert!(bet(kind, None) & 1 == 0, "zero must lose {kind:?}");
        }
    }
}
