//! Retention: inbox records, the stats consumer's bet results and
//! idempotency keys past their age are deleted, in bounded batches, and
//! nothing younger, nothing of another consumer; win records stay exact.

use crate::event_checks::{apply_stats, at_seq, expected_record, settled, summary};
use crate::{new_player, now};
use chrono::{DateTime, Duration, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::ports::Store;
use croupier_core::{IdempotencyBegin, StoredResponse};
use std::sync::Arc;

/// A settled-bet event whose id was made at `at` (ids are UUIDv7).
fn made_at(mut e: SettledBetEvent, at: DateTime<Utc>) -> SettledBetEvent {
    let ms = at.timestamp_millis();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (ms / 1000) as u64,
        ((ms % 1000) * 1_000_000) as u32,
    );
    e.event_id = uuid::Uuid::new_v7(ts);
    e
}

pub async fn inbox_records_are_pruned_by_event_age(store: Arc<dyn Store>) {
    let p = new_player(&*store, "retained").await;
    let t = now();
    let apply = |consumer: &'static str, batch: Vec<SettledBetEvent>| {
        let store = store.clone();
        async move { store.apply_settled_bets(consumer, &batch, t).await.unwrap() }
    };
    let old: Vec<_> = (0..3)
        .map(|i| {
            made_at(
                settled(p.id, "dice", 10, 0, false),
                t - Duration::hours(2 + i),
            )
        })
        .collect();
    let young = made_at(
        settled(p.id, "dice", 10, 0, false),
        t - Duration::minutes(1),
    );
    let mut all = old.clone();
    all.push(young.clone());
    assert_eq!(apply("stats", all.clone()).await, 4);
    assert_eq!(apply("other", vec![old[0].clone()]).await, 1);

    // Nothing is older than five hours; then at most `limit` per call.
    assert_eq!(
        store
            .inbox_prune("stats", t - Duration::hours(5), 100)
            .await
            .unwrap(),
        0
    );
    let cutoff = t - Duration::hours(1);
    assert_eq!(store.inbox_prune("stats", cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.inbox_prune("stats", cutoff, 100).await.unwrap(), 1);
    assert_eq!(store.inbox_prune("stats", cutoff, 100).await.unwrap(), 0);

    // The pruned records no longer deduplicate; the young one and the other
    // consumer's still do.
    assert_eq!(apply("stats", all).await, 3);
    assert_eq!(apply("other", vec![old[0].clone()]).await, 0);
    assert_eq!(store.inbox_prune("unknown", cutoff, 100).await.unwrap(), 0);
}

pub async fn idempotency_keys_are_pruned_by_age(store: Arc<dyn Store>) {
    let t = now();
    let lease = Duration::seconds(30);
    let begin = |key: &'static str, at: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .idempotency_begin("scope", key, [1; 32], at, lease)
                .await
                .unwrap()
        }
    };
    let day_ago = t - Duration::hours(25);
    for key in ["done-old", "abandoned-old", "held-old"] {
        assert_eq!(begin(key, day_ago).await, IdempotencyBegin::Started);
    }
    let resp = StoredResponse {
        status: 201,
        body: b"{}".to_vec(),
    };
    store
        .idempotency_complete("scope", "done-old", resp.clone())
        .await
        .unwrap();
    // A key first used long ago but still held (its lease taken over since).
    assert_eq!(begin("held-old", t).await, IdempotencyBegin::Started);
    assert_eq!(begin("done-new", t).await, IdempotencyBegin::Started);
    store
        .idempotency_complete("scope", "done-new", resp.clone())
        .await
        .unwrap();

    let cutoff = t - Duration::hours(24);
    assert_eq!(store.idempotency_prune(cutoff, 1).await.unwrap(), 1);
    assert_eq!(store.idempotency_prune(cutoff, 100).await.unwrap(), 1);
    assert_eq!(store.idempotency_prune(cutoff, 100).await.unwrap(), 0);
    // Pruned keys start afresh; the held and the young keys are untouched.
    assert_eq!(begin("done-old", t).await, IdempotencyBegin::Started);
    assert_eq!(begin("abandoned-old", t).await, IdempotencyBegin::Started);
    assert_eq!(begin("held-old", t).await, IdempotencyBegin::InProgress);
    assert_eq!(begin("done-new", t).await, IdempotencyBegin::Replay(resp));
}

/// The win records of `player` as (currency, game, summary), and what a
/// straight pass over `events` in sequence order gives.
async fn records_and_expected(
    store: &dyn Store,
    player: croupier_core::PlayerId,
    events: &[SettledBetEvent],
) -> (Vec<RecordSummary>, Vec<RecordSummary>) {
    let got = store.player_win_records(player).await.unwrap();
    let got = got.iter().map(|r| (r.game.clone(), summary(r))).collect();
    let mut sorted: Vec<&SettledBetEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.bet.seq());
    let want = [None, Some("dice"), Some("limbo")]
        .into_iter()
        .map(|game| {
            let of: Vec<_> = sorted
                .iter()
                .copied()
                .filter(|e| game.is_none_or(|g| e.bet.game == g))
                .collect();
            (game.map(String::from), expected_record(&of))
        })
        .collect();
    (got, want)
}

type RecordSummary = (Option<String>, (i64, i64, Option<(String, i64, f64)>));

/// The stats consumer's bet results of bets older than the cut are folded
/// into the win records' floors and deleted; streaks stay exact for every
/// event that arrives after the floor, in or out of order; an event below
/// the floor still counts, except in the streaks it can no longer be placed in.
pub async fn stats_bet_results_are_pruned_into_exact_floors(store: Arc<dyn Store>) {
    let apply = |batch: Vec<SettledBetEvent>| apply_stats(&*store, batch);
    let prune = |before: DateTime<Utc>| {
        let store = store.clone();
        async move { store.bet_results_prune(before, 100).await.unwrap() }
    };
    // Bet i settles i ms after the first; dice and limbo take turns.
    let p = new_player(&*store, "pruned").await;
    let kinds = [2, 2, 0, 2, 2, 2, 0, 2, 2, 2, 2, 0, 2];
    let e: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let game = ["dice", "limbo"][i % 2];
            at_seq(p.id, "CHIP", game, (7, i as i64), *k, i as i64)
        })
        .collect();
    // Another player's bets are all younger than any cut below.
    let q = new_player(&*store, "young").await;
    let young = at_seq(q.id, "CHIP", "dice", (1, 500), 2, 1);
    // Every bet up to 8 but 5 arrives, then the results of 0–4 are pruned.
    let first: Vec<_> = [0, 1, 2, 3, 4, 6, 7, 8].map(|i| e[i].clone()).into();
    assert_eq!(apply(first).await, 8);
    assert_eq!(apply(vec![young.clone()]).await, 1);
    assert_eq!(
        prune(e[0].at).await,
        0,
        "nothing is older than the first bet"
    );
    assert_eq!(prune(e[5].at).await, 5);
    assert_eq!(prune(e[5].at).await, 0);

    // 5 arrives late, after the floor: recomputed from the floor, exact.
    // Then 9–12 in order, and a pruned bet's redelivery (its inbox record
    // is kept), which changes nothing.
    assert_eq!(apply(vec![e[5].clone()]).await, 1);
    assert_eq!(apply(e[9..].to_vec()).await, 4);
    assert_eq!(apply(vec![e[0].clone()]).await, 0);
    let (got, want) = records_and_expected(&*store, p.id, &e).await;
    assert_eq!(got, want);

    // Everything of `p` pruned: the records do not change, and later bets
    // still continue them exactly.
    assert_eq!(prune(e[12].at + Duration::milliseconds(1)).await, 8);
    assert_eq!(records_and_expected(&*store, p.id, &e).await.0, got);
    let mut all = e.clone();
    all.push(at_seq(p.id, "CHIP", "limbo", (7, 13), 2, 0));
    all.push(at_seq(p.id, "CHIP", "dice", (7, 14), 2, 0));
    assert_eq!(apply(vec![all[14].clone(), all[13].clone()]).await, 2);
    let (got, want) = records_and_expected(&*store, p.id, &all).await;
    assert_eq!(got, want);

    // A bet from before the floor (an earlier seed pair) still counts and
    // can be the biggest win; the streaks it would fall in are left as they
    // were, as they can no longer be recomputed.
    let below = at_seq(p.id, "CHIP", "dice", (3, 0), 2, 1_000);
    assert_eq!(apply(vec![below.clone()]).await, 1);
    let records = store.player_win_records(p.id).await.unwrap();
    for (r, (_, (current, longest, _))) in records.iter().zip(&got) {
        let streaks = &r.record.streaks;
        assert_eq!((streaks.current, streaks.longest), (*current, *longest));
        let best = r.record.biggest_win.as_ref().unwrap();
        if r.game.as_deref() != Some("limbo") {
            assert_eq!(best.bet_id, below.bet.bet_id);
        }
    }
    let dice = store.player_stats(p.id).await.unwrap();
    let dice = dice.iter().find(|s| s.game == "dice").unwrap();
    assert_eq!(dice.counters.bets, 9);

    // What is left goes once it is old: `p`'s last three, and the other
    // player's one, which no cut so far reached.
    assert_eq!(prune(young.at + Duration::milliseconds(1)).await, 4);
}

/// A prune's limit cuts through a player's rows in any currency, and
/// pruning stays below a mines round still open: its result, written when
/// the round ends at the nonce it took when it opened, still finds its place.
pub async fn stats_bet_results_prune_spans_currencies_and_waits_for_open_rounds(
    store: Arc<dyn Store>,
) {
    let apply = |batch: Vec<SettledBetEvent>| apply_stats(&*store, batch);
    let later = now() + Duration::days(1);
    // Two currencies, pruned one row picked at a time.
    let p = new_player(&*store, "two-currencies").await;
    let cur = |i: i64| if i % 3 == 0 { "GOLD" } else { "CHIP" };
    let e: Vec<_> = (0..6)
        .map(|i| {
            at_seq(
                p.id,
                cur(i),
                "dice",
                (2, i),
                [2, 2, 0, 2][i as usize % 4],
                i,
            )
        })
        .collect();
    assert_eq!(apply(e.clone()).await, 6);
    let mut pruned = 0;
    for _ in 0..6 {
        let n = store.bet_results_prune(later, 1).await.unwrap();
        assert!(n >= 1 || pruned == 6, "a pick prunes at least itself");
        pruned += n;
    }
    assert_eq!(pruned, 6);
    let more = at_seq(p.id, "GOLD", "dice", (2, 6), 2, 0);
    assert_eq!(apply(vec![more.clone()]).await, 1);
    let records = store.player_win_records(p.id).await.unwrap();
    for r in &records {
        let of: Vec<&SettledBetEvent> = e
            .iter()
            .chain([&more])
            .filter(|x| x.bet.currency == r.currency)
            .collect();
        assert_eq!(summary(r), expected_record(&of), "{:?}", r.currency);
    }

    // A round open at (pair, 0); later bets of the same pair are old.
    let m = crate::funded(&*store, "open-round", 1_000).await;
    let round = store.open_mines(crate::open_cmd(m.id, 100)).await.unwrap();
    let (pair, first) = (round.seed_pair_id, round.nonce as i64);
    let after: Vec<_> = (1..3)
        .map(|i| at_seq(m.id, "CHIP", "dice", (pair, first + i), 2, i))
        .collect();
    assert_eq!(apply(after.clone()).await, 2);
    // `m`'s stay while the round is open, and do not stand in the way of
    // others: a pick of one row (`m`'s are older) still reaches `p`'s last.
    assert_eq!(store.bet_results_prune(later, 1).await.unwrap(), 1);
    assert_eq!(store.bet_results_prune(later, 100).await.unwrap(), 0);
    // The round ends; its result arrives after the later bets, and counts.
    let settle = crate::settle_mines(0, 0, false);
    store
        .mines_step(m.id, &round.id, settle, now())
        .await
        .unwrap();
    let result = at_seq(m.id, "CHIP", "dice", (pair, first), 0, 0);
    assert_eq!(apply(vec![result.clone()]).await, 1);
    assert_eq!(store.bet_results_prune(later, 100).await.unwrap(), 3);
    let dice = store.player_win_records(m.id).await.unwrap();
    let all: Vec<&SettledBetEvent> = [&result].into_iter().chain(&after).collect();
    assert_eq!(summary(&dice[0]), expected_record(&all));
    assert_eq!(
        (
            dice[0].record.streaks.current,
            dice[0].record.streaks.longest
        ),
        (2, 2)
    );
}
