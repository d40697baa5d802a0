//! `croupier events replay`: feeds outbox events after a position to one
//! consumer's handler. The consumer's inbox makes events it already applied
//! no-ops, so a replay alone fills gaps; to *rebuild* a projection, reset it
//! first (`ReplayStore`), then replay from 0.

use crate::consumer::{Consumer, ConsumerError};
use croupier_core::dead_letters::DeadLetterStore;
use croupier_core::ports::OutboxStore;
use croupier_core::StoreResult;
use serde::Serialize;

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Outbox events read (every type).
    pub read: u64,
    /// Events of the consumer's types handed to it.
    pub delivered: u64,
    /// Events it failed on: kept as dead letters, not dropped.
    pub dead_lettered: u64,
    /// First and last outbox position read (absent if none).
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
}

/// Feeds every outbox event after `from` (oldest first, `batch` at a time)
/// to `consumer`: one transaction per batch, or per event if the batch
/// fails; an event that still fails is stored as a dead letter.
pub async fn replay(
    outbox: &dyn OutboxStore,
    dead_letters: &dyn DeadLetterStore,
    consumer: &dyn Consumer,
    from: i64,
    batch: u32,
) -> StoreResult<ReplayReport> {
    let mut report = ReplayReport::default();
    let mut after = from;
    loop {
        let events = outbox.outbox_after(after, batch.max(1)).await?;
        let Some(last) = events.last() else { break };
        after = last.position;
        report.read += events.len() as u64;
        report.first_position.get_or_insert(events[0].position);
        report.last_position = Some(after);
        let wanted: Vec<_> = events
            .into_iter()
            .filter(|e| consumer.event_types().contains(&e.event_type.as_str()))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        report.delivered += wanted.len() as u64;
        if crate::consumer::handle(consumer, &wanted).await.is_ok() {
            continue;
        }
        for event in &wanted {
            if let Err(e) = crate::consumer::handle(consumer, std::slice::from_ref(event)).await {
                let error = match e {
                    ConsumerError::Permanent(m) | ConsumerError::Transient(m) => m,
                };
                tracing::error!(consumer = consumer.name(), event_id = %event.event_id, %error, "replay: dead-lettered");
                dead_letters
                    .dead_letter_put(consumer.name(), event, 1, &error, croupier_core::now())
                    .await?;
                report.dead_lettered += 1;
            }
        }
    }
    Ok(report)
}
