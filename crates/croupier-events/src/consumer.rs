//! The consumer interface, shared by both sources (in-process and JetStream).

use async_trait::async_trait;
use croupier_core::OutboxEvent;

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
/// transient one past the attempt limit. This is the dead-letter hook; a
/// store-backed, re-drivable implementation replaces [`LogDeadLetters`]
/// later. Once it returns the event counts as handled for that consumer.
#[async_trait]
pub trait DeadLetters: Send + Sync + 'static {
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &ConsumerError,
    );
}

/// Logs a dead letter, with the whole event, at error level and counts it
/// (`croupier_consumer_dead_lettered_total`): never silent.
pub struct LogDeadLetters;

#[async_trait]
impl DeadLetters for LogDeadLetters {
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &ConsumerError,
    ) {
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
        metrics::counter!("croupier_consumer_dead_lettered_total", "consumer" => consumer.to_owned())
            .increment(1);
    }
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
    let outcomes = match consumer.handle(events).await {
        Ok(()) => events.iter().map(|_| Ok(())).collect(),
        Err(e) if events.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::debug!(consumer = consumer.name(), error = %e, "batch failed; retrying one by one");
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                outcomes.push(consumer.handle(std::slice::from_ref(event)).await);
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
