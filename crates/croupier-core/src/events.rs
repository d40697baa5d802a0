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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Payout multiplier, two decimals.
    pub multiplier: f64,
    /// With `nonce`: the bet's place in the player's sequence (a total order).
    pub seed_pair_id: i64,
    pub nonce: i64,
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
    /// `(seed_pair_id, nonce)`: orders a player's bets.
    pub fn seq(&self) -> BetSeq {
        (self.seed_pair_id, self.nonce)
    }

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
#[derive(Clone, Debug, PartialEq)]
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

/// A bet's place in its player's sequence: `(seed_pair_id, nonce)`.
pub type BetSeq = (i64, i64);

/// The win with the largest `amount` (payout − stake); ties go to the
/// earliest in the player's sequence, so the answer does not depend on the
/// order events arrive in.
#[derive(Clone, Debug, PartialEq)]
pub struct BiggestWin {
    pub bet_id: String,
    /// Payout − stake, minor units.
    pub amount: i64,
    pub multiplier: f64,
    /// When the bet settled.
    pub at: DateTime<Utc>,
    pub seq: BetSeq,
}

impl BiggestWin {
    /// The bet as a candidate, if it is a win.
    pub fn of(e: &SettledBetEvent) -> Option<Self> {
        (e.bet.result() == BetResult::Win).then(|| Self {
            bet_id: e.bet.bet_id.clone(),
            amount: e.bet.payout.saturating_sub(e.bet.stake),
            multiplier: e.bet.multiplier,
            at: e.at,
            seq: e.bet.seq(),
        })
    }

    /// Keeps the bigger of `best` and `self`.
    pub fn keep_best(self, best: &mut Option<BiggestWin>) {
        let better = match best {
            None => true,
            Some(b) => self.amount > b.amount || (self.amount == b.amount && self.seq < b.seq),
        };
        if better {
            *best = Some(self);
        }
    }
}

/// Win streaks over a player's bets in sequence order; a push or a loss ends
/// a streak. `last` is the latest bet applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streaks {
    pub last: Option<BetSeq>,
    pub current: i64,
    pub longest: i64,
}

impl Streaks {
    /// Applies a bet that comes after every bet applied so far (O(1)).
    /// Returns `false`, changing nothing, for one that does not (a late or
    /// repeated one): the caller recomputes with [`Streaks::of`].
    pub fn advance(&mut self, seq: BetSeq, win: bool) -> bool {
        if self.last.is_some_and(|last| seq <= last) {
            return false;
        }
        self.last = Some(seq);
        self.current = if win { self.current + 1 } else { 0 };
        self.longest = self.longest.max(self.current);
        true
    }

    /// The exact streaks of every bet, given in sequence order.
    pub fn of(bets: impl IntoIterator<Item = (BetSeq, bool)>) -> Self {
        Self::default().then(bets)
    }

    /// These streaks followed by `bets`, given in sequence order; a bet at
    /// or before `last` is already in them (or, below a pruned floor, can no
    /// longer be placed) and changes nothing.
    pub fn then(mut self, bets: impl IntoIterator<Item = (BetSeq, bool)>) -> Self {
        for (seq, win) in bets {
            self.advance(seq, win);
        }
        self
    }
}

/// Folds recorded bet results, given in sequence order per player, into the
/// floors of the win records they belong to (their game's and the
/// currency's across games): what pruning those rows leaves in their place,
/// so that `floor.then(rows after it)` stays the exact streaks. `P` is the
/// backend's player key.
pub fn fold_into_floors<P: Ord + Clone>(
    floors: &mut std::collections::BTreeMap<(P, String, String), Streaks>,
    rows: impl IntoIterator<Item = (P, String, String, BetSeq, bool)>,
) {
    for (player, currency, game, seq, win) in rows {
        for game in [game, String::new()] {
            let floor = floors
                .entry((player.clone(), currency.clone(), game))
                .or_default();
            *floor = floor.then([(seq, win)]);
        }
    }
}

/// What the statistics keep per player, currency and game beyond counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WinRecord {
    pub streaks: Streaks,
    pub biggest_win: Option<BiggestWin>,
}

impl WinRecord {
    /// Applies bets of one key, sorted by sequence. Returns `true` if one came
    /// out of order (at or before the last applied): the streaks are then
    /// stale and must be recomputed from every bet of the key.
    pub fn apply_sorted(&mut self, bets: &[&SettledBetEvent]) -> bool {
        let mut late = false;
        for e in bets {
            if let Some(w) = BiggestWin::of(e) {
                w.keep_best(&mut self.biggest_win);
            }
            late |= !self
                .streaks
                .advance(e.bet.seq(), e.bet.result() == BetResult::Win);
        }
        late
    }
}

/// A player's win record in one currency: in one game, or (`game: None`)
/// across all their games in that currency.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerWinRecord {
    pub currency: CurrencyCode,
    pub game: Option<String>,
    pub record: WinRecord,
}

/// The settled bets grouped by win-record key `(player, currency, game)`,
/// each bet under its game and under `""` (all games in the currency), each
/// group sorted by sequence.
pub fn win_record_groups<'a>(
    bets: impl IntoIterator<Item = &'a SettledBetEvent>,
) -> std::collections::BTreeMap<(PlayerId, String, String), Vec<&'a SettledBetEvent>> {
    let mut groups: std::collections::BTreeMap<_, Vec<_>> = std::collections::BTreeMap::new();
    for e in bets {
        let b = &e.bet;
        let cur = b.currency.as_str().to_owned();
        for game in [b.game.clone(), String::new()] {
            groups
                .entry((b.player_id, cur.clone(), game))
                .or_default()
                .push(e);
        }
    }
    for g in groups.values_mut() {
        g.sort_by_key(|e| e.bet.seq());
    }
    groups
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
            multiplier: payout as f64 / stake as f64,
            seed_pair_id: 1,
            nonce: 0,
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

    use proptest::prelude::*;

    /// Bet `i` of a sequence: 0 loss, 1 push, 2 win (paying `i` more, so
    /// amounts tie across equal `i % 3` only when the test wants it).
    fn nth(player: PlayerId, i: usize, kind: u8, gain: i64) -> SettledBetEvent {
        let (payout, win) = match kind {
            0 => (0, false),
            1 => (100, false),
            _ => (100 + gain, true),
        };
        SettledBetEvent {
            event_id: uuid::Uuid::from_u128(i as u128 + 1),
            at: DateTime::from_timestamp_millis(i as i64).unwrap(),
            bet: BetSettled {
                bet_id: format!("b{i}"),
                player_id: player,
                game: "dice".into(),
                currency: CurrencyCode::parse("CHIP").unwrap(),
                stake: 100,
                payout,
                win,
                multiplier: payout as f64 / 100.0,
                // Two seed pairs: the order is by pair, then nonce.
                seed_pair_id: (i / 7) as i64,
                nonce: (i % 7) as i64,
            },
        }
    }

    proptest! {
        /// Delivered in any order, in any batches, with repeats: the
        /// incremental record (recomputed from every bet when one is late)
        /// equals a straightforward pass over the bets in sequence order.
        #[test]
        fn win_records_do_not_depend_on_arrival_order(
            bets in prop::collection::vec((0u8..3, 0i64..4), 0..40),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
            cuts in prop::collection::vec(1usize..6, 1..20),
        ) {
            let player = PlayerId::new();
            let events: Vec<_> = bets.iter().enumerate().map(|(i, (k, g))| nth(player, i, *k, *g)).collect();
            // Every event once in a shuffled order, then repeats.
            let mut arrival: Vec<usize> = (0..events.len()).collect();
            for (i, ix) in order.iter().enumerate() {
                if events.is_empty() { break; }
                if i < arrival.len() {
                    let j = ix.index(arrival.len());
                    arrival.swap(i, j);
                } else {
                    arrival.push(ix.index(events.len()));
                }
            }
            let mut inbox = std::collections::HashSet::new();
            let mut stored: std::collections::BTreeMap<BetSeq, bool> = Default::default();
            let mut record = WinRecord::default();
            let mut rest = &arrival[..];
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let n = (*cut.next().unwrap()).min(rest.len());
                let fresh: Vec<&SettledBetEvent> = rest[..n].iter().map(|&i| &events[i]).filter(|e| inbox.insert(e.event_id)).collect();
                rest = &rest[n..];
                for e in &fresh {
                    stored.insert(e.bet.seq(), e.bet.win);
                }
                for (_, group) in win_record_groups(fresh.iter().copied()).into_iter().filter(|(k, _)| k.2 == "dice") {
                    if record.apply_sorted(&group) {
                        record.streaks = Streaks::of(stored.iter().map(|(s, w)| (*s, *w)));
                    }
                }
            }
            // Straightforward: in sequence order.
            let (mut cur, mut longest) = (0, 0);
            let mut best: Option<(i64, usize)> = None;
            for (i, e) in events.iter().enumerate() {
                if e.bet.win {
                    cur += 1;
                    let amount = e.bet.payout - e.bet.stake;
                    if best.is_none_or(|(a, _)| amount > a) { best = Some((amount, i)); }
                } else {
                    cur = 0;
                }
                longest = longest.max(cur);
            }
            prop_assert_eq!((record.streaks.current, record.streaks.longest), (cur, longest));
            prop_assert_eq!(record.streaks.last, events.last().map(|e| e.bet.seq()));
            prop_assert_eq!(record.biggest_win.map(|w| (w.amount, w.bet_id)), best.map(|(a, i)| (a, format!("b{i}"))));
        }

        /// Pruning a prefix of a player's results, in any number of steps,
        /// into the records' floors leaves streaks computed from the floor
        /// and the remaining rows equal to the streaks of every row.
        #[test]
        fn floors_plus_remaining_rows_give_the_exact_streaks(
            bets in prop::collection::vec((0usize..2, 0usize..2, any::<bool>()), 0..40),
            cuts in prop::collection::vec(0usize..40, 0..4),
        ) {
            let (games, currencies) = (["dice", "limbo"], ["CHIP", "GOLD"]);
            let rows: Vec<_> = bets.iter().enumerate()
                .map(|(i, (g, c, win))| (1u8, currencies[*c].to_string(), games[*g].to_string(), (0, i as i64), *win))
                .collect();
            let mut cuts = cuts;
            cuts.sort();
            let mut floors = std::collections::BTreeMap::new();
            let mut pruned = 0;
            // Sorted: each step prunes the rows after the previous cut.
            for cut in cuts.into_iter().map(|c| c.min(rows.len())) {
                fold_into_floors(&mut floors, rows[pruned..cut].iter().cloned());
                pruned = cut;
            }
            for (cur, game) in currencies.iter().flat_map(|c| ["dice", "limbo", ""].map(|g| (*c, g))) {
                let of_record = |r: &&(u8, String, String, BetSeq, bool)| r.1 == cur && (game.is_empty() || r.2 == game);
                let floor = floors.get(&(1u8, cur.to_string(), game.to_string())).copied().unwrap_or_default();
                let rest = rows[pruned..].iter().filter(of_record).map(|r| (r.3, r.4));
                let all = rows.iter().filter(of_record).map(|r| (r.3, r.4));
                prop_assert_eq!(floor.then(rest), Streaks::of(all));
            }
        }
    }
}
