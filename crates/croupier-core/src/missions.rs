//! Missions: rules ("win 5 games in a day → 100.00 CHIP"), the period a bet
//! counts in, and what a settled bet adds to a rule's progress. Pure; the
//! `missions` consumer applies it through `MissionStore::apply_mission_bets`.
//!
//! Progress is a count, a sum or a set per (mission, player, period), so it
//! does not depend on the order events arrive in. The period is taken from
//! when the bet settled, never from when the event is processed, so a late
//! or redelivered event lands in the period it belongs to.

use crate::events::BetSettled;
use crate::money::CurrencyCode;
use crate::types::PlayerId;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Largest target or reward a rule may have: far below i64 overflow.
pub const MAX_MISSION_AMOUNT: i64 = 1_000_000_000_000_000;

/// What a mission counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionKind {
    /// Bets the game calls a win (of `game` if set).
    Wins,
    /// Σ stakes in `currency`, minor units (of `game` if set).
    Wagered,
    /// Different games played.
    DistinctGames,
}

/// The window progress accumulates over, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionPeriod {
    /// A calendar day.
    Day,
    /// An ISO week (Monday to Sunday).
    Week,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissionReward {
    pub currency: CurrencyCode,
    /// Minor units.
    pub amount: i64,
}

fn enabled_default() -> bool {
    true
}

/// One mission rule, from the config file or the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissionRule {
    /// Stable id (`[a-z0-9_-]`, 1–64): part of the reward's idempotency key.
    pub id: String,
    pub kind: MissionKind,
    /// Only bets of this game count (`wins`, `wagered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game: Option<String>,
    /// Only stakes in this currency count; required by `wagered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyCode>,
    /// Progress at which the reward is granted.
    pub target: i64,
    pub period: MissionPeriod,
    pub reward: MissionReward,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

/// What one settled bet does to one rule's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contribution {
    /// Nothing.
    None,
    /// Adds to the count or sum.
    Add(i64),
    /// Adds this game to the set (progress is the set's size).
    Game(String),
}

impl MissionRule {
    /// The win-5 mission the default config ships.
    pub fn default_win_5() -> Self {
        Self {
            id: "win-5".into(),
            kind: MissionKind::Wins,
            game: None,
            currency: None,
            target: 5,
            period: MissionPeriod::Day,
            reward: MissionReward {
                currency: CurrencyCode::parse("CHIP").expect("valid code"),
                amount: 10_000,
            },
            enabled: true,
        }
    }

    pub fn contribution(&self, bet: &BetSettled) -> Contribution {
        if self.game.as_ref().is_some_and(|g| g != &bet.game) {
            return Contribution::None;
        }
        if self.currency.is_some_and(|c| c != bet.currency) {
            return Contribution::None;
        }
        match self.kind {
            MissionKind::Wins if bet.win => Contribution::Add(1),
            MissionKind::Wins => Contribution::None,
            MissionKind::Wagered if bet.stake > 0 => Contribution::Add(bet.stake),
            MissionKind::Wagered => Contribution::None,
            MissionKind::DistinctGames => Contribution::Game(bet.game.clone()),
        }
    }

    /// Checks what does not depend on configuration; returns the offending
    /// field and why. (Whether currencies and games exist is the caller's.)
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !valid_mission_id(&self.id) {
            return Err((
                "id",
                "id must be 1-64 characters of a-z, 0-9, '-' or '_'".into(),
            ));
        }
        if !(1..=MAX_MISSION_AMOUNT).contains(&self.target) {
            return Err(("target", format!("target must be 1..={MAX_MISSION_AMOUNT}")));
        }
        if !(1..=MAX_MISSION_AMOUNT).contains(&self.reward.amount) {
            return Err((
                "reward.amount",
                format!("reward.amount must be 1..={MAX_MISSION_AMOUNT} minor units"),
            ));
        }
        match self.kind {
            MissionKind::Wagered if self.currency.is_none() => Err((
                "currency",
                "a wagered mission needs the currency whose stakes it sums".into(),
            )),
            MissionKind::DistinctGames if self.game.is_some() => Err((
                "game",
                "a distinct_games mission cannot be limited to one game".into(),
            )),
            _ => Ok(()),
        }
    }
}

pub fn valid_mission_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl MissionPeriod {
    /// The key of the period holding `at`: `2026-11-22` (day) or `2026-W47`
    /// (ISO week). With the mission and player it keys progress and rewards.
    pub fn key(self, at: DateTime<Utc>) -> String {
        match self {
            MissionPeriod::Day => at.format("%Y-%m-%d").to_string(),
            MissionPeriod::Week => {
                let w = at.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
        }
    }

    /// Start (inclusive) and end (exclusive) of the period holding `at`.
    pub fn bounds(self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = at.date_naive();
        let (first, len) = match self {
            MissionPeriod::Day => (day, Duration::days(1)),
            MissionPeriod::Week => (
                day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
                Duration::days(7),
            ),
        };
        let start = Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN));
        (start, start + len)
    }
}

/// The rules in force: the config's, each replaced by an admin rule of the
/// same id, plus the admin's own; ordered by id. Disabled ones included.
pub fn merge_rules(config: &[MissionRule], admin: &[MissionRule]) -> Vec<MissionRule> {
    let mut by_id: std::collections::BTreeMap<&str, &MissionRule> =
        config.iter().map(|r| (r.id.as_str(), r)).collect();
    for r in admin {
        by_id.insert(r.id.as_str(), r);
    }
    by_id.into_values().cloned().collect()
}

/// A reward just granted through the ledger: what its two events say, the
/// same from every backend.
pub struct Granted<'a> {
    pub rule: &'a MissionRule,
    pub player: PlayerId,
    pub period: &'a str,
    pub progress: i64,
    pub transaction_id: i64,
    /// The player's balance after the reward.
    pub balance: i64,
}

impl Granted<'_> {
    /// The `mission.completed` payload.
    pub fn completed(&self) -> serde_json::Value {
        serde_json::json!({
            "mission_id": self.rule.id, "player_id": self.player, "period": self.period,
            "progress": self.progress, "target": self.rule.target,
        })
    }

    /// The `reward.granted` payload.
    pub fn granted(&self) -> serde_json::Value {
        serde_json::json!({
            "mission_id": self.rule.id, "player_id": self.player, "period": self.period,
            "currency": self.rule.reward.currency, "amount": self.rule.reward.amount,
            "transaction_id": self.transaction_id, "balance": self.balance,
        })
    }
}

/// What a store does with a reward that would take the player's wallet past
/// [`MAX_BALANCE`](crate::money::MAX_BALANCE): it **skips** it, with this
/// warning. Nothing of the grant is written (no ledger entry, no reward
/// record, no events); the bet's progress still counts. As no reward is
/// recorded, the player's next bet that adds progress in the same period
/// tries the grant again, and gets it if the wallet has room by then.
///
/// Failing the grant instead would fail the consumer's whole batch, the same
/// way on every redelivery, until it was dead-lettered with the other
/// players' bets in it; capping it would pay an amount no rule says.
pub fn skipped_reward(rule: &MissionRule, player: PlayerId, period: &str) {
    tracing::warn!(
        mission = %rule.id, player = %player, period,
        currency = %rule.reward.currency, amount = rule.reward.amount,
        "mission reward skipped: the wallet would pass its balance ceiling"
    );
}

/// A player's progress in one mission and period, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissionProgress {
    pub mission_id: String,
    pub period: String,
    pub progress: i64,
    /// The reward for this (mission, player, period) was granted.
    pub rewarded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PlayerId;

    fn bet(game: &str, cur: &str, stake: i64, win: bool) -> BetSettled {
        BetSettled {
            bet_id: "b".into(),
            player_id: PlayerId::new(),
            game: game.into(),
            currency: CurrencyCode::parse(cur).unwrap(),
            stake,
            payout: if win { stake * 2 } else { 0 },
            win,
            multiplier: if win { 2.0 } else { 0.0 },
            seed_pair_id: 1,
            nonce: 0,
        }
    }

    #[test]
    fn periods_follow_the_utc_calendar() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 59).unwrap();
        assert_eq!(MissionPeriod::Day.key(t), "2026-11-22");
        assert_eq!(MissionPeriod::Week.key(t), "2026-W47");
        let (s, e) = MissionPeriod::Week.bounds(t);
        assert_eq!(s, Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap());
        assert_eq!(e, Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let next = t + Duration::seconds(1);
        assert_eq!(MissionPeriod::Day.key(next), "2026-11-23");
        assert_eq!(MissionPeriod::Week.key(next), "2026-W48");
        // ISO years: 2027-01-01 is a Friday of 2026's last week.
        let ny = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(MissionPeriod::Week.key(ny), "2026-W53");
    }

    #[test]
    fn contributions_respect_kind_and_filters() {
        let mut r = MissionRule::default_win_5();
        assert_eq!(
            r.contribution(&bet("dice", "CHIP", 10, true)),
            Contribution::Add(1)
        );
        assert_eq!(
            r.contribution(&bet("dice", "CHIP", 10, false)),
            Contribution::None
        );
        r.game = Some("keno".into());
        assert_eq!(
            r.contribution(&bet("dice", "CHIP", 10, true)),
            Contribution::None
        );
        r.game = None;
        r.kind = MissionKind::Wagered;
        r.currency = CurrencyCode::parse("GOLD");
        assert_eq!(
            r.contribution(&bet("dice", "CHIP", 10, true)),
            Contribution::None
        );
        assert_eq!(
            r.contribution(&bet("dice", "GOLD", 10, false)),
            Contribution::Add(10)
        );
        r.kind = MissionKind::DistinctGames;
        r.currency = None;
        assert_eq!(
            r.contribution(&bet("keno", "CHIP", 10, false)),
            Contribution::Game("keno".into())
        );
    }

    #[test]
    fn validation_names_the_field() {
        let ok = MissionRule::default_win_5();
        assert!(ok.validate().is_ok());
        let field = |f: fn(&mut MissionRule)| {
            let mut r = MissionRule::default_win_5();
            f(&mut r);
            r.validate().unwrap_err().0
        };
        assert_eq!(field(|r| r.id = "Win 5".into()), "id");
        assert_eq!(field(|r| r.target = 0), "target");
        assert_eq!(field(|r| r.reward.amount = -1), "reward.amount");
        assert_eq!(field(|r| r.kind = MissionKind::Wagered), "currency");
        assert_eq!(
            field(|r| {
                r.kind = MissionKind::DistinctGames;
                r.game = Some("dice".into());
            }),
            "game"
        );
    }

    #[test]
    fn admin_rules_replace_config_rules_by_id() {
        let base = MissionRule::default_win_5();
        let mut off = base.clone();
        off.enabled = false;
        let mut extra = base.clone();
        extra.id = "a-first".into();
        let merged = merge_rules(&[base], &[off.clone(), extra.clone()]);
        assert_eq!(merged, vec![extra, off]);
    }
}
