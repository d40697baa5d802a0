//! Command line, and the loopback-only guard on the target URL.

use clap::{Parser, ValueEnum};
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

/// Load generator for Croupier's bet hot path (`POST /v1/games/dice/bets`).
///
/// Registers and funds players first (not measured), then sends dice bets in
/// a closed loop (`--mode max`) or at a fixed arrival rate (`--mode rate`).
/// Progress and the human report go to stderr; one JSON object goes to stdout.
#[derive(Parser, Debug)]
#[command(name = "croupier-bench", version)]
pub struct Args {
    /// Base URL of the server. Only loopback hosts are accepted unless --allow-remote.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// `max`: closed loop with --concurrency requests in flight; `rate`: open loop at --rate requests/s.
    #[arg(long, value_enum, default_value_t = Mode::Max)]
    pub mode: Mode,

    /// Arrival rate in requests/s (required with --mode rate).
    #[arg(long, required_if_eq("mode", "rate"), value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Closed loop: requests in flight. Open loop: connections opened before the run.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// Length of the measured phase in seconds (1-600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub duration: u64,

    /// Players to register, log in and fund before the run; bets use them round-robin.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub players: u32,

    /// Concurrent register/login requests during setup (each hashes a password on the server).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub setup_concurrency: u32,

    /// Tokio worker threads of the generator (it shares the machine with the server).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub client_threads: u32,

    /// Send a unique Idempotency-Key header with every bet.
    #[arg(long)]
    pub idempotency_keys: bool,

    /// Open loop: most requests outstanding at once; the schedule waits (and counts "late") beyond it.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_outstanding: u32,

    /// Open loop: a request sent more than this many ms after its intended time counts as late.
    #[arg(long, default_value_t = 1.0)]
    pub late_threshold_ms: f64,

    /// Per-request timeout in seconds; a request exceeding it counts as a "timeout" failure.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,

    /// The measured request: `bet` (POST /v1/games/dice/bets, 201), `wallets`
    /// (GET /v1/wallets, 200), `me` (GET /v1/me, 200), `history` (GET
    /// /v1/bets, the first page, 200), `stats` (GET /v1/me/stats, 200), each
    /// as the next player; `hello` (GET /, 200, no players: a baseline server
    /// such as `hello-axum`).
    #[arg(long, value_enum, default_value_t = RequestKind::Bet)]
    pub request: RequestKind,

    /// Name the players `bench-<ID>-<i>` with this id instead of a random one,
    /// so a later run (or a bulk loader) finds the same players again
    /// (`[a-z0-9]`, 1-16 characters).
    #[arg(long, value_parser = parse_run_id)]
    pub run_id: Option<String>,

    /// Permit a target host that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum RequestKind {
    Bet,
    Wallets,
    Me,
    History,
    Stats,
    Hello,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bet => "bet",
            Self::Wallets => "wallets",
            Self::Me => "me",
            Self::History => "history",
            Self::Stats => "stats",
            Self::Hello => "hello",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::Bet => "/v1/games/dice/bets",
            Self::Wallets => "/v1/wallets",
            Self::Me => "/v1/me",
            Self::History => "/v1/bets",
            Self::Stats => "/v1/me/stats",
            Self::Hello => "/",
        }
    }

    /// The status that counts as a success.
    pub fn ok_status(self) -> u16 {
        if self == Self::Bet {
            201
        } else {
            200
        }
    }

    /// Whether each request is a player's (so players are set up first).
    pub fn as_player(self) -> bool {
        self != Self::Hello
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Closed loop, as fast as the server answers.
    Max,
    /// Open loop at a fixed arrival rate.
    Rate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Max => "max",
            Mode::Rate => "rate",
        }
    }
}

impl Args {
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
    pub fn late_threshold(&self) -> Duration {
        Duration::from_secs_f64(self.late_threshold_ms.max(0.0) / 1000.0)
    }
}

fn parse_run_id(s: &str) -> Result<String, String> {
    let ok = (1..=16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err("run id must be 1-16 characters of [a-z0-9]".into())
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("not a number: {s}"))?;
    if r.is_finite() && (0.1..=1_000_000.0).contains(&r) {
        Ok(r)
    } else {
        Err("rate must be 0.1-1000000 requests/s".into())
    }
}

/// The parsed target: `http://host:port` plus an optional path prefix.
#[derive(Clone, Debug)]
pub struct Target {
    /// e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub origin: String,
    /// Path prefix without trailing slash (usually empty).
    pub prefix: String,
}

impl Target {
    /// Absolute URL of an API path such as `/v1/auth/login`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.prefix, path)
    }
}

/// Parses `--url` and refuses non-loopback hosts unless `allow_remote`: this
/// workplace allows load only against the local machine.
pub fn check_target(raw: &str, allow_remote: bool) -> Result<Target, String> {
    let uri: hyper::Uri = raw
        .parse()
        .map_err(|e| format!("invalid --url {raw:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "--url scheme {other:?} unsupported: plain http only"
            ))
        }
        None => {
            return Err(format!(
                "--url {raw:?} needs a scheme, e.g. http://127.0.0.1:8080"
            ))
        }
    }
    let auth = uri
        .authority()
        .ok_or_else(|| format!("--url {raw:?} has no host"))?;
    if auth.as_str().contains('@') {
        return Err("--url must not contain credentials".into());
    }
    if uri.query().is_some() {
        return Err("--url must not contain a query".into());
    }
    let host = auth.host();
    let port = auth.port_u16().unwrap_or(80);
    if !allow_remote && !is_loopback_host(host, port) {
        return Err(format!(
            "refusing non-loopback host {host:?}: only 127.0.0.0/8, ::1 and localhost are allowed \
             (pass --allow-remote to override)"
        ));
    }
    Ok(Target {
        origin: format!("http://{}", auth.as_str()),
        prefix: uri.path().trim_end_matches('/').to_owned(),
    })
}

fn is_loopback_host(host: &str, port: u16) -> bool {
    // IPv6 literals come bracketed in the authority.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_loopback_ip(ip);
    }
    if !host.eq_ignore_ascii_case("localhost") {
        return false;
    }
    // "localhost" is resolved again at connect time; refuse it unless every
    // address it resolves to now is loopback (guards against odd hosts files).
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| is_loopback_ip(a.ip()))
        }
        Err(_) => false,
    }
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_pass() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3:1/",
            "http://[::1]:8080",
            "http://localhost:8080/api/",
            "http://LOCALHOST",
        ] {
            assert!(check_target(ok, false).is_ok(), "{ok}");
        }
        let t = check_target("http://localhost:8080/api/", false).unwrap();
        assert_eq!(t.url("/v1/x"), "http://localhost:8080/api/v1/x");
    }

    #[test]
    fn remote_targets_refused() {
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.10",
            "http://example.com",
            "http://localhost.example.com",
            "http://[::2]:80",
            "http://0.0.0.0:8080",
            "https://127.0.0.1",
            "127.0.0.1:8080",
            "http://u:p@127.0.0.1",
        ] {
            assert!(check_target(bad, false).is_err(), "{bad}");
        }
        assert!(check_target("http://10.0.0.1:8080", true).is_ok());
    }

    #[test]
    fn run_ids_are_short_lowercase_names() {
        assert_eq!(parse_run_id("growth1").unwrap(), "growth1");
        for bad in ["", "Growth", "a-b", "x".repeat(17).as_str()] {
            assert!(parse_run_id(bad).is_err(), "{bad:?}");
        }
    }
}
