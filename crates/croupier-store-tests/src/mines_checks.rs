//! Conformance of mines rounds: open, step, settle, cancel.

use super::{assert_audit_clean, chip, funded, new_player, now, open_cmd, seeds};
use croupier_core::ports::Store;
use croupier_core::*;
use std::sync::Arc;

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
