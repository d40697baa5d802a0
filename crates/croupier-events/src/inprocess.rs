//! The embedded bus: "publishing" is calling the in-process consumers. With
//! the relay's claims this is the outbox tailed in-process; an event is
//! marked published only once every consumer that wants it has handled it
//! (or dead-lettered it).

use crate::consumer::{deliver, Consumer, ConsumerError, DeadLetters};
use crate::relay::Bus;
use async_trait::async_trait;
use croupier_core::OutboxEvent;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub struct InProcessBus {
    consumers: Vec<Arc<dyn Consumer>>,
    dead_letters: Arc<dyn DeadLetters>,
    max_attempts: u32,
    /// Failed deliveries per (consumer, event) still being retried. A retry
    /// comes when the relay claims the event again, after its lease.
    attempts: Mutex<HashMap<(String, Uuid), u32>>,
}

impl InProcessBus {
    /// `max_attempts`: deliveries of an event to a consumer that keeps
    /// failing transiently before it is dead-lettered.
    pub fn new(
        consumers: Vec<Arc<dyn Consumer>>,
        dead_letters: Arc<dyn DeadLetters>,
        max_attempts: u32,
    ) -> Self {
        Self {
            consumers,
            dead_letters,
            max_attempts: max_attempts.max(1),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failed attempt; true once the limit is reached (and forgets it).
    fn exhausted(&self, consumer: &str, event: Uuid) -> (bool, u32) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = attempts.entry((consumer.to_owned(), event)).or_insert(0);
        *n += 1;
        let n = *n;
        if n >= self.max_attempts {
            attempts.remove(&(consumer.to_owned(), event));
            (true, n)
        } else {
            (false, n)
        }
    }

    fn forget(&self, consumer: &str, event: Uuid) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if !attempts.is_empty() {
            attempts.remove(&(consumer.to_owned(), event));
        }
    }

    /// Delivers to one consumer; returns the positions it has not finished.
    async fn deliver_to(&self, consumer: &dyn Consumer, events: &[OutboxEvent]) -> Vec<i64> {
        // Usually every event is wanted: no copy of the payloads then.
        let wanted: Cow<'_, [OutboxEvent]> = if events.iter().all(|e| consumer.wants(&e.event_type))
        {
            Cow::Borrowed(events)
        } else {
            events
                .iter()
                .filter(|e| consumer.wants(&e.event_type))
                .cloned()
                .collect()
        };
        let outcomes = deliver(consumer, &wanted).await;
        let mut unfinished = Vec::new();
        for (event, outcome) in wanted.iter().zip(outcomes) {
            match outcome {
                Ok(()) => self.forget(consumer.name(), event.event_id),
                Err(e @ ConsumerError::Permanent(_)) => {
                    self.forget(consumer.name(), event.event_id);
                    if self
                        .dead_letters
                        .dead_letter(consumer.name(), event, 1, &e)
                        .await
                        .is_err()
                    {
                        // Not kept anywhere yet: stays unpublished, retried after the lease.
                        unfinished.push(event.position);
                    }
                }
                Err(e @ ConsumerError::Transient(_)) => {
                    let (exhausted, n) = self.exhausted(consumer.name(), event.event_id);
                    if exhausted {
                        if self
                            .dead_letters
                            .dead_letter(consumer.name(), event, n, &e)
                            .await
                            .is_err()
                        {
                            unfinished.push(event.position);
                        }
                    } else {
                        unfinished.push(event.position);
                    }
                }
            }
        }
        unfinished
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn kind(&self) -> &'static str {
        "in_process"
    }

    fn backlog(&self, unpublished: u64) {
        for c in &self.consumers {
            metrics::gauge!("croupier_consumer_lag", "consumer" => c.name().to_owned())
                .set(unpublished as f64);
        }
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Vec<i64> {
        // Consumers are independent: run them side by side.
        let unfinished: HashSet<i64> = futures::future::join_all(
            self.consumers
                .iter()
                .map(|c| self.deliver_to(c.as_ref(), events)),
        )
        .await
        .into_iter()
        .flatten()
        .collect();
        events
            .iter()
            .map(|e| e.position)
            .filter(|p| !unfinished.contains(p))
            .collect()
    }
}
