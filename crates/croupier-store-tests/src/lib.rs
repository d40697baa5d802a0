//! The storage conformance suite. Every backend runs exactly these tests
//! through `run_all` (or the individual functions), each against a fresh,
//! isolated store from the backend's factory, so SQLite and PostgreSQL are
//! held to the same behaviour.

use chrono::{Duration, DurationRound, Utc};
use croupier_core::ports::Store;
use croupier_core::*;
use std::future::Future;
use std::sync::Arc;

mod catalog_checks;
mod console_checks;
mod dead_letter_checks;
mod event_checks;
mod export_checks;
mod ledger_limit_checks;
mod mission_checks;
mod recommendation_checks;
mod retention_checks;
mod seed_checks;
pub use catalog_checks::*;
pub use console_checks::*;
pub use dead_letter_checks::*;
pub use event_checks::*;
pub use export_checks::*;
pub use ledger_limit_checks::*;
pub use mission_checks::*;
pub use recommendation_checks::*;
pub use retention_checks::*;
pub use seed_checks::*;

pub type Check = fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        /// Every conformance check, by name.
        pub const CHECKS: &[(&str, Check)] = &[
            $((stringify!($name), |s| Box::pin($name(s)))),*
        ];
    };
}

checks!(
    players_are_unique_case_insensitively,
    sessions_are_revocable,
    claims_credit_once_per_period,
    adjustments_never_drive_balances_negative,
    wallet_entries_page_newest_first,
    idempotency_keys_replay_mismatch_and_lease,
    outbox_receives_one_event_per_change_in_order,
    concurrent_debits_never_overdraw,
    audit_sums_are_exact_beyond_i64,
    credits_stop_at_the_balance_ceiling,
    seed_pairs_commit_rotate_and_reveal,
    bets_reserve_nonces_settle_and_post_atomically,
    refused_bets_change_nothing,
    idempotent_bets_apply_once,
    concurrent_bets_use_contiguous_unique_nonces,
    bet_history_pages_newest_first,
    mines_rounds_open_step_settle_and_cancel,
    game_overrides_are_stored_and_audited,
    outbox_claims_lease_publish_and_prune,
    concurrent_claimers_get_disjoint_events,
    stats_apply_each_event_once_per_consumer,
    bet_settled_events_carry_what_stats_need,
    stats_win_records_are_exact_in_any_arrival_order,
    missions_reward_once_per_mission_player_and_period,
    mission_rules_are_stored_replaced_and_deleted,
    blocked_players_lose_sessions_and_earn_nothing,
    dead_letters_are_kept_paged_and_removed,
    every_emitted_event_matches_its_schema,
    recommendations_apply_each_event_once_per_consumer,
    co_play_counts_are_exact_under_shuffled_duplicated_delivery,
    export_records_files_once_per_event,
    export_lists_the_partitions_of_its_latest_files,
    console_searches_players_and_reads_the_audit_log,
    console_counts_live_sessions_and_play_in_a_window,
    revealed_seed_pairs_page_newest_first,
    inbox_records_are_pruned_by_event_age,
    idempotency_keys_are_pruned_by_age,
);

/// Runs every check, each on a fresh store from `fresh` and in a task of its
/// own, so one failure does not hide the others: each failing check's panic
/// is printed as it happens, and the run fails at the end naming them all.
pub async fn run_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        eprintln!("conformance: {name}");
        if tokio::spawn(check(fresh().await)).await.is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "conformance checks failed: {failed:?}");
}

pub(crate) fn now() -> chrono::DateTime<Utc> {
    // Millisecond precision, as every backend stores it.
    Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap()
}

fn chip() -> CurrencyCode {
    CurrencyCode::parse("CHIP").unwrap()
}

pub async fn new_player(store: &dyn Store, name: &str) -> Player {
    store
        .create_player(NewPlayer {
            id: PlayerId::new(),
            username: name.to_owned(),
            password_hash: "$argon2id$fake".into(),
            roles: vec![Role::Player],
            created_at: now(),
        })
        .await
        .expect("create player")
}

async fn assert_audit_clean(store: &dyn Store) -> AuditReport {
    let report = store.audit().await.expect("audit");
    assert!(
        report.ok,
        "ledger audit found problems: {:?}",
        report.problems
    );
    let nonces = store.nonce_audit().await.expect("nonce audit");
    assert!(nonces.is_empty(), "nonce audit found problems: {nonces:?}");
    report
}

pub async fn players_are_unique_case_insensitively(store: Arc<dyn Store>) {
    let p = new_player(&*store, "Alice").await;
    let err = store
        .create_player(NewPlayer {
            id: PlayerId::new(),
            username: "aLICE".into(),
            password_hash: "x".into(),
            roles: vec![Role::Player],
            created_at: now(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UsernameTaken), "{err:?}");
    let found = store.player_by_username("ALICE").await.unwrap().unwrap();
    assert_eq!(found.player, p);
    assert_eq!(found.player.username, "Alice");
    assert_eq!(found.password_hash, "$argon2id$fake");
    assert_eq!(store.player(p.id).await.unwrap().unwrap().player, p);
    assert!(store.player_by_username("bob").await.unwrap().is_none());
    store.set_password_hash(p.id, "new".into()).await.unwrap();
    assert_eq!(
        store.player(p.id).await.unwrap().unwrap().password_hash,
        "new"
    );
    assert!(matches!(
        store.set_password_hash(PlayerId::new(), "x".into()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn sessions_are_revocable(store: Arc<dyn Store>) {
    let p = new_player(&*store, "sess").await;
    let t = now();
    let hashes: Vec<TokenHash> = (0..3u8).map(|i| TokenHash([i; 32])).collect();
    for h in &hashes {
        store
            .create_session(NewSession {
                token_hash: *h,
                player_id: p.id,
                created_at: t,
                expires_at: t + Duration::days(1),
            })
            .await
            .unwrap();
    }
    let live = |at, idle| store.count_live_sessions(at, idle);
    assert_eq!(live(t, Duration::hours(1)).await.unwrap(), 3);
    let s = store.session(hashes[0]).await.unwrap().unwrap();
    assert_eq!(
        (s.player_id, s.revoked, s.expires_at),
        (p.id, false, t + Duration::days(1))
    );
    store
        .touch_session(hashes[0], t + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        store
            .session(hashes[0])
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        t + Duration::minutes(5)
    );
    assert!(store.revoke_session(hashes[0]).await.unwrap());
    assert!(
        !store.revoke_session(hashes[0]).await.unwrap(),
        "second revoke is a no-op"
    );
    assert!(store.session(hashes[0]).await.unwrap().unwrap().revoked);
    let mut revoked = store
        .revoke_player_sessions(p.id, Some(hashes[2]))
        .await
        .unwrap();
    revoked.sort_by_key(|h| h.0);
    assert_eq!(
        revoked,
        vec![hashes[1]],
        "only live sessions other than the kept one"
    );
    assert!(!store.session(hashes[2]).await.unwrap().unwrap().revoked);
    assert!(store.session(TokenHash([9; 32])).await.unwrap().is_none());
    // Live: not revoked, seen within the idle window, before the absolute expiry.
    assert_eq!(live(t, Duration::hours(1)).await.unwrap(), 1);
    assert_eq!(
        live(t + Duration::hours(2), Duration::hours(1))
            .await
            .unwrap(),
        0,
        "idle for longer than the window"
    );
    assert_eq!(
        live(t + Duration::days(2), Duration::days(3))
            .await
            .unwrap(),
        0,
        "past the absolute expiry"
    );
}

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

fn seeds(tag: &str) -> NewSeedPair {
    NewSeedPair {
        server_seed: format!("server-{tag}"),
        server_seed_hash: format!("hash-{tag}"),
        client_seed: format!("client-{tag}"),
    }
}

/// A stand-in game: even nonces pay double, odd ones lose. Records the draw.
fn even_wins(stake: i64) -> Settle {
    Box::new(move |d: Draw<'_>| {
        let win = d.nonce.is_multiple_of(2);
        Ok(Outcome {
            payout: if win { stake * 2 } else { 0 },
            multiplier: if win { 200 } else { 0 },
            win,
            detail: serde_json::json!({ "nonce_seen": d.nonce, "seed": d.server_seed, "client": d.client_seed }),
        })
    })
}

/// A dice bet of `stake` CHIP that wins on even nonces (doubling the stake).
pub fn bet_cmd(player: PlayerId, stake: i64) -> BetCommand {
    BetCommand {
        player_id: player,
        game: "dice".into(),
        currency: chip(),
        stake,
        params: serde_json::json!({ "target": 50 }),
        now: now(),
        first_seed: seeds("first"),
        settle: even_wins(stake),
        idempotency: None,
    }
}

/// A new player holding `amount` CHIP.
pub async fn funded(store: &dyn Store, name: &str, amount: i64) -> Player {
    let p = new_player(store, name).await;
    store
        .claim(ClaimCommand {
            player_id: p.id,
            currency: chip(),
            amount,
            period: Duration::hours(1),
            now: now(),
        })
        .await
        .unwrap();
    p
}

/// Places a bet that has no idempotency key.
pub async fn place(store: &dyn Store, cmd: BetCommand) -> StoreResult<BetRecord> {
    match store.place_bet(cmd).await? {
        Idempotent::Done(b) => Ok(b),
        Idempotent::Earlier(e) => panic!("unexpected earlier request {e:?}"),
    }
}

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

fn open_cmd(p: PlayerId, stake: i64) -> OpenMinesCommand {
    OpenMinesCommand {
        player_id: p,
        currency: chip(),
        stake,
        mines: 3,
        now: now(),
        first_seed: seeds("m"),
    }
}

pub async fn mines_rounds_open_step_settle_and_cancel(store: Arc<dyn Store>) {
    let p = funded(&*store, "miner", 1_000).await;
    let r = store.open_mines(open_cmd(p.id, 100)).await.unwrap();
    assert_eq!(
        (r.state, r.nonce, r.revealed.len()),
        (MinesState::Open, 0, 0)
    );
    assert_eq!(
        store.balances(p.id).await.unwrap(),
        vec![(chip(), 900)],
        "stake debited at open"
    );
    assert!(matches!(
        store.open_mines(open_cmd(p.id, 100)).await,
        Err(StoreError::MinesRoundOpen)
    ));
    assert!(matches!(
        store.rotate_seed_pair(p.id, seeds("r"), now()).await,
        Err(StoreError::MinesRoundOpen)
    ));
    let (r1, bet) = store
        .mines_step(
            p.id,
            &r.id,
            Box::new(|round, d| {
                assert_eq!((round.mines, d.nonce, d.server_seed), (3, 0, "server-m"));
                Ok(MinesStep::Safe { tile: 7 })
            }),
            now(),
        )
        .await
        .unwrap();
    assert!(bet.is_none());
    assert_eq!(r1.revealed, vec![7]);
    let (r2, bet) = store
        .mines_step(
            p.id,
            &r.id,
            Box::new(|round, _| {
                assert_eq!(round.revealed, vec![7]);
                Ok(MinesStep::Settle {
                    params: serde_json::json!({ "mines": 3, "tiles": [7] }),
                    outcome: Outcome {
                        payout: 113,
                        multiplier: 113,
                        win: true,
                        detail: serde_json::json!({"cashout": true}),
                    },
                })
            }),
            now(),
        )
        .await
        .unwrap();
    let bet = bet.unwrap();
    assert_eq!(
        (r2.state, r2.bet_id.as_deref()),
        (MinesState::Completed, Some(bet.id.as_str()))
    );
    assert_eq!(
        (
            bet.game.as_str(),
            bet.stake,
            bet.payout,
            bet.balance,
            bet.nonce
        ),
        ("mines", 100, 113, 1_013, 0)
    );
    assert_eq!(
        bet.params,
        serde_json::json!({ "mines": 3, "tiles": [7] }),
        "params as settled"
    );
    assert!(matches!(
        store
            .mines_step(
                p.id,
                &r.id,
                Box::new(|_, _| Ok(MinesStep::Safe { tile: 1 })),
                now()
            )
            .await,
        Err(StoreError::RoundClosed { .. })
    ));
    let stranger = new_player(&*store, "stranger").await;
    assert!(matches!(
        store
            .mines_step(
                stranger.id,
                &r.id,
                Box::new(|_, _| Ok(MinesStep::Safe { tile: 1 })),
                now()
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .mines_round(stranger.id, &r.id)
        .await
        .unwrap()
        .is_none());
    // A second round: lost, then a third cancelled before any reveal.
    let lost = store.open_mines(open_cmd(p.id, 100)).await.unwrap();
    assert_eq!(lost.nonce, 1);
    let (_, bet) = store
        .mines_step(
            p.id,
            &lost.id,
            Box::new(|_, _| {
                Ok(MinesStep::Settle {
                    params: serde_json::json!({ "mines": 3, "tiles": [7] }),
                    outcome: Outcome {
                        payout: 0,
                        multiplier: 0,
                        win: false,
                        detail: serde_json::json!({}),
                    },
                })
            }),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(bet.unwrap().balance, 913);
    let cancelled = store.open_mines(open_cmd(p.id, 100)).await.unwrap();
    let (c, bet) = store
        .mines_step(
            p.id,
            &cancelled.id,
            Box::new(|_, _| Ok(MinesStep::Cancel)),
            now(),
        )
        .await
        .unwrap();
    assert!(bet.is_none());
    assert_eq!(c.state, MinesState::Cancelled);
    assert_eq!(
        store.balances(p.id).await.unwrap(),
        vec![(chip(), 913)],
        "stake refunded"
    );
    assert!(
        store.open_mines(open_cmd(p.id, 2_000)).await.is_err(),
        "cannot stake more than the balance"
    );
    assert_audit_clean(&*store).await;
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
