//! Retention: inbox records and idempotency keys past their age are deleted,
//! in bounded batches, and nothing younger, nothing of another consumer.

use crate::event_checks::settled;
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
