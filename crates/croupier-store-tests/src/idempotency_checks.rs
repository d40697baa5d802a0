//! Conformance of idempotency keys: replay, mismatch, and the lease of one in progress.

use super::now;
use chrono::Duration;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

pub async fn idempotency_keys_replay_mismatch_and_lease(store: Arc<dyn Store>) {
    let t = now();
    let lease = Duration::seconds(30);
    let begin = |key: &'static str, hash: u8, at| {
        let store = store.clone();
        async move {
            store
                .idempotency_begin("scope", key, [hash; 32], at, lease)
                .await
                .unwrap()
        }
    };
    assert_eq!(begin("k", 1, t).await, IdempotencyBegin::Started);
    assert_eq!(begin("k", 1, t).await, IdempotencyBegin::InProgress);
    assert_eq!(begin("k", 2, t).await, IdempotencyBegin::Mismatch);
    let resp = StoredResponse {
        status: 201,
        body: b"{\"ok\":true}".to_vec(),
    };
    store
        .idempotency_complete("scope", "k", resp.clone())
        .await
        .unwrap();
    assert_eq!(begin("k", 1, t).await, IdempotencyBegin::Replay(resp));
    assert_eq!(begin("k", 2, t).await, IdempotencyBegin::Mismatch);
    // Keys are per scope.
    assert_eq!(
        store
            .idempotency_begin("other", "k", [2; 32], t, lease)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // A released key starts afresh; an expired lease can be taken over.
    assert_eq!(begin("r", 1, t).await, IdempotencyBegin::Started);
    store.idempotency_release("scope", "r").await.unwrap();
    assert_eq!(begin("r", 1, t).await, IdempotencyBegin::Started);
    assert_eq!(
        begin("r", 1, t + Duration::seconds(29)).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin("r", 1, t + Duration::seconds(31)).await,
        IdempotencyBegin::Started
    );
}
