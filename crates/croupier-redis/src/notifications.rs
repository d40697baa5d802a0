//! Live notifications over Redis pub/sub: workers publish on
//! `<prefix>notifications`, every api instance subscribes and hands what it
//! receives to its local sockets.
//!
//! Best effort, like the notifications themselves: a message published while
//! a subscriber is away is lost for it. A silently dead subscription is
//! caught by its heartbeats, as the revocation bus's (see `subscription`).

use crate::subscription::{Listener, Ops, Timing, Watch};
use crate::{ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::notify::{Notification, Notifier};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Notifications per published message.
const CHUNK: usize = 64;
/// Larger messages are ignored (a message holds at most [`CHUNK`] small ones).
const MAX_MESSAGE: usize = 1 << 20;
const TIMING: Timing = Timing {
    heartbeat: Duration::from_secs(1),
    check: Duration::from_secs(1),
    stuck_after: Duration::from_secs(3),
};
const OPS: Ops = Ops {
    what: "live notification feed",
    subscribe: "notification_subscribe",
    heartbeat: "notification_heartbeat",
    heartbeat_channel: "notifications-heartbeat",
};

/// Publishes notifications to every api instance and, when started with
/// [`NotificationBus::subscribe`], receives them. Its tasks stop when dropped.
pub struct NotificationBus {
    watch: Arc<Watch>,
    publish_errors: ErrorLog,
    tasks: Vec<JoinHandle<()>>,
}

impl NotificationBus {
    /// Publishing only (an instance without the api role).
    pub fn publisher(redis: Redis) -> Self {
        Self {
            watch: Arc::new(Watch::new(redis, "notifications", OPS, TIMING)),
            publish_errors: ErrorLog::new("notification_publish"),
            tasks: vec![],
        }
    }

    /// Publishing, and subscribing in the background (retrying with
    /// backoff): `deliver` runs on the subscriber task for every notification
    /// received, from any instance (this one included); keep it quick.
    pub fn subscribe(
        redis: Redis,
        deliver: impl Fn(&Notification) + Send + Sync + 'static,
    ) -> Self {
        let mut bus = Self::publisher(redis);
        bus.tasks = bus.watch.start(Deliveries(Box::new(deliver))).into();
        bus
    }

    pub fn channel(&self) -> &str {
        self.watch.channel()
    }
}

impl Drop for NotificationBus {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[async_trait]
impl Notifier for NotificationBus {
    async fn notify(&self, notifications: &[Notification]) {
        for chunk in notifications.chunks(CHUNK) {
            let Ok(message) = serde_json::to_string(chunk) else {
                continue;
            };
            let cmd = redis::cmd("PUBLISH")
                .arg(self.watch.channel())
                .arg(message)
                .to_owned();
            if let Err(e) = self.watch.redis().query::<i64>(&cmd).await {
                // Not retried: a late push is worth less than none.
                self.publish_errors
                    .record(&e, "live notifications are dropped");
                metrics::counter!("croupier_ws_messages_dropped_total", "reason" => "redis")
                    .increment(chunk.len() as u64);
            }
        }
    }
}

/// The notifications of one message; `None` for anything else.
fn decode(payload: &[u8]) -> Option<Vec<Notification>> {
    if payload.len() > MAX_MESSAGE {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

/// The bus's delivery callback, fed by the subscription.
struct Deliveries(Box<dyn Fn(&Notification) + Send + Sync>);

impl Listener for Deliveries {
    fn message(&self, payload: &[u8]) {
        match decode(payload) {
            Some(batch) => batch.iter().for_each(|n| (self.0)(n)),
            None => tracing::warn!("ignoring a malformed notification message"),
        }
    }

    fn consequence(&self) -> &'static str {
        "sockets on this instance miss live notifications"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_rejected() {
        let n = Notification {
            player_id: croupier_core::PlayerId::new(),
            kind: "balance.changed".into(),
            event_id: uuid::Uuid::new_v4(),
            at: croupier_core::now(),
            data: serde_json::json!({"currency": "CHIP", "balance": 5, "cause": "claim"}),
        };
        let text = serde_json::to_string(std::slice::from_ref(&n)).unwrap();
        assert_eq!(decode(text.as_bytes()), Some(vec![n]));
        for junk in [&b""[..], b"r 00", b"[{}]", b"\xff"] {
            assert_eq!(decode(junk), None, "{junk:?}");
        }
    }
}
