//! PostgreSQL outages over HTTP: the app talks to the test server through a
//! TCP proxy the test controls. Cutting the proxy is what a PostgreSQL
//! restart looks like from the app: every connection drops and new ones are
//! refused until it is back.

use crate::helpers::{backend_url, spawn_with, PgSchema, TestApp};
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// `url` with its host and port replaced by `authority`.
fn with_authority(url: &str, authority: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, hostpath) = match rest.split_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let path = hostpath.find(['/', '?']).map_or("", |i| &hostpath[i..]);
    format!("{scheme}://{userinfo}{authority}{path}")
}

/// The upstream's host:port (default port 5432).
fn authority_of(url: &str) -> String {
    let rest = url.split_once("://").expect("a URL").1;
    let hostpath = rest.split_once('@').map_or(rest, |(_, h)| h);
    let host = &hostpath[..hostpath.find(['/', '?']).unwrap_or(hostpath.len())];
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// A TCP proxy to PostgreSQL that can be cut (connections dropped, port
/// closed) and restored on the same port, or stalled (connections stay open
/// but nothing gets through: a link that went silent).
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Arc::default(),
            stalled: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let stalled = self.stalled.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, stalled) = (upstream.clone(), stalled.clone());
                let pipe = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (client_rx, client_tx) = client.into_split();
                        let (server_rx, server_tx) = server.into_split();
                        tokio::select! {
                            _ = forward(client_rx, server_tx, &stalled) => {}
                            _ = forward(server_rx, client_tx, &stalled) => {}
                        }
                    }
                });
                tasks.lock().unwrap().push(pipe.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }

    /// Holds every byte in both directions until `unstall`, connections open.
    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// Drops every connection and closes the port (connects are refused).
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port.
    async fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => return self.serve(listener),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.addr),
            }
        }
    }
}

/// Copies one direction of a connection, holding each chunk while stalled.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn dice() -> serde_json::Value {
    json!({ "currency": "CHIP", "stake": 10, "params": { "target": 50.5, "direction": "over" } })
}

async fn bet(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
) -> (StatusCode, Option<String>, serde_json::Value, Duration) {
    let t = Instant::now();
    let r = app
        .call(
            Method::POST,
            "/v1/games/dice/bets",
            Some(token),
            key,
            Some(dice()),
        )
        .await;
    let retry_after = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status, retry_after, r.body, t.elapsed())
}

async fn ready(app: &TestApp) -> StatusCode {
    app.request(Method::GET, "/readyz")
        .send()
        .await
        .expect("readyz answers")
        .status()
}

/// An app on a fresh schema that reaches PostgreSQL at `url` through a
/// [`Proxy`], with a client that notices a hang (30 s) instead of waiting
/// forever.
async fn app_behind_proxy(
    url: &str,
    tweak: impl FnOnce(&mut croupier::config::Config),
) -> (TestApp, Proxy, PgSchema) {
    let (schema, scoped) = PgSchema::create().await;
    let proxy = Proxy::start(authority_of(url)).await;
    let through_proxy = with_authority(&scoped, &proxy.addr.to_string());
    let mut app = spawn_with(|c| {
        c.database_url = Some(through_proxy);
        tweak(c);
    })
    .await;
    app.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (app, proxy, schema)
}

/// How long an answer may take while PostgreSQL is away: the connection
/// wait (500 ms here) or one bet attempt (2 s), with room for a loaded machine.
const FAST: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_with_503_while_postgres_is_down_and_recover() {
    let Some(url) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    let (app, proxy, _schema) = app_behind_proxy(&url, |c| {
        c.database.acquire_timeout_ms = 500;
        c.database.bet_timeout_ms = 2000;
    })
    .await;
    let (_, admin) = app.user_with_role("outage-admin", Role::Admin).await;
    let (_, token) = app.player("outage-player").await;
    let claimed = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(claimed.status, StatusCode::CREATED, "{:?}", claimed.body);
    let mut settled = 0;
    for _ in 0..5 {
        assert_eq!(bet(&app, &token, None).await.0, StatusCode::CREATED);
        settled += 1;
    }

    // Bets keep coming while PostgreSQL goes away mid-stream.
    let load = {
        let (base, token) = (app.base.clone(), token.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut seen = vec![];
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/v1/games/dice/bets"))
                    .bearer_auth(&token)
                    .json(&dice())
                    .send()
                    .await
                    .expect("an answer");
                seen.push((
                    r.status(),
                    r.headers().contains_key("retry-after"),
                    t.elapsed(),
                ));
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();

    // While it is down: 503 + Retry-After, promptly, for bets (keyed or
    // not), reads and readiness.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let (status, retry_after, body, took) = bet(&app, &token, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
        assert_eq!(body["code"], "unavailable");
        assert!(retry_after.is_some(), "no Retry-After");
        assert!(took < FAST, "a bet took {took:?} to fail");
    }
    let (status, retry_after, _, took) = bet(&app, &token, Some("during-outage")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some() && took < FAST);
    let t = Instant::now();
    let wallets = app.get("/v1/wallets", &token).await;
    assert_eq!(
        wallets.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        wallets.body
    );
    assert!(wallets.headers.contains_key("retry-after"));
    assert!(t.elapsed() < FAST);
    let t = Instant::now();
    assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() < FAST);

    let seen = load.await.unwrap();
    for (status, retry_after, took) in &seen {
        assert!(
            *status == StatusCode::CREATED
                || (*status == StatusCode::SERVICE_UNAVAILABLE && *retry_after),
            "unexpected answer {status}"
        );
        assert!(*took < FAST, "a bet took {took:?}");
    }
    let ok_during = seen.iter().filter(|s| s.0 == StatusCode::CREATED).count();
    let failed_during = seen.len() - ok_during;
    let slowest = seen.iter().map(|s| s.2).max().unwrap_or_default();
    eprintln!("during the cut: {ok_during} settled, {failed_during} refused, slowest {slowest:?}");
    assert!(ok_during > 0, "no bet settled before the cut");
    assert!(failed_during > 0, "no bet failed after the cut");
    settled += ok_during;

    // Back: the pool reconnects by itself.
    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(&app).await != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "not ready again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        let (status, _, body, _) = bet(&app, &token, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body:?}");
        settled += 1;
    }
    // The key refused during the outage was not used: it settles now, once.
    let (status, _, first, _) = bet(&app, &token, Some("during-outage")).await;
    assert_eq!(status, StatusCode::CREATED, "{first:?}");
    let (status, _, again, _) = bet(&app, &token, Some("during-outage")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["id"], again["id"], "the retry is a replay");
    settled += 1;

    // A blip while idle: connections kept by the pool and the bet lanes
    // are dead, and the first requests after it must not pay for that.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.restore().await;
    let (status, _, body, _) = bet(&app, &token, None).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "first bet after an idle blip: {body:?}"
    );
    assert_eq!(app.get("/v1/wallets", &token).await.status, StatusCode::OK);
    settled += 1;

    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    // Every acknowledged bet is there; a bet cut off at COMMIT may be too
    // (its client saw 503 and would retry with its key).
    let mut n = 0;
    let mut path = "/v1/bets?limit=100".to_owned();
    loop {
        let page = app.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        n += page.body["items"].as_array().expect("items").len();
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/bets?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert!(
        (settled..=settled + failed_during).contains(&n),
        "{n} bets stored, {settled} acknowledged"
    );
}

/// A link that goes silent (no error, no close: packets dropped on the way)
/// would hold a query until TCP gives up, minutes later. The request deadline
/// answers 503 `timeout` instead, and once the link is back the instance
/// serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_database_link_costs_a_request_its_timeout_not_minutes() {
    let Some(url) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    let (app, proxy, _schema) = app_behind_proxy(&url, |c| {
        c.http.request_timeout_ms = 1000;
        // The pool pings a connection before lending it, within the acquire
        // timeout; longer here, so the request deadline is what answers, as
        // for a query already in flight when the link goes silent.
        c.database.acquire_timeout_ms = 5000;
    })
    .await;
    let (_, token) = app.player("silent-link").await;
    assert_eq!(app.get("/v1/wallets", &token).await.status, StatusCode::OK);

    proxy.stall();
    let t = Instant::now();
    let r = app.get("/v1/wallets", &token).await;
    let took = t.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.body["code"], "timeout", "{:?}", r.body);
    assert!(
        took >= Duration::from_millis(1000) && took < FAST,
        "answered after {took:?}"
    );

    proxy.unstall();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get("/v1/wallets", &token).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "not serving again: {:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
