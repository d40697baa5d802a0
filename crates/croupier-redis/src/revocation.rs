//! Session revocations over Redis pub/sub, with an end-to-end liveness signal.
//!
//! Every instance subscribes to `<prefix>revocations`; a logout publishes the
//! revoked token hashes there (`r <hex> <hex> …`, at most [`CHUNK`] a message).
//! Pub/sub delivers only to whoever is subscribed at that moment, so a
//! subscriber that was away may have missed some: on every (re)subscription
//! the callback gets [`BusEvent::Resync`] and must forget what it cached.
//!
//! "Subscribed" is not enough to call the feed live: a connection can die
//! silently. The subscription checks itself with heartbeats (see
//! `subscription`) every [`HEARTBEAT`]; a heartbeat received means every
//! revocation published before it was too. The feed is live while one
//! arrived within [`LIVE_WINDOW`]; a revocation published while it is not may
//! be missed, which the session cache's one-second rule then covers.

use crate::subscription::{Listener, Ops, Timing, Watch, MAX_BACKOFF};
use crate::{now_ms, Error, ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::backoff::Backoff;
use croupier_core::revocation::RevocationFeed;
use croupier_core::TokenHash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often a bus checks its own subscription end to end.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// The feed is live while its last heartbeat came back within this.
/// Below one second, so a silently dead feed stops being trusted in time.
pub const LIVE_WINDOW: Duration = Duration::from_millis(800);
const TIMING: Timing = Timing {
    heartbeat: HEARTBEAT,
    check: Duration::from_millis(100),
    // Heartbeats published fine but none received for this long: the
    // subscription is stuck; drop it and subscribe again.
    stuck_after: Duration::from_secs(2),
};
const OPS: Ops = Ops {
    what: "session revocation feed",
    subscribe: "revocation_subscribe",
    heartbeat: "revocation_heartbeat",
    heartbeat_channel: "heartbeat",
};
/// Token hashes per message.
const CHUNK: usize = 256;
/// Revocation messages waiting to be retried; past it new ones are dropped
/// (counted and logged).
const RETRY_QUEUE: usize = 10_000;
const MIN_BACKOFF: Duration = Duration::from_millis(100);

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
    watch: Arc<Watch>,
    publish_errors: ErrorLog,
}

impl Inner {
    async fn send(&self, message: &str) -> Result<(), Error> {
        self.watch
            .redis()
            .query::<i64>(redis::cmd("PUBLISH").arg(self.watch.channel()).arg(message))
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
        let watch = Arc::new(Watch::new(redis, "revocations", OPS, TIMING));
        let [subscriber, heartbeat] = watch.start(Announcements(Box::new(on_event)));
        let inner = Arc::new(Inner {
            watch,
            publish_errors: ErrorLog::new("revocation_publish"),
        });
        let (retry, pending) = mpsc::channel(RETRY_QUEUE);
        let tasks = vec![
            subscriber,
            heartbeat,
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
        self.inner.watch.channel()
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
        self.inner.watch.is_live(LIVE_WINDOW)
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

/// The bus's callback, fed by the subscription.
struct Announcements(Box<dyn Fn(BusEvent<'_>) + Send + Sync>);

impl Listener for Announcements {
    fn subscribed(&self) {
        (self.0)(BusEvent::Resync);
    }

    fn message(&self, payload: &[u8]) {
        match decode(payload) {
            Some(hashes) => (self.0)(BusEvent::Revoked(&hashes)),
            None => tracing::warn!("ignoring a malformed revocation message"),
        }
    }

    fn checked(&self, watch: &Watch) {
        let live = watch.is_live(LIVE_WINDOW);
        metrics::gauge!("croupier_session_revocation_feed_live").set(if live { 1.0 } else { 0.0 });
    }

    fn consequence(&self) -> &'static str {
        "cached sessions are re-read from the store every second"
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
