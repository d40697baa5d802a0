//! A pub/sub subscription that checks itself end to end, shared by the
//! revocation and notification buses.
//!
//! A subscription can die silently (a stalled connection looks open). So the
//! subscriber also publishes a heartbeat every `Timing::heartbeat` on a
//! channel of its own, on the same subscription. Redis delivers a
//! subscription's messages in the order it processed their publishes, so a
//! heartbeat received means every message published before it was too. When
//! heartbeats are published fine but none comes back for
//! `Timing::stuck_after`, the subscription is dropped and made again, with
//! backoff; so is one that fails or closes.

use crate::{now_ms, Error, ErrorLog, Redis};
use croupier_core::backoff::Backoff;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often a subscription proves itself, and when it is given up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// Between two heartbeats.
    pub heartbeat: Duration,
    /// Between two checks of the subscription (and `Listener::checked` calls).
    pub check: Duration,
    /// Heartbeats published but none received for this long: resubscribe.
    pub stuck_after: Duration,
}

/// What a subscription hands on, called on its task; keep each call quick.
pub(crate) trait Listener: Send + Sync + 'static {
    /// Subscribed (again): what was published while away is lost.
    fn subscribed(&self) {}
    /// A message on the channel.
    fn message(&self, payload: &[u8]);
    /// After each check while subscribed, and once when a subscription ends.
    fn checked(&self, _watch: &Watch) {}
    /// What a failed or lost subscription costs, for the log.
    fn consequence(&self) -> &'static str;
}

/// A subscription's channel and end-to-end state.
pub(crate) struct Watch {
    redis: Redis,
    channel: String,
    heartbeat_channel: String,
    timing: Timing,
    subscribed: AtomicBool,
    /// `now_ms` of the last heartbeat received on the current subscription (0: none).
    heartbeat_seen: AtomicU64,
    /// `now_ms` of the last heartbeat Redis accepted.
    heartbeat_sent: AtomicU64,
    subscribe_errors: ErrorLog,
    heartbeat_errors: ErrorLog,
    /// What the subscription is, for the log.
    what: &'static str,
}

impl Watch {
    /// `name` names the channel (`<prefix><name>`), its heartbeat channel and
    /// the error metrics (`<op>_subscribe`, `<op>_heartbeat`).
    pub(crate) fn new(redis: Redis, name: &str, op: Ops, timing: Timing) -> Self {
        let prefix = redis.prefix().to_owned();
        Self {
            channel: format!("{prefix}{name}"),
            heartbeat_channel: format!(
                "{prefix}{}:{}",
                op.heartbeat_channel,
                uuid::Uuid::new_v4().simple()
            ),
            redis,
            timing,
            subscribed: AtomicBool::new(false),
            heartbeat_seen: AtomicU64::new(0),
            heartbeat_sent: AtomicU64::new(0),
            subscribe_errors: ErrorLog::new(op.subscribe),
            heartbeat_errors: ErrorLog::new(op.heartbeat),
            what: op.what,
        }
    }

    pub(crate) fn redis(&self) -> &Redis {
        &self.redis
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// Subscribed, and a heartbeat came back within `window`.
    pub(crate) fn is_live(&self, window: Duration) -> bool {
        let seen = self.heartbeat_seen.load(Ordering::Acquire);
        self.subscribed.load(Ordering::Acquire)
            && seen != 0
            && now_ms().saturating_sub(seen) <= window.as_millis() as u64
    }

    /// Starts subscribing and heartbeating (each on a task of its own).
    pub(crate) fn start(self: &Arc<Self>, listener: impl Listener) -> [JoinHandle<()>; 2] {
        [
            tokio::spawn(subscribe_forever(self.clone(), listener)),
            tokio::spawn(heartbeat_forever(self.clone())),
        ]
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSub, Error> {
        // Connecting and subscribing take two round trips and a handshake.
        let limit = self.redis.timeout().max(Duration::from_secs(1));
        let subscribing = async {
            let mut pubsub = self.redis.client().get_async_pubsub().await?;
            pubsub
                .subscribe(&[&self.channel, &self.heartbeat_channel])
                .await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(limit, subscribing).await {
            Ok(r) => r.map_err(Error::from),
            Err(_) => Err(Error::Timeout(limit)),
        }
    }
}

/// The metric labels (`croupier_redis_errors_total{op}`) and heartbeat
/// channel name of one kind of subscription.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ops {
    /// What the subscription is, for the log (e.g. "session revocation feed").
    pub what: &'static str,
    pub subscribe: &'static str,
    pub heartbeat: &'static str,
    pub heartbeat_channel: &'static str,
}

async fn subscribe_forever(watch: Arc<Watch>, listener: impl Listener) {
    let mut backoff = Backoff::new("redis_subscribe", MIN_BACKOFF, MAX_BACKOFF);
    loop {
        match watch.subscribe().await {
            Ok(pubsub) => {
                let since = now_ms();
                watch.heartbeat_seen.store(0, Ordering::Release);
                listener.subscribed();
                watch.subscribed.store(true, Ordering::Release);
                tracing::info!(channel = %watch.channel, "{} subscribed", watch.what);
                let why = listen(&watch, pubsub, &listener, since).await;
                watch.subscribed.store(false, Ordering::Release);
                listener.checked(&watch);
                watch.subscribe_errors.record(&why, listener.consequence());
                backoff.reset();
            }
            Err(e) => watch.subscribe_errors.record(&e, listener.consequence()),
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Delivers messages until the subscription ends or is stuck; says why.
async fn listen(
    watch: &Watch,
    pubsub: redis::aio::PubSub,
    listener: &impl Listener,
    since: u64,
) -> &'static str {
    let mut messages = pubsub.into_on_message();
    let mut check = tokio::time::interval(watch.timing.check);
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return "subscription connection closed" };
                if msg.get_channel_name() == watch.heartbeat_channel {
                    watch.heartbeat_seen.store(now_ms(), Ordering::Release);
                } else {
                    listener.message(msg.get_payload_bytes());
                }
            }
            _ = check.tick() => {
                listener.checked(watch);
                let now = now_ms();
                let seen = watch.heartbeat_seen.load(Ordering::Acquire).max(since);
                let sent = watch.heartbeat_sent.load(Ordering::Acquire);
                // Publishing works but our own heartbeats do not come back.
                if sent > seen && now.saturating_sub(seen) > watch.timing.stuck_after.as_millis() as u64 {
                    return "subscription stopped delivering";
                }
            }
        }
    }
}

async fn heartbeat_forever(watch: Arc<Watch>) {
    let mut tick = tokio::time::interval(watch.timing.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cmd = redis::cmd("PUBLISH")
            .arg(&watch.heartbeat_channel)
            .arg("h")
            .to_owned();
        match watch.redis.query::<i64>(&cmd).await {
            Ok(_) => watch.heartbeat_sent.store(now_ms(), Ordering::Release),
            Err(e) => watch
                .heartbeat_errors
                .record(&e, &format!("the {} is not live", watch.what)),
        }
    }
}
