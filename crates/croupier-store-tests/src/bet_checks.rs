//! Conformance of bets: seed pairs, nonces, settlement and postings in one
//! transaction, refusals, idempotent bets, history, and game overrides.

use super::{assert_audit_clean, bet_cmd, chip, funded, new_player, now, place, seeds};
use chrono::Duration;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

pub async fn seed_pairs_commit_rotate_and_reveal(store: Arc<dyn Store>) {
    let p = new_player(&*store, "seeder").await;
    let a = store
        .active_seed_pair(p.id, seeds("a"), now())
        .await
        .unwrap();
    assert_eq!(
        (a.server_seed_hash.as_str(), a.nonce, a.revealed_at),
        ("hash-a", 0, None)
    );
    let again = store
        .active_seed_pair(p.id, seeds("zzz"), now())
        .await
        .unwrap();
    assert_eq!(again, a, "an existing active pair is kept");
    let (revealed, b) = store
        .rotate_seed_pair(p.id, seeds("b"), now())
        .await
        .unwrap();
    let revealed = revealed.unwrap();
    assert_eq!(revealed.id, a.id);
    assert!(revealed.revealed_at.is_some());
    assert_eq!((b.client_seed.as_str(), b.nonce), ("client-b", 0));
    let pairs = store.seed_pairs(p.id, 10).await.unwrap();
    assert_eq!(
        pairs.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![b.id, a.id],
        "active first"
    );
    // Rotation with no active pair just creates one.
    let q = new_player(&*store, "fresh-seeder").await;
    let (none, c) = store
        .rotate_seed_pair(q.id, seeds("c"), now())
        .await
        .unwrap();
    assert!(none.is_none());
    assert_eq!(c.server_seed_hash, "hash-c");
}

pub async fn bets_reserve_nonces_settle_and_post_atomically(store: Arc<dyn Store>) {
    let p = funded(&*store, "bettor", 1_000).await;
    let b0 = place(&*store, bet_cmd(p.id, 100)).await.unwrap();
    assert_eq!(
        (b0.nonce, b0.payout, b0.win, b0.balance),
        (0, 200, true, 1_100)
    );
    assert_eq!(b0.outcome["nonce_seen"], 0);
    assert_eq!(
        b0.outcome["seed"], "server-first",
        "settled with the active pair's seeds"
    );
    assert_eq!(b0.server_seed, None);
    let b1 = place(&*store, bet_cmd(p.id, 100)).await.unwrap();
    assert_eq!((b1.nonce, b1.payout, b1.balance), (1, 0, 1_000));
    assert_eq!(
        store
            .active_seed_pair(p.id, seeds("x"), now())
            .await
            .unwrap()
            .nonce,
        2
    );
    assert_eq!(store.balances(p.id).await.unwrap(), vec![(chip(), 1_000)]);
    let stored = store.bet(&b0.id).await.unwrap().unwrap();
    assert_eq!(stored, b0);
    // After rotation the bet shows its server seed.
    store
        .rotate_seed_pair(p.id, seeds("next"), now())
        .await
        .unwrap();
    assert_eq!(
        store
            .bet(&b0.id)
            .await
            .unwrap()
            .unwrap()
            .server_seed
            .as_deref(),
        Some("server-first")
    );
    let b2 = place(&*store, bet_cmd(p.id, 100)).await.unwrap();
    assert_eq!(
        (b2.nonce, b2.client_seed.as_str()),
        (0, "client-next"),
        "nonce restarts on a new pair"
    );
    let entries = store.wallet_entries(p.id, chip(), 10, None).await.unwrap();
    assert_eq!(entries[0].kind, txn_kind::BET);
    assert_eq!(entries[0].reference.as_deref(), Some(b2.id.as_str()));
    let report = assert_audit_clean(&*store).await;
    // The player netted +100, -100, +100: the house is down 100.
    assert_eq!(
        report.currencies[0]
            .system_accounts
            .get(system_account::HOUSE),
        Some(&-100)
    );
    let events: Vec<_> = store.outbox_after(0, 100).await.unwrap();
    let settled: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == event_type::BET_SETTLED)
        .collect();
    assert_eq!(settled.len(), 3);
    assert_eq!(settled[0].payload["bet_id"], b0.id);
    assert!(store.bet("no-such-bet").await.unwrap().is_none());
}

pub async fn refused_bets_change_nothing(store: Arc<dyn Store>) {
    let p = funded(&*store, "refused", 100).await;
    let err = place(&*store, bet_cmd(p.id, 101)).await.unwrap_err();
    assert!(matches!(err, StoreError::InsufficientFunds), "{err:?}");
    // A settlement that fails (e.g. payout over the cap) rolls everything back.
    let mut cmd = bet_cmd(p.id, 10);
    cmd.settle = Box::new(|_| Err(StoreError::Internal("payout over cap".into())));
    assert!(matches!(
        place(&*store, cmd).await,
        Err(StoreError::Internal(m)) if m == "payout over cap"
    ));
    let pair = store
        .active_seed_pair(p.id, seeds("x"), now())
        .await
        .unwrap();
    assert_eq!(pair.nonce, 0, "refused bets consume no nonce");
    assert_eq!(store.balances(p.id).await.unwrap(), vec![(chip(), 100)]);
    assert!(store
        .bets(
            p.id,
            BetQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());
    let ok = place(&*store, bet_cmd(p.id, 100)).await.unwrap();
    assert_eq!(ok.nonce, 0);
    assert_audit_clean(&*store).await;
}

fn idem(key: &str, fp: u8) -> IdempotentCommand {
    IdempotentCommand {
        scope: "player".into(),
        key: key.into(),
        fingerprint: [fp; 32],
        render: Box::new(|b: &BetRecord| StoredResponse {
            status: 201,
            body: b.id.as_bytes().to_vec(),
        }),
    }
}

pub async fn idempotent_bets_apply_once(store: Arc<dyn Store>) {
    let p = funded(&*store, "idem-bettor", 1_000).await;
    let mut cmd = bet_cmd(p.id, 100);
    cmd.idempotency = Some(idem("k1", 1));
    let first = match store.place_bet(cmd).await.unwrap() {
        Idempotent::Done(b) => b,
        other => panic!("{other:?}"),
    };
    let mut again = bet_cmd(p.id, 100);
    again.idempotency = Some(idem("k1", 1));
    match store.place_bet(again).await.unwrap() {
        Idempotent::Earlier(IdempotencyBegin::Replay(r)) => {
            assert_eq!((r.status, r.body), (201, first.id.as_bytes().to_vec()))
        }
        other => panic!("expected a replay, got {other:?}"),
    }
    let mut different = bet_cmd(p.id, 50);
    different.idempotency = Some(idem("k1", 2));
    assert!(matches!(
        store.place_bet(different).await.unwrap(),
        Idempotent::Earlier(IdempotencyBegin::Mismatch)
    ));
    assert_eq!(
        store
            .bets(
                p.id,
                BetQuery {
                    limit: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.balances(p.id).await.unwrap(), vec![(chip(), 1_100)]);
    // The generic path sees the same record.
    assert!(matches!(
        store
            .idempotency_begin("player", "k1", [1; 32], now(), Duration::seconds(30))
            .await
            .unwrap(),
        IdempotencyBegin::Replay(_)
    ));
}

pub async fn concurrent_bets_use_contiguous_unique_nonces(store: Arc<dyn Store>) {
    let p = funded(&*store, "racer-bettor", 10_000).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { place(&*store, bet_cmd(p.id, 10)).await.unwrap() })
        })
        .collect();
    let bets: Vec<BetRecord> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut nonces: Vec<u64> = bets.iter().map(|b| b.nonce).collect();
    nonces.sort_unstable();
    assert_eq!(nonces, (0..100).collect::<Vec<_>>());
    let paid: i64 = bets.iter().map(|b| b.payout - b.stake).sum();
    assert_eq!(
        store.balances(p.id).await.unwrap(),
        vec![(chip(), 10_000 + paid)]
    );
    assert_audit_clean(&*store).await;
}

pub async fn bet_history_pages_newest_first(store: Arc<dyn Store>) {
    let p = funded(&*store, "historian", 1_000).await;
    let other = funded(&*store, "other-historian", 1_000).await;
    let mut ids = vec![];
    for i in 0..5 {
        let mut cmd = bet_cmd(p.id, 10);
        if i % 2 == 1 {
            cmd.game = "limbo".into();
        }
        ids.push(place(&*store, cmd).await.unwrap().id);
    }
    place(&*store, bet_cmd(other.id, 10)).await.unwrap();
    let q = |game: Option<&str>, limit, before: Option<BetCursor>| BetQuery {
        game: game.map(Into::into),
        limit,
        before,
    };
    let page = store.bets(p.id, q(None, 3, None)).await.unwrap();
    assert_eq!(
        page.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone(), ids[2].clone()]
    );
    let rest = store
        .bets(p.id, q(None, 3, Some(BetCursor::of(&page[2]))))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![ids[1].clone(), ids[0].clone()]
    );
    let limbo = store.bets(p.id, q(Some("limbo"), 10, None)).await.unwrap();
    assert_eq!(
        limbo.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![ids[3].clone(), ids[1].clone()]
    );
}

pub async fn game_overrides_are_stored_and_audited(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "game-admin").await;
    assert!(store.game_overrides().await.unwrap().is_empty());
    let o = GameOverride {
        game: "dice".into(),
        settings: serde_json::json!({ "enabled": false }),
        updated_at: now(),
    };
    store
        .set_game_override(o.clone(), admin.id, serde_json::json!({ "enabled": false }))
        .await
        .unwrap();
    let o2 = GameOverride {
        settings: serde_json::json!({ "enabled": true, "house_edge_bps": 200 }),
        ..o.clone()
    };
    store
        .set_game_override(
            o2.clone(),
            admin.id,
            serde_json::json!({ "house_edge_bps": 200 }),
        )
        .await
        .unwrap();
    assert_eq!(store.game_overrides().await.unwrap(), vec![o2]);
    let events = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == event_type::GAME_UPDATED)
            .count(),
        2
    );
}
