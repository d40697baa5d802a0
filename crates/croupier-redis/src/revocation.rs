//! Session revocations over Redis pub/sub, with an end-to-end liveness signal.
//!
//! Every instance subscribes to `<prefix>revocations`; a logout publishes the
//! revoked token hashes there (`r <hex> <hex> …`, at most [`CHUNK`] a message).
//! Pub/sub delivers only to whoever is subscribed at that moment, so a
//! subscriber that was away may have missed some: on every (re)subscription
//! the callback gets [`BusEvent::Resync`] and must forget what it cached.
//!
//! "Subscribed" is not enough to call the feed live: a connection can die
//! silently. Each bus also publishes a heartbeat every [`HEARTBEAT`] on a
//! channel of its own, on the same subscription. Redis delivers a
//! subscription's messages in the order it processed their publishes, so a
//! heartbeat received means every revocation published before it was too.
//! The feed is live while one arrived within [`LIVE_WINDOW`]; a revocation
//! published while it is not may be missed, which the session cache's
//! one-second rule then covers.

use crate::{now_ms, Error, ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::backoff::Backoff;
use croupier_core::revocation::RevocationFeed;
use croupier_core::TokenHash;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often a bus checks its own subscription end to end.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// The feed is live while its last heartbeat came back within this.
/// Below one second, so a silently dead feed stops being trusted in time.
pub const LIVE_WINDOW: Duration = Duration::from_millis(800);
/// Heartbeats published fine but none received for this long: the
/// subscription is stuck; drop it and subscribe again.
const STUCK_AFTER: Duration = Duration::from_secs(2);
/// Token hashes per message.
const CHUNK: usize = 256;
/// Revocation messages waiting to be retried; past it new ones are dropped
/// (counted and logged).
const RETRY_QUEUE: usize = 10_000;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the subscriber hands to the bus's callback.
#[derive(Debug)]
pub enum BusEvent<'a> {
    /// These sessions were revoked (on any instance, this one included).
    Revoked(&'a [TokenHash]),
    /// The subscription was (re)established: announcements made while it
    /// was down are lost, so drop every cached session.
    Resync,
}

struct Inner {
    redis: Redis,
    channel: String,
    heartbeat_channel: String,
    subscribed: AtomicBool,
    /// `now_ms` of the last heartbeat received on the current subscription (0: none).
    heartbeat_seen: AtomicU64,
    /// `now_ms` of the last heartbeat Redis accepted.
    heartbeat_sent: AtomicU64,
    publish_errors: ErrorLog,
    subscribe_errors: ErrorLog,
    heartbeat_errors: ErrorLog,
}

impl Inner {
    fn is_live(&self) -> bool {
        let seen = self.heartbeat_seen.load(Ordering::Acquire);
        self.subscribed.load(Ordering::Acquire)
            && seen != 0
            && now_ms().saturating_sub(seen) <= LIVE_WINDOW.as_millis() as u64
    }

    async fn send(&self, message: &str) -> Result<(), Error> {
        self.redis
            .query::<i64>(redis::cmd("PUBLISH").arg(&self.channel).arg(message))
            .await
            .map(|_| ())
    }
}

struct Pending {
    message: String,
    sessions: usize,
    give_up_at: u64,
}

/// The Redis revocation feed. Cheap to share behind an `Arc`; its tasks stop
/// when it is dropped.
pub struct RevocationBus {
    inner: Arc<Inner>,
    retry: mpsc::Sender<Pending>,
    retry_for: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl RevocationBus {
    /// Starts subscribing (in the background, retrying with backoff) and
    /// returns at once. `on_event` runs on the subscriber task for every
    /// announcement and every (re)subscription; keep it quick.
    ///
    /// A revocation that cannot be published is retried for `retry_for`:
    /// set it to how long the caches may hold a session.
    pub fn start(
        redis: Redis,
        retry_for: Duration,
        on_event: impl Fn(BusEvent<'_>) + Send + Sync + 'static,
    ) -> Self {
        let prefix = redis.prefix().to_owned();
        let inner = Arc::new(Inner {
            redis,
            channel: format!("{prefix}revocations"),
            heartbeat_channel: format!("{prefix}heartbeat:{}", uuid::Uuid::new_v4().simple()),
            subscribed: AtomicBool::new(false),
            heartbeat_seen: AtomicU64::new(0),
            heartbeat_sent: AtomicU64::new(0),
            publish_errors: ErrorLog::new("revocation_publish"),
            subscribe_errors: ErrorLog::new("revocation_subscribe"),
            heartbeat_errors: ErrorLog::new("revocation_heartbeat"),
        });
        let (retry, pending) = mpsc::channel(RETRY_QUEUE);
        let tasks = vec![
            tokio::spawn(subscribe_forever(inner.clone(), Box::new(on_event))),
            tokio::spawn(heartbeat_forever(inner.clone())),
            tokio::spawn(retry_forever(inner.clone(), pending)),
        ];
        Self {
            inner,
            retry,
            retry_for,
            tasks,
        }
    }

    /// The channel revocations are published on.
    pub fn channel(&self) -> &str {
        &self.inner.channel
    }
}

impl Drop for RevocationBus {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[async_trait]
impl RevocationFeed for RevocationBus {
    async fn publish(&self, revoked: &[TokenHash]) {
        for chunk in revoked.chunks(CHUNK) {
            let message = encode(chunk);
            if let Err(e) = self.inner.send(&message).await {
                self.inner
                    .publish_errors
                    .record(&e, "revocations are retried in the background");
                let pending = Pending {
                    message,
                    sessions: chunk.len(),
                    give_up_at: now_ms() + self.retry_for.as_millis() as u64,
                };
                if self.retry.try_send(pending).is_err() {
                    metrics::counter!("croupier_session_revocations_undelivered_total")
                        .increment(chunk.len() as u64);
                    tracing::error!(
                        sessions = chunk.len(),
                        "revocation retry queue full; other instances may honour these revocations late"
                    );
                }
            }
        }
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }
}

fn encode(hashes: &[TokenHash]) -> String {
    let mut s = String::with_capacity(2 + hashes.len() * 65);
    s.push('r');
    for h in hashes {
        s.push(' ');
        s.push_str(&hex::encode(h.0));
    }
    s
}

/// The hashes of an `r …` message; `None` for anything else.
fn decode(payload: &[u8]) -> Option<Vec<TokenHash>> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.split(' ');
    if words.next()? != "r" {
        return None;
    }
    words
        .map(|w| {
            let mut h = [0u8; 32];
            hex::decode_to_slice(w, &mut h).ok()?;
            Some(TokenHash(h))
        })
        .collect()
}

type Callback = Box<dyn Fn(BusEvent<'_>) + Send + Sync>;

async fn subscribe_forever(inner: Arc<Inner>, on_event: Callback) {
    let mut backoff = Backoff::new("redis_subscribe", MIN_BACKOFF, MAX_BACKOFF);
    // Connecting and subscribing take two round trips and a handshake.
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
                let since = now_ms();
                inner.heartbeat_seen.store(0, Ordering::Release);
                on_event(BusEvent::Resync);
                inner.subscribed.store(true, Ordering::Release);
                tracing::info!(channel = %inner.channel, "session revocation feed subscribed");
                let why = listen(&inner, pubsub, &on_event, since).await;
                inner.subscribed.store(false, Ordering::Release);
                metrics::gauge!("croupier_session_revocation_feed_live").set(0.0);
                inner.subscribe_errors.record(
                    &why,
                    "cached sessions are re-read from the store every second",
                );
                backoff.reset();
            }
            Err(e) => {
                inner.subscribe_errors.record(
                    &e,
                    "cached sessions are re-read from the store every second",
                );
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Delivers messages until the subscription ends or is stuck; says why.
async fn listen(
    inner: &Inner,
    pubsub: redis::aio::PubSub,
    on_event: &Callback,
    since: u64,
) -> &'static str {
    let mut messages = pubsub.into_on_message();
    let mut check = tokio::time::interval(HEARTBEAT / 2);
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return "subscription connection closed" };
                if msg.get_channel_name() == inner.heartbeat_channel {
                    inner.heartbeat_seen.store(now_ms(), Ordering::Release);
                } else if let Some(hashes) = decode(msg.get_payload_bytes()) {
                    on_event(BusEvent::Revoked(&hashes));
                } else {
                    tracing::warn!(channel = %inner.channel, "ignoring a malformed revocation message");
                }
            }
            _ = check.tick() => {
                let live = inner.is_live();
                metrics::gauge!("croupier_session_revocation_feed_live").set(if live { 1.0 } else { 0.0 });
                let now = now_ms();
                let seen = inner.heartbeat_seen.load(Ordering::Acquire).max(since);
                let sent = inner.heartbeat_sent.load(Ordering::Acquire);
                // Publishing works but our own heartbeats do not come back.
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
        match inner.redis.query::<i64>(&cmd).await {
            Ok(_) => inner.heartbeat_sent.store(now_ms(), Ordering::Release),
            Err(e) => inner
                .heartbeat_errors
                .record(&e, "the revocation feed is not live"),
        }
    }
}

async fn retry_forever(inner: Arc<Inner>, mut pending: mpsc::Receiver<Pending>) {
    while let Some(p) = pending.recv().await {
        let mut backoff = Backoff::new("redis_revocation_publish", MIN_BACKOFF, MAX_BACKOFF);
        loop {
            if now_ms() >= p.give_up_at {
                metrics::counter!("croupier_session_revocations_undelivered_total")
                    .increment(p.sessions as u64);
                tracing::error!("gave up announcing a revocation; other instances honour it when their cached copy expires");
                break;
            }
            tokio::time::sleep(backoff.next_delay()).await;
            match inner.send(&p.message).await {
                Ok(()) => break,
                Err(e) => {
                    inner
                        .publish_errors
                        .record(&e, "revocations are retried in the background");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_rejected() {
        let hashes = [TokenHash([7; 32]), TokenHash([0xab; 32])];
        let decoded = decode(encode(&hashes).as_bytes()).expect("decodes");
        assert_eq!(decoded, hashes);
        assert_eq!(decode(b"r"), Some(vec![]));
        for junk in [&b""[..], b"x 00", b"r zz", b"r 0011", b"\xff\xfe"] {
            assert_eq!(decode(junk), None, "{junk:?}");
        }
    }
}
