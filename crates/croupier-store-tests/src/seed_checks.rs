//! Conformance of the revealed seed pairs' history: newest first, paged.

use super::new_player;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

fn seeds(name: &str) -> NewSeedPair {
    NewSeedPair {
        server_seed: format!("server-{name}"),
        server_seed_hash: format!("hash-{name}"),
        client_seed: format!("client-{name}"),
    }
}

pub async fn revealed_seed_pairs_page_newest_first(store: Arc<dyn Store>) {
    let p = new_player(&*store, "rotator").await;
    let mut revealed = Vec::new();
    for n in 0..5 {
        let (old, _) = store
            .rotate_seed_pair(p.id, seeds(&n.to_string()), super::now())
            .await
            .unwrap();
        revealed.extend(old.map(|o| o.id));
    }
    revealed.reverse();
    assert_eq!(
        revealed.len(),
        4,
        "the first rotation had nothing to reveal"
    );
    let page = |before: Option<i64>| store.revealed_seed_pairs(p.id, before, 3);
    let first = page(None).await.unwrap();
    assert_eq!(
        first.iter().map(|s| s.id).collect::<Vec<_>>(),
        revealed[..3]
    );
    assert!(
        first.iter().all(|s| s.revealed_at.is_some()),
        "never the active pair"
    );
    let rest = page(Some(first[2].id)).await.unwrap();
    assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), revealed[3..]);
    let other = new_player(&*store, "other").await;
    assert!(store
        .revealed_seed_pairs(other.id, None, 3)
        .await
        .unwrap()
        .is_empty());
}
