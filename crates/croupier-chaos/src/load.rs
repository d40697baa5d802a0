//! The steady bet load: an open loop at a fixed rate through HAProxy, dice bets
//! spread over the players, each with its own Idempotency-Key. A bet whose
//! first attempt fails is retried with the same key (see [`Load`]); every
//! attempt's outcome and every acknowledged bet id is kept for the checks.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bet every request places (stake 0.01 CHIP, about even odds).
pub const BET_BODY: &str =
    r#"{"currency":"CHIP","stake":1,"params":{"target":50.5,"direction":"over"}}"#;

/// The load's shape. Hard bounds: it never runs longer than `max_run` nor sends
/// more than `rate × max_run` bets, whatever the caller does.
#[derive(Clone, Debug)]
pub struct Load {
    /// Bets per second, offered on schedule whether earlier ones answered or not.
    pub rate: u32,
    /// Per attempt, connect to last byte.
    pub timeout: Duration,
    /// A failed bet is retried (same key; 100 ms, doubling up to 1 s between
    /// attempts) until it succeeds, gets a 4xx other than 409/429, or this long
    /// after its first attempt was sent.
    pub retry_for: Duration,
    /// Bets in flight (retries included) beyond which a due bet is not sent.
    pub max_outstanding: usize,
    pub max_run: Duration,
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 200 or 201 with a bet id.
    Ok,
    Status(u16),
    /// No answer: connect refused or reset, closed mid-response, …
    Connection,
    /// No complete answer within [`Load::timeout`].
    Timeout,
    /// Due but not sent: [`Load::max_outstanding`] bets were in flight.
    NotSent,
}

impl Outcome {
    pub fn label(self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Status(s) => format!("http_{s}"),
            Outcome::Connection => "connection_error".into(),
            Outcome::Timeout => "timeout".into(),
            Outcome::NotSent => "not_sent".into(),
        }
    }
}

/// One bet of the load (one Idempotency-Key) and what happened to it.
#[derive(Clone, Debug)]
pub struct Bet {
    pub key: String,
    /// When its first attempt was due, from the start of the load.
    pub sent_at: Duration,
    pub first: Outcome,
    pub attempts: u32,
    /// The bet id of every 2xx answer (more than one only if retried after an
    /// answer was lost; they must all be the same id).
    pub acked: Vec<String>,
    /// The last answer when it ended on a non-retryable 4xx.
    pub refused: Option<String>,
}

impl Bet {
    /// A bet not sent yet.
    fn new(key: String, sent_at: Duration) -> Bet {
        Bet {
            key,
            sent_at,
            first: Outcome::NotSent,
            attempts: 0,
            acked: Vec::new(),
            refused: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        !self.acked.is_empty()
    }
}

/// Registers, logs in and funds `n` players through `lb`; returns their tokens.
pub async fn players(http: &reqwest::Client, lb: &str, run: &str, n: usize) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let creds = json!({ "username": format!("chaos-{run}-{i}"),
                            "password": format!("chaos-password-{run}-{i}") });
        let (s, b) = call(http, &format!("{lb}/v1/auth/register"), None, Some(&creds)).await?;
        if s != 201 {
            bail!("register: {s} {b}");
        }
        let (s, b) = call(http, &format!("{lb}/v1/auth/login"), None, Some(&creds)).await?;
        if s != 200 {
            bail!("login: {s} {b}");
        }
        let token = b["token"].as_str().context("login: no token")?.to_owned();
        let (s, b) = call(
            http,
            &format!("{lb}/v1/wallets/CHIP/claims"),
            Some(&token),
            None,
        )
        .await?;
        if s != 201 {
            bail!("claim: {s} {b}");
        }
        tokens.push(token);
    }
    Ok(tokens)
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let mut req = http.post(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.with_context(|| format!("POST {url}"))?;
    let s = r.status().as_u16();
    Ok((s, r.json().await.unwrap_or(Value::Null)))
}

/// The HTTP client of the load: keep-alive, idle connections closed well
/// before HAProxy's 30 s client timeout would close them under a request.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client")
}

/// A load in progress.
pub struct Running {
    pub start: Instant,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Bet>>,
}

impl Running {
    /// Seconds since the load started.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Stops offering new bets; returns every bet once the last retry ended.
    pub async fn finish(mut self) -> Result<Vec<Bet>> {
        self.stop.store(true, Ordering::Relaxed);
        Ok((&mut self.task).await?)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropped unfinished (an error, Ctrl-C): offer no more bets.
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn start(http: reqwest::Client, lb: &str, tokens: Vec<String>, load: Load) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let task = tokio::spawn(offer(
        http,
        format!("{lb}/v1/games/dice/bets"),
        tokens,
        load,
        start,
        stop.clone(),
    ));
    Running { start, stop, task }
}

async fn offer(
    http: reqwest::Client,
    url: String,
    tokens: Vec<String>,
    load: Load,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Bet> {
    let run = &crate::engines::short_id()[..8];
    let interval = Duration::from_secs_f64(1.0 / load.rate.max(1) as f64);
    let max_bets = load.rate as u64 * load.max_run.as_secs();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) && n < max_bets && start.elapsed() < load.max_run {
        let due = start + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let key = format!("chaos-{run}-{n}");
        let sent_at = due - start;
        let token = tokens[n as usize % tokens.len()].clone();
        n += 1;
        if in_flight.load(Ordering::Relaxed) >= load.max_outstanding {
            done.lock()
                .expect("not poisoned")
                .push(Bet::new(key, sent_at));
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (http, url, load, in_flight, done) = (
            http.clone(),
            url.clone(),
            load.clone(),
            in_flight.clone(),
            done.clone(),
        );
        tasks.spawn(async move {
            let bet = place(&http, &url, &token, key, sent_at, &load).await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            done.lock().expect("not poisoned").push(bet);
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut bets = std::mem::take(&mut *done.lock().expect("not poisoned"));
    bets.sort_by_key(|b| b.sent_at);
    bets
}

async fn place(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: String,
    sent_at: Duration,
    load: &Load,
) -> Bet {
    let first_at = Instant::now();
    let mut bet = Bet::new(key, sent_at);
    let mut backoff = Duration::from_millis(100);
    loop {
        bet.attempts += 1;
        let (outcome, answer) = attempt(http, url, token, &bet.key).await;
        if bet.attempts == 1 {
            bet.first = outcome;
        }
        match outcome {
            Outcome::Ok => {
                bet.acked.push(answer);
                return bet;
            }
            Outcome::Status(s) if (400..500).contains(&s) && s != 409 && s != 429 => {
                bet.refused = Some(format!("{s} {answer}"));
                return bet;
            }
            _ => {}
        }
        if first_at.elapsed() + backoff > load.retry_for {
            return bet;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// One POST; on success the answer is the bet id, otherwise the body (or error).
async fn attempt(http: &reqwest::Client, url: &str, token: &str, key: &str) -> (Outcome, String) {
    let sent = http
        .post(url)
        .bearer_auth(token)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(BET_BODY)
        .send()
        .await;
    let r = match sent {
        Ok(r) => r,
        Err(e) => return (transport(&e), e.to_string()),
    };
    let status = r.status().as_u16();
    match r.bytes().await {
        Err(e) => (transport(&e), e.to_string()),
        Ok(body) if status == 200 || status == 201 => {
            match serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["bet_id"].as_str().map(str::to_owned))
            {
                Some(id) => (Outcome::Ok, id),
                None => (
                    Outcome::Status(status),
                    format!("no bet_id: {}", String::from_utf8_lossy(&body)),
                ),
            }
        }
        Ok(body) => (
            Outcome::Status(status),
            String::from_utf8_lossy(&body).into_owned(),
        ),
    }
}

fn transport(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::Connection
    }
}
