//! What event consumers read and the projections they maintain.
//!
//! Events are delivered at least once (outbox relay) and applied exactly once
//! in effect: a consumer's store method records the event id in that
//! consumer's **inbox** in the same transaction as its effect, and skips ids
//! already there.

use crate::money::CurrencyCode;
use crate::types::PlayerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The fields of a `bet.settled` payload that consumers rely on (the payload
/// carries more; unknown fields are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetSettled {
    pub bet_id: String,
    pub player_id: PlayerId,
    pub game: String,
    pub currency: CurrencyCode,
    /// Minor units.
    pub stake: i64,
    /// Total returned to the player, minor units (0 on a loss).
    pub payout: i64,
    /// The game's own verdict (multiplier above 1×).
    pub win: bool,
}

/// How a settled bet counts in statistics. Every bet is exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BetResult {
    /// The game says it won.
    Win,
    /// Not a win, and the stake came back exactly (e.g. plinko's 1.0×).
    Push,
    /// Anything else.
    Loss,
}

impl BetSettled {
    pub fn result(&self) -> BetResult {
        if self.win {
            BetResult::Win
        } else if self.payout == self.stake {
            BetResult::Push
        } else {
            BetResult::Loss
        }
    }
}

/// A `bet.settled` event as a consumer hands it to the store: its id is the
/// inbox key, `at` is when the bet settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettledBetEvent {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub bet: BetSettled,
}

/// Aggregated results of many bets in one currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BetCounters {
    pub bets: i64,
    pub wins: i64,
    pub losses: i64,
    pub pushes: i64,
    /// Σ stakes, minor units.
    pub wagered: i64,
    /// Σ payouts, minor units.
    pub paid_out: i64,
}

impl BetCounters {
    /// Adds one bet.
    pub fn add(&mut self, bet: &BetSettled) {
        self.bets += 1;
        match bet.result() {
            BetResult::Win => self.wins += 1,
            BetResult::Push => self.pushes += 1,
            BetResult::Loss => self.losses += 1,
        }
        self.wagered = self.wagered.saturating_add(bet.stake);
        self.paid_out = self.paid_out.saturating_add(bet.payout);
    }

    /// Adds another aggregate.
    pub fn merge(&mut self, other: &BetCounters) {
        self.bets += other.bets;
        self.wins += other.wins;
        self.losses += other.losses;
        self.pushes += other.pushes;
        self.wagered = self.wagered.saturating_add(other.wagered);
        self.paid_out = self.paid_out.saturating_add(other.paid_out);
    }

    /// Paid out minus wagered: the player's result.
    pub fn net(&self) -> i64 {
        self.paid_out.saturating_sub(self.wagered)
    }
}

/// One player's results in one game and currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerGameStats {
    pub currency: CurrencyCode,
    pub game: String,
    pub counters: BetCounters,
}

/// The start of the UTC hour holding `t`, in Unix milliseconds: the bucket
/// key of per-game statistics.
pub fn hour_bucket(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis().div_euclid(3_600_000) * 3_600_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bet(stake: i64, payout: i64, win: bool) -> BetSettled {
        BetSettled {
            bet_id: "b".into(),
            player_id: PlayerId::new(),
            game: "dice".into(),
            currency: CurrencyCode::parse("CHIP").unwrap(),
            stake,
            payout,
            win,
        }
    }

    #[test]
    fn every_bet_is_exactly_one_of_win_push_loss() {
        assert_eq!(bet(100, 198, true).result(), BetResult::Win);
        // A multiplier above 1× that floors back to the stake is still a win.
        assert_eq!(bet(1, 1, true).result(), BetResult::Win);
        assert_eq!(bet(100, 100, false).result(), BetResult::Push);
        assert_eq!(bet(100, 50, false).result(), BetResult::Loss);
        assert_eq!(bet(100, 0, false).result(), BetResult::Loss);
        let mut c = BetCounters::default();
        for b in [
            bet(100, 198, true),
            bet(100, 100, false),
            bet(100, 0, false),
        ] {
            c.add(&b);
        }
        assert_eq!((c.bets, c.wins, c.pushes, c.losses), (3, 1, 1, 1));
        assert_eq!((c.wagered, c.paid_out, c.net()), (300, 298, -2));
    }

    #[test]
    fn hour_buckets_start_on_the_hour() {
        let t = DateTime::from_timestamp_millis(3_600_000 * 5 + 1234).unwrap();
        assert_eq!(hour_bucket(t), 3_600_000 * 5);
        let before_epoch = DateTime::from_timestamp_millis(-1).unwrap();
        assert_eq!(hour_bucket(before_epoch), -3_600_000);
    }
}
