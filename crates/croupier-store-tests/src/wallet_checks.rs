//! Conformance of wallets on the ledger: claims, adjustments, entries, concurrent
//! debits, and the event each change emits.

use super::{assert_audit_clean, chip, new_player, now};
use chrono::Duration;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

pub async fn claims_credit_once_per_period(store: Arc<dyn Store>) {
    let p = new_player(&*store, "claimer").await;
    let t = now();
    let cmd = |at| ClaimCommand {
        player_id: p.id,
        currency: chip(),
        amount: 100_000,
        period: Duration::hours(1),
        now: at,
    };
    let r = store.claim(cmd(t)).await.unwrap();
    assert_eq!(
        (r.amount, r.balance, r.next_claim_at),
        (100_000, 100_000, t + Duration::hours(1))
    );
    match store.claim(cmd(t + Duration::minutes(59))).await {
        Err(StoreError::ClaimNotReady { next_claim_at }) => {
            assert_eq!(next_claim_at, t + Duration::hours(1))
        }
        other => panic!("expected ClaimNotReady, got {other:?}"),
    }
    let r2 = store.claim(cmd(t + Duration::hours(1))).await.unwrap();
    assert_eq!(r2.balance, 200_000);
    assert_eq!(store.balances(p.id).await.unwrap(), vec![(chip(), 200_000)]);
    let report = assert_audit_clean(&*store).await;
    let c = &report.currencies[0];
    assert_eq!(
        (c.currency.as_str(), c.postings_sum, c.wallets_total),
        ("CHIP", 0, 200_000)
    );
    assert_eq!(
        c.system_accounts.get(system_account::FAUCET),
        Some(&-200_000)
    );
    assert_eq!((c.transactions, c.postings, c.wallets), (2, 4, 1));
}

pub async fn adjustments_never_drive_balances_negative(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "admin").await;
    let p = new_player(&*store, "adjusted").await;
    let adj = |amount: i64| AdjustCommand {
        player_id: p.id,
        currency: chip(),
        amount,
        reason: "test".into(),
        actor: admin.id,
        now: now(),
    };
    assert_eq!(store.adjust(adj(500)).await.unwrap().balance, 500);
    assert!(matches!(
        store.adjust(adj(-501)).await,
        Err(StoreError::InsufficientFunds)
    ));
    assert_eq!(store.adjust(adj(-500)).await.unwrap().balance, 0);
    assert!(matches!(
        store
            .adjust(AdjustCommand {
                player_id: PlayerId::new(),
                ..adj(1)
            })
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.balances(p.id).await.unwrap(), vec![(chip(), 0)]);
    let report = assert_audit_clean(&*store).await;
    assert_eq!(
        report.currencies[0]
            .system_accounts
            .get(system_account::ADJUSTMENTS),
        Some(&0)
    );
}

pub async fn wallet_entries_page_newest_first(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "pager-admin").await;
    let p = new_player(&*store, "pager").await;
    let other = new_player(&*store, "other").await;
    for i in 1..=5 {
        store
            .adjust(AdjustCommand {
                player_id: p.id,
                currency: chip(),
                amount: i * 10,
                reason: format!("r{i}"),
                actor: admin.id,
                now: now(),
            })
            .await
            .unwrap();
    }
    store
        .adjust(AdjustCommand {
            player_id: other.id,
            currency: chip(),
            amount: 7,
            reason: "other".into(),
            actor: admin.id,
            now: now(),
        })
        .await
        .unwrap();
    let first = store.wallet_entries(p.id, chip(), 2, None).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.amount).collect::<Vec<_>>(),
        vec![50, 40]
    );
    assert_eq!(first[0].balance_after, 150);
    assert_eq!(first[0].kind, txn_kind::ADMIN_ADJUSTMENT);
    assert_eq!(first[0].reference.as_deref(), Some("r5"));
    let rest = store
        .wallet_entries(p.id, chip(), 10, Some(first[1].posting_id))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.amount).collect::<Vec<_>>(),
        vec![30, 20, 10]
    );
    assert_eq!(rest.last().unwrap().balance_after, 10);
    let usd = CurrencyCode::parse("USD").unwrap();
    assert!(store
        .wallet_entries(p.id, usd, 10, None)
        .await
        .unwrap()
        .is_empty());
}

pub async fn outbox_receives_one_event_per_change_in_order(store: Arc<dyn Store>) {
    let start = store.outbox_after(0, 1000).await.unwrap().len();
    assert_eq!(start, 0, "fresh store has an empty outbox");
    let p = new_player(&*store, "evented").await;
    store
        .claim(ClaimCommand {
            player_id: p.id,
            currency: chip(),
            amount: 5,
            period: Duration::hours(1),
            now: now(),
        })
        .await
        .unwrap();
    // A refused command leaves no event behind.
    let _ = store
        .adjust(AdjustCommand {
            player_id: p.id,
            currency: chip(),
            amount: -6,
            reason: "x".into(),
            actor: p.id,
            now: now(),
        })
        .await
        .unwrap_err();
    let events = store.outbox_after(0, 1000).await.unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec![event_type::PLAYER_REGISTERED, event_type::WALLET_CLAIMED]
    );
    assert!(events[0].position < events[1].position);
    assert_eq!(events[1].payload["amount"], 5);
    assert_eq!(events[1].payload["player_id"], p.id.to_string());
    let after = store.outbox_after(events[0].position, 10).await.unwrap();
    assert_eq!(after, events[1..].to_vec());
}

/// Many concurrent debits race for one balance: exactly the affordable number
/// succeed, the balance never goes negative, and the ledger stays balanced.
pub async fn concurrent_debits_never_overdraw(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "racer-admin").await;
    let p = new_player(&*store, "racer").await;
    let adj = move |amount: i64| AdjustCommand {
        player_id: p.id,
        currency: chip(),
        amount,
        reason: "race".into(),
        actor: admin.id,
        now: now(),
    };
    store.adjust(adj(1_000)).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.adjust(adj(-30)).await })
        })
        .collect();
    let mut ok = 0;
    for t in futures::future::join_all(tasks).await {
        match t.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::InsufficientFunds) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(ok, 1_000 / 30);
    assert_eq!(
        store.balances(p.id).await.unwrap(),
        vec![(chip(), 1_000 - 30 * ok)]
    );
    assert_audit_clean(&*store).await;
}

// ---- games -----------------------------------------------------------------
