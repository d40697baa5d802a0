//! Game recommendations: what the `recommendations` consumer keeps (per-player
//! play histories, item-to-item co-play counts, bets per game and day) and
//! the ranking built from it. Pure: the API layer feeds it store rows.

use crate::events::SettledBetEvent;
use crate::types::PlayerId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const DAY_MS: i64 = 86_400_000;

/// Start (Unix ms) of the UTC day holding `t`: the popularity bucket.
pub fn day_bucket(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis().div_euclid(DAY_MS) * DAY_MS
}

/// How old, at `now_ms`, the bets of the day bucket starting at `day` are:
/// measured from the middle of the part of the day that has passed — a past
/// day's middle, or for today the middle of midnight..now, where an even
/// spread of today's bets so far would put them.
///
/// Measured from the middle of the whole day instead, today's bucket lay in
/// the future all morning: its age was clamped to 0 while older days aged,
/// so the same bets ranked differently at 03:00 and at 15:00, the morning
/// bending into the afternoon at noon. Here today ages from midnight on (at
/// half speed while it fills) and past days at full speed, so their ratios
/// never change, and a day's age is continuous across midnight (at 24:00 the
/// passed part is the whole day). Never negative: a bucket ahead of `now`
/// (clock skew) is age 0.
pub fn bucket_age_ms(day: i64, now_ms: i64) -> i64 {
    let passed = (now_ms - day).clamp(0, DAY_MS);
    (now_ms - (day + passed / 2)).max(0)
}

/// A game a player has played.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayedGame {
    pub game: String,
    pub bets: i64,
    pub last_played: DateTime<Utc>,
}

/// The platform-wide part, small whatever the number of players:
/// games + games² + games × days rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecommendationData {
    /// Distinct players per game, by game.
    pub game_players: Vec<(String, i64)>,
    /// Distinct players who played both games `(a, b)`, `a < b`, by pair.
    pub co_play: Vec<(String, String, i64)>,
    /// Bets per `(game, day start in Unix ms)`, by day then game.
    pub daily_bets: Vec<(String, i64, i64)>,
}

/// The new co-play pairs (`a < b`) when a player who had played `before`
/// plays `new` (games not in `before`, each once) for the first time: every
/// new game pairs with every game played before it. Which of two games came
/// first does not matter — the pair counts once either way — so counts are
/// exact whatever order events arrive in.
pub fn new_pairs(before: &[String], new: &[String]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut seen: Vec<&String> = before.iter().collect();
    for g in new {
        for h in &seen {
            if *h != g {
                let (a, b) = if *h < g { (*h, g) } else { (g, *h) };
                pairs.push((a.clone(), b.clone()));
            }
        }
        seen.push(g);
    }
    pairs
}

/// A batch of fresh (not yet applied) bets, summed for the store. Maps are
/// ordered so every handler writes rows in one key order (fewer lock-order
/// deadlocks on PostgreSQL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlayTally {
    /// Per (player, game): bets, latest settlement.
    pub plays: BTreeMap<(PlayerId, String), (i64, DateTime<Utc>)>,
    /// Per (day start in Unix ms, game): bets.
    pub daily: BTreeMap<(i64, String), i64>,
}

/// What a batch adds to the platform-wide counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoPlayDelta {
    /// Per game: players who played it for the first time.
    pub game_players: BTreeMap<String, i64>,
    /// Per pair `(a, b)`, `a < b`: players who now have played both.
    pub co_play: BTreeMap<(String, String), i64>,
}

impl PlayTally {
    pub fn add(&mut self, e: &SettledBetEvent) {
        let b = &e.bet;
        let play = self
            .plays
            .entry((b.player_id, b.game.clone()))
            .or_insert((0, e.at));
        play.0 += 1;
        play.1 = play.1.max(e.at);
        *self
            .daily
            .entry((day_bucket(e.at), b.game.clone()))
            .or_default() += 1;
    }

    pub fn players(&self) -> Vec<PlayerId> {
        let set: BTreeSet<PlayerId> = self.plays.keys().map(|(p, _)| *p).collect();
        set.into_iter().collect()
    }

    /// The deltas given the games each player had played before the batch
    /// (players absent from `before` had played none).
    pub fn co_play_delta(&self, before: &BTreeMap<PlayerId, Vec<String>>) -> CoPlayDelta {
        let mut new: BTreeMap<PlayerId, Vec<String>> = BTreeMap::new();
        for (player, game) in self.plays.keys() {
            let known = before.get(player).is_some_and(|g| g.contains(game));
            if !known {
                new.entry(*player).or_default().push(game.clone());
            }
        }
        let mut delta = CoPlayDelta::default();
        for (player, games) in &new {
            let prior = before.get(player).map(Vec::as_slice).unwrap_or(&[]);
            for g in games {
                *delta.game_players.entry(g.clone()).or_default() += 1;
            }
            for pair in new_pairs(prior, games) {
                *delta.co_play.entry(pair).or_default() += 1;
            }
        }
        delta
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Similar to games the player plays (item-to-item co-play cosine).
    CoPlay,
    /// No co-play signal: ranked by recency-decayed popularity.
    Popular,
    /// A player with no history, or no data at all: popularity if any, else
    /// catalog order.
    ColdStart,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub game: String,
    pub score: f64,
    pub reason: Reason,
    /// For `co_play`: the player's games that contributed most, best first.
    pub because: Vec<String>,
}

/// How many of the player's games `because` lists at most.
pub const MAX_BECAUSE: usize = 3;

/// The global model: similarities and popularity, built from
/// [`RecommendationData`]; cheap to keep in memory and share.
#[derive(Clone, Debug, Default)]
pub struct Model {
    similarity: HashMap<(String, String), f64>,
    /// Decayed popularity divided by the largest (0..=1).
    popularity: HashMap<String, f64>,
}

impl Model {
    /// Cosine similarity co(a,b) / sqrt(players(a) · players(b)); popularity
    /// Σ bets(day) · 2^(−age / half_life) (see [`bucket_age_ms`]),
    /// normalised to the most popular game.
    pub fn build(data: &RecommendationData, now: DateTime<Utc>, half_life_hours: u32) -> Self {
        let players: HashMap<&str, i64> = data
            .game_players
            .iter()
            .map(|(g, n)| (g.as_str(), *n))
            .collect();
        let mut similarity = HashMap::new();
        for (a, b, co) in &data.co_play {
            let (na, nb) = (players.get(a.as_str()), players.get(b.as_str()));
            if let (Some(&na), Some(&nb)) = (na, nb) {
                if na > 0 && nb > 0 && *co > 0 {
                    let s = (*co as f64 / ((na as f64) * (nb as f64)).sqrt()).min(1.0);
                    similarity.insert((a.clone(), b.clone()), s);
                }
            }
        }
        let half_life_ms = f64::from(half_life_hours.max(1)) * 3_600_000.0;
        let now_ms = now.timestamp_millis();
        let mut raw: BTreeMap<&str, f64> = BTreeMap::new();
        for (game, day, bets) in &data.daily_bets {
            let age = bucket_age_ms(*day, now_ms) as f64;
            *raw.entry(game.as_str()).or_default() += *bets as f64 * (-age / half_life_ms).exp2();
        }
        let top = raw.values().copied().fold(0.0, f64::max);
        let popularity = raw
            .into_iter()
            .filter(|_| top > 0.0)
            .map(|(g, p)| (g.to_owned(), p / top))
            .collect();
        Self {
            similarity,
            popularity,
        }
    }

    pub fn similarity(&self, a: &str, b: &str) -> f64 {
        let key = if a < b { (a, b) } else { (b, a) };
        self.similarity
            .get(&(key.0.to_owned(), key.1.to_owned()))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn popularity(&self, game: &str) -> f64 {
        self.popularity.get(game).copied().unwrap_or(0.0)
    }

    /// Ranks `catalog` (the enabled games, in catalog order) for a player
    /// who has `played`. Games the player has not played come first: those
    /// with a co-play signal (score = Σ sim(p, g) · w(p) / Σ w(p) over the
    /// player's games p, w = ln(1 + bets)), then the rest by popularity.
    /// Games already played follow, ranked the same way among themselves.
    /// A player with no history gets `cold_start`: by popularity, ties (and
    /// an empty platform) in catalog order.
    pub fn recommend(
        &self,
        catalog: &[&str],
        played: &[PlayedGame],
        limit: usize,
    ) -> Vec<Recommendation> {
        let weights: BTreeMap<&str, f64> = played
            .iter()
            .filter(|p| p.bets > 0)
            .map(|p| (p.game.as_str(), (p.bets as f64).ln_1p()))
            .collect();
        let mut ranked: Vec<(bool, u8, f64, usize, Recommendation)> = catalog
            .iter()
            .enumerate()
            .map(|(i, &game)| {
                let rec = if weights.is_empty() {
                    Recommendation {
                        game: game.to_owned(),
                        score: self.popularity(game),
                        reason: Reason::ColdStart,
                        because: vec![],
                    }
                } else {
                    self.score(game, &weights)
                };
                let tier = match rec.reason {
                    Reason::CoPlay => 0,
                    Reason::Popular => 1,
                    Reason::ColdStart => 2,
                };
                let score = rec.score;
                (weights.contains_key(game), tier, score, i, rec)
            })
            .collect();
        ranked.sort_by(|x, y| {
            (x.0, x.1)
                .cmp(&(y.0, y.1))
                .then(y.2.total_cmp(&x.2))
                .then(x.3.cmp(&y.3))
        });
        ranked
            .into_iter()
            .take(limit)
            .map(|(.., mut rec)| {
                // Four decimals: stable output, no spurious float noise.
                rec.score = (rec.score * 10_000.0).round() / 10_000.0;
                rec
            })
            .collect()
    }

    fn score(&self, game: &str, weights: &BTreeMap<&str, f64>) -> Recommendation {
        let mut total = 0.0;
        let mut contributions: Vec<(f64, &str)> = Vec::new();
        for (&p, &w) in weights {
            if p == game {
                continue;
            }
            total += w;
            let c = self.similarity(p, game) * w;
            if c > 0.0 {
                contributions.push((c, p));
            }
        }
        if total > 0.0 && !contributions.is_empty() {
            let score = contributions.iter().map(|(c, _)| c).sum::<f64>() / total;
            contributions.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(y.1)));
            return Recommendation {
                game: game.to_owned(),
                score,
                reason: Reason::CoPlay,
                because: contributions
                    .iter()
                    .take(MAX_BECAUSE)
                    .map(|(_, p)| (*p).to_owned())
                    .collect(),
            };
        }
        let popularity = self.popularity(game);
        Recommendation {
            game: game.to_owned(),
            score: popularity,
            // Nothing at all to go on (no bets in the window anywhere).
            reason: if popularity > 0.0 {
                Reason::Popular
            } else {
                Reason::ColdStart
            },
            because: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    /// A fixed time on a fixed day: no test may depend on when it runs.
    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, hour, minute, 0).unwrap()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn played(games: &[(&str, i64)]) -> Vec<PlayedGame> {
        games
            .iter()
            .map(|(g, n)| PlayedGame {
                game: (*g).to_owned(),
                bets: *n,
                last_played: DateTime::UNIX_EPOCH,
            })
            .collect()
    }

    const CATALOG: &[&str] = &[
        "dice", "limbo", "roulette", "flip", "plinko", "keno", "mines",
    ];

    #[test]
    fn new_pairs_are_the_same_in_any_order() {
        // A player plays dice, keno, mines: three pairs whatever the order.
        let mut all = vec![];
        for order in [
            ["dice", "keno", "mines"],
            ["mines", "dice", "keno"],
            ["keno", "mines", "dice"],
        ] {
            let mut pairs = vec![];
            let mut before: Vec<String> = vec![];
            for g in order {
                pairs.extend(new_pairs(&before, &s(&[g])));
                before.push(g.to_owned());
            }
            pairs.sort();
            all.push(pairs);
        }
        assert_eq!(all[0], all[1]);
        assert_eq!(all[0], all[2]);
        assert_eq!(all[0].len(), 3);
        // Several new at once equals one by one.
        let mut batch = new_pairs(&s(&["dice"]), &s(&["mines", "keno"]));
        batch.sort();
        assert_eq!(batch, all[0]);
    }

    fn event(player: u8, game: &str) -> SettledBetEvent {
        SettledBetEvent {
            event_id: uuid::Uuid::now_v7(),
            at: at(12, 0),
            bet: crate::events::BetSettled {
                bet_id: String::new(),
                player_id: PlayerId(uuid::Uuid::from_u128(u128::from(player))),
                game: game.to_owned(),
                currency: crate::CurrencyCode::parse("CHIP").unwrap(),
                stake: 1,
                payout: 0,
                win: false,
                multiplier: 0.0,
                seed_pair_id: 1,
                nonce: 0,
            },
        }
    }

    proptest::proptest! {
        /// Applying plays in any batches and order (what a store does with
        /// `co_play_delta`) yields the pairs of each player's set of games.
        #[test]
        fn co_play_deltas_are_exact_in_any_order_and_batching(
            plays in proptest::collection::vec((0u8..5, 0usize..7), 0..40),
            cuts in proptest::collection::vec(1usize..6, 1..10),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut events: Vec<_> = plays.iter().map(|(p, g)| event(*p, CATALOG[*g])).collect();
            // A deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..events.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                events.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut history: BTreeMap<PlayerId, Vec<String>> = BTreeMap::new();
            let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
            let mut players: BTreeMap<String, i64> = BTreeMap::new();
            let mut rest = &events[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                let mut tally = PlayTally::default();
                rest[..n].iter().for_each(|e| tally.add(e));
                let delta = tally.co_play_delta(&history);
                for (k, v) in delta.co_play { *pairs.entry(k).or_default() += v; }
                for (k, v) in delta.game_players { *players.entry(k).or_default() += v; }
                for (p, g) in tally.plays.keys() {
                    let h = history.entry(*p).or_default();
                    if !h.contains(g) { h.push(g.clone()); }
                }
                rest = &rest[n..];
            }
            let mut want_pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
            let mut want_players: BTreeMap<String, i64> = BTreeMap::new();
            let mut sets: BTreeMap<u8, BTreeSet<&str>> = BTreeMap::new();
            for (p, g) in &plays { sets.entry(*p).or_default().insert(CATALOG[*g]); }
            for set in sets.values() {
                for a in set {
                    *want_players.entry((*a).to_owned()).or_default() += 1;
                    for b in set { if a < b { *want_pairs.entry(((*a).to_owned(), (*b).to_owned())).or_default() += 1; } }
                }
            }
            proptest::prop_assert_eq!(pairs, want_pairs);
            proptest::prop_assert_eq!(players, want_players);
        }
    }

    #[test]
    fn cold_start_is_catalog_order_without_data_and_popularity_with() {
        let m = Model::build(&RecommendationData::default(), at(12, 0), 72);
        let r = m.recommend(CATALOG, &[], 10);
        assert_eq!(r.len(), 7);
        assert!(r
            .iter()
            .all(|x| x.reason == Reason::ColdStart && x.score == 0.0));
        let games: Vec<_> = r.iter().map(|x| x.game.as_str()).collect();
        assert_eq!(games, CATALOG);

        let now = at(3, 0);
        let data = RecommendationData {
            daily_bets: vec![("keno".into(), day_bucket(now), 5)],
            ..Default::default()
        };
        let m = Model::build(&data, now, 72);
        let r = m.recommend(CATALOG, &[], 2);
        assert_eq!(r[0].game, "keno");
        assert_eq!(r[0].score, 1.0);
        assert_eq!(r[1].game, "dice");
        assert_eq!(r[1].reason, Reason::ColdStart);
    }

    /// dice's popularity relative to keno's at `now`: 10 dice bets six days
    /// (two half-lives of 72 h) before 3 keno bets on `now`'s day.
    fn dice_against_keno(now: DateTime<Utc>) -> f64 {
        let today = day_bucket(now);
        let data = RecommendationData {
            daily_bets: vec![
                ("dice".into(), today - 6 * DAY_MS, 10),
                ("keno".into(), today, 3),
            ],
            ..Default::default()
        };
        let m = Model::build(&data, now, 72);
        assert_eq!(m.popularity("keno"), 1.0, "{now}");
        m.popularity("dice")
    }

    #[test]
    fn popularity_decays_with_a_half_life_at_any_time_of_day() {
        let mut last = f64::INFINITY;
        for (h, m) in [
            (0, 3),
            (6, 0),
            (11, 59),
            (12, 0),
            (12, 1),
            (18, 0),
            (23, 59),
        ] {
            let now = at(h, m);
            let dice = dice_against_keno(now);
            // dice ages from its day's middle, keno (today) from the middle
            // of the part of today that has passed: 6 d − 12 h + passed / 2.
            let passed_hours = f64::from(h) + f64::from(m) / 60.0;
            let gap_hours = 6.0 * 24.0 - 12.0 + passed_hours / 2.0;
            let want = 10.0 / 3.0 * (-gap_hours / 72.0).exp2();
            assert!((dice - want).abs() < 1e-12, "{now}: {dice} != {want}");
            // Two half-lives, less up to half a day: 2.5 < 3 bets, whatever the hour.
            assert!((10.0 / 3.0 / 4.0..0.94).contains(&dice), "{now}: {dice}");
            // Today's bets age all day long, smoothly (no turn at noon).
            assert!(dice < last, "{now}: {dice} after {last}");
            last = dice;
        }
        // No turn at noon: the same slope either side of it.
        let noon = |minutes: i64| dice_against_keno(at(12, 0) + Duration::minutes(minutes));
        let (morning, afternoon) = (noon(-1) - noon(0), noon(0) - noon(1));
        assert!(morning > 1e-5, "{morning}");
        assert!(
            (morning - afternoon).abs() < 1e-7,
            "{morning} then {afternoon}"
        );
        // Across midnight too: today's bucket becomes yesterday's at the
        // same age (the dice bucket is then a day further back, as is keno).
        let midnight = at(0, 0) + Duration::days(1);
        let before = dice_against_keno(midnight - Duration::milliseconds(1));
        let data = RecommendationData {
            daily_bets: vec![
                ("dice".into(), day_bucket(at(0, 0)) - 6 * DAY_MS, 10),
                ("keno".into(), day_bucket(at(0, 0)), 3),
            ],
            ..Default::default()
        };
        let after = Model::build(&data, midnight, 72).popularity("dice");
        assert!((before - after).abs() < 1e-6, "{before} then {after}");
        assert!(
            (after - 10.0 / 3.0 / 4.0).abs() < 1e-12,
            "two half-lives apart"
        );
    }

    #[test]
    fn a_bucket_ages_from_the_middle_of_its_passed_part() {
        let day = day_bucket(at(0, 0));
        let h = 3_600_000;
        assert_eq!(bucket_age_ms(day, day), 0);
        assert_eq!(bucket_age_ms(day, day + 3 * h), 3 * h / 2);
        assert_eq!(bucket_age_ms(day, day + DAY_MS), 12 * h);
        assert_eq!(bucket_age_ms(day, day + DAY_MS + 5 * h), 17 * h);
        assert_eq!(bucket_age_ms(day, day - h), 0, "a bucket ahead of now");
    }

    #[test]
    fn co_play_ranks_similar_unplayed_games_first() {
        // A and B play dice and keno, C plays dice: similarity 2/sqrt(3·2).
        let data = RecommendationData {
            game_players: vec![("dice".into(), 3), ("keno".into(), 2), ("mines".into(), 1)],
            co_play: vec![("dice".into(), "keno".into(), 2)],
            daily_bets: vec![("mines".into(), day_bucket(at(12, 0)), 50)],
        };
        let m = Model::build(&data, at(12, 0), 72);
        let r = m.recommend(CATALOG, &played(&[("dice", 4)]), 10);
        assert_eq!(r[0].game, "keno");
        assert_eq!(r[0].reason, Reason::CoPlay);
        assert_eq!(r[0].because, s(&["dice"]));
        assert!((r[0].score - 2.0 / 6f64.sqrt()).abs() < 1e-3);
        assert_eq!(r[1].game, "mines");
        assert_eq!(r[1].reason, Reason::Popular);
        // Played games last; no disabled ones (not in the catalog given).
        assert_eq!(r.last().map(|x| x.game.as_str()), Some("dice"));
        let r = m.recommend(&["dice", "mines"], &played(&[("dice", 4)]), 10);
        assert!(r.iter().all(|x| x.game != "keno"));
        assert_eq!(m.recommend(CATALOG, &[], 3).len(), 3);
    }
}
