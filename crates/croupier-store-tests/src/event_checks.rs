//! Conformance checks of the event ports: outbox claims (leases, disjoint
//! claimers, publication, pruning) and the inbox-guarded statistics.

use super::{chip, funded, new_player, now, place};
use chrono::Duration;
use croupier_core::events::*;
use croupier_core::ports::Store;
use croupier_core::*;
use std::collections::HashSet;
use std::sync::Arc;

fn positions(events: &[OutboxEvent]) -> Vec<i64> {
    events.iter().map(|e| e.position).collect()
}

pub async fn outbox_claims_lease_publish_and_prune(store: Arc<dyn Store>) {
    for i in 0..5 {
        new_player(&*store, &format!("outboxed{i}")).await;
    }
    let all = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(store.outbox_backlog().await.unwrap(), 5);
    let t = now();
    let lease = Duration::seconds(30);

    // Oldest first, and a second claimer gets only what the first did not.
    let a = store.outbox_claim("relay-a", 2, t, lease).await.unwrap();
    assert_eq!(a, all[..2].to_vec());
    let b = store.outbox_claim("relay-b", 10, t, lease).await.unwrap();
    assert_eq!(b, all[2..].to_vec());
    // A relay whose bus refused events releases them for the next claim at
    // once; only its own leases are released.
    assert_eq!(
        store
            .outbox_release("relay-a", &positions(&b))
            .await
            .unwrap(),
        0,
        "relay-a does not hold relay-b's leases"
    );
    assert_eq!(
        store
            .outbox_release("relay-b", &positions(&b[..1]))
            .await
            .unwrap(),
        1
    );
    let again = store.outbox_claim("relay-b", 10, t, lease).await.unwrap();
    assert_eq!(
        again,
        all[2..3].to_vec(),
        "released: claimable before the lease ends"
    );
    // Held leases are not claimable, not even one millisecond before they end.
    let held = t + lease - Duration::milliseconds(1);
    assert!(store
        .outbox_claim("relay-c", 10, held, lease)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        store
            .outbox_mark_published(&positions(&a), t)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .outbox_mark_published(&positions(&a), t)
            .await
            .unwrap(),
        0,
        "marking twice changes nothing"
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 3);

    // relay-b "died": once its lease ends its events are claimable again;
    // relay-a's published ones never are.
    let expired = t + lease;
    let c = store
        .outbox_claim("relay-c", 10, expired, lease)
        .await
        .unwrap();
    assert_eq!(c, all[2..].to_vec());
    store
        .outbox_mark_published(&positions(&c), expired)
        .await
        .unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    let far = t + Duration::days(365);
    assert!(store
        .outbox_claim("relay-d", 10, far, lease)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.outbox_after(0, 100).await.unwrap(),
        all,
        "published events stay readable until pruned"
    );

    // Pruning: only rows published before the cutoff, at most `limit`, never
    // an unpublished one.
    new_player(&*store, "late").await;
    assert_eq!(store.outbox_prune(t, 100).await.unwrap(), 0);
    let cutoff = t + Duration::milliseconds(1);
    assert_eq!(store.outbox_prune(cutoff, 1).await.unwrap(), 1);
    assert_eq!(store.outbox_prune(cutoff, 100).await.unwrap(), 1);
    assert_eq!(store.outbox_after(0, 100).await.unwrap().len(), 4);
    assert_eq!(store.outbox_prune(far, 100).await.unwrap(), 3);
    let left = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].payload["username"], "late");
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
}

pub async fn concurrent_claimers_get_disjoint_events(store: Arc<dyn Store>) {
    const EVENTS: usize = 60;
    for i in 0..EVENTS {
        new_player(&*store, &format!("claimed{i}")).await;
    }
    let t = now();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("relay-{i}");
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .outbox_claim(&owner, 7, t, Duration::seconds(30))
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(positions(&got));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for p in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(p), "position {p} claimed twice");
        }
    }
    assert_eq!(total, EVENTS);
    let all: HashSet<i64> = positions(&store.outbox_after(0, 1000).await.unwrap())
        .into_iter()
        .collect();
    assert_eq!(seen, all);
}

pub(crate) fn settled(
    player: PlayerId,
    game: &str,
    stake: i64,
    payout: i64,
    win: bool,
) -> SettledBetEvent {
    SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        at: now(),
        bet: BetSettled {
            bet_id: uuid::Uuid::now_v7().to_string(),
            player_id: player,
            game: game.into(),
            currency: chip(),
            stake,
            payout,
            win,
            multiplier: payout as f64 / stake as f64,
            // Each call later in its player's sequence than the previous.
            seed_pair_id: 1,
            nonce: NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        },
    }
}

static NONCE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn expected(events: &[&SettledBetEvent]) -> BetCounters {
    let mut c = BetCounters::default();
    for e in events {
        c.add(&e.bet);
    }
    c
}

pub async fn stats_apply_each_event_once_per_consumer(store: Arc<dyn Store>) {
    let p = new_player(&*store, "statistician").await;
    let other = new_player(&*store, "other").await;
    let e1 = settled(p.id, "dice", 100, 198, true);
    let e2 = settled(p.id, "dice", 100, 0, false);
    let e3 = settled(p.id, "plinko", 50, 50, false);
    let e4 = settled(other.id, "dice", 10, 5, false);
    let t = now();
    let apply = |batch: Vec<SettledBetEvent>| {
        let store = store.clone();
        async move { store.apply_settled_bets("stats", &batch, t).await.unwrap() }
    };
    assert_eq!(apply(vec![e1.clone(), e2.clone(), e3.clone()]).await, 3);
    // Redelivery, overlapping batches, and a duplicate within one batch.
    assert_eq!(apply(vec![e2.clone(), e3.clone(), e4.clone()]).await, 1);
    assert_eq!(apply(vec![e4.clone(), e4.clone(), e1.clone()]).await, 0);
    let e5 = settled(p.id, "dice", 7, 0, false);
    assert_eq!(apply(vec![e5.clone(), e5.clone()]).await, 1);
    assert_eq!(apply(vec![]).await, 0);

    let stats = store.player_stats(p.id).await.unwrap();
    assert_eq!(
        stats,
        vec![
            PlayerGameStats {
                currency: chip(),
                game: "dice".into(),
                counters: expected(&[&e1, &e2, &e5]),
            },
            PlayerGameStats {
                currency: chip(),
                game: "plinko".into(),
                counters: expected(&[&e3]),
            },
        ]
    );
    let dice = &stats[0].counters;
    assert_eq!(
        (dice.bets, dice.wins, dice.losses, dice.pushes),
        (3, 1, 2, 0)
    );
    assert_eq!((dice.wagered, dice.paid_out, dice.net()), (207, 198, -9));
    assert_eq!(stats[1].counters.pushes, 1);
    assert!(store
        .player_stats(PlayerId::new())
        .await
        .unwrap()
        .is_empty());

    // Per game, over every player, from the hour holding `since`.
    let hour_ago = t - Duration::hours(1);
    assert_eq!(
        store.game_stats("dice", hour_ago).await.unwrap(),
        vec![(chip(), expected(&[&e1, &e2, &e4, &e5]))]
    );
    assert!(store
        .game_stats("dice", t + Duration::hours(2))
        .await
        .unwrap()
        .is_empty());
    assert!(store.game_stats("keno", hour_ago).await.unwrap().is_empty());

    // Many handlers racing with the same batch: each event still counts once.
    let batch: Vec<_> = (0..20)
        .map(|i| settled(other.id, "limbo", 10 + i, 0, false))
        .collect();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (store, batch) = (store.clone(), batch.clone());
            tokio::spawn(async move { store.apply_settled_bets("stats", &batch, t).await })
        })
        .collect();
    let mut applied = 0;
    for r in racers {
        applied += r.await.unwrap().unwrap();
    }
    assert_eq!(applied, 20, "each event applied by exactly one racer");
    let limbo = store.player_stats(other.id).await.unwrap();
    let limbo = limbo.iter().find(|s| s.game == "limbo").unwrap();
    assert_eq!(limbo.counters, expected(&batch.iter().collect::<Vec<_>>()));
}

/// The `bet.settled` payload every backend writes parses into what the
/// statistics consumer needs, and agrees with the bet itself.
pub async fn bet_settled_events_carry_what_stats_need(store: Arc<dyn Store>) {
    let p = funded(&*store, "payloaded", 10_000).await;
    let mut bets = Vec::new();
    for _ in 0..4 {
        bets.push(place(&*store, super::bet_cmd(p.id, 100)).await.unwrap());
    }
    let events: Vec<_> = store
        .outbox_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type::BET_SETTLED)
        .collect();
    assert_eq!(events.len(), 4);
    let mut settled = Vec::new();
    for (e, b) in events.iter().zip(&bets) {
        let parsed: BetSettled = serde_json::from_value(e.payload.clone()).unwrap();
        assert_eq!(
            parsed,
            BetSettled {
                bet_id: b.id.clone(),
                player_id: p.id,
                game: b.game.clone(),
                currency: b.currency,
                stake: b.stake,
                payout: b.payout,
                win: b.win,
                multiplier: b.multiplier as f64 / 100.0,
                seed_pair_id: b.seed_pair_id,
                nonce: b.nonce as i64,
            }
        );
        settled.push(SettledBetEvent {
            event_id: e.event_id,
            at: e.created_at,
            bet: parsed,
        });
    }
    assert_eq!(
        store
            .apply_settled_bets("stats", &settled, now())
            .await
            .unwrap(),
        4
    );
    let stats = store.player_stats(p.id).await.unwrap();
    assert_eq!(stats.len(), 1);
    let c = stats[0].counters;
    assert_eq!((c.bets, c.wins, c.losses), (4, 2, 2));
    assert_eq!(
        (c.wagered, c.paid_out),
        (400, bets.iter().map(|b| b.payout).sum())
    );
}

/// A settled bet at a given place `(seed_pair_id, nonce)` of `player`'s sequence.
pub(crate) fn at_seq(
    player: PlayerId,
    currency: &str,
    game: &str,
    seq: BetSeq,
    kind: u8,
    gain: i64,
) -> SettledBetEvent {
    let (payout, win) = match kind {
        0 => (0, false),
        1 => (100, false),
        _ => (100 + gain, true),
    };
    SettledBetEvent {
        event_id: uuid::Uuid::now_v7(),
        // Millisecond precision, as stored.
        at: chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + seq.1).unwrap(),
        bet: BetSettled {
            bet_id: format!("bet-{}-{}", seq.0, seq.1),
            player_id: player,
            game: game.into(),
            currency: CurrencyCode::parse(currency).unwrap(),
            stake: 100,
            payout,
            win,
            multiplier: payout as f64 / 100.0,
            seed_pair_id: seq.0,
            nonce: seq.1,
        },
    }
}

/// Hands `batch` to the stats projection now; returns how many it applied.
pub(crate) async fn apply_stats(store: &dyn Store, batch: Vec<SettledBetEvent>) -> u64 {
    store
        .apply_settled_bets("stats", &batch, now())
        .await
        .unwrap()
}

/// The straightforward win record of bets listed in sequence order.
pub(crate) fn expected_record(bets: &[&SettledBetEvent]) -> (i64, i64, Option<(String, i64, f64)>) {
    let (mut current, mut longest) = (0, 0);
    let mut best: Option<&SettledBetEvent> = None;
    for e in bets {
        if e.bet.win {
            current += 1;
            let gain = |e: &SettledBetEvent| e.bet.payout - e.bet.stake;
            if best.is_none_or(|b| gain(e) > gain(b)) {
                best = Some(e);
            }
        } else {
            current = 0;
        }
        longest = longest.max(current);
    }
    let best = best.map(|e| {
        (
            e.bet.bet_id.clone(),
            e.bet.payout - e.bet.stake,
            e.bet.multiplier,
        )
    });
    (current, longest, best)
}

pub(crate) fn summary(r: &PlayerWinRecord) -> (i64, i64, Option<(String, i64, f64)>) {
    let best = r.record.biggest_win.as_ref();
    (
        r.record.streaks.current,
        r.record.streaks.longest,
        best.map(|b| (b.bet_id.clone(), b.amount, b.multiplier)),
    )
}

/// Biggest win and win streaks per (currency, game) and per currency: exact
/// once every event is in, whatever the arrival order, batching and
/// redelivery; rebuilt by a reset.
pub async fn stats_win_records_are_exact_in_any_arrival_order(store: Arc<dyn Store>) {
    let apply = |batch: Vec<SettledBetEvent>| apply_stats(&*store, batch);
    // W W L W W W, the fourth arriving last: 2 and 2, then 3 and 3.
    let p = new_player(&*store, "streaky").await;
    let kinds = [2, 2, 0, 2, 2, 2];
    let e: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| at_seq(p.id, "CHIP", "dice", (7, i as i64), *k, 10 * i as i64))
        .collect();
    assert_eq!(
        apply(vec![e[0].clone(), e[1].clone(), e[2].clone()]).await,
        3
    );
    assert_eq!(apply(vec![e[5].clone(), e[4].clone()]).await, 2);
    let records = store.player_win_records(p.id).await.unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(
        (records[0].game.as_deref(), records[1].game.as_deref()),
        (None, Some("dice"))
    );
    assert_eq!(
        (
            records[1].record.streaks.current,
            records[1].record.streaks.longest
        ),
        (2, 2)
    );
    assert_eq!(apply(vec![e[3].clone(), e[0].clone()]).await, 1);
    let records = store.player_win_records(p.id).await.unwrap();
    for r in &records {
        assert_eq!((r.record.streaks.current, r.record.streaks.longest), (3, 3));
        let best = r.record.biggest_win.as_ref().unwrap();
        assert_eq!(
            (best.bet_id.as_str(), best.amount, best.multiplier),
            ("bet-7-5", 50, 1.5)
        );
        assert_eq!((best.at, best.seq), (e[5].at, (7, 5)));
    }
    // A redelivery changes nothing.
    assert_eq!(apply(vec![e[3].clone()]).await, 0);
    assert_eq!(store.player_win_records(p.id).await.unwrap(), records);

    // Random sequences over two currencies and games, delivered shuffled, with
    // repeats, in random batches (a fixed-seed generator: reproducible).
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for round in 0..4 {
        let p = new_player(&*store, &format!("shuffled{round}")).await;
        let events: Vec<_> = (0..40)
            .map(|i| {
                let currency = if next(4) == 0 { "GOLD" } else { "CHIP" };
                let game = ["dice", "limbo"][next(2) as usize];
                // Three seed pairs; ids are not contiguous.
                let seq = (10 * (i / 15) + 3, i % 15);
                at_seq(p.id, currency, game, seq, next(3) as u8, 5 * next(3) as i64)
            })
            .collect();
        let mut arrival: Vec<usize> = (0..events.len()).collect();
        for i in (1..arrival.len()).rev() {
            arrival.swap(i, next(i as u64 + 1) as usize);
        }
        for _ in 0..10 {
            let at = next(arrival.len() as u64) as usize;
            arrival.insert(at, next(events.len() as u64) as usize);
        }
        let mut applied = 0;
        while !arrival.is_empty() {
            let n = (1 + next(6) as usize).min(arrival.len());
            let batch: Vec<_> = arrival.drain(..n).map(|i| events[i].clone()).collect();
            applied += apply(batch).await;
        }
        assert_eq!(applied, events.len() as u64);

        let mut want = Vec::new();
        for cur in ["CHIP", "GOLD"] {
            let of = |game: Option<&str>| -> Vec<&SettledBetEvent> {
                events
                    .iter()
                    .filter(|e| e.bet.currency.as_str() == cur)
                    .filter(|e| game.is_none_or(|g| e.bet.game == g))
                    .collect()
            };
            for game in [None, Some("dice"), Some("limbo")] {
                let bets = of(game);
                if !bets.is_empty() {
                    want.push((
                        cur.to_string(),
                        game.map(String::from),
                        expected_record(&bets),
                    ));
                }
            }
        }
        let got: Vec<_> = store
            .player_win_records(p.id)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.currency.to_string(), r.game.clone(), summary(r)))
            .collect();
        assert_eq!(got, want, "round {round}");
    }

    store.reset_stats("stats").await.unwrap();
    assert!(store.player_win_records(p.id).await.unwrap().is_empty());
    // Replayed after a reset: rebuilt the same.
    assert_eq!(apply(e.clone()).await, 6);
    assert_eq!(store.player_win_records(p.id).await.unwrap(), records);
}
