//! The Redis adapters against a real Redis server (`CROUPIER_TEST_REDIS_URL`).
//!
//! Each test works under a key prefix of its own and deletes its keys at the
//! end. Tests of an unreachable Redis need no server and always run.
//! Connection failures are produced by a small TCP relay in front of the real
//! server that the test can pause or cut.

use croupier_core::ratelimit::{LocalRateLimiter, Quota, RateDecision, RateLimiter, RateStatus};
use croupier_core::revocation::RevocationFeed;
use croupier_core::TokenHash;
use croupier_redis::{BusEvent, Redis, RedisOptions, RedisRateLimiter, RevocationBus};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// The server URL, or `None` (skip) on a developer machine without Redis.
fn server_url() -> Option<String> {
    match std::env::var("CROUPIER_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("CROUPIER_TEST_REDIS_URL must be set");
            }
            eprintln!("skipped: CROUPIER_TEST_REDIS_URL not set");
            None
        }
    }
}

fn unique_prefix() -> String {
    format!("croupier-test:{}:", uuid::Uuid::new_v4().simple())
}

fn connect(url: &str, prefix: &str, timeout: Duration) -> Redis {
    Redis::connect(&RedisOptions {
        url: url.to_owned(),
        key_prefix: prefix.to_owned(),
        timeout,
    })
    .expect("valid Redis URL")
}

/// A plain connection for inspecting and cleaning up.
async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis")
}

/// Every key under `prefix`.
async fn keys(url: &str, prefix: &str) -> Vec<String> {
    let mut conn = raw(url).await;
    let mut found = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        found.extend(batch);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// Deletes every key under `prefix` when dropped, also when the test fails.
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let found = keys(&url, &prefix).await;
                if !found.is_empty() {
                    let mut conn = raw(&url).await;
                    let _: Result<i64, _> =
                        redis::cmd("DEL").arg(&found).query_async(&mut conn).await;
                }
            });
        })
        .join();
    }
}

fn recorder() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("install the recorder")
    })
}

/// The value of one series, e.g. `croupier_ratelimit_degraded_total{fallback="open"}`.
fn metric(series: &str) -> f64 {
    recorder()
        .render()
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

fn is_limited(d: RateDecision) -> bool {
    matches!(d, RateDecision::Limited { .. })
}

#[tokio::test]
async fn gcra_allows_the_limit_then_limits_with_the_time_to_the_next_slot() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let limiter = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let quota = Quota::new(5, Duration::from_secs(50));
    for i in 0..5 {
        assert_eq!(
            limiter.hit("k", quota).await,
            RateDecision::Allowed,
            "event {i}"
        );
    }
    for _ in 0..2 {
        match limiter.hit("k", quota).await {
            // One interval (10 s) after the first event, less the time spent since.
            RateDecision::Limited { retry_after } => assert!(
                retry_after > Duration::from_secs(9) && retry_after <= Duration::from_secs(10),
                "{retry_after:?}"
            ),
            other => panic!("expected a limit, got {other:?}"),
        }
    }
    assert!(is_limited(limiter.peek("k", quota).await));
    // Keys are independent.
    assert_eq!(limiter.hit("other", quota).await, RateDecision::Allowed);
    assert_eq!(keys(&url, &prefix).await.len(), 2);
}

/// Whole seconds, as the `RateLimit-Reset` header shows them.
fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
}

#[tokio::test]
async fn redis_reports_the_same_remaining_and_reset_as_the_local_limiter() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let redis = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let local = LocalRateLimiter::new();
    // 10 s between events: the milliseconds between calls change nothing.
    let quota = Quota::new(5, Duration::from_secs(50));
    for i in 1..=7u32 {
        let (r, l): (RateStatus, RateStatus) = (
            redis.hit_status("k", quota).await,
            local.hit_status("k", quota).await,
        );
        assert_eq!(
            is_limited(r.decision),
            is_limited(l.decision),
            "event {i}: {r:?} vs {l:?}"
        );
        assert_eq!(r.remaining, l.remaining, "event {i}: {r:?} vs {l:?}");
        assert_eq!(r.remaining, 5u32.saturating_sub(i), "event {i}");
        assert_eq!(secs(r.reset), secs(l.reset), "event {i}: {r:?} vs {l:?}");
        assert_eq!(secs(r.reset), 10 * u64::from(i.min(5)), "event {i}");
    }
    // The plain calls still agree with the detailed one.
    assert!(is_limited(redis.hit("k", quota).await));
    assert_eq!(redis.hit_status("other", quota).await.remaining, 4);
}

#[tokio::test]
async fn instances_share_one_quota() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    // Two handles, as two instances would have.
    let a = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let b = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let quota = Quota::new(4, Duration::from_secs(60));
    for i in 0..4 {
        let l = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            l.hit("shared", quota).await,
            RateDecision::Allowed,
            "event {i}"
        );
    }
    assert!(is_limited(a.hit("shared", quota).await));
    assert!(is_limited(b.hit("shared", quota).await));
    // Concurrent hits from both never exceed the quota together.
    let quota = Quota::new(10, Duration::from_secs(60));
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { l.hit("burst", quota).await }));
    }
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() == RateDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
}

#[tokio::test]
async fn peek_records_nothing() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let limiter = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let quota = Quota::new(1, Duration::from_secs(60));
    for _ in 0..3 {
        assert_eq!(limiter.peek("p", quota).await, RateDecision::Allowed);
    }
    assert!(keys(&url, &prefix).await.is_empty(), "a peek wrote a key");
    assert_eq!(limiter.hit("p", quota).await, RateDecision::Allowed);
    assert!(is_limited(limiter.peek("p", quota).await));
    // A refused hit records nothing either: the next slot does not move.
    let RateDecision::Limited { retry_after: first } = limiter.hit("p", quota).await else {
        panic!("expected a limit")
    };
    let RateDecision::Limited {
        retry_after: second,
    } = limiter.hit("p", quota).await
    else {
        panic!("expected a limit")
    };
    assert!(second <= first, "{second:?} > {first:?}");
}

#[tokio::test]
async fn keys_expire_once_they_carry_no_state() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let limiter = RedisRateLimiter::new(connect(&url, &prefix, Duration::from_secs(2)));
    let mut conn = raw(&url).await;
    // One event every 500 ms, bursts of 2: the third hit, within 500 ms of
    // the first, is limited.
    let quota = Quota::new(2, Duration::from_secs(1));
    assert_eq!(limiter.hit("e", quota).await, RateDecision::Allowed);
    assert_eq!(limiter.hit("e", quota).await, RateDecision::Allowed);
    assert!(is_limited(limiter.hit("e", quota).await));
    // The key lives as long as its state: until the burst has refilled.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}rl:e"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=1000).contains(&ttl), "pttl {ttl}");
    let start = Instant::now();
    while !keys(&url, &prefix).await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the key outlived its state"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(limiter.hit("e", quota).await, RateDecision::Allowed);
}

#[tokio::test]
async fn an_unreachable_redis_fails_open_quickly_and_is_counted() {
    let _ = recorder();
    let before_open = metric(r#"croupier_ratelimit_degraded_total{fallback="open"}"#);
    let before_errors = metric(r#"croupier_redis_errors_total{op="ratelimit"}"#);
    let limiter = RedisRateLimiter::new(connect(
        "redis://127.0.0.1:1",
        &unique_prefix(),
        Duration::from_millis(250),
    ));
    let quota = Quota::new(1, Duration::from_secs(60));
    let start = Instant::now();
    for i in 0..20 {
        assert_eq!(
            limiter.hit("x", quota).await,
            RateDecision::Allowed,
            "event {i}"
        );
    }
    // One call waits at most the timeout; the rest skip Redis during the cooldown.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let opened = metric(r#"croupier_ratelimit_degraded_total{fallback="open"}"#) - before_open;
    assert!(opened >= 20.0, "fail-open counter rose by {opened}");
    assert!(metric(r#"croupier_redis_errors_total{op="ratelimit"}"#) > before_errors);
}

/// Accepts connections and never answers: a Redis that hangs.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_hanging_redis_is_bounded_by_the_timeout_and_the_local_fallback_limits() {
    let (url, server) = silent_server().await;
    let limiter =
        RedisRateLimiter::new(connect(&url, &unique_prefix(), Duration::from_millis(200)))
            .with_fallback(Arc::new(LocalRateLimiter::new()));
    let quota = Quota::new(2, Duration::from_secs(60));
    let start = Instant::now();
    assert_eq!(limiter.hit("y", quota).await, RateDecision::Allowed);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(limiter.hit("y", quota).await, RateDecision::Allowed);
    // The per-instance fallback still enforces the quota.
    assert!(is_limited(limiter.hit("y", quota).await));
    assert!(is_limited(limiter.peek("y", quota).await));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    server.abort();
}

/// Starts a bus whose events are forwarded (as owned values) to a channel.
fn bus(
    redis: Redis,
) -> (
    Arc<RevocationBus>,
    mpsc::UnboundedReceiver<Option<Vec<TokenHash>>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let bus = RevocationBus::start(redis, Duration::from_secs(5), move |e| {
        let _ = tx.send(match e {
            BusEvent::Revoked(h) => Some(h.to_vec()),
            BusEvent::Resync => None,
        });
    });
    (Arc::new(bus), rx)
}

async fn until_live(bus: &RevocationBus, within: Duration) {
    let start = Instant::now();
    while !bus.is_live() {
        assert!(
            start.elapsed() < within,
            "the feed did not become live in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn until_not_live(bus: &RevocationBus, within: Duration) -> Duration {
    let start = Instant::now();
    while bus.is_live() {
        assert!(
            start.elapsed() < within,
            "the feed stayed live for {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The next revocation, skipping resyncs.
async fn next_revoked(rx: &mut mpsc::UnboundedReceiver<Option<Vec<TokenHash>>>) -> Vec<TokenHash> {
    loop {
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(Some(h))) => return h,
            Ok(Some(None)) => continue,
            Ok(None) => panic!("bus stopped"),
            Err(_) => panic!("no revocation within 1 s"),
        }
    }
}

fn hashes(n: usize, seed: u8) -> Vec<TokenHash> {
    (0..n)
        .map(|i| {
            let mut h = [seed; 32];
            h[..8].copy_from_slice(&(i as u64).to_be_bytes());
            TokenHash(h)
        })
        .collect()
}

#[tokio::test]
async fn a_revocation_published_on_one_instance_reaches_the_others() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let (a, mut a_rx) = bus(connect(&url, &prefix, Duration::from_secs(1)));
    let (b, mut b_rx) = bus(connect(&url, &prefix, Duration::from_secs(1)));
    until_live(&a, Duration::from_secs(5)).await;
    until_live(&b, Duration::from_secs(5)).await;
    // Each announced its subscription first.
    assert_eq!(a_rx.recv().await, Some(None));
    assert_eq!(b_rx.recv().await, Some(None));

    let one = hashes(1, 1);
    a.publish(&one).await;
    assert_eq!(next_revoked(&mut b_rx).await, one);
    assert_eq!(
        next_revoked(&mut a_rx).await,
        one,
        "the publisher hears itself too"
    );

    // Many at once arrive complete, in several messages.
    let many = hashes(600, 2);
    b.publish(&many).await;
    let mut got = Vec::new();
    while got.len() < many.len() {
        got.extend(next_revoked(&mut a_rx).await);
    }
    assert_eq!(got, many);
    let mut own = Vec::new();
    while own.len() < many.len() {
        own.extend(next_revoked(&mut b_rx).await);
    }

    // Another deployment's prefix is another channel: its subscriber hears
    // its own marker, published after, and nothing before it.
    let (other, mut other_rx) = bus(connect(&url, &unique_prefix(), Duration::from_secs(1)));
    until_live(&other, Duration::from_secs(5)).await;
    a.publish(&hashes(1, 3)).await;
    assert_eq!(next_revoked(&mut b_rx).await, hashes(1, 3));
    other.publish(&hashes(1, 9)).await;
    assert_eq!(
        next_revoked(&mut other_rx).await,
        hashes(1, 9),
        "a revocation crossed prefixes"
    );
}

#[tokio::test]
async fn the_feed_is_not_live_while_redis_is_unreachable() {
    let _ = recorder();
    let failed_before = metric(r#"croupier_redis_errors_total{op="revocation_subscribe"}"#);
    let (bus, _rx) = bus(connect(
        "redis://127.0.0.1:1",
        &unique_prefix(),
        Duration::from_millis(250),
    ));
    // Once a subscription has failed, the feed must not claim to be live.
    let start = Instant::now();
    while metric(r#"croupier_redis_errors_total{op="revocation_subscribe"}"#) <= failed_before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no subscription attempt"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!bus.is_live());
    // Publishing does not hang or fail the caller; it is queued for retry.
    let before = metric(r#"croupier_redis_errors_total{op="revocation_publish"}"#);
    let start = Instant::now();
    bus.publish(&hashes(3, 4)).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(metric(r#"croupier_redis_errors_total{op="revocation_publish"}"#) > before);
    assert!(metric(r#"croupier_redis_errors_total{op="revocation_subscribe"}"#) > 0.0);
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Relay bytes both ways.
    Forward,
    /// Hold every byte: the connections look open but nothing arrives.
    Pause,
    /// Close every connection and refuse new ones.
    Cut,
}

/// A TCP relay to the real Redis that the test can pause or cut.
struct Relay {
    url: String,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: &str) -> Self {
        let target = target
            .strip_prefix("redis://")
            .and_then(|r| r.split('/').next())
            .expect("a redis://host:port URL")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let (mode, _) = watch::channel(Mode::Forward);
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *modes.borrow() == Mode::Cut {
                    continue; // dropped: refused
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, modes.subscribe()));
                tokio::spawn(pump(sr, cw, modes.subscribe()));
            }
        });
        Self { url, mode, task }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.set(Mode::Cut);
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = mode.wait_for(|m| *m == Mode::Cut) => return,
        };
        // Hold the bytes while paused; give up on a cut.
        match mode.wait_for(|m| *m != Mode::Pause).await {
            Ok(m) if *m == Mode::Forward => {}
            _ => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_dead_or_stalled_connection_stops_the_feed_and_a_new_subscription_resyncs() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let relay = Relay::start(&url).await;
    let (watched, mut rx) = bus(connect(&relay.url, &prefix, Duration::from_millis(250)));
    let (direct, _direct_rx) = bus(connect(&url, &prefix, Duration::from_secs(1)));
    until_live(&watched, Duration::from_secs(5)).await;
    until_live(&direct, Duration::from_secs(5)).await;
    assert_eq!(rx.recv().await, Some(None), "first subscription");

    // A stalled connection (open, silent) is noticed within the live window.
    relay.set(Mode::Pause);
    let took = until_not_live(&watched, Duration::from_secs(2)).await;
    assert!(took <= Duration::from_millis(1000), "{took:?}");
    relay.set(Mode::Forward);
    until_live(&watched, Duration::from_secs(5)).await;

    // A cut connection: the feed goes down and revocations meanwhile are lost…
    relay.set(Mode::Cut);
    until_not_live(&watched, Duration::from_secs(2)).await;
    // Redis has handled the publication when it returns.
    direct.publish(&hashes(1, 5)).await;
    relay.set(Mode::Forward);
    // …so the new subscription tells the cache to forget everything.
    until_live(&watched, Duration::from_secs(10)).await;
    let mut resynced = false;
    while let Ok(event) = rx.try_recv() {
        assert_ne!(
            event,
            Some(hashes(1, 5)),
            "delivered through a cut connection?"
        );
        resynced |= event.is_none();
    }
    assert!(resynced, "no resync after resubscribing");
    // And it delivers again.
    direct.publish(&hashes(1, 6)).await;
    assert_eq!(next_revoked(&mut rx).await, hashes(1, 6));
}
