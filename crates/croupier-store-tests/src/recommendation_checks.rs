//! Conformance checks of the recommendations' inbox-guarded projection:
//! play histories, co-play counts, bets per day.

use super::{new_player, now};
use chrono::Duration;
use croupier_core::events::*;
use croupier_core::ports::Store;
use croupier_core::recommendations::*;
use croupier_core::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const CONSUMER: &str = "recommendations";

fn bet(player: PlayerId, game: &str, at: chrono::DateTime<chrono::Utc>) -> SettledBetEvent {
    SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        at,
        bet: BetSettled {
            bet_id: uuid::Uuid::now_v7().to_string(),
            player_id: player,
            game: game.into(),
            currency: super::chip(),
            stake: 10,
            payout: 0,
            win: false,
            multiplier: 0.0,
            seed_pair_id: 1,
            nonce: 0,
        },
    }
}

/// Deterministic shuffle (xorshift): no RNG dependency, reproducible.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// What the projection must hold after `events` (each once), computed from
/// the sets of games each player played, not incrementally.
fn expected(events: &[SettledBetEvent], since: i64) -> RecommendationData {
    let mut sets: BTreeMap<PlayerId, BTreeSet<String>> = BTreeMap::new();
    let mut daily: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for e in events {
        sets.entry(e.bet.player_id)
            .or_default()
            .insert(e.bet.game.clone());
        *daily
            .entry((day_bucket(e.at), e.bet.game.clone()))
            .or_default() += 1;
    }
    let mut players: BTreeMap<String, i64> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
    for games in sets.values() {
        for a in games {
            *players.entry(a.clone()).or_default() += 1;
            for b in games.range::<String, _>((
                std::ops::Bound::Excluded(a.clone()),
                std::ops::Bound::Unbounded,
            )) {
                *pairs.entry((a.clone(), b.clone())).or_default() += 1;
            }
        }
    }
    RecommendationData {
        game_players: players.into_iter().collect(),
        co_play: pairs.into_iter().map(|((a, b), n)| (a, b, n)).collect(),
        daily_bets: daily
            .into_iter()
            .filter(|((day, _), _)| *day >= since)
            .map(|((day, g), n)| (g, day, n))
            .collect(),
    }
}

pub async fn recommendations_apply_each_event_once_per_consumer(store: Arc<dyn Store>) {
    let a = new_player(&*store, "reca").await;
    let b = new_player(&*store, "recb").await;
    let t = now();
    let yesterday = t - Duration::days(1);
    let e1 = bet(a.id, "dice", yesterday);
    let e2 = bet(a.id, "keno", t);
    let e3 = bet(a.id, "dice", t);
    let e4 = bet(b.id, "dice", t);
    let apply = |batch: Vec<SettledBetEvent>| {
        let store = store.clone();
        async move {
            store
                .apply_recommendation_bets(CONSUMER, &batch, t)
                .await
                .unwrap()
        }
    };
    // Newest first: last_played must not depend on arrival order.
    assert_eq!(apply(vec![e3.clone(), e2.clone()]).await, 2);
    assert_eq!(apply(vec![e1.clone(), e2.clone(), e1.clone()]).await, 1);
    assert_eq!(apply(vec![e4.clone(), e4.clone(), e3.clone()]).await, 1);
    assert_eq!(apply(vec![]).await, 0);
    // Another consumer's inbox is separate: the same events apply to stats.
    assert_eq!(
        store
            .apply_settled_bets("stats", &[e1.clone(), e2.clone()], t)
            .await
            .unwrap(),
        2
    );

    assert_eq!(
        store.played_games(a.id).await.unwrap(),
        vec![
            PlayedGame {
                game: "dice".into(),
                bets: 2,
                last_played: t,
            },
            PlayedGame {
                game: "keno".into(),
                bets: 1,
                last_played: t,
            },
        ]
    );
    assert!(store
        .played_games(PlayerId::new())
        .await
        .unwrap()
        .is_empty());
    let all = [e1.clone(), e2.clone(), e3.clone(), e4.clone()];
    let since = t - Duration::days(30);
    let data = store.recommendation_data(since).await.unwrap();
    assert_eq!(data, expected(&all, day_bucket(since)));
    assert_eq!(data.co_play, vec![("dice".into(), "keno".into(), 1)]);
    assert_eq!(
        data.game_players,
        vec![("dice".into(), 2), ("keno".into(), 1)]
    );
    // Only days from the one holding `since`.
    let today = store.recommendation_data(t).await.unwrap();
    assert_eq!(today.daily_bets, expected(&all, day_bucket(t)).daily_bets);
    assert!(today
        .daily_bets
        .iter()
        .all(|(_, day, _)| *day == day_bucket(t)));

    // Reset empties the projection and this consumer's inbox only.
    assert_eq!(store.reset_recommendations(CONSUMER).await.unwrap(), 4);
    assert_eq!(
        store.recommendation_data(since).await.unwrap(),
        RecommendationData::default()
    );
    assert!(store.played_games(a.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .apply_settled_bets("stats", std::slice::from_ref(&e1), t)
            .await
            .unwrap(),
        0
    );
    // A replay after the reset rebuilds the same projection.
    assert_eq!(apply(all.to_vec()).await, 4);
    assert_eq!(
        store.recommendation_data(since).await.unwrap(),
        expected(&all, day_bucket(since))
    );
}

pub async fn co_play_counts_are_exact_under_shuffled_duplicated_delivery(store: Arc<dyn Store>) {
    const GAMES: [&str; 5] = ["dice", "keno", "limbo", "mines", "plinko"];
    let t = now();
    let mut players = vec![];
    for i in 0..6 {
        players.push(new_player(&*store, &format!("coplayer{i}")).await.id);
    }
    // Player i plays a different subset of games, some several times, over
    // several days.
    let mut events = vec![];
    for (i, p) in players.iter().enumerate() {
        for (j, g) in GAMES.iter().enumerate() {
            if (i + j) % 2 == 0 || (i * j) % 4 == 1 {
                for k in 0..=(i % 3) {
                    events.push(bet(*p, g, t - Duration::days(((i + j + k) % 5) as i64)));
                }
            }
        }
    }
    let want = expected(&events, day_bucket(t - Duration::days(30)));
    assert!(want.co_play.len() >= 4, "the scenario has pairs: {want:?}");

    // Three handlers race, each delivering every event (some twice) in its
    // own order and batch sizes: each event must apply exactly once.
    let racers: Vec<_> = (0..3u64)
        .map(|r| {
            let store = store.clone();
            let mut mine = events.clone();
            mine.extend(events.iter().step_by(3).cloned());
            shuffle(&mut mine, 0x9e37_79b9_7f4a_7c15 ^ (r + 1));
            tokio::spawn(async move {
                let mut applied = 0;
                let mut rest = &mine[..];
                let mut size = 1 + r as usize;
                while !rest.is_empty() {
                    let n = size.min(rest.len());
                    applied += store
                        .apply_recommendation_bets(CONSUMER, &rest[..n], t)
                        .await
                        .unwrap();
                    rest = &rest[n..];
                    size = size % 7 + 1;
                }
                applied
            })
        })
        .collect();
    let mut applied = 0;
    for r in racers {
        applied += r.await.unwrap();
    }
    assert_eq!(applied, events.len() as u64);
    let got = store
        .recommendation_data(t - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(got, want);
    for p in &players {
        let played = store.played_games(*p).await.unwrap();
        let mut bets: BTreeMap<String, i64> = BTreeMap::new();
        for e in events.iter().filter(|e| e.bet.player_id == *p) {
            *bets.entry(e.bet.game.clone()).or_default() += 1;
        }
        let got: BTreeMap<String, i64> = played.into_iter().map(|g| (g.game, g.bets)).collect();
        assert_eq!(got, bets);
    }
}
