//! Conformance checks of the ledger's limits: the audit sums exactly past
//! `i64::MAX` (many wallets together may hold more than one can).

use super::{assert_audit_clean, chip, new_player, now};
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

/// Sets up `n` wallets holding `amount - i` each (odd totals: a float sum
/// would show), through adjustments made concurrently.
async fn fill(store: &Arc<dyn Store>, n: i64, amount: i64) -> Vec<PlayerId> {
    let admin = new_player(&**store, "filler").await;
    let tasks = (0..n).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let p = new_player(&*store, &format!("rich{i}")).await;
            store
                .adjust(AdjustCommand {
                    player_id: p.id,
                    currency: chip(),
                    amount: amount - i,
                    reason: "fill".into(),
                    actor: admin.id,
                    now: now(),
                })
                .await
                .expect("adjust");
            p.id
        })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect()
}

/// 100 wallets of ~10^17 hold ~10^19 together, past i64::MAX (~9.2·10^18):
/// the audit stays clean and its sums are exact.
pub async fn audit_sums_are_exact_beyond_i64(store: Arc<dyn Store>) {
    const WALLETS: i64 = 100;
    const EACH: i64 = 100_000_000_000_000_000;
    fill(&store, WALLETS, EACH).await;
    let total: i128 = (0..WALLETS).map(|i| i128::from(EACH - i)).sum();
    assert!(total > i128::from(i64::MAX));
    let report = assert_audit_clean(&*store).await;
    let c = &report.currencies[0];
    assert_eq!(
        (c.currency.as_str(), c.postings_sum, c.wallets_total),
        ("CHIP", 0, total)
    );
    assert_eq!(
        c.system_accounts.get(system_account::ADJUSTMENTS),
        Some(&-total)
    );
    assert_eq!(
        (c.wallets, c.transactions, c.postings),
        (WALLETS as u64, WALLETS as u64, 2 * WALLETS as u64)
    );
    // And as JSON: plain integers, exact.
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        json.contains(&format!("\"wallets_total\":{total}")),
        "{json}"
    );
}
