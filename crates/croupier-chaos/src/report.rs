//! One scenario's figures, and the run's report as JSON and Markdown.

use crate::invariants::{round1, Invariants};
use crate::load::{Bet, Outcome};
use crate::scenario::{Scenario, Settings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Throughput counts as recovered in the first 1-s window, counted from the
/// fault's end, whose first-attempt successes reach this share of the
/// pre-fault rate.
pub const RECOVERED: f64 = 0.8;

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    pub fault: String,
    /// Bets offered (one Idempotency-Key each) and over how long.
    pub offered: u64,
    pub load_s: f64,
    pub offered_per_s: f64,
    /// Bets whose first attempt was answered 200/201.
    pub ok_first_attempt: u64,
    /// Bets whose first attempt failed, by how (`http_503`, `connection_error`, `timeout`, `not_sent`).
    pub failed_first_attempt: u64,
    pub failures: BTreeMap<String, u64>,
    /// Of those, how many then succeeded when retried with their key, and how many never did.
    pub ok_after_retry: u64,
    pub never_ok: u64,
    /// Attempts beyond the first, over all bets.
    pub retries: u64,
    /// When the fault began and ended, seconds from the start of the load.
    pub fault_start_s: f64,
    pub fault_end_s: f64,
    /// First-attempt successes per second (by the second they were sent in)
    /// over the full seconds before the fault, the first one excluded.
    pub pre_fault_ok_per_s: f64,
    /// The worst 1-s window from the fault's start to the end of the load, as a share of that.
    pub worst_window_pct: f64,
    /// Seconds from the fault's end to the first 1-s window at ≥ 80 % of the
    /// pre-fault rate (0: the first second after the fault already was);
    /// null: not within the load.
    pub recovery_s: Option<f64>,
    pub invariants: Invariants,
    pub violations: u64,
    /// Set when the scenario could not run to the end.
    pub error: Option<String>,
}

impl ScenarioReport {
    pub fn new(
        sc: Scenario,
        s: &Settings,
        bets: &[Bet],
        (fault_start, fault_end, load_end): (f64, f64, f64),
        invariants: Invariants,
    ) -> ScenarioReport {
        let first_ok = |b: &&Bet| b.first == Outcome::Ok;
        let ok_in = |from: f64, to: f64| {
            bets.iter()
                .filter(first_ok)
                .filter(|b| (from..to).contains(&b.sent_at.as_secs_f64()))
                .count() as f64
        };
        let pre_windows = (fault_start.floor() - 1.0).max(1.0);
        let pre = ok_in(1.0, 1.0 + pre_windows) / pre_windows;
        let mut worst = f64::INFINITY;
        let mut t = fault_start;
        while t + 1.0 <= load_end {
            worst = worst.min(ok_in(t, t + 1.0));
            t += 1.0;
        }
        let mut recovery = None;
        let mut k = 0.0;
        while fault_end + k + 1.0 <= load_end {
            if ok_in(fault_end + k, fault_end + k + 1.0) >= RECOVERED * pre {
                recovery = Some(k);
                break;
            }
            k += 1.0;
        }
        let mut failures = BTreeMap::new();
        for b in bets.iter().filter(|b| b.first != Outcome::Ok) {
            *failures.entry(b.first.label()).or_insert(0) += 1;
        }
        let failed = bets.iter().filter(|b| b.first != Outcome::Ok).count() as u64;
        let ok_after_retry = bets
            .iter()
            .filter(|b| b.first != Outcome::Ok && b.succeeded())
            .count() as u64;
        let load_s = bets.last().map_or(0.0, |b| b.sent_at.as_secs_f64());
        let pct = |x: f64| (x / pre.max(f64::MIN_POSITIVE) * 100.0).round();
        ScenarioReport {
            scenario: sc.name().into(),
            fault: sc.fault(&s.timing),
            offered: bets.len() as u64,
            load_s: round1(load_s),
            offered_per_s: round1(bets.len() as f64 / load_s.max(1.0)),
            ok_first_attempt: bets.len() as u64 - failed,
            failed_first_attempt: failed,
            failures,
            ok_after_retry,
            never_ok: failed - ok_after_retry,
            retries: bets
                .iter()
                .map(|b| b.attempts.saturating_sub(1) as u64)
                .sum(),
            fault_start_s: round1(fault_start),
            fault_end_s: round1(fault_end),
            pre_fault_ok_per_s: round1(pre),
            worst_window_pct: if worst.is_finite() { pct(worst) } else { 100.0 },
            recovery_s: recovery,
            violations: invariants.violations(),
            invariants,
            error: None,
        }
    }

    pub fn failed(sc: Scenario, s: &Settings, error: String) -> ScenarioReport {
        ScenarioReport {
            scenario: sc.name().into(),
            fault: sc.fault(&s.timing),
            offered: 0,
            load_s: 0.0,
            offered_per_s: 0.0,
            ok_first_attempt: 0,
            failed_first_attempt: 0,
            failures: BTreeMap::new(),
            ok_after_retry: 0,
            never_ok: 0,
            retries: 0,
            fault_start_s: 0.0,
            fault_end_s: 0.0,
            pre_fault_ok_per_s: 0.0,
            worst_window_pct: 0.0,
            recovery_s: None,
            invariants: Invariants::default(),
            violations: 0,
            error: Some(error),
        }
    }

    /// What the suite expects: every invariant holds, the scenario ran, and a
    /// rolling restart fails no request at all.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.violations == 0
            && (self.scenario != Scenario::RollingRestart.name() || self.failed_first_attempt == 0)
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub date: String,
    pub machine: String,
    pub commit: String,
    pub settings: BTreeMap<String, String>,
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    pub fn new(command: String, s: &Settings, scenarios: Vec<ScenarioReport>) -> Report {
        let secs = |d: Duration| format!("{} s", d.as_secs_f64());
        let settings = [
            ("rate", format!("{} bets/s", s.load.rate)),
            ("players", s.players.to_string()),
            ("pre", secs(s.timing.pre)),
            ("post", secs(s.timing.post)),
            ("outage", secs(s.timing.outage)),
            ("db_outage", secs(s.timing.db_outage)),
            ("down", secs(s.timing.down)),
            ("attempt_timeout", secs(s.load.timeout)),
            ("retry_for", secs(s.load.retry_for)),
            ("catch_up", secs(s.catch_up)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Report {
            command,
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            machine: machine(),
            commit: commit(),
            settings,
            scenarios,
        }
    }

    pub fn markdown(&self) -> String {
        let mut m = String::new();
        m += "# Reliability: fault injection on the local cluster\n\n";
        m += "The tables and *How to read it* are generated by `croupier-chaos` \
              (crates/croupier-chaos); the *Findings* at the end, if any, are written by \
              hand after the run.\n\n";
        m += &format!(
            "- **Command:** `{}`\n- **Date:** {}\n- **Machine:** {}\n- **Commit:** {}\n- **Settings:** {}\n\n",
            self.command,
            self.date,
            self.machine,
            self.commit,
            self.settings
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        m += "| scenario | fault | offered | ok (1st attempt) | failed 1st attempts, by kind | ok after retry / never | pre-fault ok/s | worst 1-s window | recovery | stats catch-up | invariant violations |\n";
        m += "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n";
        for r in &self.scenarios {
            if let Some(e) = &r.error {
                m += &format!(
                    "| {} | {} | | | **did not complete:** {} | | | | | | |\n",
                    r.scenario,
                    r.fault,
                    e.replace('|', "\\|").replace('\n', " ")
                );
                continue;
            }
            let kinds = if r.failures.is_empty() {
                "0".to_owned()
            } else {
                format!(
                    "{}: {}",
                    r.failed_first_attempt,
                    r.failures
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            m += &format!(
                "| {} | {} | {} in {} s ({}/s) | {} | {} | {} / {} | {} | {} % | {} | {} s | **{}** |\n",
                r.scenario,
                r.fault,
                r.offered,
                r.load_s,
                r.offered_per_s,
                r.ok_first_attempt,
                kinds,
                r.ok_after_retry,
                r.never_ok,
                r.pre_fault_ok_per_s,
                r.worst_window_pct,
                r.recovery_s
                    .map_or("not within the load".into(), |k| format!("{k} s")),
                r.invariants.catch_up_s,
                r.violations
            );
        }
        m += "\n### Invariants per scenario\n\n";
        m += "| scenario | ledger audit | acknowledged bets lost | keys applied twice | stats ≠ bets (players) | nonce gaps (seed pairs) | bets in DB (not acknowledged) |\n";
        m += "|---|---|---:|---:|---:|---:|---:|\n";
        for r in self.scenarios.iter().filter(|r| r.error.is_none()) {
            let i = &r.invariants;
            m += &format!(
                "| {} | {} | {} | {} | {} | {} | {} ({}) |\n",
                r.scenario,
                if i.ledger_audit_clean {
                    "clean"
                } else {
                    "**FAILED**"
                },
                i.acked_bets_lost,
                i.keys_applied_twice,
                i.stats_mismatched_players,
                i.nonce_gaps,
                i.bets_in_db,
                i.bets_unacknowledged
            );
        }
        let details: Vec<String> = self
            .scenarios
            .iter()
            .flat_map(|r| {
                r.invariants
                    .details
                    .iter()
                    .map(move |d| format!("- {}: {d}", r.scenario))
            })
            .collect();
        if !details.is_empty() {
            m += "\n### Violations\n\n";
            m += &details.join("\n");
            m += "\n";
        }
        m += DEFINITIONS;
        m
    }
}

const DEFINITIONS: &str = r#"
## How to read it

Each scenario gets a fresh cluster from `deploy/local/cluster.sh` (HAProxy, api1–3 with the
relay role, one worker), a fresh database on a private PostgreSQL cluster, its own Redis key
prefix and NATS streams on private Redis and NATS servers (the machine's shared services are
never touched). The instances reach PostgreSQL through a TCP fault proxy in the runner. The
cluster runs with `CROUPIER_SHUTDOWN_DRAIN_SECS=2` (cluster.sh's default),
`CROUPIER_EVENTS__LEASE_SECS=5` and `CROUPIER_NATS__ACK_WAIT_SECS=5` (so that rows claimed by a
killed relay and messages held by a killed worker come back within the run; defaults 30 s).

- **Load**: an open loop through HAProxy at a fixed rate, round-robin over the players, dice
  bets of stake 1, each with its own `Idempotency-Key`. A bet is *offered* when due, whether or
  not earlier ones were answered.
- **Failures** count *first attempts* only: an HTTP status other than 200/201 (`http_503`, …),
  `connection_error` (refused, reset, closed before a full answer), `timeout` (no full answer
  within the attempt timeout), `not_sent` (the client had too many bets in flight).
- **Client retry policy**: a failed bet is retried with the same key after 100 ms, doubling up
  to 1 s, until it succeeds, gets a 4xx other than 409/429, or `retry_for` has passed since its
  first attempt. *ok after retry / never* counts what became of the failed first attempts.
- **Recovery**: seconds from the end of the fault (the instance back UP in HAProxy, the
  restart command returned, the engine or link back) to the first 1-s window whose bets, by the
  second they were sent in, succeeded at the first attempt at ≥ 80 % of the pre-fault rate.
  *Worst 1-s window*: the lowest such window from the fault's start on, as a share of that rate.
- **Invariants**, checked after the load on the scenario's database directly:
  `croupier ledger audit` exits 0; every bet id the load got a 200/201 for is in `bets`; no key
  applied twice (each key's answers name one bet id, and every bet row is the stored answer of
  exactly one idempotency record); every `bet.settled` consumed once in effect (per player, the
  stats consumer's bet count equals the bets in the database, waiting up to `catch_up` for the
  relay → JetStream → worker pipeline; *stats catch-up* is how long that took after the load);
  nonces contiguous per seed pair (its bets' nonces are exactly 0 … next nonce − 1).
"#;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(String::new(), |kb| {
            format!(", {} GiB RAM", kb / 1024 / 1024)
        });
    let os = std::process::Command::new("uname")
        .arg("-sr")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{mem}, {os}")
}

fn commit() -> String {
    std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
