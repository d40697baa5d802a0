//! Live notifications over Redis pub/sub: workers publish on
//! `<prefix>notifications`, every api instance subscribes and hands what it
//! receives to its local sockets.
//!
//! Best effort, like the notifications themselves: a message published while
//! a subscriber is away is lost for it. A silently dead subscription is
//! caught the way the revocation bus does it: the subscriber publishes a
//! heartbeat on a channel of its own, on the same subscription, and
//! resubscribes when its heartbeats stop coming back.

use crate::revocation::MAX_BACKOFF;
use crate::{now_ms, Error, ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::backoff::Backoff;
use croupier_core::notify::{Notification, Notifier};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Notifications per published message.
const CHUNK: usize = 64;
/// Larger messages are ignored (a message holds at most [`CHUNK`] small ones).
const MAX_MESSAGE: usize = 1 << 20;
const HEARTBEAT: Duration = Duration::from_secs(1);
/// No heartbeat back for this long while they are published: resubscribe.
const STUCK_AFTER: Duration = Duration::from_secs(3);
const MIN_BACKOFF: Duration = Duration::from_millis(100);

struct Inner {
    redis: Redis,
    channel: String,
    heartbeat_channel: String,
    heartbeat_seen: AtomicU64,
    heartbeat_sent: AtomicU64,
    publish_errors: ErrorLog,
    subscribe_errors: ErrorLog,
}

/// Publishes notifications to every api instance and, when started with
/// [`NotificationBus::subscribe`], receives them. Its tasks stop when dropped.
pub struct NotificationBus {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl NotificationBus {
    /// Publishing only (an instance without the api role).
    pub fn publisher(redis: Redis) -> Self {
        let prefix = redis.prefix().to_owned();
        Self {
            inner: Arc::new(Inner {
                redis,
                channel: format!("{prefix}notifications"),
                heartbeat_channel: format!(
                    "{prefix}notifications-heartbeat:{}",
                    uuid::Uuid::new_v4().simple()
                ),
                heartbeat_seen: AtomicU64::new(0),
                heartbeat_sent: AtomicU64::new(0),
                publish_errors: ErrorLog::new("notification_publish"),
                subscribe_errors: ErrorLog::new("notification_subscribe"),
            }),
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
        bus.tasks = vec![
            tokio::spawn(subscribe_forever(bus.inner.clone(), Box::new(deliver))),
            tokio::spawn(heartbeat_forever(bus.inner.clone())),
        ];
        bus
    }

    pub fn channel(&self) -> &str {
        &self.inner.channel
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
                .arg(&self.inner.channel)
                .arg(message)
                .to_owned();
            if let Err(e) = self.inner.redis.query::<i64>(&cmd).await {
                // Not retried: a late push is worth less than none.
                self.inner
                    .publish_errors
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

type Deliver = Box<dyn Fn(&Notification) + Send + Sync>;

async fn subscribe_forever(inner: Arc<Inner>, deliver: Deliver) {
    let mut backoff = Backoff::new("redis_subscribe", MIN_BACKOFF, MAX_BACKOFF);
    let limit = inner.redis.timeout().max(Duration::from_secs(1));
    loop {
        let subscription = tokio::time::timeout(limit, async {
            let mut pubsub = inner.redis.client().get_async_pubsub().await?;
            pubsub
                .subscribe(&[&inner.channel, &inner.heartbeat_channel])
                .await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await
        .map_err(|_| Error::Timeout(limit))
        .and_then(|r| r.map_err(Error::from));
        match subscription {
            Ok(pubsub) => {
                tracing::info!(channel = %inner.channel, "live notification feed subscribed");
                let why = listen(&inner, pubsub, &deliver, now_ms()).await;
                inner
                    .subscribe_errors
                    .record(&why, "sockets on this instance miss live notifications");
                backoff.reset();
            }
            Err(e) => {
                inner
                    .subscribe_errors
                    .record(&e, "sockets on this instance miss live notifications");
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

async fn listen(
    inner: &Inner,
    pubsub: redis::aio::PubSub,
    deliver: &Deliver,
    since: u64,
) -> &'static str {
    let mut messages = pubsub.into_on_message();
    let mut check = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return "subscription connection closed" };
                if msg.get_channel_name() == inner.heartbeat_channel {
                    inner.heartbeat_seen.store(now_ms(), Ordering::Release);
                } else if let Some(batch) = decode(msg.get_payload_bytes()) {
                    for n in &batch {
                        deliver(n);
                    }
                } else {
                    tracing::warn!(channel = %inner.channel, "ignoring a malformed notification message");
                }
            }
            _ = check.tick() => {
                let now = now_ms();
                let seen = inner.heartbeat_seen.load(Ordering::Acquire).max(since);
                let sent = inner.heartbeat_sent.load(Ordering::Acquire);
                if sent > seen && now.saturating_sub(seen) > STUCK_AFTER.as_millis() as u64 {
                    return "subscription stopped delivering";
                }
            }
        }
    }
}

async fn heartbeat_forever(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cmd = redis::cmd("PUBLISH")
            .arg(&inner.heartbeat_channel)
            .arg("h")
            .to_owned();
        if inner.redis.query::<i64>(&cmd).await.is_ok() {
            inner.heartbeat_sent.store(now_ms(), Ordering::Release);
        }
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
