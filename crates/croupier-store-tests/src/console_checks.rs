//! Conformance of the console's reads: player search (text, id prefix,
//! blocked, paging), live sessions, the audit log, the overview.

use super::{chip, new_player, now};
use chrono::Duration;
use croupier_core::console::*;
use croupier_core::events::*;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

fn names(found: &[PlayerSummary]) -> Vec<&str> {
    found.iter().map(|p| p.username.as_str()).collect()
}

fn search(query: Option<&str>, blocked: Option<bool>, limit: u32) -> PlayerSearch {
    PlayerSearch {
        query: query.map(str::to_owned),
        blocked,
        before: None,
        limit,
    }
}

pub async fn console_searches_players_and_reads_the_audit_log(store: Arc<dyn Store>) {
    let alice = new_player(&*store, "Alice").await;
    let bob = new_player(&*store, "bob").await;
    let _alicia = new_player(&*store, "alicia").await;
    let admin = new_player(&*store, "root").await;
    let found = store
        .search_players(search(Some("ALI"), None, 10))
        .await
        .unwrap();
    assert_eq!(names(&found), ["alicia", "Alice"], "newest first, any case");
    // UUIDv7 ids made in the same millisecond share their first digits.
    let prefix = &bob.id.to_string()[..30];
    let by_id = store
        .search_players(search(Some(prefix), None, 10))
        .await
        .unwrap();
    assert_eq!(names(&by_id), ["bob"]);
    let none = store
        .search_players(search(Some("%"), None, 10))
        .await
        .unwrap();
    assert!(none.is_empty(), "wildcards are literal: {none:?}");

    // Paging: two at a time, then the rest.
    let first = store.search_players(search(None, None, 2)).await.unwrap();
    let last = first.last().unwrap();
    let rest = store
        .search_players(PlayerSearch {
            before: Some((last.created_at, last.id)),
            ..search(None, None, 10)
        })
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 4);
    assert!(rest.iter().all(|p| first.iter().all(|f| f.id != p.id)));

    let t = now();
    store
        .set_player_blocked(BlockCommand {
            player_id: bob.id,
            reason: Some("chargebacks".into()),
            actor: admin.id,
            now: t,
        })
        .await
        .unwrap();
    let blocked = store
        .search_players(search(None, Some(true), 10))
        .await
        .unwrap();
    assert_eq!(names(&blocked), ["bob"]);
    assert_eq!(blocked[0].blocked_reason.as_deref(), Some("chargebacks"));
    assert_eq!(blocked[0].blocked_at, Some(t));
    let active = store
        .search_players(search(None, Some(false), 10))
        .await
        .unwrap();
    assert_eq!(active.len(), 3);

    store
        .set_player_blocked(BlockCommand {
            player_id: bob.id,
            reason: None,
            actor: admin.id,
            now: t + Duration::seconds(1),
        })
        .await
        .unwrap();
    let log = |action: Option<&str>, before: Option<i64>| {
        store.audit_log(AuditQuery {
            actor: Some(admin.id),
            action: action.map(str::to_owned),
            before,
            limit: 10,
        })
    };
    let all = log(None, None).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["player.unblock", "player.block"], "newest first");
    assert_eq!(all[1].actor_username.as_deref(), Some("root"));
    assert_eq!(all[1].target, bob.id.to_string());
    assert_eq!(all[1].details["reason"], "chargebacks");
    assert_eq!(log(Some("player.block"), None).await.unwrap().len(), 1);
    assert_eq!(log(None, Some(all[0].id)).await.unwrap(), all[1..]);
    let others = store
        .audit_log(AuditQuery {
            actor: Some(alice.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(others.is_empty());
}

pub async fn console_counts_live_sessions_and_play_in_a_window(store: Arc<dyn Store>) {
    let p = new_player(&*store, "player").await;
    let t = now();
    for (n, expires) in [
        (1u8, t + Duration::hours(1)),
        (2, t + Duration::hours(1)),
        (3, t - Duration::seconds(1)),
    ] {
        store
            .create_session(NewSession {
                token_hash: TokenHash([n; 32]),
                player_id: p.id,
                created_at: t - Duration::hours(2),
                expires_at: expires,
            })
            .await
            .unwrap();
    }
    store.revoke_session(TokenHash([2; 32])).await.unwrap();
    assert_eq!(store.live_sessions(p.id, t).await.unwrap(), 1);

    let bet = |stake: i64, payout: i64| SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        at: t,
        bet: BetSettled {
            bet_id: uuid::Uuid::now_v7().to_string(),
            player_id: p.id,
            game: "dice".into(),
            currency: chip(),
            stake,
            payout,
            win: payout > stake,
            multiplier: payout as f64 / stake as f64,
            seed_pair_id: 1,
            nonce: stake,
        },
    };
    let batch = [bet(100, 198), bet(50, 0)];
    store.apply_settled_bets("stats", &batch, t).await.unwrap();
    store
        .apply_recommendation_bets("recommendations", &batch, t)
        .await
        .unwrap();
    let o = store.overview(t - Duration::hours(1)).await.unwrap();
    assert_eq!(
        o.games,
        [GameTotals {
            game: "dice".into(),
            currency: "CHIP".into(),
            bets: 2,
            wagered: 150,
            paid_out: 198
        }]
    );
    assert_eq!((o.active_players, o.registrations), (1, 1));
    let later = store.overview(t + Duration::hours(2)).await.unwrap();
    assert!(later.games.is_empty());
    assert_eq!((later.active_players, later.registrations), (0, 0));
}
