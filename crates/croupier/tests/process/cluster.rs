//! The local cluster as users run it (`deploy/local/cluster.sh`): 3 api
//! instances and a worker behind HAProxy on PostgreSQL, Redis and NATS.
//! Drives a bet load through HAProxy, SIGKILLs one api instance mid-load, and
//! checks what must survive that: the load goes on, only requests in flight on
//! the killed instance fail (and succeed once when retried with their
//! Idempotency-Key), nonces stay contiguous, the ledger audits clean, and the
//! stats consumer counted every settled bet exactly once.
//!
//! Needs haproxy and the three services; with `CROUPIER_TEST_REQUIRE_BACKENDS=1`
//! (CI) their absence fails the test instead of skipping it.

use crate::helpers::{TestStreams, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLAYERS: usize = 12;
const STAKE: i64 = 10;

fn require_backends() -> bool {
    std::env::var("CROUPIER_TEST_REQUIRE_BACKENDS").as_deref() == Ok("1")
}

/// The services' URLs, or None (skip) when they are not configured.
fn services() -> Option<(String, String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let urls = (
        get("CROUPIER_TEST_POSTGRES_URL"),
        get("CROUPIER_TEST_REDIS_URL"),
        get("CROUPIER_TEST_NATS_URL"),
    );
    let haproxy = Command::new("haproxy").arg("-v").output().is_ok();
    match urls {
        (Some(pg), Some(redis), Some(nats)) if haproxy => Some((pg, redis, nats)),
        _ if require_backends() => {
            panic!("the cluster test needs haproxy and CROUPIER_TEST_{{POSTGRES,REDIS,NATS}}_URL")
        }
        _ => None,
    }
}

/// Nine consecutive free loopback ports (the script's BASE..BASE+8) and one more for HAProxy,
/// below Linux's ephemeral range (32768 and up by default): an instance restarted on its
/// port must not find it taken by some outgoing connection meanwhile.
fn free_ports() -> (u16, u16) {
    for _ in 0..100 {
        let base = 10_000 + (rand_u64() % 22_000) as u16;
        let all: Option<Vec<TcpListener>> = (0..10)
            .map(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if all.is_some() {
            return (base + 9, base);
        }
    }
    panic!("no free loopback ports")
}

fn rand_u64() -> u64 {
    let u = uuid::Uuid::new_v4();
    u.as_u64_pair().0
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/cluster.sh")
}

/// Everything the test started, torn down even when an assertion fails.
struct Cluster {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    admin_url: String,
    database: String,
    lb: String,
    /// HAProxy's stats, as CSV (`cluster.sh` serves them on BASE+4).
    lb_stats: String,
    stopped: bool,
    _streams: TestStreams,
}

impl Cluster {
    fn run_script(&self, verb: &str) -> std::process::Output {
        Command::new("bash")
            .arg(script())
            .arg(verb)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run deploy/local/cluster.sh")
    }

    fn pid(&self, name: &str) -> i32 {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pid")))
            .unwrap_or_else(|e| panic!("{name}.pid: {e}"))
            .trim()
            .parse()
            .unwrap()
    }

    fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let out = self.run_script("stop");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = self.run_script("stop");
        }
        let (admin, db) = (self.admin_url.clone(), self.database.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

async fn start_cluster(pg: &str, redis: &str, nats: &str) -> Cluster {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("cluster_{}", &id[..12]);
    // The database lives beside the one the test URL names.
    let (server, _) = pg.rsplit_once('/').expect("postgres URL with a database");
    let admin_url = pg.to_owned();
    let db_url = format!("{server}/{database}");
    let (lb_port, base) = free_ports();
    let dir = tempfile::tempdir().unwrap();
    let streams = TestStreams::new(nats);
    let env: Vec<(String, String)> = [
        ("CROUPIER_DATABASE_URL", db_url),
        ("CROUPIER_REDIS_URL", redis.to_owned()),
        ("CROUPIER_REDIS__KEY_PREFIX", format!("croupier-test-{id}:")),
        ("CROUPIER_NATS_URL", nats.to_owned()),
        ("CROUPIER_NATS__STREAM_PREFIX", streams.prefix.clone()),
        ("CLUSTER_LB_PORT", lb_port.to_string()),
        ("CLUSTER_BASE_PORT", base.to_string()),
        ("CLUSTER_BIN", env!("CARGO_BIN_EXE_croupier").to_owned()),
        ("CLUSTER_DIR", dir.path().display().to_string()),
        ("CROUPIER_LOG__FORMAT", "text".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cluster = Cluster {
        env,
        dir,
        admin_url,
        database,
        lb: format!("http://127.0.0.1:{lb_port}"),
        lb_stats: format!("http://127.0.0.1:{}/;csv", base + 4),
        stopped: false,
        _streams: streams,
    };
    let out = cluster.run_script("start");
    assert!(
        out.status.success(),
        "cluster.sh start failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
}

async fn json_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// Registers, logs in and funds a player; returns the token.
async fn funded_player(http: &reqwest::Client, lb: &str, name: &str) -> String {
    use reqwest::Method;
    let creds = json!({ "username": name, "password": PASSWORD });
    let (s, b) = json_call(
        http,
        Method::POST,
        &format!("{lb}/v1/auth/register"),
        None,
        None,
        Some(creds.clone()),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = json_call(
        http,
        Method::POST,
        &format!("{lb}/v1/auth/login"),
        None,
        None,
        Some(creds),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = b["token"].as_str().unwrap().to_owned();
    let (s, b) = json_call(
        http,
        Method::POST,
        &format!("{lb}/v1/wallets/CHIP/claims"),
        Some(&token),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{b}");
    token
}

/// Waits until HAProxy's stats show `server` DOWN.
async fn marked_down(http: &reqwest::Client, stats: &str, server: &str) {
    let start = Instant::now();
    loop {
        let csv = http.get(stats).send().await.unwrap().text().await.unwrap();
        let status = csv.lines().find_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (cols.get(1) == Some(&server)).then(|| cols.get(17).copied().unwrap_or("").to_owned())
        });
        if status.as_deref().is_some_and(|s| s.starts_with("DOWN")) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "HAProxy never marked {server} down: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `counter` reaches `target`; a minute without progress is a stall.
async fn reached(counter: &AtomicU64, target: u64, what: &str) {
    let (mut seen, mut since) = (counter.load(Ordering::Relaxed), Instant::now());
    while seen < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.load(Ordering::Relaxed);
        if now > seen {
            (seen, since) = (now, Instant::now());
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "load stalled: {seen} of {target} {what}"
        );
    }
}

#[derive(Default)]
struct Tally {
    settled: AtomicU64,
    settled_after_kill: AtomicU64,
    /// First attempts that failed (connection reset, 502/503 from HAProxy).
    failed_attempts: AtomicU64,
}

/// One player's closed loop: a bet at a time, each with its own key, retried
/// with the same key until it settles. Returns how many bets settled.
async fn play(
    http: reqwest::Client,
    lb: String,
    token: String,
    stop: Arc<AtomicBool>,
    killed: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> u64 {
    let url = format!("{lb}/v1/games/dice/bets");
    let body = json!({ "currency": "CHIP", "stake": STAKE,
                       "params": { "target": 50.5, "direction": "over" } });
    let mut settled = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = json_call(
                &http,
                reqwest::Method::POST,
                &url,
                Some(&token),
                Some(&key),
                Some(body.clone()),
            )
            .await;
            match r {
                Ok((s, _)) if s == StatusCode::CREATED || s == StatusCode::OK => break,
                Ok((s, b)) if s.is_client_error() && s != StatusCode::CONFLICT => {
                    panic!("bet refused: {s} {b}")
                }
                _ => {
                    // 409 = the first attempt is still being applied somewhere.
                    if attempt == 1 {
                        tally.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    }
                    assert!(attempt < 200, "a bet never settled: {r:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        settled += 1;
        tally.settled.fetch_add(1, Ordering::Relaxed);
        if killed.load(Ordering::Relaxed) {
            tally.settled_after_kill.fetch_add(1, Ordering::Relaxed);
        }
    }
    settled
}

/// Every bet of the player, newest first, through the paged history.
async fn history(http: &reqwest::Client, lb: &str, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{lb}/v1/bets?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = json_call(http, reqwest::Method::GET, &url, Some(token), None, None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        all.extend(b["items"].as_array().unwrap().iter().cloned());
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_survives_sigkill_of_an_api_instance_mid_load() {
    let Some((pg, redis, nats)) = services() else {
        eprintln!("skipped: haproxy or a backend URL is missing");
        return;
    };
    let mut cluster = start_cluster(&pg, &redis, &nats).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let lb = cluster.lb.clone();

    let mut tokens = Vec::new();
    for i in 0..PLAYERS {
        tokens.push(funded_player(&http, &lb, &format!("cluster{i}")).await);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks: Vec<_> = tokens
        .iter()
        .map(|t| {
            tokio::spawn(play(
                http.clone(),
                lb.clone(),
                t.clone(),
                stop.clone(),
                killed.clone(),
                tally.clone(),
            ))
        })
        .collect();

    // Load first: every player settling, by count, not by a wall-clock span.
    let target = PLAYERS as u64 * 5;
    reached(&tally.settled, target, "bets settled before the kill").await;
    let before_kill = tally.settled.load(Ordering::Relaxed);
    // SIGKILL: no drain, no goodbye; HAProxy learns from refused connections
    // and failing health checks.
    let victim = cluster.pid("api2");
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);
    killed.store(true, Ordering::Relaxed);
    let killed_at = Instant::now();
    // HAProxy takes the instance out, and the load goes on on the others.
    marked_down(&http, &cluster.lb_stats, "api2").await;
    let at_down = tally.settled_after_kill.load(Ordering::Relaxed);
    let more = at_down + target;
    reached(
        &tally.settled_after_kill,
        more,
        "bets settled after api2 went down",
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut per_player = Vec::new();
    for t in tasks {
        per_player.push(t.await.unwrap());
    }
    let failed = tally.failed_attempts.load(Ordering::Relaxed);
    let after = tally.settled_after_kill.load(Ordering::Relaxed);
    eprintln!(
        "settled {} bets ({before_kill} before the kill, {after} in the {:?} after), {failed} first attempts failed",
        tally.settled.load(Ordering::Relaxed),
        killed_at.elapsed()
    );
    // At most the requests in flight on the killed instance failed: one per player.
    assert!(
        failed <= PLAYERS as u64,
        "{failed} failed attempts for {PLAYERS} players in flight"
    );

    // Each player's history: every settled bet exactly once, nonces contiguous.
    let mut expected_bets: HashMap<usize, u64> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        let bets = history(&http, &lb, t).await;
        assert_eq!(
            bets.len() as u64,
            per_player[i],
            "player {i}: history vs settled"
        );
        let mut nonces: Vec<i64> = bets
            .iter()
            .map(|b| b["fairness"]["nonce"].as_i64().unwrap())
            .collect();
        nonces.sort_unstable();
        let want: Vec<i64> = (0..nonces.len() as i64).collect();
        assert_eq!(nonces, want, "player {i}: nonces not contiguous");
        expected_bets.insert(i, per_player[i]);
    }

    // The ledger balances on the shared database.
    let audit = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["ledger", "audit"])
        .envs(cluster.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "ledger audit: {}\n{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );

    // Every bet.settled reached the stats consumer exactly once in effect
    // (outbox → relay on the api instances → JetStream → worker).
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, t) in tokens.iter().enumerate() {
        loop {
            let (s, b) = json_call(
                &http,
                reqwest::Method::GET,
                &format!("{lb}/v1/me/stats"),
                Some(t),
                None,
                None,
            )
            .await
            .unwrap();
            assert_eq!(s, StatusCode::OK, "{b}");
            let counted = stats_bets(&b);
            assert!(
                counted <= expected_bets[&i],
                "player {i}: stats counted {counted} > {} bets",
                expected_bets[&i]
            );
            if counted == expected_bets[&i] {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "player {i}: stats stuck at {counted} of {} bets: {b}",
                expected_bets[&i]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let survivors: Vec<i32> = ["api1", "api3", "worker", "haproxy"]
        .iter()
        .map(|n| cluster.pid(n))
        .collect();
    cluster.stop();
    for pid in survivors {
        assert!(!alive(pid), "pid {pid} still runs after cluster.sh stop");
    }
}

/// Whether a process runs (a zombie waiting for its reaper does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Bets counted by `/v1/me/stats`, over every currency.
fn stats_bets(b: &Value) -> u64 {
    b["currencies"]
        .as_array()
        .expect("currencies")
        .iter()
        .map(|c| c["bets"].as_u64().expect("bets"))
        .sum()
}
