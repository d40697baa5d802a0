//! Conformance checks of the ledger's limits: no wallet passes
//! [`MAX_BALANCE`], whatever credits it (refused before anything is
//! written), and the audit sums exactly past `i64::MAX` (many wallets
//! together may hold more than one can).

use super::{
    assert_audit_clean, bet_cmd, chip, mission_rule, new_player, now, open_cmd, place, seeds,
    settled_bet,
};
use chrono::{TimeZone, Utc};
use croupier_core::events::SettledBetEvent;
use croupier_core::missions::*;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

/// Everything a refused credit must leave as it was.
#[derive(Debug, PartialEq)]
struct Trace {
    balances: Vec<(CurrencyCode, i64)>,
    entries: usize,
    postings: u64,
    events: usize,
    pairs: Vec<SeedPair>,
}

async fn trace(store: &dyn Store, p: PlayerId) -> Trace {
    let report = assert_audit_clean(store).await;
    Trace {
        balances: store.balances(p).await.unwrap(),
        entries: store
            .wallet_entries(p, chip(), 1000, None)
            .await
            .unwrap()
            .len(),
        postings: report.currencies.iter().map(|c| c.postings).sum(),
        events: store.outbox_after(0, 10_000).await.unwrap().len(),
        pairs: store.seed_pairs(p, 10).await.unwrap(),
    }
}

#[track_caller]
fn assert_limited<T: std::fmt::Debug>(r: StoreResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StoreError::BalanceLimit)),
        "{what}: expected BalanceLimit, got {r:?}"
    );
}

fn losing() -> Settle {
    Box::new(|_| {
        Ok(Outcome {
            payout: 0,
            multiplier: 0,
            win: false,
            detail: serde_json::json!({}),
        })
    })
}

/// A win on a fixed day: both events of the check fall in one period.
fn win_event(player: PlayerId) -> SettledBetEvent {
    let day = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    settled_bet(player, "dice", 10, true, day)
}

/// A wallet filled to [`MAX_BALANCE`] takes no further credit — adjustment,
/// claim, bet win (a first bet and a later one), mines cash-out, mission
/// reward — and each refusal changes nothing: balance, postings, events,
/// seed pairs and nonces. Debits, and credits back up to the ceiling, still
/// go through; concurrent bets of other players are not disturbed.
pub async fn credits_stop_at_the_balance_ceiling(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "ceiling-admin").await;
    let p = new_player(&*store, "ceiling").await.id;
    let adj = |amount: i64| AdjustCommand {
        player_id: p,
        currency: chip(),
        amount,
        reason: "ceiling".into(),
        actor: admin.id,
        now: now(),
    };
    // Not even a new wallet starts above it.
    assert_limited(store.adjust(adj(MAX_BALANCE + 1)).await, "new wallet");
    assert!(store.balances(p).await.unwrap().is_empty());
    store.adjust(adj(MAX_BALANCE - 10)).await.unwrap();
    assert_eq!(store.adjust(adj(10)).await.unwrap().balance, MAX_BALANCE);
    let full = trace(&*store, p).await;

    assert_limited(store.adjust(adj(1)).await, "adjustment");
    let claim = |at| ClaimCommand {
        player_id: p,
        currency: chip(),
        amount: 1,
        period: chrono::Duration::hours(1),
        now: at,
    };
    let t = now();
    assert_limited(store.claim(claim(t)).await, "claim");
    // A first bet (its seed pair would be created), then one on a pair.
    assert_limited(place(&*store, bet_cmd(p, 100)).await, "first bet");
    assert_eq!(trace(&*store, p).await, full, "refusals changed something");
    let pair = store.active_seed_pair(p, seeds("p"), now()).await.unwrap();
    let full = trace(&*store, p).await;
    assert_limited(place(&*store, bet_cmd(p, 100)).await, "bet");
    assert_eq!(
        trace(&*store, p).await,
        full,
        "a refused bet changed something"
    );
    assert_eq!(full.pairs[0].nonce, 0);

    // A losing bet is a debit: it settles, nonce 0.
    let mut lose = bet_cmd(p, 100);
    lose.settle = losing();
    let lost = place(&*store, lose).await.unwrap();
    assert_eq!((lost.nonce, lost.balance), (0, MAX_BALANCE - 100));
    // The claim refused above was not recorded: it is ready at once.
    assert_eq!(
        store.claim(claim(t)).await.unwrap().balance,
        MAX_BALANCE - 99
    );
    store.adjust(adj(99)).await.unwrap();

    // Mines: the stake goes, the cash-out (113 for 100) cannot come back;
    // the round stays open and can still be cancelled (refund to the ceiling).
    let round = store.open_mines(open_cmd(p, 100)).await.unwrap();
    assert_eq!(round.seed_pair_id, pair.id);
    let staked = trace(&*store, p).await;
    let cash_out = crate::settle_mines(113, 113, true);
    assert_limited(
        store.mines_step(p, &round.id, cash_out, now()).await,
        "mines cash-out",
    );
    assert_eq!(trace(&*store, p).await, staked);
    let (r, _) = store
        .mines_step(p, &round.id, Box::new(|_, _| Ok(MinesStep::Cancel)), now())
        .await
        .unwrap();
    assert_eq!(r.state, MinesState::Cancelled);
    assert_eq!(
        store.balances(p).await.unwrap(),
        vec![(chip(), MAX_BALANCE)]
    );

    // A mission reward is skipped, not failed: the bet counts, nothing is
    // paid or recorded; the next counting bet grants it once there is room.
    let rule = mission_rule("win-1", MissionKind::Wins, 1, MissionPeriod::Day, 500);
    let first = win_event(p);
    let period = rule.period.key(first.at);
    let before = trace(&*store, p).await;
    let rules = std::slice::from_ref(&rule);
    assert_eq!(
        store
            .apply_mission_bets("missions", rules, &[first], now())
            .await
            .unwrap(),
        1
    );
    let progress = |store: Arc<dyn Store>, period: String| async move {
        let rows = store
            .mission_progress(p, &[("win-1".to_owned(), period)])
            .await
            .unwrap();
        (rows[0].progress, rows[0].rewarded)
    };
    assert_eq!(progress(store.clone(), period.clone()).await, (1, false));
    assert_eq!(
        trace(&*store, p).await,
        before,
        "a skipped reward changed the ledger"
    );
    store.adjust(adj(-500)).await.unwrap();
    assert_eq!(
        store
            .apply_mission_bets("missions", rules, &[win_event(p)], now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(progress(store.clone(), period).await, (2, true));
    assert_eq!(
        store.balances(p).await.unwrap(),
        vec![(chip(), MAX_BALANCE)]
    );

    // Concurrent bets (batched where the backend batches): every win of the
    // full wallet is refused on its own; another player's bets all settle.
    let other = new_player(&*store, "ceiling-neighbour").await.id;
    store
        .adjust(AdjustCommand {
            player_id: other,
            ..adj(1_000)
        })
        .await
        .unwrap();
    store
        .active_seed_pair(other, seeds("o"), now())
        .await
        .unwrap();
    let full = trace(&*store, p).await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let who = if i % 2 == 0 { p } else { other };
            tokio::spawn(async move { (who, place(&*store, bet_cmd(who, 10)).await) })
        })
        .collect();
    let mut settled = 0;
    for t in futures::future::join_all(tasks).await {
        match t.unwrap() {
            (who, Err(StoreError::BalanceLimit)) if who == p => {}
            (who, Ok(_)) if who == other => settled += 1,
            (who, r) => panic!("{who:?}: unexpected {r:?}"),
        }
    }
    assert_eq!(settled, 8);
    let after = trace(&*store, p).await;
    assert_eq!(
        (&after.balances, after.entries, &after.pairs),
        (&full.balances, full.entries, &full.pairs),
        "the full wallet's refused bets changed it"
    );
    assert_eq!(
        store
            .bets(
                other,
                BetQuery {
                    limit: 20,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .len(),
        8
    );
}

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
