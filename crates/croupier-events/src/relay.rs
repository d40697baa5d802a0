//! The outbox relay: claims unpublished events with a lease, hands them to a
//! bus, and marks published what the bus acknowledged. Several relays may
//! run at once: claims are disjoint, so in steady state no event is
//! published twice; after a relay dies its leased events are claimed again
//! once the lease ends (at least once).

use async_trait::async_trait;
use chrono::Duration;
use croupier_core::backoff::Backoff;
use croupier_core::ports::OutboxStore;
use croupier_core::{Clock, OutboxEvent, StoreResult};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Where the relay delivers events.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// For logs and metrics: `jetstream` or `in_process`.
    fn kind(&self) -> &'static str;
    /// Delivers `events` and returns the positions of those now durably
    /// delivered (JetStream: stored by the stream; in-process: handled by
    /// every consumer, or dead-lettered). The others stay leased and are
    /// delivered again once their lease ends.
    async fn publish(&self, events: &[OutboxEvent]) -> Vec<i64>;
    /// Told the outbox backlog (events not yet published) each time the
    /// relay counts it. The in-process bus reports it as every consumer's
    /// lag, since an event is published only once all have handled it;
    /// JetStream consumers report their own lag.
    fn backlog(&self, _unpublished: u64) {}
    /// May the relay claim events for this bus now? False while the bus is
    /// known to be down (its circuit is open): events are then left
    /// unleased, and go out as soon as it is back.
    fn accepting(&self) -> bool {
        true
    }
    /// The relay was let through by [`Bus::accepting`] but found nothing to
    /// publish. A bus whose circuit let this call through as its probe
    /// checks its transport another way, so an idle relay does not leave the
    /// circuit half-open until the next event.
    async fn idle(&self) {}
    /// Whether, when the bus took none of a batch (a transport failure: its
    /// circuit now counts it), the batch is released at once for the next
    /// claim rather than kept leased until the lease ends (the in-process
    /// bus: its consumers failed; the lease paces their retries). Events
    /// refused while others of their batch went out stay leased either way:
    /// something is wrong with them, not the bus, and releasing them would
    /// put them back at the head of every claim.
    fn release_undelivered(&self) -> bool {
        false
    }
}

#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Names this relay's leases (unique per process).
    pub owner: String,
    /// Most events claimed at once.
    pub batch: u32,
    /// How long a claim holds; must exceed the time a batch takes to publish,
    /// or another relay may publish it too (harmless, but not steady state).
    pub lease: Duration,
    /// Pause between claims while the outbox is drained.
    pub poll_interval: std::time::Duration,
    /// Published events older than this are deleted; `None` keeps them.
    pub retention: Option<Duration>,
    /// What leases and retention are measured on (tests move a manual one).
    pub clock: Clock,
}

impl RelayOptions {
    /// A unique owner name for this process and relay.
    pub fn unique_owner() -> String {
        format!(
            "relay-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        )
    }
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            owner: Self::unique_owner(),
            batch: 256,
            lease: Duration::seconds(30),
            poll_interval: std::time::Duration::from_millis(100),
            retention: Some(Duration::days(7)),
            clock: Clock::system(),
        }
    }
}

/// What one claim-publish-mark round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStep {
    pub claimed: usize,
    pub published: usize,
}

pub struct Relay {
    store: Arc<dyn OutboxStore>,
    bus: Arc<dyn Bus>,
    opts: RelayOptions,
}

/// How often the backlog gauge is refreshed and old events pruned.
const BACKLOG_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
const PRUNE_BATCH: u32 = 10_000;

impl Relay {
    pub fn new(store: Arc<dyn OutboxStore>, bus: Arc<dyn Bus>, opts: RelayOptions) -> Self {
        Self { store, bus, opts }
    }

    /// One round: claim a batch, publish it, mark what was delivered.
    pub async fn step(&self) -> StoreResult<RelayStep> {
        if !self.bus.accepting() {
            return Ok(RelayStep::default());
        }
        let now = self.opts.clock.now();
        let batch = self
            .store
            .outbox_claim(&self.opts.owner, self.opts.batch, now, self.opts.lease)
            .await?;
        if batch.is_empty() {
            self.bus.idle().await;
            return Ok(RelayStep::default());
        }
        let started = std::time::SystemTime::now();
        let done = self.bus.publish(&batch).await;
        let kind = self.bus.kind();
        if croupier_core::trace::exporting() {
            let delivered: std::collections::HashSet<i64> = done.iter().copied().collect();
            for e in &batch {
                croupier_core::trace::record_child(
                    format!("publish {}", e.event_type),
                    croupier_core::trace::SpanKind::Producer,
                    e.traceparent.as_deref(),
                    started,
                    vec![
                        ("messaging.system", kind.to_owned()),
                        ("croupier.event.id", e.event_id.to_string()),
                        ("croupier.outbox.position", e.position.to_string()),
                    ],
                    !delivered.contains(&e.position),
                );
            }
        }
        metrics::counter!("croupier_events_published_total", "bus" => kind)
            .increment(done.len() as u64);
        if done.len() < batch.len() {
            metrics::counter!("croupier_events_publish_failed_total", "bus" => kind)
                .increment((batch.len() - done.len()) as u64);
            if done.is_empty() && self.bus.release_undelivered() {
                let undelivered: Vec<i64> = batch.iter().map(|e| e.position).collect();
                // If this fails, the lease ends by itself.
                if let Err(e) = self
                    .store
                    .outbox_release(&self.opts.owner, &undelivered)
                    .await
                {
                    tracing::warn!(error = %e, "cannot release undelivered events");
                }
            }
        }
        // If this fails the events are published again after their lease:
        // duplicates, which the bus and the consumers' inboxes absorb.
        self.store
            .outbox_mark_published(&done, self.opts.clock.now())
            .await?;
        Ok(RelayStep {
            claimed: batch.len(),
            published: done.len(),
        })
    }

    /// Relays until `stop` is cancelled; the batch in hand is finished first.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(owner = %self.opts.owner, bus = self.bus.kind(), "outbox relay started");
        let mut backoff = Backoff::new(
            "outbox_relay",
            self.opts.poll_interval,
            std::time::Duration::from_secs(5),
        );
        let mut last_backlog: Option<tokio::time::Instant> = None;
        let mut last_prune = tokio::time::Instant::now();
        loop {
            if stop.is_cancelled() {
                break;
            }
            if last_backlog.is_none_or(|t| t.elapsed() >= BACKLOG_EVERY) {
                last_backlog = Some(tokio::time::Instant::now());
                self.refresh_backlog().await;
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                self.prune().await;
            }
            let pause = match self.step().await {
                Ok(step) => {
                    backoff.reset();
                    if step.claimed as u32 >= self.opts.batch {
                        continue; // more is waiting
                    }
                    self.opts.poll_interval
                }
                Err(e) => {
                    // Back off up to 5 s while the store is unavailable.
                    let pause = backoff.next_delay();
                    tracing::warn!(error = %e, failures = backoff.attempts(), "outbox relay step failed");
                    pause
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!(owner = %self.opts.owner, "outbox relay stopped");
    }

    async fn refresh_backlog(&self) {
        match self.store.outbox_backlog().await {
            Ok(n) => {
                metrics::gauge!("croupier_outbox_backlog").set(n as f64);
                self.bus.backlog(n);
            }
            Err(e) => tracing::warn!(error = %e, "cannot count the outbox backlog"),
        }
    }

    /// Deletes published events past the retention, in bounded batches.
    pub async fn prune(&self) {
        let Some(retention) = self.opts.retention else {
            return;
        };
        let before = self.opts.clock.now() - retention;
        loop {
            match self.store.outbox_prune(before, PRUNE_BATCH).await {
                Ok(n) => {
                    if n > 0 {
                        metrics::counter!("croupier_outbox_pruned_total").increment(n);
                    }
                    if n < u64::from(PRUNE_BATCH) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prune the outbox");
                    return;
                }
            }
        }
    }
}
