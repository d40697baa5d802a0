//! The final report: human text on stderr, one JSON object on stdout.

use crate::run::Stats;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

#[derive(Serialize)]
pub struct Report {
    pub mode: &'static str,
    /// What was measured: bet, wallets, me or hello (`--request`).
    pub request: &'static str,
    pub target_rate: Option<f64>,
    pub concurrency: u32,
    pub duration_s: u64,
    pub players: u32,
    pub sent: u64,
    pub ok: u64,
    /// Outcomes other than the request's success status (201 for bets, 200
    /// for reads), keyed by status code, plus "transport" and "timeout".
    pub failures: BTreeMap<String, u64>,
    pub late: u64,
    /// Open loop: scheduled but never sent (outstanding cap, or Ctrl-C).
    pub unsent: u64,
    /// Successful answers per second of wall time from the first send to the last answer.
    pub throughput_per_s: f64,
    pub latency_ms: Latency,
    /// Open loop only: how far behind schedule requests left (generator error).
    pub send_lag_ms: Option<Latency>,
    pub elapsed_s: f64,
    pub client_threads: u32,
    pub idempotency_keys: bool,
    /// CPU the generator process used during the measured phase (Linux only).
    pub client_cpu_s: Option<f64>,
    pub client_cpu_us_per_request: Option<f64>,
    pub run_id: String,
    pub url: String,
}

#[derive(Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram in microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Self {
        let ms = |us: f64| us.round() / 1000.0;
        let q = |p: f64| ms(h.value_at_quantile(p) as f64);
        Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: ms(h.max() as f64),
            mean: ms(h.mean()),
        }
    }
}

pub fn failures(stats: &Stats) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (code, n) in stats.by_status.iter().enumerate() {
        let n = n.load(Ordering::Relaxed);
        if n > 0 {
            out.insert(code.to_string(), n);
        }
    }
    for (name, n) in [("transport", &stats.transport), ("timeout", &stats.timeout)] {
        let n = n.load(Ordering::Relaxed);
        if n > 0 {
            out.insert(name.into(), n);
        }
    }
    out
}

impl Report {
    pub fn human(&self) -> String {
        let mut s = String::new();
        let target = match self.target_rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => format!("closed loop, {} in flight", self.concurrency),
        };
        let failed: u64 = self.failures.values().sum();
        let _ = writeln!(
            s,
            "\n== croupier-bench: {} {} ({target}) ==",
            self.request, self.mode
        );
        let _ = writeln!(
            s,
            "duration {} s (elapsed {:.2} s), {} players, url {}, run {}",
            self.duration_s, self.elapsed_s, self.players, self.url, self.run_id
        );
        let _ = writeln!(
            s,
            "sent {}  ok {}  failed {}  late {}  unsent {}",
            self.sent, self.ok, failed, self.late, self.unsent
        );
        if !self.failures.is_empty() {
            let by: Vec<String> = self
                .failures
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(s, "failures by status: {}", by.join(", "));
        }
        let _ = writeln!(
            s,
            "throughput {:.1} {} requests/s",
            self.throughput_per_s, self.request
        );
        let l = &self.latency_ms;
        let basis = if self.target_rate.is_some() {
            "from intended send time"
        } else {
            "service time"
        };
        let _ = writeln!(
            s,
            "latency ms ({basis}): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        if let Some(g) = &self.send_lag_ms {
            let _ = writeln!(
                s,
                "send lag ms (generator): p50 {:.3}  p99 {:.3}  max {:.3}",
                g.p50, g.p99, g.max
            );
        }
        if let (Some(cpu), Some(per)) = (self.client_cpu_s, self.client_cpu_us_per_request) {
            let _ = writeln!(s, "generator CPU {cpu:.2} s ({per:.1} µs/request)");
        }
        s
    }
}

/// User+system CPU seconds of this process so far, from /proc/self/stat.
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (USER_HZ, 100 on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
