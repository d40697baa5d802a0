//! What both loops share: the prebuilt bet request, the counters and
//! histograms results go to, and the live progress line.

pub mod closed_loop;
pub mod open_loop;
mod ticker;

use crate::http::{HttpClient, JSON};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The measured request's body, serialized once.
pub const BET_BODY: &[u8] =
    br#"{"currency":"CHIP","stake":1,"params":{"target":50.5,"direction":"over"}}"#;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Everything needed to fire one request (a bet, or a read with
/// `--request`), built once so the per-request work is refcount bumps and a
/// header-map insert or three.
pub struct Bets {
    client: HttpClient,
    uri: Uri,
    /// `None`: a GET without a body.
    body: Option<Bytes>,
    auths: Vec<HeaderValue>,
    next_player: AtomicUsize,
    /// `Some(run id)` when every bet carries a unique Idempotency-Key.
    idem_prefix: Option<String>,
    idem_seq: AtomicU64,
    timeout: Duration,
}

/// How one request ended.
#[derive(Copy, Clone, Debug)]
pub enum Outcome {
    Status(u16),
    /// Connect/write/read failure: no HTTP status.
    Transport,
    /// No complete answer within --timeout.
    Timeout,
}

impl Bets {
    pub fn new(
        client: HttpClient,
        uri: Uri,
        auths: Vec<HeaderValue>,
        idem_prefix: Option<String>,
        timeout: Duration,
    ) -> Self {
        Bets {
            client,
            uri,
            body: Some(Bytes::from_static(BET_BODY)),
            auths,
            next_player: AtomicUsize::new(0),
            idem_prefix,
            idem_seq: AtomicU64::new(0),
            timeout,
        }
    }

    /// GETs of `uri` instead of bets (as each player in turn, if any).
    pub fn reads(self) -> Self {
        Self { body: None, ..self }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone().unwrap_or_default()));
        *req.method_mut() = if self.body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        if self.body.is_some() {
            h.insert(CONTENT_TYPE, JSON);
        }
        if !self.auths.is_empty() {
            let i = self.next_player.fetch_add(1, Ordering::Relaxed) % self.auths.len();
            h.insert(AUTHORIZATION, self.auths[i].clone());
        }
        if let Some(prefix) = &self.idem_prefix {
            let n = self.idem_seq.fetch_add(1, Ordering::Relaxed);
            let v = HeaderValue::from_str(&format!("{prefix}-{n}")).expect("ASCII key");
            h.insert(IDEMPOTENCY_KEY, v);
        }
        req
    }

    /// Sends one bet and drains the answer (so the connection goes back to the pool).
    pub async fn send(&self) -> Outcome {
        let req = self.request();
        let fut = async {
            let resp = self.client.request(req).await.map_err(|_| ())?;
            let status = resp.status().as_u16();
            // Drop frames as they come instead of collecting: no buffer to build.
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|_| ())?;
            }
            Ok::<_, ()>(status)
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(status)) => Outcome::Status(status),
            Ok(Err(())) => Outcome::Transport,
            Err(_) => Outcome::Timeout,
        }
    }
}

/// A latency histogram in microseconds: 1 µs to 1000 s at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1_000_000_000, 3).expect("valid bounds")
}

pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Counters shared by every request task; atomics so no lock is on the hot path
/// except the histogram's (uncontended with one client thread).
pub struct Stats {
    pub sent: AtomicU64,
    pub completed: AtomicU64,
    pub ok: AtomicU64,
    pub by_status: Vec<AtomicU64>,
    pub transport: AtomicU64,
    pub timeout: AtomicU64,
    /// Open loop: sent later than the threshold after their intended time.
    pub late: AtomicU64,
    /// Open loop: scheduled inside the window but never sent (outstanding cap).
    pub unsent: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
    /// Open loop: how far behind schedule each request started (generator error).
    pub send_lag: Mutex<Histogram<u64>>,
    /// Set by Ctrl-C: loops stop early and the report still prints.
    pub stop: AtomicBool,
    /// The status that counts as ok (201 for bets, 200 for reads).
    ok_status: u16,
}

impl Stats {
    pub fn new(ok_status: u16) -> Arc<Self> {
        Arc::new(Stats {
            ok_status,
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            transport: AtomicU64::new(0),
            timeout: AtomicU64::new(0),
            late: AtomicU64::new(0),
            unsent: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
            send_lag: Mutex::new(histogram()),
            stop: AtomicBool::new(false),
        })
    }

    /// Counts an outcome. Returns whether its latency belongs in the histogram:
    /// every HTTP answer and every timeout (at the time given up, a lower
    /// bound), but not transport errors, whose instant failures would flatter it.
    pub fn count(&self, outcome: Outcome) -> bool {
        self.completed.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Status(s) if s == self.ok_status => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                true
            }
            Outcome::Status(s) => {
                let i = (s as usize).min(self.by_status.len() - 1);
                self.by_status[i].fetch_add(1, Ordering::Relaxed);
                true
            }
            Outcome::Transport => {
                self.transport.fetch_add(1, Ordering::Relaxed);
                false
            }
            Outcome::Timeout => {
                self.timeout.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    pub fn record_latency(&self, us: u64) {
        self.latency
            .lock()
            .expect("not poisoned")
            .saturating_record(us);
    }

    pub fn record_lag(&self, us: u64) {
        // Floor of 1 µs: the histogram's lowest trackable value.
        self.send_lag
            .lock()
            .expect("not poisoned")
            .saturating_record(us.max(1));
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.completed.load(Ordering::Relaxed) - self.ok.load(Ordering::Relaxed)
    }
}

/// Redraws the progress line every 250 ms until `done` is set.
pub fn progress(
    stats: Arc<Stats>,
    duration: Duration,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let bar = ProgressBar::new(duration.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} run {bar:30} {elapsed_precise}/{prefix} {msg}")
            .expect("valid template"),
    );
    bar.set_prefix(format!("{}s", duration.as_secs()));
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut last_at, mut last_done) = (start, 0u64);
        while !done.load(Ordering::Relaxed) {
            tick.tick().await;
            let now = Instant::now();
            let completed = stats.completed.load(Ordering::Relaxed);
            let rate = (completed - last_done) as f64 / (now - last_at).as_secs_f64().max(1e-3);
            (last_at, last_done) = (now, completed);
            let sent = stats.sent.load(Ordering::Relaxed);
            bar.set_position((now - start).as_millis() as u64);
            bar.set_message(format!(
                "{rate:>7.0} req/s  ok {}  fail {}  in flight {}  late {}",
                stats.ok.load(Ordering::Relaxed),
                stats.failures(),
                sent.saturating_sub(completed),
                stats.late.load(Ordering::Relaxed),
            ));
        }
        bar.finish_and_clear();
    })
}
