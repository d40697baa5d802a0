//! The storage conformance suite. Every backend runs exactly these checks,
//! each as a test of its own (`with_checks!`) against a fresh, isolated store
//! from the backend's factory, so SQLite and PostgreSQL are held to the same
//! behaviour and one failing check hides no other.

use chrono::{Duration, DurationRound, Utc};
use croupier_core::ports::Store;
use croupier_core::*;
use std::future::Future;
use std::sync::Arc;

mod bet_checks;
mod catalog_checks;
mod console_checks;
mod dead_letter_checks;
mod event_checks;
mod export_checks;
mod idempotency_checks;
mod ledger_limit_checks;
mod mines_checks;
mod mission_checks;
mod player_checks;
mod recommendation_checks;
mod retention_checks;
mod seed_checks;
mod wallet_checks;
pub use bet_checks::*;
pub use catalog_checks::*;
pub use console_checks::*;
pub use dead_letter_checks::*;
pub use event_checks::*;
pub use export_checks::*;
pub use idempotency_checks::*;
pub use ledger_limit_checks::*;
pub use mines_checks::*;
pub use mission_checks::*;
pub use player_checks::*;
pub use recommendation_checks::*;
pub use retention_checks::*;
pub use seed_checks::*;
pub use wallet_checks::*;

/// A conformance check, boxed: what a backend's per-check test runs.
pub type Check = fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Calls `$then!` with the name of every conformance check: the one list
/// each backend's tests (one test per check) are made from.
#[macro_export]
macro_rules! with_checks {
    ($then:ident) => {
        $then!(
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
            stats_bet_results_are_pruned_into_exact_floors,
            stats_bet_results_prune_spans_currencies_and_waits_for_open_rounds,
            idempotency_keys_are_pruned_by_age,
        );
    };
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

/// A mines step that ends the round at once, paying `payout` (minor units;
/// `multiplier` in hundredths).
fn settle_mines(payout: i64, multiplier: u64, win: bool) -> MinesDecide {
    Box::new(move |_, _| {
        Ok(MinesStep::Settle {
            params: serde_json::json!({ "mines": 3, "tiles": [] }),
            outcome: Outcome {
                payout,
                multiplier,
                win,
                detail: serde_json::json!({}),
            },
        })
    })
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
