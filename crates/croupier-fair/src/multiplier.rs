//! Two-decimal multipliers and the money arithmetic built on them.
//!
//! Money never touches binary floating point: a multiplier is an integer number of
//! hundredths and a payout is `floor(stake * hundredths / 100)` in 128-bit integers.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParamError;

/// An exact decimal multiplier with two decimals, stored as hundredths (`1.00` = 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Multiplier(u64);

impl Multiplier {
    pub const ZERO: Multiplier = Multiplier(0);
    pub const ONE: Multiplier = Multiplier(100);
    /// Largest multiplier any bet can pay (1,000,000.00×): the top limbo target, and the
    /// cap applied to flip and mines so that the platform has a single maximum win.
    pub const MAX_PAYOUT: Multiplier = Multiplier(100_000_000);

    pub const fn from_hundredths(hundredths: u64) -> Self {
        Multiplier(hundredths)
    }

    pub const fn hundredths(self) -> u64 {
        self.0
    }

    /// Parses a float that must have at most two decimals (e.g. a JSON `2.35`).
    pub fn from_decimal(value: f64) -> Option<Self> {
        hundredths_of(value).map(Multiplier)
    }

    /// `floor(100 * num / den)` hundredths, i.e. `num / den` floored to two decimals.
    /// Saturates instead of overflowing; `den == 0` yields `u64::MAX` hundredths.
    pub fn floor_ratio(num: u128, den: u128) -> Self {
        let h = num
            .checked_mul(100)
            .and_then(|n| n.checked_div(den))
            .unwrap_or(u128::MAX);
        Multiplier(u64::try_from(h).unwrap_or(u64::MAX))
    }

    /// The multiplier capped at [`Multiplier::MAX_PAYOUT`].
    pub fn capped(self) -> Self {
        self.min(Self::MAX_PAYOUT)
    }

    /// For display and statistics only; never use the result for money.
    pub fn as_f64(self) -> f64 {
        // Correctly rounded division: the nearest double to the two-decimal value,
        // so JSON renders it as e.g. `2.35`.
        self.0 as f64 / 100.0
    }

    /// Payout in minor units: `floor(stake * multiplier)`, exact.
    /// A non-positive stake pays nothing; results beyond `i64::MAX` saturate
    /// (unreachable for stakes up to 10^12 and multipliers up to 10^6).
    pub fn payout(self, stake_minor: i64) -> i64 {
        if stake_minor <= 0 {
            return 0;
        }
        // (2^63-1) * (2^64-1) < 2^128, so this cannot overflow.
        let p = stake_minor as u128 * self.0 as u128 / 100;
        i64::try_from(p).unwrap_or(i64::MAX)
    }
}

/// `value * 100` as an integer if `value` is a finite, non-negative number with at
/// most two decimals. The tolerance absorbs binary representation error only
/// (`1.13 * 100 = 112.99999999999999`), not a genuine third decimal.
pub fn hundredths_of(value: f64) -> Option<u64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let scaled = value * 100.0;
    if scaled > 9.0e15 {
        return None; // beyond 2^53: no longer exact
    }
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-7 {
        return None;
    }
    Some(rounded as u64)
}

/// Like [`hundredths_of`] but with an error naming `field`.
pub(crate) fn two_decimals(field: &str, value: f64) -> Result<u64, ParamError> {
    hundredths_of(value).ok_or_else(|| {
        ParamError::new(
            field,
            format!("must be a non-negative number with at most two decimals (got {value})"),
        )
    })
}

impl fmt::Display for Multiplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Multiplier {
    type Err = ParamError;

    /// Exact parse of `"12"`, `"12.3"` or `"12.34"` (no float round trip).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParamError::new(
                "multiplier",
                format!("`{s}` is not a decimal with at most two decimals"),
            )
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || frac.len() > 2
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let int: u64 = int.parse().map_err(|_| bad())?;
        let frac: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| bad())?
        };
        int.checked_mul(100)
            .and_then(|h| h.checked_add(frac))
            .map(Multiplier)
            .ok_or_else(bad)
    }
}

/// Serialized as a JSON number (`2.35`) because it is shown to players and verifiers.
impl Serialize for Multiplier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Multiplier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(deserializer)?;
        Multiplier::from_decimal(v).ok_or_else(|| {
            de::Error::custom(format!("{v} is not a multiplier with at most two decimals"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for h in [0u64, 1, 99, 100, 101, 235, 100_000_000] {
            let m = Multiplier::from_hundredths(h);
            assert_eq!(m.to_string().parse::<Multiplier>().unwrap(), m);
        }
        assert_eq!("2.3".parse::<Multiplier>().unwrap().hundredths(), 230);
        assert!("2.345".parse::<Multiplier>().is_err());
        assert!("-1".parse::<Multiplier>().is_err());
        assert!(".5".parse::<Multiplier>().is_err());
    }

    #[test]
    fn json_is_a_plain_number() {
        let m = Multiplier::from_hundredths(235);
        assert_eq!(serde_json::to_string(&m).unwrap(), "2.35");
        assert_eq!(serde_json::to_string(&Multiplier::ONE).unwrap(), "1.0");
        assert_eq!(serde_json::from_str::<Multiplier>("2.35").unwrap(), m);
        assert!(serde_json::from_str::<Multiplier>("2.355").is_err());
    }

    #[test]
    fn two_decimal_detection() {
        assert_eq!(hundredths_of(1.13), Some(113));
        assert_eq!(hundredths_of(50.5), Some(5050));
        assert_eq!(hundredths_of(1_000_000.0), Some(100_000_000));
        assert_eq!(hundredths_of(1.005), None);
        assert_eq!(hundredths_of(-0.01), None);
        assert_eq!(hundredths_of(f64::NAN), None);
    }

    #[test]
    fn payout_floors() {
        let m = Multiplier::from_hundredths(235);
        assert_eq!(m.payout(100), 235);
        assert_eq!(m.payout(1), 2); // 2.35 floored
        assert_eq!(m.payout(0), 0);
        assert_eq!(m.payout(-5), 0);
        assert_eq!(
            Multiplier::from_hundredths(u64::MAX).payout(i64::MAX),
            i64::MAX
        );
    }
}
