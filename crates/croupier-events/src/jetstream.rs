//! NATS JetStream: the scaled bus and consumer source.
//!
//! One stream per event domain (the event type up to its first dot): with
//! prefix `croupier`, `bet.settled` is published on subject
//! `croupier.bet.settled` into stream `CROUPIER_BET` (subjects
//! `croupier.bet.>`), with `Nats-Msg-Id` = the event id, so a republished
//! event within the stream's duplicate window is stored once. Each consumer
//! reads through one durable pull consumer per stream it needs, named after
//! it, and acknowledges a message only after its transaction committed.

use crate::consumer::{deliver, Consumer, ConsumerError, DeadLetters};
use crate::relay::Bus;
use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::circuit::{CircuitBreaker, CircuitState};
use croupier_core::{event_domain, OutboxEvent};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// The message header carrying the event type (the subject has it too).
pub const EVENT_TYPE_HEADER: &str = "Croupier-Event-Type";

/// Streams and consumers, as configured (`[nats]`).
#[derive(Clone, Debug)]
pub struct JetStreamOptions {
    /// Names everything: subjects `{prefix}.{type}`, streams
    /// `{PREFIX}_{DOMAIN}`. Lowercase letters, digits, `_` and `-`.
    pub prefix: String,
    /// Republished events within this window are stored once.
    pub duplicate_window: Duration,
    /// Events are kept this long in a stream (0: forever).
    pub max_age: Duration,
    /// Stream replicas (1 on a single server, 3 in a cluster).
    pub replicas: usize,
    /// A delivered message not acknowledged within this is redelivered.
    pub ack_wait: Duration,
    /// Deliveries of a message before it is dead-lettered.
    pub max_deliver: u32,
    /// Most messages a consumer handles in one transaction.
    pub batch: usize,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        Self {
            prefix: "croupier".into(),
            duplicate_window: Duration::from_secs(300),
            max_age: Duration::from_secs(7 * 24 * 3600),
            replicas: 1,
            ack_wait: Duration::from_secs(30),
            max_deliver: 10,
            batch: 256,
        }
    }
}

impl JetStreamOptions {
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.prefix;
        if p.is_empty()
            || p.len() > 32
            || !p
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "stream prefix {p:?}: 1-32 of lowercase letters, digits, _ and -"
            ));
        }
        if self.max_deliver < 1 || self.batch < 1 || self.replicas < 1 {
            return Err("max_deliver, batch and replicas must be at least 1".into());
        }
        Ok(())
    }

    /// The stream holding a domain's events: `CROUPIER_BET`.
    pub fn stream_name(&self, domain: &str) -> String {
        format!("{}_{}", self.prefix, domain).to_ascii_uppercase()
    }

    /// The subject of an event type: `croupier.bet.settled`.
    pub fn subject(&self, event_type: &str) -> String {
        format!("{}.{}", self.prefix, event_type)
    }

    fn stream_config(&self, domain: &str) -> stream::Config {
        stream::Config {
            name: self.stream_name(domain),
            description: Some(format!("Croupier {domain} events")),
            subjects: vec![format!("{}.{}.>", self.prefix, domain)],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            max_age: self.max_age,
            ..Default::default()
        }
    }
}

/// An event type usable in a subject: dot-separated tokens of `[a-z0-9_]`.
fn valid_event_type(t: &str) -> bool {
    !t.is_empty()
        && t.split('.').all(|tok| {
            !tok.is_empty()
                && tok
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// What travels on the bus: the outbox row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: uuid::Uuid,
    pub event_type: String,
    /// The outbox position on the producing store (for tracing and replays).
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    /// The instance that wrote the event (empty from older producers).
    #[serde(default)]
    pub producer: String,
    /// W3C trace context of what caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl From<&OutboxEvent> for Envelope {
    fn from(e: &OutboxEvent) -> Self {
        Self {
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            position: e.position,
            created_at: e.created_at,
            payload: e.payload.clone(),
            producer: e.producer.clone(),
            traceparent: e.traceparent.clone(),
        }
    }
}

impl From<Envelope> for OutboxEvent {
    fn from(e: Envelope) -> Self {
        Self {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type,
            payload: e.payload,
            created_at: e.created_at,
            producer: e.producer,
            traceparent: e.traceparent,
        }
    }
}

/// Connects to NATS (failing if it cannot within `timeout`); the client
/// reconnects by itself afterwards.
pub async fn connect(url: &str, timeout: Duration) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .name("croupier")
        .connection_timeout(timeout)
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))
}

/// Streams this process has created or brought up to date.
#[derive(Clone)]
struct Streams {
    js: jetstream::Context,
    opts: Arc<JetStreamOptions>,
    ensured: Arc<Mutex<HashSet<String>>>,
}

impl Streams {
    /// Creates the domain's stream, or updates it to the configuration.
    async fn ensure(&self, domain: &str) -> Result<(), String> {
        let mut ensured = self.ensured.lock().await;
        if ensured.contains(domain) {
            return Ok(());
        }
        let config = self.opts.stream_config(domain);
        let name = config.name.clone();
        self.js
            .create_or_update_stream(config)
            .await
            .map_err(|e| format!("cannot create or update stream {name}: {e}"))?;
        ensured.insert(domain.to_owned());
        Ok(())
    }
}

/// Publishes outbox events to JetStream: pipelined, every stream
/// acknowledgement awaited before the events count as published.
pub struct JetStreamBus {
    streams: Streams,
    /// Opens when a whole batch fails (NATS down or unreachable): the relay
    /// then stops claiming, and one batch probes after the cooldown.
    breaker: CircuitBreaker,
}

/// How long the relay leaves NATS alone after a batch failed entirely.
const PUBLISH_COOLDOWN: Duration = Duration::from_secs(2);

impl JetStreamBus {
    /// Connects the bus and creates or updates the streams of `domains`
    /// (others are created when their first event comes).
    pub async fn new(
        client: async_nats::Client,
        opts: JetStreamOptions,
        domains: &[&str],
    ) -> Result<Self, String> {
        opts.validate()?;
        let streams = Streams {
            js: jetstream::new(client),
            opts: Arc::new(opts),
            ensured: Arc::default(),
        };
        for d in domains {
            streams.ensure(d).await?;
        }
        Ok(Self {
            streams,
            breaker: CircuitBreaker::new("nats_publish", 1, PUBLISH_COOLDOWN),
        })
    }

    pub fn context(&self) -> &jetstream::Context {
        &self.streams.js
    }
}

#[async_trait]
impl Bus for JetStreamBus {
    fn kind(&self) -> &'static str {
        "jetstream"
    }

    fn accepting(&self) -> bool {
        self.breaker.allow()
    }

    fn release_undelivered(&self) -> bool {
        true
    }

    async fn idle(&self) {
        if self.breaker.state() != CircuitState::HalfOpen {
            return;
        }
        // A JetStream API round trip stands in for the publish.
        match tokio::time::timeout(PUBLISH_COOLDOWN, self.streams.js.query_account()).await {
            Ok(Ok(_)) => self.breaker.success(),
            _ => self.breaker.failure(),
        }
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Vec<i64> {
        let done = self.publish_batch(events).await;
        if !events.is_empty() {
            if done.is_empty() {
                self.breaker.failure();
            } else {
                self.breaker.success();
            }
        }
        done
    }
}

impl JetStreamBus {
    async fn publish_batch(&self, events: &[OutboxEvent]) -> Vec<i64> {
        let opts = &self.streams.opts;
        let mut pending = Vec::with_capacity(events.len());
        for e in events {
            if !valid_event_type(&e.event_type) {
                tracing::error!(event_id = %e.event_id, event_type = %e.event_type, "event type cannot be a subject; not published");
                continue;
            }
            if let Err(err) = self.streams.ensure(e.domain()).await {
                tracing::warn!(error = %err, "cannot publish");
                continue;
            }
            let payload = match serde_json::to_vec(&Envelope::from(e)) {
                Ok(p) => p,
                Err(err) => {
                    tracing::error!(event_id = %e.event_id, error = %err, "cannot encode event");
                    continue;
                }
            };
            let mut message = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(e.event_id.to_string())
                .header(EVENT_TYPE_HEADER, e.event_type.as_str());
            // Also as a header, where NATS tooling and tracers look for it.
            if let Some(tp) = &e.traceparent {
                message = message.header("traceparent", tp.as_str());
            }
            // Sends without waiting: the acknowledgements are awaited together.
            match self
                .streams
                .js
                .send_publish(opts.subject(&e.event_type), message)
                .await
            {
                Ok(ack) => pending.push((e.position, ack)),
                Err(err) => tracing::warn!(event_id = %e.event_id, error = %err, "publish failed"),
            }
        }
        let acks = futures::future::join_all(
            pending
                .into_iter()
                .map(|(position, ack)| async move { (position, ack.await) }),
        )
        .await;
        let mut done = Vec::with_capacity(acks.len());
        for (position, ack) in acks {
            match ack {
                Ok(ack) => {
                    if ack.duplicate {
                        metrics::counter!("croupier_events_duplicates_total").increment(1);
                    }
                    done.push(position);
                }
                Err(err) => tracing::warn!(position, error = %err, "publish not acknowledged"),
            }
        }
        done
    }
}

/// Runs consumers from JetStream durable pull consumers.
#[derive(Clone)]
pub struct JetStreamSource {
    streams: Streams,
    dead_letters: Arc<dyn DeadLetters>,
}

impl JetStreamSource {
    pub fn new(
        client: async_nats::Client,
        opts: JetStreamOptions,
        dead_letters: Arc<dyn DeadLetters>,
    ) -> Result<Self, String> {
        opts.validate()?;
        Ok(Self {
            streams: Streams {
                js: jetstream::new(client),
                opts: Arc::new(opts),
                ensured: Arc::default(),
            },
            dead_letters,
        })
    }

    /// Creates the consumer's durable consumers (one per stream it reads)
    /// and spawns a task for each, running until `stop` is cancelled.
    pub async fn spawn(
        &self,
        consumer: Arc<dyn Consumer>,
        stop: CancellationToken,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
        if !crate::valid_name(consumer.name()) {
            return Err(format!("bad consumer name {:?}", consumer.name()));
        }
        let mut by_domain: Vec<(&str, Vec<&str>)> = Vec::new();
        for t in consumer.event_types() {
            let d = event_domain(t);
            match by_domain.iter_mut().find(|(dom, _)| *dom == d) {
                Some((_, types)) => types.push(t),
                None => by_domain.push((d, vec![t])),
            }
        }
        let mut tasks = Vec::new();
        for (domain, types) in by_domain {
            let durable = self.durable(consumer.name(), domain, &types).await?;
            let worker = Worker {
                consumer: consumer.clone(),
                durable,
                stream: self.streams.opts.stream_name(domain),
                domain: domain.to_owned(),
                types: types.iter().map(|t| t.to_string()).collect(),
                source: self.clone(),
                opts: self.streams.opts.clone(),
                dead_letters: self.dead_letters.clone(),
            };
            tasks.push(tokio::spawn(worker.run(stop.clone())));
        }
        Ok(tasks)
    }

    async fn durable(
        &self,
        name: &str,
        domain: &str,
        types: &[&str],
    ) -> Result<jetstream::consumer::PullConsumer, String> {
        self.streams.ensure(domain).await?;
        let opts = &self.streams.opts;
        let stream_name = opts.stream_name(domain);
        let stream = self
            .streams
            .js
            .get_stream(&stream_name)
            .await
            .map_err(|e| format!("cannot open stream {stream_name}: {e}"))?;
        // One filter subject is all NATS 2.9 allows: a single type, or the
        // whole domain (other types are then acknowledged unread).
        let filter = match types {
            [one] => opts.subject(one),
            _ => format!("{}.{}.>", opts.prefix, domain),
        };
        let config = pull::Config {
            durable_name: Some(name.to_owned()),
            description: Some(format!("Croupier consumer {name}")),
            filter_subject: filter,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: opts.ack_wait,
            max_deliver: i64::from(opts.max_deliver),
            max_ack_pending: (opts.batch * 4) as i64,
            num_replicas: opts.replicas,
            ..Default::default()
        };
        stream
            .get_or_create_consumer(name, config)
            .await
            .map_err(|e| format!("cannot create consumer {name} on {stream_name}: {e}"))
    }
}

/// One consumer reading one stream.
struct Worker {
    consumer: Arc<dyn Consumer>,
    durable: jetstream::consumer::PullConsumer,
    stream: String,
    /// To create the durable consumer again if it vanished.
    domain: String,
    types: Vec<String>,
    source: JetStreamSource,
    opts: Arc<JetStreamOptions>,
    dead_letters: Arc<dyn DeadLetters>,
}

/// Redelivery delay after the n-th failed delivery: 1 s, 2 s, 4 s … 60 s.
fn backoff(delivered: i64) -> Duration {
    let exp = delivered.clamp(1, 7) as u32 - 1;
    Duration::from_secs(2u64.pow(exp)).min(Duration::from_secs(60))
}

const LAG_EVERY: Duration = Duration::from_secs(10);

impl Worker {
    async fn run(mut self, stop: CancellationToken) {
        let name = self.consumer.name().to_owned();
        tracing::info!(consumer = %name, stream = %self.stream, "JetStream consumer started");
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let messages = self
                .durable
                .stream()
                .max_messages_per_batch(self.opts.batch)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(30))
                .messages()
                .await;
            let messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(consumer = %name, stream = %self.stream, error = %e, failures, "cannot pull");
                    if failures.is_multiple_of(5) {
                        // Deleted by an operator, or the stream was re-created.
                        self.recreate().await;
                    }
                    let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            failures = 0;
            // ready_chunks: whatever has arrived, up to a batch, without waiting.
            let mut chunks = messages.ready_chunks(self.opts.batch);
            let mut lag_tick = tokio::time::interval(LAG_EVERY);
            loop {
                let chunk = tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = lag_tick.tick() => { self.report_lag().await; continue; }
                    chunk = chunks.next() => chunk,
                };
                let Some(chunk) = chunk else { break };
                let mut good = Vec::with_capacity(chunk.len());
                for m in chunk {
                    match m {
                        Ok(m) => good.push(m),
                        // Missed heartbeats and the like: the stream carries on.
                        Err(e) => {
                            tracing::warn!(consumer = %name, stream = %self.stream, error = %e, "pull error")
                        }
                    }
                }
                if good.is_empty() {
                    // Only errors: pull again, but not in a tight loop.
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => break,
                    }
                }
                self.handle(good).await;
            }
        }
        tracing::info!(consumer = %name, stream = %self.stream, "JetStream consumer stopped");
    }

    async fn recreate(&mut self) {
        let types: Vec<&str> = self.types.iter().map(String::as_str).collect();
        match self
            .source
            .durable(self.consumer.name(), &self.domain, &types)
            .await
        {
            Ok(durable) => self.durable = durable,
            Err(e) => tracing::warn!(error = %e, "cannot re-create the durable consumer"),
        }
    }

    async fn report_lag(&mut self) {
        if let Ok(info) = self.durable.info().await {
            metrics::gauge!("croupier_consumer_lag",
                "consumer" => self.consumer.name().to_owned(), "stream" => self.stream.clone())
            .set(info.num_pending as f64);
        }
    }

    /// Decodes, applies, then acknowledges each message according to its outcome.
    async fn handle(&self, messages: Vec<jetstream::Message>) {
        let name = self.consumer.name();
        let mut events = Vec::with_capacity(messages.len());
        let mut carried = Vec::with_capacity(messages.len());
        for m in messages {
            match serde_json::from_slice::<Envelope>(&m.payload) {
                Ok(env) if self.consumer.wants(&env.event_type) => {
                    events.push(OutboxEvent::from(env));
                    carried.push(m);
                }
                // Another type sharing the filter: not ours.
                Ok(_) => ack(&m, AckKind::Ack).await,
                Err(e) => {
                    tracing::error!(consumer = name, subject = %m.subject, error = %e, "undecodable message; terminated");
                    metrics::counter!("croupier_consumer_dead_lettered_total", "consumer" => name.to_owned())
                        .increment(1);
                    ack(&m, AckKind::Term).await;
                }
            }
        }
        let outcomes = deliver(self.consumer.as_ref(), &events).await;
        for ((m, event), outcome) in carried.iter().zip(&events).zip(outcomes) {
            // The transaction has committed (or failed): only now acknowledge.
            let delivered = m.info().map(|i| i.delivered).unwrap_or(1);
            match outcome {
                Ok(()) => ack(m, AckKind::Ack).await,
                Err(ConsumerError::Transient(_))
                    if delivered < i64::from(self.opts.max_deliver) =>
                {
                    ack(m, AckKind::Nak(Some(backoff(delivered)))).await
                }
                Err(e) => {
                    let kept = self
                        .dead_letters
                        .dead_letter(name, event, delivered.max(1) as u32, &e)
                        .await;
                    match kept {
                        Ok(()) => ack(m, AckKind::Term).await,
                        // Not kept: leave it to JetStream (redelivered while
                        // deliveries remain; past max_deliver it stays in the
                        // stream and NATS raises a max-deliveries advisory).
                        Err(_) => ack(m, AckKind::Nak(Some(backoff(delivered)))).await,
                    }
                }
            }
        }
    }
}

async fn ack(m: &jetstream::Message, kind: AckKind) {
    // A lost acknowledgement means a redelivery, which the inbox absorbs.
    if let Err(e) = m.ack_with(kind).await {
        tracing::warn!(subject = %m.subject, error = %e, "cannot acknowledge");
    }
}
