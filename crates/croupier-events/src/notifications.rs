//! The `notifications` consumer: turns balance-moving events into live
//! notifications for the player's sockets (`GET /v1/ws`) and hands them to a
//! [`Notifier`].
//!
//! Unlike the other consumers it has no inbox and never fails: notifications
//! are ephemeral, a redelivered event is pushed again (each message carries
//! its `event_id`), and events older than `max_age` are not pushed at all, so
//! a worker catching up after downtime does not replay stale pushes.

use crate::consumer::{Consumer, ConsumerError};
use async_trait::async_trait;
use croupier_core::notify::{Notification, Notifier};
use croupier_core::{event_type, OutboxEvent, PlayerId};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub struct NotificationsConsumer {
    notifier: Arc<dyn Notifier>,
    max_age: chrono::Duration,
}

impl NotificationsConsumer {
    pub const NAME: &'static str = "notifications";

    pub fn new(notifier: Arc<dyn Notifier>, max_age: Duration) -> Self {
        Self {
            notifier,
            max_age: chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX),
        }
    }
}

#[async_trait]
impl Consumer for NotificationsConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            event_type::BET_SETTLED,
            event_type::WALLET_CLAIMED,
            event_type::WALLET_ADJUSTED,
            event_type::REWARD_GRANTED,
        ]
    }

    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let now = croupier_core::now();
        let mut out = Vec::with_capacity(events.len() * 2);
        let mut stale = 0u64;
        for e in events {
            if now - e.created_at > self.max_age {
                stale += 1;
                continue;
            }
            match notifications(e) {
                Some(n) => out.extend(n),
                // Another consumer dead-letters a malformed event; a push is not worth it.
                None => tracing::warn!(event_id = %e.event_id, event_type = %e.event_type,
                    "cannot make notifications from this event; skipped"),
            }
        }
        if stale > 0 {
            metrics::counter!("croupier_ws_notifications_stale_total").increment(stale);
        }
        if !out.is_empty() {
            self.notifier.notify(&out).await;
        }
        Ok(())
    }
}

/// The notifications an event makes, or `None` if its payload lacks what they need.
pub fn notifications(e: &OutboxEvent) -> Option<Vec<Notification>> {
    let p = e.payload.as_object()?;
    let player_id: PlayerId = serde_json::from_value(p.get("player_id")?.clone()).ok()?;
    let field = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let currency = p.get("currency")?.as_str()?;
    let balance = p.get("balance")?.as_i64()?;
    let note = |kind: &str, data: Value| Notification {
        player_id,
        kind: kind.to_owned(),
        event_id: e.event_id,
        at: e.created_at,
        data,
    };
    let balance_changed = |cause: &str, amount: Value| {
        note(
            "balance.changed",
            json!({ "currency": currency, "balance": balance, "cause": cause, "amount": amount }),
        )
    };
    Some(match e.event_type.as_str() {
        event_type::BET_SETTLED => {
            let (stake, payout) = (p.get("stake")?.as_i64()?, p.get("payout")?.as_i64()?);
            // The player's own bet: everything but the addressee.
            let mut data = p.clone();
            data.remove("player_id");
            vec![
                note("bet.settled", Value::Object(data)),
                balance_changed("bet", json!(payout.saturating_sub(stake))),
            ]
        }
        event_type::WALLET_CLAIMED => vec![balance_changed("claim", field("amount"))],
        // The admin's id and reason stay out of the player's feed.
        event_type::WALLET_ADJUSTED => vec![balance_changed("adjustment", field("amount"))],
        event_type::REWARD_GRANTED => vec![
            note(
                "reward.granted",
                json!({
                    "mission_id": field("mission_id"), "period": field("period"),
                    "currency": currency, "amount": field("amount"), "balance": balance,
                }),
            ),
            balance_changed("reward", field("amount")),
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<Notification>>);

    #[async_trait]
    impl Notifier for Collect {
        async fn notify(&self, n: &[Notification]) {
            self.0.lock().unwrap().extend_from_slice(n);
        }
    }

    fn event(kind: &str, payload: Value, age_secs: i64) -> OutboxEvent {
        OutboxEvent {
            position: 1,
            event_id: uuid::Uuid::new_v4(),
            event_type: kind.into(),
            payload,
            created_at: croupier_core::now() - chrono::Duration::seconds(age_secs),
            producer: "test".into(),
            traceparent: None,
        }
    }

    #[tokio::test]
    async fn events_become_notifications_and_stale_ones_are_dropped() {
        let sink = Arc::new(Collect(Mutex::new(vec![])));
        let c = NotificationsConsumer::new(sink.clone(), Duration::from_secs(60));
        let p = PlayerId::new();
        let bet = event(
            event_type::BET_SETTLED,
            json!({"bet_id": "b1", "player_id": p, "game": "dice", "currency": "CHIP",
                   "stake": 100, "payout": 198, "multiplier": 1.98, "win": true,
                   "seed_pair_id": 1, "nonce": 0, "balance": 1098}),
            0,
        );
        let claim = event(
            event_type::WALLET_CLAIMED,
            json!({"player_id": p, "currency": "CHIP", "amount": 1000, "balance": 2098, "transaction_id": 7}),
            0,
        );
        let adjust = event(
            event_type::WALLET_ADJUSTED,
            json!({"player_id": p, "currency": "CHIP", "amount": -5, "balance": 2093,
                   "transaction_id": 8, "actor": PlayerId::new(), "reason": "secret"}),
            0,
        );
        let reward = event(
            event_type::REWARD_GRANTED,
            json!({"mission_id": "win-5", "player_id": p, "period": "2026-11-22",
                   "currency": "CHIP", "amount": 10000, "transaction_id": 9, "balance": 12093}),
            0,
        );
        let old = event(event_type::WALLET_CLAIMED, claim.payload.clone(), 61);
        let junk = event(event_type::WALLET_CLAIMED, json!({"player_id": "x"}), 0);
        c.handle(&[bet.clone(), claim, adjust, reward, old, junk])
            .await
            .unwrap();
        let got = sink.0.lock().unwrap().clone();
        let kinds: Vec<(&str, Option<&str>)> = got
            .iter()
            .map(|n| (n.kind.as_str(), n.data["cause"].as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("bet.settled", None),
                ("balance.changed", Some("bet")),
                ("balance.changed", Some("claim")),
                ("balance.changed", Some("adjustment")),
                ("reward.granted", None),
                ("balance.changed", Some("reward")),
            ]
        );
        assert!(got.iter().all(|n| n.player_id == p));
        assert_eq!(got[0].event_id, bet.event_id);
        assert_eq!(got[0].data["payout"], 198);
        assert!(got[0].data.get("player_id").is_none());
        assert_eq!(
            (
                got[1].data["balance"].clone(),
                got[1].data["amount"].clone()
            ),
            (json!(1098), json!(98))
        );
        assert!(got[3].data.get("reason").is_none() && got[3].data.get("actor").is_none());
        assert_eq!(got[4].data["mission_id"], "win-5");
        let frame: Value = serde_json::from_str(&got[0].frame()).unwrap();
        assert_eq!(frame["type"], "bet.settled");
        assert_eq!(frame["event_id"], json!(bet.event_id));
        assert!(frame.get("player_id").is_none() && frame["at"].is_string());
    }
}
