//! Conformance checks of the missions store: inbox-guarded progress and a
//! reward granted once per (mission, player, period) through the ledger.

use super::{assert_audit_clean, chip, new_player, now};
use chrono::{DateTime, Duration, TimeZone, Utc};
use croupier_core::events::*;
use croupier_core::missions::*;
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

/// A `bet.settled` event: a win pays twice the stake.
pub fn settled_bet(
    player: PlayerId,
    game: &str,
    stake: i64,
    win: bool,
    at: DateTime<Utc>,
) -> SettledBetEvent {
    SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        at,
        bet: BetSettled {
            bet_id: uuid::Uuid::now_v7().to_string(),
            player_id: player,
            game: game.into(),
            currency: chip(),
            stake,
            payout: if win { stake * 2 } else { 0 },
            win,
            multiplier: if win { 2.0 } else { 0.0 },
            seed_pair_id: 1,
            nonce: 0,
        },
    }
}

/// An enabled mission rule over any game (and, for `Wagered`, chips),
/// rewarding `reward` chips.
pub fn mission_rule(
    id: &str,
    kind: MissionKind,
    target: i64,
    period: MissionPeriod,
    reward: i64,
) -> MissionRule {
    MissionRule {
        id: id.into(),
        kind,
        game: None,
        currency: (kind == MissionKind::Wagered).then(chip),
        target,
        period,
        reward: MissionReward {
            currency: chip(),
            amount: reward,
        },
        enabled: true,
    }
}

async fn chip_balance(store: &dyn Store, p: PlayerId) -> i64 {
    store
        .balances(p)
        .await
        .unwrap()
        .into_iter()
        .find(|(c, _)| *c == chip())
        .map_or(0, |(_, b)| b)
}

async fn progress(store: &dyn Store, p: PlayerId, mission: &str, period: &str) -> (i64, bool) {
    let rows = store
        .mission_progress(p, &[(mission.to_owned(), period.to_owned())])
        .await
        .unwrap();
    rows.first()
        .map_or((0, false), |r| (r.progress, r.rewarded))
}

pub async fn missions_reward_once_per_mission_player_and_period(store: Arc<dyn Store>) {
    let p = new_player(&*store, "missionary").await;
    // A Tuesday; the next day is in the same ISO week.
    let day1 = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    let day2 = day1 + Duration::days(1);
    let mut dice_wins = mission_rule("win-3", MissionKind::Wins, 3, MissionPeriod::Day, 500);
    dice_wins.game = None;
    let mut off = mission_rule("off", MissionKind::Wins, 1, MissionPeriod::Day, 99_999);
    off.enabled = false;
    let rules = vec![
        dice_wins,
        mission_rule(
            "wager-100",
            MissionKind::Wagered,
            100,
            MissionPeriod::Week,
            50,
        ),
        mission_rule(
            "games-2",
            MissionKind::DistinctGames,
            2,
            MissionPeriod::Day,
            70,
        ),
        off,
    ];
    let t = now();
    let apply = |batch: Vec<SettledBetEvent>| {
        let (store, rules) = (store.clone(), rules.clone());
        async move {
            store
                .apply_mission_bets("missions", &rules, &batch, t)
                .await
                .unwrap()
        }
    };

    let e1 = settled_bet(p.id, "dice", 10, true, day1);
    let e2 = settled_bet(p.id, "dice", 10, true, day1);
    assert_eq!(apply(vec![e1.clone(), e2.clone()]).await, 2);
    // Redelivered, also twice in one batch: nothing changes.
    assert_eq!(apply(vec![e1.clone(), e2.clone(), e2.clone()]).await, 0);
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-10").await,
        (2, false)
    );
    assert_eq!(
        progress(&*store, p.id, "games-2", "2026-03-10").await,
        (1, false)
    );
    assert_eq!(
        progress(&*store, p.id, "wager-100", "2026-W11").await,
        (20, false)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 0);

    // The third win and a second game: two rewards, once each.
    let e3 = settled_bet(p.id, "keno", 10, true, day1);
    assert_eq!(apply(vec![e3.clone()]).await, 1);
    assert_eq!(apply(vec![e3.clone(), e1.clone()]).await, 0);
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-10").await,
        (3, true)
    );
    assert_eq!(
        progress(&*store, p.id, "games-2", "2026-03-10").await,
        (2, true)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 500 + 70);

    // Past the target again: progress grows, no second reward. The wager
    // mission reaches its target in the same event.
    let e4 = settled_bet(p.id, "dice", 80, true, day1);
    let e4b = settled_bet(p.id, "limbo", 5, false, day1);
    assert_eq!(apply(vec![e4.clone(), e4b]).await, 2);
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-10").await,
        (4, true)
    );
    assert_eq!(
        progress(&*store, p.id, "games-2", "2026-03-10").await,
        (3, true)
    );
    assert_eq!(
        progress(&*store, p.id, "wager-100", "2026-W11").await,
        (115, true)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 500 + 70 + 50);

    // Another day is another period for the daily missions; the weekly one
    // already paid this week. Events land in their bet's period, whenever
    // they are processed, and in any order.
    let late = settled_bet(p.id, "dice", 1, true, day1 + Duration::hours(11));
    let next: Vec<_> = (0..3)
        .map(|_| settled_bet(p.id, "dice", 1, true, day2))
        .collect();
    assert_eq!(apply(vec![next[2].clone(), late, next[0].clone()]).await, 3);
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-10").await,
        (5, true)
    );
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-11").await,
        (2, false)
    );
    assert_eq!(apply(vec![next[1].clone()]).await, 1);
    assert_eq!(
        progress(&*store, p.id, "win-3", "2026-03-11").await,
        (3, true)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 500 + 70 + 50 + 500);
    // The disabled rule never counted.
    assert_eq!(
        progress(&*store, p.id, "off", "2026-03-10").await,
        (0, false)
    );

    // In the ledger: one mission_reward entry per grant, from `rewards`.
    let entries = store.wallet_entries(p.id, chip(), 50, None).await.unwrap();
    let mut rewards: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == txn_kind::MISSION_REWARD)
        .map(|e| (e.amount, e.reference.clone().unwrap_or_default()))
        .collect();
    rewards.sort();
    assert_eq!(
        rewards,
        vec![
            (50, "mission:wager-100:2026-W11".to_owned()),
            (70, "mission:games-2:2026-03-10".to_owned()),
            (500, "mission:win-3:2026-03-10".to_owned()),
            (500, "mission:win-3:2026-03-11".to_owned()),
        ]
    );
    let report = assert_audit_clean(&*store).await;
    let cur = report
        .currencies
        .iter()
        .find(|c| c.currency == "CHIP")
        .unwrap();
    assert_eq!(
        cur.system_accounts.get(system_account::REWARDS),
        Some(&-1120)
    );

    // One mission.completed and one reward.granted per grant, in the outbox.
    let events = store.outbox_after(0, 1000).await.unwrap();
    let granted: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == event_type::REWARD_GRANTED)
        .collect();
    assert_eq!(granted.len(), 4);
    assert!(granted
        .iter()
        .all(|e| e.payload["player_id"] == p.id.to_string()));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == event_type::MISSION_COMPLETED)
            .count(),
        4
    );

    // Handlers racing with the same batch: the reward is still granted once.
    let q = new_player(&*store, "racer").await;
    let batch: Vec<_> = (0..5)
        .map(|_| settled_bet(q.id, "dice", 1, true, day1))
        .collect();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (store, rules, batch) = (store.clone(), rules.clone(), batch.clone());
            tokio::spawn(async move {
                store
                    .apply_mission_bets("missions", &rules, &batch, t)
                    .await
            })
        })
        .collect();
    let mut applied = 0;
    for r in racers {
        applied += r.await.unwrap().unwrap();
    }
    assert_eq!(applied, 5);
    assert_eq!(
        progress(&*store, q.id, "win-3", "2026-03-10").await,
        (5, true)
    );
    assert_eq!(chip_balance(&*store, q.id).await, 500);
    assert_audit_clean(&*store).await;
}

pub async fn mission_rules_are_stored_replaced_and_deleted(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "rulemaker").await;
    assert!(store.mission_rules().await.unwrap().is_empty());
    let t = now();
    let mut a = mission_rule(
        "b-wager",
        MissionKind::Wagered,
        100_000,
        MissionPeriod::Week,
        1000,
    );
    store
        .put_mission_rule(a.clone(), admin.id, t)
        .await
        .unwrap();
    let b = mission_rule(
        "a-games",
        MissionKind::DistinctGames,
        3,
        MissionPeriod::Day,
        10,
    );
    store
        .put_mission_rule(b.clone(), admin.id, t)
        .await
        .unwrap();
    a.enabled = false;
    store
        .put_mission_rule(a.clone(), admin.id, t)
        .await
        .unwrap();
    assert_eq!(store.mission_rules().await.unwrap(), vec![b.clone(), a]);
    assert!(store
        .delete_mission_rule("b-wager", admin.id, t)
        .await
        .unwrap());
    assert!(!store
        .delete_mission_rule("b-wager", admin.id, t)
        .await
        .unwrap());
    assert_eq!(store.mission_rules().await.unwrap(), vec![b]);
}

pub async fn blocked_players_lose_sessions_and_earn_nothing(store: Arc<dyn Store>) {
    let admin = new_player(&*store, "blocker").await;
    let p = new_player(&*store, "blockee").await;
    let t = now();
    let tokens = [TokenHash([7; 32]), TokenHash([8; 32])];
    for h in &tokens {
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
    let block = |reason: Option<&str>, who: PlayerId| BlockCommand {
        player_id: who,
        reason: reason.map(str::to_owned),
        actor: admin.id,
        now: t,
    };
    let events_before = store.outbox_after(0, 1000).await.unwrap().len();
    let mut change = store
        .set_player_blocked(block(Some("fraud"), p.id))
        .await
        .unwrap()
        .expect("player exists");
    assert!(change.changed);
    change.revoked.sort_by_key(|h| h.0);
    assert_eq!(change.revoked, tokens.to_vec(), "every session revoked");
    for h in &tokens {
        assert!(store.session(*h).await.unwrap().unwrap().revoked);
    }
    let creds = store.player_by_username("BLOCKEE").await.unwrap().unwrap();
    assert_eq!(
        creds.blocked_at.map(|b| b.timestamp_millis()),
        Some(t.timestamp_millis())
    );
    // Blocking again changes and logs nothing.
    let again = store
        .set_player_blocked(block(Some("twice"), p.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again,
        BlockChange {
            changed: false,
            revoked: vec![]
        }
    );
    assert_eq!(
        store
            .set_player_blocked(block(Some("x"), PlayerId::new()))
            .await
            .unwrap(),
        None,
        "no such player"
    );

    // A blocked player's wins count for nothing (the events are consumed).
    let rules = vec![mission_rule(
        "win-1",
        MissionKind::Wins,
        1,
        MissionPeriod::Day,
        500,
    )];
    let win = settled_bet(p.id, "dice", 10, true, t);
    assert_eq!(
        store
            .apply_mission_bets("missions", &rules, &[win], t)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        progress(&*store, p.id, "win-1", &MissionPeriod::Day.key(t)).await,
        (0, false)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 0);

    // Unblocked: logs in again (no session comes back), and earns again.
    let lifted = store
        .set_player_blocked(block(None, p.id))
        .await
        .unwrap()
        .unwrap();
    assert!(lifted.changed && lifted.revoked.is_empty());
    assert_eq!(store.player(p.id).await.unwrap().unwrap().blocked_at, None);
    assert!(store.session(tokens[0]).await.unwrap().unwrap().revoked);
    let win = settled_bet(p.id, "dice", 10, true, t);
    store
        .apply_mission_bets("missions", &rules, &[win], t)
        .await
        .unwrap();
    assert_eq!(
        progress(&*store, p.id, "win-1", &MissionPeriod::Day.key(t)).await,
        (1, true)
    );
    assert_eq!(chip_balance(&*store, p.id).await, 500);

    // One event per change: blocked, unblocked (then the reward's two).
    let events: Vec<_> = store.outbox_after(0, 1000).await.unwrap()[events_before..]
        .iter()
        .map(|e| (e.event_type.clone(), e.payload.clone()))
        .collect();
    assert_eq!(events[0].0, event_type::PLAYER_BLOCKED);
    assert_eq!(events[0].1["reason"], "fraud");
    assert_eq!(events[0].1["actor"], admin.id.to_string());
    assert_eq!(events[1].0, event_type::PLAYER_UNBLOCKED);
    assert_eq!(
        events.iter().filter(|e| e.0.starts_with("player.")).count(),
        2
    );
    assert_audit_clean(&*store).await;
}
