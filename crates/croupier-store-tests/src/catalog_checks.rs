//! The event catalog (`docs/events.md`): every event a command emits
//! validates against its versioned JSON Schema in `docs/events/`, so a
//! payload change without a schema change fails here, on every backend.

use super::{bet_cmd, chip, funded, now, open_cmd, place, seeds, settle_mines};
use croupier_core::ports::Store;
use croupier_core::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Every event type and its v1 schema.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        event_type::PLAYER_REGISTERED,
        include_str!("../../../docs/events/player.registered.v1.json"),
    ),
    (
        event_type::WALLET_CLAIMED,
        include_str!("../../../docs/events/wallet.claimed.v1.json"),
    ),
    (
        event_type::WALLET_ADJUSTED,
        include_str!("../../../docs/events/wallet.adjusted.v1.json"),
    ),
    (
        event_type::BET_SETTLED,
        include_str!("../../../docs/events/bet.settled.v1.json"),
    ),
    (
        event_type::SEEDS_ROTATED,
        include_str!("../../../docs/events/fairness.seeds_rotated.v1.json"),
    ),
    (
        event_type::GAME_UPDATED,
        include_str!("../../../docs/events/game.updated.v1.json"),
    ),
    (
        event_type::PLAYER_BLOCKED,
        include_str!("../../../docs/events/player.blocked.v1.json"),
    ),
    (
        event_type::PLAYER_UNBLOCKED,
        include_str!("../../../docs/events/player.unblocked.v1.json"),
    ),
    (
        event_type::MISSION_COMPLETED,
        include_str!("../../../docs/events/mission.completed.v1.json"),
    ),
    (
        event_type::REWARD_GRANTED,
        include_str!("../../../docs/events/reward.granted.v1.json"),
    ),
];

pub async fn every_emitted_event_matches_its_schema(store: Arc<dyn Store>) {
    // Every command that emits an event, at least once.
    let p = funded(&*store, "catalogued", 1_000).await;
    store
        .adjust(AdjustCommand {
            player_id: p.id,
            currency: chip(),
            amount: -10,
            reason: "catalog".into(),
            actor: p.id,
            now: now(),
        })
        .await
        .unwrap();
    place(&*store, bet_cmd(p.id, 100)).await.unwrap();
    let round = store.open_mines(open_cmd(p.id, 50)).await.unwrap();
    let (_, mines_bet) = store
        .mines_step(p.id, &round.id, settle_mines(0, 0, false), now())
        .await
        .unwrap();
    assert!(mines_bet.is_some());
    store
        .rotate_seed_pair(p.id, seeds("catalog"), now())
        .await
        .unwrap();
    store
        .set_game_override(
            GameOverride {
                game: "dice".into(),
                settings: serde_json::json!({ "enabled": false }),
                updated_at: now(),
            },
            p.id,
            serde_json::json!({ "enabled": false }),
        )
        .await
        .unwrap();
    // A mission completed by one win: mission.completed and reward.granted.
    let win = croupier_core::events::SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        at: now(),
        bet: croupier_core::events::BetSettled {
            bet_id: "catalog-win".into(),
            player_id: p.id,
            game: "dice".into(),
            currency: chip(),
            stake: 10,
            payout: 20,
            win: true,
            multiplier: 2.0,
            seed_pair_id: 1,
            nonce: 0,
        },
    };
    let mut rule = croupier_core::missions::MissionRule::default_win_5();
    rule.target = 1;
    let applied = store
        .apply_mission_bets("missions", &[rule], &[win], now())
        .await
        .unwrap();
    assert_eq!(applied, 1);
    let blocked = super::new_player(&*store, "catalog-blocked").await;
    for reason in [Some("catalog".to_owned()), None] {
        let change = store
            .set_player_blocked(BlockCommand {
                player_id: blocked.id,
                reason,
                actor: p.id,
                now: now(),
            })
            .await
            .unwrap();
        assert!(change.is_some_and(|c| c.changed));
    }

    let validators: Vec<(&str, jsonschema::Validator)> = SCHEMAS
        .iter()
        .map(|(t, text)| {
            let schema: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("schema of {t} is not JSON: {e}"));
            let v = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema of {t} is invalid: {e}"));
            (*t, v)
        })
        .collect();
    let events = store.outbox_after(0, 1000).await.unwrap();
    let mut seen = BTreeSet::new();
    for e in &events {
        let Some((_, v)) = validators.iter().find(|(t, _)| *t == e.event_type) else {
            panic!("{} has no schema in docs/events/", e.event_type);
        };
        let errors: Vec<String> = v
            .iter_errors(&e.payload)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} payload {} does not match its schema: {errors:?}",
            e.event_type,
            e.payload
        );
        seen.insert(e.event_type.as_str());
    }
    let all: BTreeSet<&str> = SCHEMAS.iter().map(|(t, _)| *t).collect();
    assert_eq!(seen, all, "every catalogued event was emitted and checked");
    // Bets from both paths (single step and mines).
    let bets = events
        .iter()
        .filter(|e| e.event_type == event_type::BET_SETTLED)
        .count();
    assert_eq!(bets, 2);
}
