//! Prometheus metrics: the recorder, and a middleware counting requests by
//! route and status with a latency histogram.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

const LATENCY: &str = "croupier_http_request_duration_seconds";

/// The process-wide recorder, installed on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(LATENCY.into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .expect("valid buckets")
                .install_recorder()
                .inspect(|_| describe_all())
                .expect("install the Prometheus recorder once")
        })
        .clone()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the platform exports, with its `# HELP` text. The
/// dashboards and alert rules in `deploy/observability/` may only use these
/// (a test checks them, and that the code uses no name missing here).
pub const CATALOG: &[(&str, Kind, &str)] = &[
    // HTTP
    (LATENCY, Kind::Histogram, "Request latency by method and route (seconds)."),
    ("croupier_http_requests_total", Kind::Counter, "Requests by method, route and status."),
    ("croupier_http_in_flight", Kind::Gauge, "Requests being handled on this instance."),
    ("croupier_http_shed_total", Kind::Counter, "Requests refused with 503 because the instance was at its concurrency limit, by route."),
    ("croupier_http_timeouts_total", Kind::Counter, "Requests abandoned with 503 because they took longer than http.request_timeout_ms, by route."),
    ("croupier_http_throttled_total", Kind::Counter, "Requests refused with 429 by a rate limit, by route and scope (ip, player)."),
    ("croupier_game_stats_cache_total", Kind::Counter, "Public game-stats answers by cache result (hit, miss)."),
    ("croupier_recommendations_served_total", Kind::Counter, "Recommendation lists served."),
    ("croupier_recommendations_model_load_seconds", Kind::Histogram, "Time to load the recommendation model (seconds)."),
    ("croupier_sessions_active", Kind::Gauge, "Live sessions in the store (not revoked, not expired)."),
    // Business
    ("croupier_bets_total", Kind::Counter, "Bets settled by this instance, by game and currency."),
    ("croupier_bets_wagered_total", Kind::Counter, "Stakes of settled bets in minor units, by game and currency."),
    ("croupier_bets_paid_out_total", Kind::Counter, "Payouts of settled bets in minor units, by game and currency (GGR = wagered - paid out)."),
    // Storage
    ("croupier_db_transaction_duration_seconds", Kind::Histogram, "Database transaction time by backend and op (transaction, bet_batch, write_batch), retries included separately (seconds)."),
    ("croupier_db_pool_connections", Kind::Gauge, "PostgreSQL pool connections by state (in_use, idle)."),
    ("croupier_db_pool_max_connections", Kind::Gauge, "PostgreSQL pool size limit."),
    ("croupier_db_pool_timeouts_total", Kind::Counter, "Waits for a PostgreSQL pool connection that timed out."),
    ("croupier_postgres_bet_batch_size", Kind::Histogram, "Bets settled per PostgreSQL batch transaction."),
    ("croupier_postgres_bet_batch_retries_total", Kind::Counter, "PostgreSQL bet batches retried after a conflict or timeout."),
    ("croupier_postgres_bet_batch_fallbacks_total", Kind::Counter, "PostgreSQL bet batches split into single-bet transactions."),
    ("croupier_postgres_bet_batches_failed_total", Kind::Counter, "PostgreSQL bet batches that failed for good."),
    ("croupier_postgres_reads_total", Kind::Counter, "Reads by pool (primary, replica)."),
    ("croupier_postgres_replica_failures_total", Kind::Counter, "Replica reads that failed and went to the primary."),
    ("croupier_sqlite_write_batch_size", Kind::Histogram, "Jobs per SQLite write transaction."),
    ("croupier_sqlite_batches_aborted_total", Kind::Counter, "SQLite write batches rolled back."),
    // Events
    ("croupier_outbox_backlog", Kind::Gauge, "Outbox events not yet published."),
    ("croupier_outbox_pruned_total", Kind::Counter, "Published outbox events deleted after the retention."),
    ("croupier_retention_pruned_total", Kind::Counter, "Inbox records and idempotency keys deleted after their retention, by table."),
    ("croupier_events_published_total", Kind::Counter, "Events the relay delivered to the bus, by bus."),
    ("croupier_events_publish_failed_total", Kind::Counter, "Events the bus did not take (published again later), by bus."),
    ("croupier_events_duplicates_total", Kind::Counter, "Publishes JetStream recognised as duplicates."),
    ("croupier_consumer_lag", Kind::Gauge, "Events not yet handled, by consumer."),
    ("croupier_consumer_handled_total", Kind::Counter, "Events handled, by consumer."),
    ("croupier_consumer_failed_total", Kind::Counter, "Event deliveries that failed (retried), by consumer."),
    ("croupier_consumer_redelivered_total", Kind::Counter, "Events delivered again and skipped by the inbox, by consumer."),
    ("croupier_consumer_dead_lettered_total", Kind::Counter, "Events set aside after their last attempt, by consumer."),
    ("croupier_dead_letters", Kind::Gauge, "Dead letters waiting for an operator."),
    ("croupier_stats_streak_recomputes_total", Kind::Counter, "Win-streak records recomputed for a late event."),
    ("croupier_export_rows_total", Kind::Counter, "Events written to the analytics export."),
    ("croupier_export_files_total", Kind::Counter, "Analytics export files written."),
    ("croupier_export_bytes_total", Kind::Counter, "Compressed bytes written to the analytics export."),
    ("croupier_export_failures_total", Kind::Counter, "Analytics export batches that failed (retried)."),
    // Dependencies and resilience
    ("croupier_circuit_state", Kind::Gauge, "Circuit breaker state by circuit: 0 closed, 1 open, 2 half-open."),
    ("croupier_circuit_opened_total", Kind::Counter, "Times a circuit opened (or reopened after a failed probe)."),
    ("croupier_circuit_rejected_total", Kind::Counter, "Calls failed fast by an open circuit."),
    ("croupier_retries_total", Kind::Counter, "Retries of idempotent work with backoff, by op."),
    ("croupier_redis_errors_total", Kind::Counter, "Failed Redis calls by op."),
    ("croupier_ratelimit_degraded_total", Kind::Counter, "Rate-limit decisions made without Redis, by fallback (local, open)."),
    ("croupier_session_revocation_feed_live", Kind::Gauge, "1 while the cross-instance revocation feed is live."),
    ("croupier_session_revocations_undelivered_total", Kind::Counter, "Session revocations that could not be announced to other instances."),
    // Live notifications
    ("croupier_ws_connections", Kind::Gauge, "Open notification sockets."),
    ("croupier_ws_refused_total", Kind::Counter, "Notification sockets refused, by reason."),
    ("croupier_ws_messages_pushed_total", Kind::Counter, "Notifications pushed to sockets."),
    ("croupier_ws_messages_dropped_total", Kind::Counter, "Notifications dropped, by reason."),
    ("croupier_ws_notifications_stale_total", Kind::Counter, "Notifications not pushed because their event was too old."),
];

fn describe_all() {
    for &(name, kind, help) in CATALOG {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

/// Drains pending histogram samples into their buckets now and then. With
/// `install_recorder` nothing else does until a scrape, and under load the
/// samples pile up without bound (metrics-rs/metrics#467).
pub fn spawn_upkeep() {
    let handle = handle();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("croupier_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!(LATENCY, "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Counts a bet this instance settled, by game and currency:
/// `croupier_bets_total`, and `croupier_bets_wagered_total` and
/// `croupier_bets_paid_out_total` in minor units. Gross gaming revenue is
/// wagered − paid out. Replays of an earlier answer are not counted.
pub fn bet_settled(bet: &croupier_core::BetRecord) {
    let labels = [
        ("game", bet.game.clone()),
        ("currency", bet.currency.as_str().to_owned()),
    ];
    metrics::counter!("croupier_bets_total", &labels).increment(1);
    metrics::counter!("croupier_bets_wagered_total", &labels).increment(bet.stake.max(0) as u64);
    metrics::counter!("croupier_bets_paid_out_total", &labels).increment(bet.payout.max(0) as u64);
}

/// Publishes `croupier_sessions_active` (live sessions in the store, the same
/// figure on every instance) every 30 s.
pub fn spawn_session_gauge(state: crate::AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            let idle = state.config.auth.session_idle();
            match state
                .store
                .count_live_sessions(croupier_core::now(), idle)
                .await
            {
                Ok(n) => metrics::gauge!("croupier_sessions_active").set(n as f64),
                Err(e) => tracing::debug!(error = %e, "cannot count live sessions"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn read(rel: &str) -> String {
        std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `croupier_…` identifiers in `text`; with `quoted`, only string literals.
    /// Recording-rule names (`croupier:…`) are not metrics and are skipped.
    fn names_in(text: &str, quoted: bool) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (i, _) in text.match_indices("croupier_") {
            let before = text[..i].chars().next_back();
            if quoted && before != Some('"') {
                continue;
            }
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !quoted || text[i + name.len()..].starts_with('"') {
                names.insert(name);
            }
        }
        names
    }

    /// Whether PromQL may use `name`: a catalogued metric, or a histogram's
    /// `_bucket`, `_sum` or `_count` series.
    fn exported(name: &str) -> bool {
        let kind = |n: &str| CATALOG.iter().find(|(c, _, _)| *c == n).map(|(_, k, _)| *k);
        kind(name).is_some()
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| kind(base) == Some(Kind::Histogram))
            })
    }

    #[test]
    fn the_catalog_lists_every_metric_the_code_records_and_nothing_else() {
        let mut files = Vec::new();
        for dir in ["crates", "bench/src"] {
            rust_files(&root().join(dir), &mut files);
        }
        let mut used = BTreeSet::new();
        for f in files
            .iter()
            .filter(|f| !f.components().any(|c| c.as_os_str() == "tests"))
        {
            let mut text = std::fs::read_to_string(f).unwrap();
            // Unit tests record nothing.
            if let Some(at) = text.find("\n#[cfg(test)]\nmod tests") {
                text.truncate(at);
            }
            // The catalog itself does not count as a use.
            if let Some(start) = text.find("pub const CATALOG") {
                let end = start + text[start..].find("\n];").unwrap();
                text.replace_range(start..end, "");
            }
            used.extend(names_in(&text, true));
        }
        // The browser session's cookies share the prefix; they are no metrics.
        for cookie in [crate::cookie::SESSION_COOKIE, crate::cookie::CSRF_COOKIE] {
            used.remove(cookie);
        }
        let listed: BTreeSet<String> = CATALOG.iter().map(|(n, _, _)| n.to_string()).collect();
        assert_eq!(listed.len(), CATALOG.len(), "a name is listed twice");
        let missing: Vec<_> = used.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&used).collect();
        assert!(
            missing.is_empty(),
            "recorded but not in CATALOG: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "in CATALOG but recorded nowhere: {stale:?}"
        );
        for (name, _, help) in CATALOG {
            assert!(help.ends_with('.'), "{name}: help text is a sentence");
        }
    }

    #[test]
    fn alert_rules_are_well_formed_and_use_only_exported_metrics() {
        let text = read("deploy/observability/alerts.yml");
        let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("alerts.yml is YAML");
        let groups = docs[0]["groups"].as_vec().expect("groups");
        let (mut records, mut alerts, mut uses) = (BTreeSet::new(), 0, BTreeSet::new());
        for g in groups {
            assert!(g["name"].as_str().is_some(), "every group has a name");
            for rule in g["rules"].as_vec().expect("rules") {
                let expr = rule["expr"].as_str().expect("every rule has an expr");
                assert_eq!(
                    expr.matches('(').count(),
                    expr.matches(')').count(),
                    "unbalanced parentheses: {expr}"
                );
                for name in names_in(expr, false) {
                    assert!(exported(&name), "{name} (in {expr}) is not exported");
                    uses.insert(name);
                }
                for (i, _) in expr.match_indices("croupier:") {
                    let r: String = expr[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    assert!(records.contains(&r), "{r} is used before it is recorded");
                }
                if let Some(r) = rule["record"].as_str() {
                    records.insert(r.to_owned());
                } else {
                    let name = rule["alert"].as_str().expect("a rule records or alerts");
                    let severity = rule["labels"]["severity"].as_str();
                    assert!(
                        matches!(severity, Some("page" | "ticket")),
                        "{name}: severity page or ticket"
                    );
                    assert!(
                        rule["annotations"]["summary"].as_str().is_some(),
                        "{name}: has a summary"
                    );
                    alerts += 1;
                }
            }
        }
        assert!(alerts >= 4, "burn-rate alerts for both SLOs at least");
        for slo in ["availability", "latency"] {
            assert!(
                text.contains(&format!("slo: {slo}")),
                "an alert on the {slo} SLO"
            );
        }
        for needed in [
            "croupier_http_requests_total",
            "croupier_http_request_duration_seconds_bucket",
        ] {
            assert!(uses.contains(needed), "the SLOs are computed from {needed}");
        }
    }

    #[test]
    fn the_dashboard_is_well_formed_and_uses_only_exported_metrics() {
        let dash: serde_json::Value =
            serde_json::from_str(&read("deploy/observability/grafana-dashboard.json"))
                .expect("the dashboard is JSON");
        assert!(dash["uid"].as_str().is_some() && dash["title"].as_str().is_some());
        let panels = dash["panels"].as_array().expect("panels");
        let mut ids = BTreeSet::new();
        let mut exprs = 0;
        for p in panels {
            assert!(
                ids.insert(p["id"].as_u64().expect("panel id")),
                "panel ids are unique"
            );
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().expect("every target has an expr");
                for name in names_in(expr, false) {
                    assert!(
                        exported(&name),
                        "{name} (panel {}) is not exported",
                        p["title"]
                    );
                }
                exprs += 1;
            }
        }
        assert!(exprs >= 20, "{exprs} queries");
        // The list: rates, latency, errors, pool, backlog, lag,
        // breakers, throttling, retries, sessions, sockets, bets and GGR.
        let text = dash.to_string();
        for name in [
            "croupier_http_requests_total",
            "croupier_http_request_duration_seconds_bucket",
            "croupier_db_pool_connections",
            "croupier_db_transaction_duration_seconds_bucket",
            "croupier_outbox_backlog",
            "croupier_consumer_lag",
            "croupier_circuit_state",
            "croupier_circuit_opened_total",
            "croupier_http_throttled_total",
            "croupier_http_shed_total",
            "croupier_retries_total",
            "croupier_sessions_active",
            "croupier_ws_connections",
            "croupier_bets_total",
            "croupier_bets_wagered_total",
            "croupier_bets_paid_out_total",
        ] {
            assert!(text.contains(name), "the dashboard shows {name}");
        }
    }
}
