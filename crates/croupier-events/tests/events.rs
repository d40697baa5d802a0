//! The relay, the buses and the consumer sources against the real engines:
//! NATS JetStream (`CROUPIER_TEST_NATS_URL`), PostgreSQL
//! (`CROUPIER_TEST_POSTGRES_URL`, a schema per test) and SQLite. Every test
//! uses its own stream prefix; its streams are deleted at the end.

use async_trait::async_trait;
use croupier_core::events::PlayerGameStats;
use croupier_core::ports::Store;
use croupier_core::*;
use croupier_events::jetstream::{Envelope, JetStreamBus, JetStreamOptions, JetStreamSource};
use croupier_events::*;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- engines -----------------------------------------------------------------

/// A backend URL from the environment; `None` skips the test on a developer
/// machine, but with `CROUPIER_TEST_REQUIRE_BACKENDS` (CI) a missing URL fails.
fn backend_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("{var} must be set");
            }
            eprintln!("skipped: {var} not set");
            None
        }
    }
}

const DOMAINS: &[&str] = &["player", "wallet", "bet", "fairness", "game"];

/// A stream prefix of its own; deletes its streams when dropped.
struct Streams {
    url: String,
    opts: JetStreamOptions,
}

impl Streams {
    fn new(url: &str) -> Self {
        let prefix = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self {
            url: url.to_owned(),
            opts: JetStreamOptions {
                prefix,
                // A quick redelivery when a test's consumer lets a message time out.
                ack_wait: Duration::from_secs(5),
                max_deliver: 5,
                batch: 64,
                ..Default::default()
            },
        }
    }

    async fn client(&self) -> async_nats::Client {
        croupier_events::jetstream::connect(&self.url, Duration::from_secs(5))
            .await
            .expect("connect to the test NATS server")
    }

    async fn messages_in(&self, domain: &str) -> u64 {
        let js = async_nats::jetstream::new(self.client().await);
        let mut stream = js
            .get_stream(self.opts.stream_name(domain))
            .await
            .expect("stream exists");
        stream.info().await.expect("stream info").state.messages
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        let (url, opts) = (self.url.clone(), self.opts.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(client) = async_nats::connect(&url).await else {
                    return;
                };
                let js = async_nats::jetstream::new(client);
                for d in DOMAINS {
                    let _ = js.delete_stream(opts.stream_name(d)).await;
                }
            });
        })
        .join();
    }
}

/// A PostgreSQL store in a schema of its own, dropped with the guard.
struct PgSchema {
    url: String,
    name: String,
}

async fn postgres(url: &str) -> (Arc<dyn Store>, PgSchema) {
    let name = format!("ev_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE SCHEMA {name}"))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let opts = croupier_store_postgres::PostgresOptions {
        max_connections: 8,
        search_path: Some(name.clone()),
        ..Default::default()
    };
    let store = croupier_store_postgres::PostgresStore::connect(url, opts)
        .await
        .expect("open the store");
    (
        Arc::new(store),
        PgSchema {
            url: url.to_owned(),
            name,
        },
    )
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = croupier_store_sqlite::SqliteStore::open(
        &dir.path().join("events.db"),
        &croupier_store_sqlite::SqliteOptions::default(),
    )
    .unwrap();
    (Arc::new(store), dir)
}

// ---- fixtures ----------------------------------------------------------------

fn chip() -> CurrencyCode {
    CurrencyCode::parse("CHIP").unwrap()
}

async fn players(store: &Arc<dyn Store>, tag: &str, n: usize) -> Vec<Player> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(croupier_store_tests::new_player(&**store, &format!("{tag}{i}")).await);
    }
    out
}

/// A funded player and `n` settled dice-like bets (even nonces win 2×, every
/// fifth pushes, the rest lose). Returns the bets.
async fn bets(store: &Arc<dyn Store>, player: &Player, n: usize) -> Vec<BetRecord> {
    store
        .adjust(AdjustCommand {
            player_id: player.id,
            currency: chip(),
            amount: 1_000_000,
            reason: "test funds".into(),
            actor: player.id,
            now: croupier_core::now(),
        })
        .await
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let stake = 10 + i as i64;
        let cmd = BetCommand {
            player_id: player.id,
            game: if i % 2 == 0 { "dice" } else { "limbo" }.into(),
            currency: chip(),
            stake,
            params: serde_json::json!({}),
            now: croupier_core::now(),
            first_seed: NewSeedPair {
                server_seed: "s".into(),
                server_seed_hash: "h".into(),
                client_seed: "c".into(),
            },
            settle: Box::new(move |d: Draw<'_>| {
                let (payout, win) = match d.nonce % 5 {
                    0 => (stake, false),
                    n if n % 2 == 0 => (stake * 2, true),
                    _ => (0, false),
                };
                Ok(Outcome {
                    payout,
                    multiplier: if win { 200 } else { 0 },
                    win,
                    detail: serde_json::json!({}),
                })
            }),
            idempotency: None,
        };
        match store.place_bet(cmd).await.unwrap() {
            Idempotent::Done(b) => out.push(b),
            Idempotent::Earlier(e) => panic!("unexpected {e:?}"),
        }
    }
    out
}

/// What the stats consumer must end up with for `bets`, per game.
fn expected_stats(bets: &[BetRecord]) -> Vec<PlayerGameStats> {
    let mut by_game: std::collections::BTreeMap<String, events::BetCounters> = Default::default();
    for b in bets {
        by_game
            .entry(b.game.clone())
            .or_default()
            .add(&events::BetSettled {
                bet_id: b.id.clone(),
                player_id: b.player_id,
                game: b.game.clone(),
                currency: b.currency,
                stake: b.stake,
                payout: b.payout,
                win: b.win,
                multiplier: b.multiplier as f64 / 100.0,
                seed_pair_id: b.seed_pair_id,
                nonce: b.nonce as i64,
            });
    }
    by_game
        .into_iter()
        .map(|(game, counters)| PlayerGameStats {
            currency: chip(),
            game,
            counters,
        })
        .collect()
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Delegates to a real bus and records every event handed to it.
struct Recording {
    inner: Arc<dyn Bus>,
    seen: Mutex<Vec<uuid::Uuid>>,
}

#[async_trait]
impl Bus for Recording {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn publish(&self, events: &[OutboxEvent]) -> Vec<i64> {
        self.seen
            .lock()
            .unwrap()
            .extend(events.iter().map(|e| e.event_id));
        self.inner.publish(events).await
    }
}

fn relay_opts(batch: u32, lease: chrono::Duration) -> RelayOptions {
    RelayOptions {
        batch,
        lease,
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    }
}

/// Options for a relay whose leases run on `clock` (a test moves it on
/// instead of sleeping a lease out).
fn relay_on(clock: &Clock, batch: u32, lease: chrono::Duration) -> RelayOptions {
    RelayOptions {
        clock: clock.clone(),
        ..relay_opts(batch, lease)
    }
}

/// A bus that is down (takes nothing) or refuses some events, and releases
/// what it did not take, like JetStream.
#[derive(Default)]
struct Scripted {
    down: std::sync::atomic::AtomicBool,
    refuse: Mutex<HashSet<i64>>,
    idles: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl Bus for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn release_undelivered(&self) -> bool {
        true
    }
    async fn idle(&self) {
        self.idles.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    async fn publish(&self, events: &[OutboxEvent]) -> Vec<i64> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return vec![];
        }
        let refuse = self.refuse.lock().unwrap();
        events
            .iter()
            .map(|e| e.position)
            .filter(|p| !refuse.contains(p))
            .collect()
    }
}

#[tokio::test]
async fn a_batch_the_bus_took_none_of_is_released_but_refused_events_stay_leased_and_idle_is_told()
{
    let (store, _dir) = sqlite();
    players(&store, "release", 3).await;
    let bus = Arc::new(Scripted::default());
    let relay = Relay::new(
        store.clone(),
        bus.clone(),
        relay_opts(100, chrono::Duration::seconds(60)),
    );
    // The bus is down: the whole batch is released, claimed again at once
    // rather than after the 60 s lease.
    bus.down.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..2 {
        let step = relay.step().await.unwrap();
        assert_eq!((step.claimed, step.published), (3, 0));
    }
    // Back, but one event is refused while the others go out: that one stays
    // leased, so it is not at the head of every claim.
    bus.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let first = store.outbox_after(0, 1).await.unwrap()[0].position;
    bus.refuse.lock().unwrap().insert(first);
    let step = relay.step().await.unwrap();
    assert_eq!((step.claimed, step.published), (3, 2));
    assert_eq!(bus.idles.load(std::sync::atomic::Ordering::SeqCst), 0);
    let step = relay.step().await.unwrap();
    assert_eq!((step.claimed, step.published), (0, 0));
    // Nothing to publish: the bus is told, to probe its transport if it must.
    assert_eq!(bus.idles.load(std::sync::atomic::Ordering::SeqCst), 1);
}

// ---- the JetStream bus -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_bus_publishes_per_domain_and_stores_a_republished_batch_once() {
    let Some(url) = backend_url("CROUPIER_TEST_NATS_URL") else {
        return;
    };
    let streams = Streams::new(&url);
    let (store, _dir) = sqlite();
    let ps = players(&store, "pub", 3).await;
    for p in &ps[..2] {
        store
            .claim(ClaimCommand {
                player_id: p.id,
                currency: chip(),
                amount: 5,
                period: chrono::Duration::hours(1),
                now: croupier_core::now(),
            })
            .await
            .unwrap();
    }
    let events = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(events.len(), 5);
    let bus = JetStreamBus::new(streams.client().await, streams.opts.clone(), &["player"])
        .await
        .unwrap();
    let all: Vec<i64> = events.iter().map(|e| e.position).collect();
    assert_eq!(bus.publish(&events).await, all);
    // The relay died before marking them: the same batch again.
    assert_eq!(
        bus.publish(&events).await,
        all,
        "duplicates are acknowledged"
    );
    assert_eq!(streams.messages_in("player").await, 3);
    assert_eq!(streams.messages_in("wallet").await, 2);

    let js = bus.context();
    let stream = js
        .get_stream(streams.opts.stream_name("wallet"))
        .await
        .unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    let claimed = &events[3];
    assert_eq!(claimed.event_type, event_type::WALLET_CLAIMED);
    assert_eq!(
        first.subject.as_str(),
        format!("{}.wallet.claimed", streams.opts.prefix)
    );
    assert_eq!(
        first
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str()),
        Some(claimed.event_id.to_string().as_str())
    );
    assert_eq!(
        first
            .headers
            .get(croupier_events::jetstream::EVENT_TYPE_HEADER)
            .map(|v| v.as_str()),
        Some("wallet.claimed")
    );
    let envelope: Envelope = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(OutboxEvent::from(envelope), *claimed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_postgres_never_publish_the_same_event_twice() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    players(&store, "early", 150).await;
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(streams.client().await, streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    let stop = CancellationToken::new();
    let recorders: Vec<Arc<Recording>> = (0..2)
        .map(|_| {
            Arc::new(Recording {
                inner: bus.clone(),
                seen: Mutex::new(vec![]),
            })
        })
        .collect();
    let relays: Vec<_> = recorders
        .iter()
        .map(|r| {
            let relay = Relay::new(
                store.clone(),
                r.clone(),
                relay_opts(16, chrono::Duration::seconds(30)),
            );
            tokio::spawn(relay.run(stop.clone()))
        })
        .collect();
    // Commands keep committing while both relays run.
    players(&store, "late", 150).await;
    let drained = eventually(Duration::from_secs(30), || async {
        store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    stop.cancel();
    for r in relays {
        r.await.unwrap();
    }
    assert!(drained, "the relays did not drain the outbox");

    let a: HashSet<_> = recorders[0].seen.lock().unwrap().iter().copied().collect();
    let b: HashSet<_> = recorders[1].seen.lock().unwrap().iter().copied().collect();
    let total = recorders[0].seen.lock().unwrap().len() + recorders[1].seen.lock().unwrap().len();
    assert!(!a.is_empty() && !b.is_empty(), "both relays took part");
    assert!(a.is_disjoint(&b), "an event went to both relays");
    assert_eq!(total, 300, "each event was handed to a bus exactly once");
    let all: HashSet<_> = store
        .outbox_after(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(a.union(&b).copied().collect::<HashSet<_>>(), all);
    assert_eq!(streams.messages_in("player").await, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_died_before_marking_is_taken_over_and_nats_keeps_one_copy() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    players(&store, "crash", 20).await;
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(streams.client().await, streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    // The first relay claims and publishes, then dies before marking.
    let clock = Clock::manual(croupier_core::now());
    let lease = chrono::Duration::seconds(30);
    let claimed = store
        .outbox_claim("dead-relay", 100, clock.now(), lease)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 20);
    assert_eq!(bus.publish(&claimed).await.len(), 20);
    let survivor = Relay::new(store.clone(), bus.clone(), relay_on(&clock, 100, lease));
    assert_eq!(
        survivor.step().await.unwrap(),
        RelayStep::default(),
        "leased events are not taken while the lease holds"
    );
    clock.advance(lease + chrono::Duration::milliseconds(1));
    assert_eq!(
        survivor.step().await.unwrap(),
        RelayStep {
            claimed: 20,
            published: 20
        }
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    assert_eq!(
        streams.messages_in("player").await,
        20,
        "deduplicated by Nats-Msg-Id"
    );
}

// ---- consumers ---------------------------------------------------------------

/// The stats consumer, but its first two calls with an event fail *after*
/// the transaction committed, as if the worker died before acknowledging.
/// One JetStream delivery makes at most two calls (the batch, then the event
/// alone), so a third call proves JetStream redelivered the event.
struct FailsAfterCommit {
    inner: StatsConsumer,
    deliveries: Mutex<HashMap<uuid::Uuid, u32>>,
}

#[async_trait]
impl Consumer for FailsAfterCommit {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn event_types(&self) -> &[&'static str] {
        self.inner.event_types()
    }
    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        self.inner.handle(events).await?;
        let mut early = false;
        let mut seen = self.deliveries.lock().unwrap();
        for e in events {
            let n = seen.entry(e.event_id).or_insert(0);
            *n += 1;
            early |= *n <= 2;
        }
        if early {
            Err(ConsumerError::Transient("died before the ack".into()))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_redelivery_after_commit_applies_the_event_once() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    let p = players(&store, "redelivered", 1).await.remove(0);
    let placed = bets(&store, &p, 12).await;
    let client = streams.client().await;
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(client.clone(), streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    let relay = Relay::new(
        store.clone(),
        bus,
        relay_opts(100, chrono::Duration::seconds(30)),
    );
    while relay.step().await.unwrap().claimed > 0 {}

    let consumer = Arc::new(FailsAfterCommit {
        inner: StatsConsumer::new(store.clone()),
        deliveries: Mutex::new(HashMap::new()),
    });
    let stop = CancellationToken::new();
    let source =
        JetStreamSource::new(client, streams.opts.clone(), Arc::new(LogDeadLetters)).unwrap();
    let tasks = source.spawn(consumer.clone(), stop.clone()).await.unwrap();
    let expected = expected_stats(&placed);
    let redelivered = eventually(Duration::from_secs(30), || async {
        let d = consumer.deliveries.lock().unwrap();
        d.len() == 12 && d.values().all(|n| *n >= 3)
    })
    .await;
    let stats = store.player_stats(p.id).await.unwrap();
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        redelivered,
        "every event should be redelivered: {:?}",
        consumer.deliveries.lock().unwrap()
    );
    assert_eq!(stats, expected, "each event applied exactly once");
    let bets: i64 = stats.iter().map(|s| s.counters.bets).sum();
    assert_eq!(bets, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_bets_flow_from_the_outbox_through_jetstream_into_stats() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    let client = streams.client().await;
    let stop = CancellationToken::new();
    // Two relays and two workers of the same consumer, as two instances run them.
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(client.clone(), streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let relay = Relay::new(
            store.clone(),
            bus.clone(),
            relay_opts(32, chrono::Duration::seconds(30)),
        );
        tasks.push(tokio::spawn(relay.run(stop.clone())));
        let source = JetStreamSource::new(
            client.clone(),
            streams.opts.clone(),
            Arc::new(LogDeadLetters),
        )
        .unwrap();
        tasks.extend(
            source
                .spawn(Arc::new(StatsConsumer::new(store.clone())), stop.clone())
                .await
                .unwrap(),
        );
    }
    let ps = players(&store, "flow", 4).await;
    let mut placed = HashMap::new();
    for p in &ps {
        placed.insert(p.id, bets(&store, p, 15).await);
    }
    let last = Mutex::new(HashMap::new());
    let converged = eventually(Duration::from_secs(30), || {
        let (store, placed, last) = (store.clone(), &placed, &last);
        async move {
            for (player, bets) in placed {
                let stats = store.player_stats(*player).await.unwrap();
                let ok = stats == expected_stats(bets);
                last.lock().unwrap().insert(*player, stats);
                if !ok {
                    return false;
                }
            }
            true
        }
    })
    .await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(converged, "stats never matched the bets: {last:?}");
    let dice = store
        .game_stats("dice", chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(dice.len(), 1);
    assert_eq!(dice[0].1.bets, 4 * 8, "8 of each player's 15 bets are dice");
}

/// Fails its first `failures` calls, transiently or permanently.
struct Flaky {
    failures: Mutex<u32>,
    permanent: bool,
    handled: Mutex<Vec<uuid::Uuid>>,
}

#[async_trait]
impl Consumer for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn event_types(&self) -> &[&'static str] {
        &[event_type::BET_SETTLED]
    }
    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let mut left = self.failures.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(if self.permanent {
                ConsumerError::Permanent("bad".into())
            } else {
                ConsumerError::Transient("down".into())
            });
        }
        self.handled
            .lock()
            .unwrap()
            .extend(events.iter().map(|e| e.event_id));
        Ok(())
    }
}

#[derive(Default)]
struct RecordingDeadLetters(Mutex<Vec<(String, uuid::Uuid, u32)>>);

#[async_trait]
impl DeadLetters for RecordingDeadLetters {
    async fn dead_letter(
        &self,
        consumer: &str,
        e: &OutboxEvent,
        attempts: u32,
        _: &ConsumerError,
    ) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push((consumer.to_owned(), e.event_id, attempts));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_marks_published_only_once_every_consumer_handled() {
    let (store, _dir) = sqlite();
    let p = players(&store, "embedded", 1).await.remove(0);
    let placed = bets(&store, &p, 3).await;
    // A batch plus one-by-one retries: 4 failures fail every event once.
    let flaky = Arc::new(Flaky {
        failures: Mutex::new(4),
        permanent: false,
        handled: Mutex::new(vec![]),
    });
    let dead = Arc::new(RecordingDeadLetters::default());
    let bus = Arc::new(InProcessBus::new(
        vec![Arc::new(StatsConsumer::new(store.clone())), flaky.clone()],
        dead.clone(),
        5,
    ));
    let clock = Clock::manual(croupier_core::now());
    let lease = chrono::Duration::seconds(30);
    let relay = Relay::new(store.clone(), bus, relay_on(&clock, 100, lease));
    // 5 events: registered, adjusted, 3 bets. Only the bets wait for `flaky`.
    assert_eq!(
        relay.step().await.unwrap(),
        RelayStep {
            claimed: 5,
            published: 2
        }
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 3);
    assert_eq!(
        store.player_stats(p.id).await.unwrap(),
        expected_stats(&placed),
        "stats applied already"
    );
    // Retried once the lease ends; stats see the events again and skip them.
    assert_eq!(relay.step().await.unwrap(), RelayStep::default());
    clock.advance(lease + chrono::Duration::milliseconds(1));
    assert_eq!(
        relay.step().await.unwrap(),
        RelayStep {
            claimed: 3,
            published: 3
        }
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    assert_eq!(
        store.player_stats(p.id).await.unwrap(),
        expected_stats(&placed)
    );
    assert_eq!(flaky.handled.lock().unwrap().len(), 3);
    assert!(dead.0.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_dead_letters_permanent_failures_and_exhausted_retries() {
    let (store, _dir) = sqlite();
    let p = players(&store, "doomed", 1).await.remove(0);
    bets(&store, &p, 2).await;
    let bet_ids: Vec<_> = store
        .outbox_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type::BET_SETTLED)
        .map(|e| e.event_id)
        .collect();
    // Permanent: dead-lettered at once, and the events count as delivered.
    let dead = Arc::new(RecordingDeadLetters::default());
    let permanent = Arc::new(Flaky {
        failures: Mutex::new(u32::MAX),
        permanent: true,
        handled: Mutex::new(vec![]),
    });
    let bus = Arc::new(InProcessBus::new(vec![permanent], dead.clone(), 3));
    let relay = Relay::new(
        store.clone(),
        bus,
        relay_opts(100, chrono::Duration::milliseconds(100)),
    );
    assert_eq!(
        relay.step().await.unwrap().published,
        4,
        "registered, adjusted, 2 bets"
    );
    let letters = dead.0.lock().unwrap().clone();
    assert_eq!(
        letters,
        bet_ids
            .iter()
            .map(|id| ("flaky".to_owned(), *id, 1))
            .collect::<Vec<_>>()
    );

    // Transient: retried after each lease, dead-lettered on the third attempt.
    bets(&store, &p, 1).await;
    let dead = Arc::new(RecordingDeadLetters::default());
    let transient = Arc::new(Flaky {
        failures: Mutex::new(u32::MAX),
        permanent: false,
        handled: Mutex::new(vec![]),
    });
    let bus = Arc::new(InProcessBus::new(vec![transient], dead.clone(), 3));
    let clock = Clock::manual(croupier_core::now());
    let lease = chrono::Duration::seconds(30);
    let relay = Relay::new(store.clone(), bus, relay_on(&clock, 100, lease));
    // (claimed, published): the funding's wallet.adjusted goes out at once.
    for (attempt, expected) in [(2, 1), (1, 0), (1, 1)].into_iter().enumerate() {
        let step = relay.step().await.unwrap();
        assert_eq!(
            (step.claimed, step.published),
            expected,
            "attempt {}",
            attempt + 1
        );
        clock.advance(lease + chrono::Duration::milliseconds(1));
    }
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    let letters = dead.0.lock().unwrap().clone();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].2, 3, "dead-lettered after three attempts");
}

// ---- dead letters in the store, re-drive -------------------------------------

/// The real `stats` consumer behind a switch: while `broken`, every call
/// fails (permanently or transiently) before touching the store.
struct Breakable {
    inner: StatsConsumer,
    broken: std::sync::atomic::AtomicBool,
    permanent: bool,
}

impl Breakable {
    fn new(store: &Arc<dyn Store>, permanent: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: StatsConsumer::new(store.clone()),
            broken: true.into(),
            permanent,
        })
    }
    fn fix(&self) {
        self.broken
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl Consumer for Breakable {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn event_types(&self) -> &[&'static str] {
        self.inner.event_types()
    }
    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(if self.permanent {
                ConsumerError::Permanent("projection bug".into())
            } else {
                ConsumerError::Transient("projection down".into())
            });
        }
        self.inner.handle(events).await
    }
}

fn bet_events(all: &[OutboxEvent]) -> Vec<OutboxEvent> {
    all.iter()
        .filter(|e| e.event_type == event_type::BET_SETTLED)
        .cloned()
        .collect()
}

/// Fixes the consumer, re-drives every dead letter, and checks the stats
/// then equal the bets, with every event applied once even when re-driven
/// or delivered again.
async fn redrive_all_and_check(
    store: &Arc<dyn Store>,
    consumer: &Arc<Breakable>,
    player: &Player,
    placed: &[BetRecord],
) {
    let letters = store.dead_letters(Some("stats"), 0, 100).await.unwrap();
    // Still broken: a re-drive fails and keeps the letter, attempts counted.
    let first = letters[0].clone();
    let consumers: Vec<Arc<dyn Consumer>> = vec![consumer.clone()];
    assert!(matches!(
        redrive(&**store, &consumers, first.id).await.unwrap(),
        Redrive::Failed(_)
    ));
    let again = store.dead_letter(first.id).await.unwrap().unwrap();
    assert_eq!(again.attempts, first.attempts + 1);
    assert!(store.player_stats(player.id).await.unwrap().is_empty());

    consumer.fix();
    for l in &letters {
        assert_eq!(
            redrive(&**store, &consumers, l.id).await.unwrap(),
            Redrive::Applied
        );
    }
    assert_eq!(store.dead_letter_count().await.unwrap(), 0);
    assert!(matches!(
        redrive(&**store, &consumers, first.id).await,
        Err(RedriveError::NotFound(_))
    ));
    assert_eq!(
        store.player_stats(player.id).await.unwrap(),
        expected_stats(placed)
    );
    // Every event delivered once more: the inbox makes it a no-op.
    let events = bet_events(&store.outbox_after(0, 1000).await.unwrap());
    consumer.handle(&events).await.unwrap();
    assert_eq!(
        store.player_stats(player.id).await.unwrap(),
        expected_stats(placed),
        "effects once"
    );
}

async fn in_process_dead_letters_are_stored_and_redriven(store: Arc<dyn Store>) {
    let p = players(&store, "deadletter", 1).await.remove(0);
    let placed = bets(&store, &p, 4).await;
    let consumer = Breakable::new(&store, false);
    let bus = Arc::new(InProcessBus::new(
        vec![consumer.clone()],
        Arc::new(StoreDeadLetters::new(store.clone())),
        2,
    ));
    let clock = Clock::manual(croupier_core::now());
    let lease = chrono::Duration::seconds(30);
    let relay = Relay::new(store.clone(), bus, relay_on(&clock, 100, lease));
    // Attempt 1, then after the lease attempt 2 dead-letters; then all published.
    for _ in 0..3 {
        relay.step().await.unwrap();
        clock.advance(lease + chrono::Duration::milliseconds(1));
    }
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    let letters = store.dead_letters(None, 0, 100).await.unwrap();
    let mut ids: Vec<_> = letters.iter().map(|l| l.event.event_id).collect();
    let mut want: Vec<_> = bet_events(&store.outbox_after(0, 100).await.unwrap())
        .iter()
        .map(|e| e.event_id)
        .collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want, "every failed event is kept: nothing lost");
    for l in &letters {
        assert_eq!((l.consumer.as_str(), l.attempts), ("stats", 2), "{l:?}");
        assert!(l.last_error.contains("projection down"), "{l:?}");
    }
    redrive_all_and_check(&store, &consumer, &p, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_stores_dead_letters_and_redrive_applies_them_once_on_sqlite() {
    let (store, _dir) = sqlite();
    in_process_dead_letters_are_stored_and_redriven(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_stores_dead_letters_and_redrive_applies_them_once_on_postgres() {
    let Some(pg) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    let (store, _schema) = postgres(&pg).await;
    in_process_dead_letters_are_stored_and_redriven(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_dead_letters_are_stored_and_redrive_applies_them_once() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    let p = players(&store, "jsdead", 1).await.remove(0);
    let placed = bets(&store, &p, 5).await;
    let client = streams.client().await;
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(client.clone(), streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    let relay = Relay::new(
        store.clone(),
        bus,
        relay_opts(100, chrono::Duration::seconds(30)),
    );
    while relay.step().await.unwrap().claimed > 0 {}
    let consumer = Breakable::new(&store, true);
    let stop = CancellationToken::new();
    let source = JetStreamSource::new(
        client,
        streams.opts.clone(),
        Arc::new(StoreDeadLetters::new(store.clone())),
    )
    .unwrap();
    let tasks = source.spawn(consumer.clone(), stop.clone()).await.unwrap();
    let all_kept = eventually(Duration::from_secs(30), || async {
        store.dead_letter_count().await.unwrap() == 5
    })
    .await;
    // Terminated messages are not redelivered: the letters stay as they are.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count = store.dead_letter_count().await.unwrap();
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(all_kept && count == 5, "dead letters: {count}");
    for l in store.dead_letters(None, 0, 100).await.unwrap() {
        assert_eq!((l.consumer.as_str(), l.attempts), ("stats", 1));
        assert_eq!(l.event.event_type, event_type::BET_SETTLED);
    }
    redrive_all_and_check(&store, &consumer, &p, &placed).await;
}

/// Applies its first batch (commits), then hangs before returning, so the
/// source never acknowledges it: the state of a worker killed mid-batch.
struct HangsAfterCommit {
    inner: StatsConsumer,
    committed: tokio::sync::Notify,
}

#[async_trait]
impl Consumer for HangsAfterCommit {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn event_types(&self) -> &[&'static str] {
        self.inner.event_types()
    }
    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        self.inner.handle(events).await?;
        self.committed.notify_one();
        std::future::pending::<()>().await;
        unreachable!()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_worker_killed_mid_batch_resumes_without_loss_or_double_effects() {
    let (Some(nats), Some(pg)) = (
        backend_url("CROUPIER_TEST_NATS_URL"),
        backend_url("CROUPIER_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let streams = Streams::new(&nats);
    let (store, _schema) = postgres(&pg).await;
    let p = players(&store, "killed", 1).await.remove(0);
    let placed = bets(&store, &p, 20).await;
    let client = streams.client().await;
    let bus: Arc<dyn Bus> = Arc::new(
        JetStreamBus::new(client.clone(), streams.opts.clone(), DOMAINS)
            .await
            .unwrap(),
    );
    let relay = Relay::new(
        store.clone(),
        bus,
        relay_opts(100, chrono::Duration::seconds(30)),
    );
    while relay.step().await.unwrap().claimed > 0 {}

    // The first worker commits its first batch, then is killed before acking.
    let hanging = Arc::new(HangsAfterCommit {
        inner: StatsConsumer::new(store.clone()),
        committed: tokio::sync::Notify::new(),
    });
    let stop = CancellationToken::new();
    let source = JetStreamSource::new(
        client.clone(),
        streams.opts.clone(),
        Arc::new(StoreDeadLetters::new(store.clone())),
    )
    .unwrap();
    let tasks = source.spawn(hanging.clone(), stop.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), hanging.committed.notified())
        .await
        .expect("the first batch committed");
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        assert!(t.await.unwrap_err().is_cancelled());
    }
    let partial: i64 = store
        .player_stats(p.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.counters.bets)
        .sum();
    assert!(partial > 0, "the killed batch had committed");

    // A new worker gets the unacknowledged batch again (after ack_wait) and
    // the rest: every bet counted exactly once.
    let tasks = source
        .spawn(Arc::new(StatsConsumer::new(store.clone())), stop.clone())
        .await
        .unwrap();
    let expected = expected_stats(&placed);
    let converged = eventually(Duration::from_secs(30), || async {
        store.player_stats(p.id).await.unwrap() == expected
    })
    .await;
    // And stays there: nothing applies twice later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = store.player_stats(p.id).await.unwrap();
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(converged, "never converged: {stats:?}");
    assert_eq!(stats, expected);
    assert_eq!(store.dead_letter_count().await.unwrap(), 0);
}

/// Housekeeping deletes what only deduplicates once it is past its
/// retention, at whatever time the tick is given, and nothing younger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_prunes_inboxes_bet_results_and_idempotency_keys_past_their_retention() {
    let (store, _dir) = sqlite();
    let p = players(&store, "tidy", 1).await.remove(0);
    bets(&store, &p, 3).await;
    let bus = Arc::new(InProcessBus::new(
        vec![Arc::new(StatsConsumer::new(store.clone()))],
        Arc::new(RecordingDeadLetters::default()),
        5,
    ));
    let relay = Relay::new(
        store.clone(),
        bus,
        relay_opts(100, chrono::Duration::seconds(30)),
    );
    assert_eq!(relay.step().await.unwrap().published, 5);
    let t = croupier_core::now();
    let lease = chrono::Duration::seconds(30);
    store
        .idempotency_begin("s", "k", [1; 32], t, lease)
        .await
        .unwrap();
    let resp = StoredResponse {
        status: 201,
        body: b"{}".to_vec(),
    };
    store.idempotency_complete("s", "k", resp).await.unwrap();

    let keeper = Housekeeper::new(
        store.clone(),
        HousekeepingOptions {
            interval: Duration::from_secs(10),
            consumers: vec!["stats".into(), "unused".into()],
            inbox_retention: Some(chrono::Duration::hours(1)),
            idempotency_retention: Some(chrono::Duration::hours(24)),
        },
    );
    assert_eq!(
        keeper.tick(t).await,
        Tidied::default(),
        "nothing is old yet"
    );
    let two_hours_on = keeper.tick(t + chrono::Duration::hours(2)).await;
    assert_eq!(
        (
            two_hours_on.inbox,
            two_hours_on.bet_results,
            two_hours_on.idempotency
        ),
        (3, 3, 0)
    );
    let a_day_on = keeper.tick(t + chrono::Duration::hours(25)).await;
    assert_eq!(
        (a_day_on.inbox, a_day_on.bet_results, a_day_on.idempotency),
        (0, 0, 1)
    );
    assert_eq!(
        store
            .idempotency_begin("s", "k", [1; 32], t, lease)
            .await
            .unwrap(),
        IdempotencyBegin::Started,
        "a forgotten key starts afresh"
    );
}

/// The manifests under an export root, by path (relative) → listed URLs.
fn manifest_entries(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![root.join("manifests")];
    while let Some(dir) = dirs.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let urls = m["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["url"].as_str().unwrap().to_owned())
                .collect();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy();
            out.insert(rel.into_owned(), urls);
        }
    }
    out
}

/// Every data file under an export root, as the URLs a manifest gives them.
fn exported_urls(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut dirs = vec![root.join("events")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn listed(m: &std::collections::BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = m.values().flatten().cloned().collect();
    all.sort();
    all
}

#[tokio::test]
async fn export_manifests_trail_their_files_and_a_restart_rewrites_what_a_crash_left() {
    let (store, _db) = sqlite();
    let root = tempfile::tempdir().unwrap();
    let opts = |interval| ExportOptions {
        manifest_interval: interval,
        ..ExportOptions::open(root.path().to_str().unwrap(), None, false, 100, 1000).unwrap()
    };
    let p = players(&store, "exp", 1).await;
    bets(&store, &p[0], 3).await;
    let first = store.outbox_after(0, 1000).await.unwrap();

    // Deferred: the batch's files are written and recorded, its manifests not yet.
    let worker = ExportConsumer::new(store.clone(), opts(Duration::from_secs(3600)));
    worker.handle(&first).await.unwrap();
    let files = exported_urls(root.path());
    assert!(files.len() >= 3, "register, claim and bets: {files:?}");
    assert!(manifest_entries(root.path()).is_empty());
    worker.flush_manifests().await.unwrap();
    let written = manifest_entries(root.path());
    assert_eq!(listed(&written), files);

    // A crash after the commit, before the flush: no manifests. The next
    // worker's loop rewrites them at start from the store's record.
    std::fs::remove_dir_all(root.path().join("manifests")).unwrap();
    let next = Arc::new(ExportConsumer::new(
        store.clone(),
        opts(Duration::from_millis(20)),
    ));
    let stop = CancellationToken::new();
    let writer = tokio::spawn(next.clone().run_manifests(stop.clone()));
    let recovered = eventually(Duration::from_secs(10), || async {
        manifest_entries(root.path()) == written
    })
    .await;
    assert!(recovered, "{:?}", manifest_entries(root.path()));

    // And it writes what later batches change.
    bets(&store, &p[0], 2).await;
    let last = first.last().unwrap().position;
    next.handle(&store.outbox_after(last, 1000).await.unwrap())
        .await
        .unwrap();
    let files = exported_urls(root.path());
    let caught_up = eventually(Duration::from_secs(10), || async {
        listed(&manifest_entries(root.path())) == files
    })
    .await;
    assert!(
        caught_up,
        "{:?} vs {files:?}",
        manifest_entries(root.path())
    );
    stop.cancel();
    writer.await.unwrap();

    // At interval 0 (batches write their own) the loop recovers, then ends.
    std::fs::remove_dir_all(root.path().join("manifests")).unwrap();
    let each_batch = Arc::new(ExportConsumer::new(store.clone(), opts(Duration::ZERO)));
    tokio::time::timeout(
        Duration::from_secs(30),
        each_batch.run_manifests(CancellationToken::new()),
    )
    .await
    .expect("the loop ends once it has recovered");
    assert_eq!(listed(&manifest_entries(root.path())), files);
}
