//! The short chaos suite CI runs: five faults on the local cluster
//! (`deploy/local/cluster.sh`, debug build of croupier) under a light bet load,
//! each on its own cluster and database. Every invariant must hold after
//! each, every bet must succeed when retried with its key, and the rolling
//! restart must fail no request at all.
//!
//! Needs `pg_createcluster` (Debian's postgresql-common, run as root), haproxy,
//! redis-server, nats-server, curl, psql and `target/debug/croupier` (built by
//! `cargo test --workspace`, or `cargo build -p croupier`). Without them it
//! skips, unless `CROUPIER_TEST_REQUIRE_BACKENDS=1` (CI), where it fails.

use croupier_chaos::engines::Engines;
use croupier_chaos::load::Load;
use croupier_chaos::scenario::{Harness, Scenario, Settings, Timing};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn require_backends() -> bool {
    std::env::var("CROUPIER_TEST_REQUIRE_BACKENDS").as_deref() == Ok("1")
}

/// `<target>/<profile>/croupier`, beside this test's own `deps/` directory.
fn croupier_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CROUPIER_CHAOS_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("croupier")
}

fn skip_or_fail(why: String) {
    assert!(!require_backends(), "{why}");
    eprintln!("skipped: {why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_short_suite_keeps_every_invariant() {
    if let Some(tool) = Engines::missing_tools() {
        return skip_or_fail(format!("the chaos suite needs {tool}"));
    }
    let bin = croupier_bin();
    if !bin.is_file() {
        return skip_or_fail(format!(
            "{} is missing: cargo build -p croupier first",
            bin.display()
        ));
    }
    let logs = bin.parent().unwrap().join("chaos-test");
    let settings = Settings {
        croupier: bin,
        players: 6,
        load: Load {
            rate: 60,
            timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(60),
            max_outstanding: 5000,
            max_run: Duration::from_secs(120),
        },
        timing: Timing {
            pre: Duration::from_secs(3),
            post: Duration::from_secs(3),
            outage: Duration::from_secs(3),
            db_outage: Duration::from_secs(3),
            down: Duration::from_secs(2),
        },
        catch_up: Duration::from_secs(30),
        logs: logs.clone(),
    };

    let t = Instant::now();
    let mut harness = Harness::start().await.expect("private engines");
    let mut failures = Vec::new();
    for sc in [
        Scenario::RollingRestart,
        Scenario::KillApi,
        Scenario::KillWorker,
        Scenario::DbCut,
        Scenario::PgRestartImmediate,
    ] {
        let r = harness.run(sc, &settings).await.unwrap_or_else(|e| {
            panic!(
                "{}: {e:#} (cluster logs in {})",
                sc.name(),
                logs.join(sc.name()).display()
            )
        });
        eprintln!("{}", serde_json::to_string(&r).unwrap());
        if r.offered == 0 || r.ok_first_attempt == 0 {
            failures.push(format!("{}: no load went through", r.scenario));
        }
        if r.violations > 0 {
            failures.push(format!(
                "{}: {} invariant violations: {:?}",
                r.scenario, r.violations, r.invariants.details
            ));
        }
        if r.never_ok > 0 {
            failures.push(format!(
                "{}: {} bets never succeeded when retried with their key",
                r.scenario, r.never_ok
            ));
        }
        if sc == Scenario::RollingRestart && r.failed_first_attempt > 0 {
            failures.push(format!(
                "rolling restart: {} failed requests {:?}",
                r.failed_first_attempt, r.failures
            ));
        }
    }
    drop(harness);
    eprintln!("chaos suite: {:.0} s", t.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{failures:#?}\n(cluster logs in {})",
        logs.display()
    );
}
