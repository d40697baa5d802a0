//! Money is an `i64` count of minor units tagged with a currency code — never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A currency code: 2–10 ASCII upper-case letters or digits (e.g. `CHIP`, `USD`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode {
    len: u8,
    bytes: [u8; 10],
}

impl CurrencyCode {
    pub const MAX_LEN: usize = 10;

    /// Parses a code; `None` if it is not 2–10 characters of `[A-Z0-9]`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 2
            || b.len() > Self::MAX_LEN
            || !b
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return None;
        }
        let mut bytes = [0u8; 10];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("ascii")
    }
}

impl fmt::Debug for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str())
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CurrencyCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CurrencyCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CurrencyCode::parse(&s).ok_or_else(|| {
            serde::de::Error::custom("currency code must be 2-10 characters of A-Z or 0-9")
        })
    }
}

/// A configured currency: its code and how many decimal places its minor unit has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    pub code: CurrencyCode,
    /// Minor-unit exponent: 2 means 100 minor units make one major unit.
    pub exponent: u8,
}

/// The most one wallet may hold, in minor units (10^17): far above any real
/// need (an admin adjustment is at most 10^15), far below `i64::MAX` (~9.2 ·
/// 10^18), so a balance plus any one credit the API accepts cannot overflow.
/// Every credit that would pass it is refused with
/// [`StoreError::BalanceLimit`](crate::StoreError::BalanceLimit), on every
/// backend, before anything is written. Wallets together may still pass
/// `i64::MAX` (93 full ones do): the audit sums in `i128`.
pub const MAX_BALANCE: i64 = 100_000_000_000_000_000;

/// Whether a wallet holding `balance` may take `change` (a signed amount)
/// without passing [`MAX_BALANCE`]. Debits always may (funds are checked
/// apart).
pub fn within_ceiling(balance: i64, change: i64) -> bool {
    change <= 0
        || balance
            .checked_add(change)
            .is_some_and(|b| b <= MAX_BALANCE)
}

/// An amount in minor units of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub currency: CurrencyCode,
    pub amount: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(CurrencyCode::parse("CHIP").unwrap().as_str(), "CHIP");
        assert_eq!(CurrencyCode::parse("USDT0").unwrap().to_string(), "USDT0");
        for bad in ["", "C", "chip", "TOOLONGCODE", "US D", "€UR"] {
            assert!(CurrencyCode::parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn the_ceiling_admits_credits_up_to_max_balance_only() {
        assert!(within_ceiling(0, MAX_BALANCE));
        assert!(within_ceiling(MAX_BALANCE - 5, 5));
        assert!(!within_ceiling(MAX_BALANCE - 5, 6));
        assert!(!within_ceiling(0, MAX_BALANCE + 1));
        assert!(!within_ceiling(i64::MAX, 1), "no overflow");
        assert!(within_ceiling(MAX_BALANCE, 0));
        assert!(within_ceiling(MAX_BALANCE, -1));
        assert!(
            MAX_BALANCE.checked_mul(93).is_none(),
            "93 full wallets pass i64"
        );
    }

    #[test]
    fn currency_codes_round_trip_through_json() {
        let c: CurrencyCode = serde_json::from_str("\"CHIP\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"CHIP\"");
        assert!(serde_json::from_str::<CurrencyCode>("\"chip\"").is_err());
    }
}
