//! The consumer interface, shared by both sources (in-process and JetStream).

use async_trait::async_trait;
use croupier_core::dead_letters::{DeadLetterStore, Redrive, RedriveError, Redriver};
use croupier_core::OutboxEvent;
use std::sync::Arc;
use std::time::Duration;

/// Why a consumer could not apply events.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConsumerError {
    /// Might succeed later (storage unavailable, a conflict): redelivered
    /// with backoff, up to the source's attempt limit.
    #[error("transient: {0}")]
    Transient(String),
    /// Can never succeed (a malformed event): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Something that reacts to events. Run by either source: the in-process
/// bus (embedded) or a JetStream durable consumer (scaled).
///
/// Contract: `handle` is all or nothing, and idempotent per event. The
/// consumer applies its effect through a store method that records each
/// event id in the consumer's inbox in the same transaction and skips ids
/// already there, so a redelivered event is a no-op. Events arrive at least
/// once and in no guaranteed order (several relays publish concurrently); an
/// effect that needs order must derive it from the payload (e.g. a bet's
/// seed pair and nonce).
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    /// Stable name: inbox key, JetStream durable name, metrics label
    /// (`[A-Za-z0-9_-]`, see [`crate::valid_name`]).
    fn name(&self) -> &str;
    /// The event types it handles; no other type reaches `handle`.
    fn event_types(&self) -> &[&'static str];
    /// Applies `events` (one or many) in one transaction.
    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError>;
}

impl dyn Consumer {
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types().contains(&event_type)
    }
}

/// Where events go that a consumer gave up on: a permanent error, or a
/// transient one past the attempt limit. Once it returns `Ok` the event
/// counts as handled for that consumer; on `Err` the source keeps the event
/// (in-process: unpublished, retried after the lease; JetStream: not
/// acknowledged), so a dead letter that could not be kept is never dropped.
#[async_trait]
pub trait DeadLetters: Send + Sync + 'static {
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &ConsumerError,
    ) -> Result<(), String>;
}

fn log_dead_letter(consumer: &str, event: &OutboxEvent, attempts: u32, error: &ConsumerError) {
    tracing::error!(
        consumer,
        event_id = %event.event_id,
        event_type = %event.event_type,
        position = event.position,
        payload = %event.payload,
        attempts,
        error = %error,
        "event dead-lettered"
    );
}

/// Logs a dead letter, with the whole event, at error level and counts it
/// (`croupier_consumer_dead_lettered_total`): never silent, but not
/// re-drivable. For tests and tools; the platform uses [`StoreDeadLetters`].
pub struct LogDeadLetters;

#[async_trait]
impl DeadLetters for LogDeadLetters {
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &ConsumerError,
    ) -> Result<(), String> {
        log_dead_letter(consumer, event, attempts, error);
        metrics::counter!("croupier_consumer_dead_lettered_total", "consumer" => consumer.to_owned())
            .increment(1);
        Ok(())
    }
}

/// Keeps dead letters in the store (`dead_letters` table), where the admin
/// API lists and re-drives them; also logs and counts each one, and keeps
/// the `croupier_dead_letters` gauge (waiting, all consumers) up to date.
pub struct StoreDeadLetters {
    store: Arc<dyn DeadLetterStore>,
}

/// Store writes of a dead letter tried before giving up (the event is then
/// kept by the source, see [`DeadLetters`]).
const PUT_TRIES: u32 = 3;

impl StoreDeadLetters {
    pub fn new(store: Arc<dyn DeadLetterStore>) -> Self {
        Self { store }
    }

    /// Sets `croupier_dead_letters` from the store.
    pub async fn refresh_gauge(&self) {
        refresh_gauge(self.store.as_ref()).await;
    }
}

pub(crate) async fn refresh_gauge(store: &dyn DeadLetterStore) {
    match store.dead_letter_count().await {
        Ok(n) => metrics::gauge!("croupier_dead_letters").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "cannot count dead letters"),
    }
}

#[async_trait]
impl DeadLetters for StoreDeadLetters {
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &ConsumerError,
    ) -> Result<(), String> {
        log_dead_letter(consumer, event, attempts, error);
        let mut last = String::new();
        for i in 0..PUT_TRIES {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(100 << (2 * i))).await;
            }
            match self
                .store
                .dead_letter_put(
                    consumer,
                    event,
                    attempts,
                    &error.to_string(),
                    croupier_core::now(),
                )
                .await
            {
                Ok(id) => {
                    metrics::counter!("croupier_consumer_dead_lettered_total", "consumer" => consumer.to_owned())
                        .increment(1);
                    tracing::info!(consumer, event_id = %event.event_id, dead_letter = id, "dead letter stored");
                    self.refresh_gauge().await;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
        }
        tracing::error!(consumer, event_id = %event.event_id, error = %last, "cannot store the dead letter; the event is kept for redelivery");
        Err(last)
    }
}

/// Hands dead letter `id` to its consumer's handler again (once), and
/// removes it if that succeeds. Safe to repeat or race: the consumer's
/// inbox applies the event at most once.
pub async fn redrive(
    store: &dyn DeadLetterStore,
    consumers: &[Arc<dyn Consumer>],
    id: i64,
) -> Result<Redrive, RedriveError> {
    let letter = store
        .dead_letter(id)
        .await?
        .ok_or(RedriveError::NotFound(id))?;
    let consumer = consumers
        .iter()
        .find(|c| c.name() == letter.consumer)
        .ok_or_else(|| RedriveError::UnknownConsumer(letter.consumer.clone()))?;
    let outcome = match handle(consumer.as_ref(), std::slice::from_ref(&letter.event)).await {
        Ok(()) => {
            store.dead_letter_delete(id).await?;
            tracing::info!(consumer = %letter.consumer, event_id = %letter.event.event_id, dead_letter = id, "dead letter re-driven");
            Redrive::Applied
        }
        Err(e) => {
            store
                .dead_letter_put(
                    &letter.consumer,
                    &letter.event,
                    1,
                    &e.to_string(),
                    croupier_core::now(),
                )
                .await?;
            Redrive::Failed(e.to_string())
        }
    };
    refresh_gauge(store).await;
    Ok(outcome)
}

/// Runs `consumer.handle` in the trace of the events: a child span of the
/// first one's context, so events the consumer emits (a reward for a bet)
/// continue the trace that caused them. A batch shares its first event's.
pub(crate) async fn handle(
    consumer: &dyn Consumer,
    events: &[OutboxEvent],
) -> Result<(), ConsumerError> {
    use croupier_core::trace::{self, SpanKind, SpanRecord};
    let parent = events.first().and_then(|e| e.traceparent.as_deref());
    let context = parent.map(|p| trace::child_of(Some(p)));
    let start = std::time::SystemTime::now();
    let result = trace::scope(context.clone(), consumer.handle(events)).await;
    if trace::exporting() {
        // One span in each event's trace, all for this one delivery.
        let end = std::time::SystemTime::now();
        for (i, e) in events.iter().enumerate() {
            let Some(p) = e.traceparent.as_deref() else {
                continue;
            };
            let own = match (i, &context) {
                (0, Some(c)) => c.clone(),
                _ => trace::child_of(Some(p)),
            };
            trace::record(SpanRecord {
                name: format!("consume {}", consumer.name()),
                traceparent: own,
                parent: Some(p.to_owned()),
                kind: SpanKind::Consumer,
                start,
                end,
                attributes: vec![
                    ("messaging.consumer.group.name", consumer.name().to_owned()),
                    ("croupier.event.type", e.event_type.clone()),
                    ("croupier.event.id", e.event_id.to_string()),
                    ("messaging.batch.message_count", events.len().to_string()),
                ],
                error: result.is_err(),
            });
        }
    }
    result
}

/// Hands `events` to `consumer`: as one batch first (one transaction), and
/// if that fails, one at a time, so a bad event holds back no other. Returns
/// each event's outcome, in order, and counts them.
pub(crate) async fn deliver(
    consumer: &dyn Consumer,
    events: &[OutboxEvent],
) -> Vec<Result<(), ConsumerError>> {
    if events.is_empty() {
        return vec![];
    }
    let outcomes = match handle(consumer, events).await {
        Ok(()) => events.iter().map(|_| Ok(())).collect(),
        Err(e) if events.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::debug!(consumer = consumer.name(), error = %e, "batch failed; retrying one by one");
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                outcomes.push(handle(consumer, std::slice::from_ref(event)).await);
            }
            outcomes
        }
    };
    let name = consumer.name().to_owned();
    let failed = outcomes.iter().filter(|o| o.is_err()).count() as u64;
    metrics::counter!("croupier_consumer_handled_total", "consumer" => name.clone())
        .increment(events.len() as u64 - failed);
    if failed > 0 {
        metrics::counter!("croupier_consumer_failed_total", "consumer" => name.clone())
            .increment(failed);
        for (e, o) in events.iter().zip(&outcomes) {
            if let Err(err) = o {
                tracing::warn!(consumer = %name, event_id = %e.event_id, error = %err, "consumer failed");
            }
        }
    }
    outcomes
}

/// The platform's [`Redriver`]: re-drives through this build's consumers.
pub struct ConsumerRedriver {
    store: Arc<dyn DeadLetterStore>,
    consumers: Vec<Arc<dyn Consumer>>,
}

impl ConsumerRedriver {
    pub fn new(store: Arc<dyn DeadLetterStore>, consumers: Vec<Arc<dyn Consumer>>) -> Self {
        Self { store, consumers }
    }
}

#[async_trait]
impl Redriver for ConsumerRedriver {
    async fn redrive(&self, id: i64) -> Result<Redrive, RedriveError> {
        redrive(self.store.as_ref(), &self.consumers, id).await
    }
}
