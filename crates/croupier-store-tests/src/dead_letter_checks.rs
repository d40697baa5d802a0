//! Conformance of the dead-letter store: put (and put again), page, filter,
//! get, delete, count.

use super::now;
use chrono::Duration;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

fn event(position: i64, event_type: &str) -> OutboxEvent {
    OutboxEvent {
        position,
        event_id: uuid::Uuid::new_v4(),
        event_type: event_type.into(),
        payload: serde_json::json!({"n": position, "nested": {"ok": true}}),
        created_at: now() - Duration::seconds(5),
        producer: "api-7".into(),
        traceparent: (position % 2 == 1)
            .then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
    }
}

pub async fn dead_letters_are_kept_paged_and_removed(store: Arc<dyn Store>) {
    assert_eq!(store.dead_letter_count().await.unwrap(), 0);
    let t = now();
    let (e1, e2, e3) = (
        event(1, "bet.settled"),
        event(2, "bet.settled"),
        event(3, "wallet.claimed"),
    );
    let a = store
        .dead_letter_put("stats", &e1, 3, "boom", t)
        .await
        .unwrap();
    let b = store
        .dead_letter_put("stats", &e2, 1, "bad payload", t)
        .await
        .unwrap();
    let c = store
        .dead_letter_put("missions", &e3, 10, "later", t)
        .await
        .unwrap();
    // The same event for another consumer is a dead letter of its own.
    let d = store
        .dead_letter_put("missions", &e1, 2, "other", t)
        .await
        .unwrap();
    assert!(a < b && b < c && c < d, "ids increase: {a} {b} {c} {d}");
    assert_eq!(store.dead_letter_count().await.unwrap(), 4);

    // Again for the same (consumer, event): one row, attempts summed.
    let later = t + Duration::seconds(60);
    assert_eq!(
        store
            .dead_letter_put("stats", &e1, 2, "boom again", later)
            .await
            .unwrap(),
        a
    );
    let got = store.dead_letter(a).await.unwrap().unwrap();
    assert_eq!(got.consumer, "stats");
    assert_eq!(got.event, e1, "the event comes back as delivered");
    assert_eq!(got.attempts, 5);
    assert_eq!(got.last_error, "boom again");
    assert_eq!((got.first_failed_at, got.last_failed_at), (t, later));
    assert_eq!(store.dead_letter_count().await.unwrap(), 4);

    // Pages, oldest first, and a consumer filter.
    let all = store.dead_letters(None, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![a, b, c, d]
    );
    let page = store.dead_letters(None, a, 2).await.unwrap();
    assert_eq!(page.iter().map(|l| l.id).collect::<Vec<_>>(), vec![b, c]);
    let missions = store.dead_letters(Some("missions"), 0, 100).await.unwrap();
    assert_eq!(
        missions.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![c, d]
    );
    assert!(store
        .dead_letters(Some("nobody"), 0, 100)
        .await
        .unwrap()
        .is_empty());

    assert!(store.dead_letter_delete(b).await.unwrap());
    assert!(!store.dead_letter_delete(b).await.unwrap(), "already gone");
    assert!(store.dead_letter(b).await.unwrap().is_none());
    assert_eq!(store.dead_letter_count().await.unwrap(), 3);
    store
        .dead_letter_audit(
            PlayerId::new(),
            a,
            serde_json::json!({"outcome": "applied"}),
            t,
        )
        .await
        .unwrap();
}
