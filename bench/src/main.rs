//! croupier-bench: HTTP load generator for Croupier's bet hot path.

mod cli;
mod http;
mod report;
mod run;
mod setup;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cli::{Args, Mode, RequestKind, Target};
use report::{Latency, Report};
use run::{Bets, Stats};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args = Args::parse();
    // Checked before anything is sent: load may only go to this machine.
    let target = match cli::check_target(&args.url, args.allow_remote) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Few worker threads: the generator shares the machine with the server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads as usize)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(bench(args, target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args, target: Target) -> Result<()> {
    let run_id = args.run_id.clone().unwrap_or_else(setup::run_id);
    let client = http::client(args.max_outstanding.max(args.concurrency) as usize);

    let livez = http::uri(&target.url("/livez"))?;
    let s = http::get(&client, &livez)
        .await
        .with_context(|| format!("cannot reach the server at {}", args.url))?;
    if !s.is_success() {
        bail!("GET /livez answered {s}");
    }

    let kind = args.request;
    let auths = if kind.as_player() {
        eprintln!("run {run_id}: setting up {} players", args.players);
        let t = Instant::now();
        let auths = setup::players(
            &client,
            &target,
            &run_id,
            args.players,
            args.setup_concurrency,
        )
        .await?;
        eprintln!("setup done in {:.1} s", t.elapsed().as_secs_f64());
        auths
    } else {
        Vec::new()
    };

    // One unmeasured request: fail fast with the server's own words if the
    // route or the request is wrong, instead of reporting a run of failures.
    let uri = http::uri(&target.url(kind.path()))?;
    let (s, answer) = if kind == RequestKind::Bet {
        let body: serde_json::Value = serde_json::from_slice(run::BET_BODY)?;
        http::post_json(&client, &uri, Some(&auths[0]), Some(&body)).await?
    } else {
        http::get_as(&client, &uri, auths.first()).await?
    };
    if s.as_u16() != kind.ok_status() {
        bail!(
            "preflight {} answered {s}: {}",
            kind.as_str(),
            String::from_utf8_lossy(&answer)
        );
    }

    // Open the pool's connections now so connects are not part of the run.
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, livez) = (client.clone(), livez.clone());
        warm.spawn(async move { http::get(&client, &livez).await });
    }
    while let Some(r) = warm.join_next().await {
        r??;
    }

    let idem = args.idempotency_keys.then(|| format!("bench-{run_id}"));
    let bets = Bets::new(client, uri, auths, idem, args.timeout());
    let bets = Arc::new(if kind == RequestKind::Bet {
        bets
    } else {
        bets.reads()
    });
    let stats = Stats::new(kind.ok_status());
    {
        let stats = stats.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: stopping early");
                stats.stop.store(true, Ordering::Relaxed);
            }
        });
    }

    let done = Arc::new(AtomicBool::new(false));
    let progress = run::progress(stats.clone(), args.duration(), done.clone());
    let cpu0 = report::process_cpu_s();
    let start = Instant::now();
    match args.mode {
        Mode::Max => {
            run::closed_loop::run(bets, stats.clone(), args.concurrency, args.duration()).await;
        }
        Mode::Rate => {
            let pacing = run::open_loop::Pacing {
                rate: args.rate.context("--rate is required with --mode rate")?,
                duration: args.duration(),
                max_outstanding: args.max_outstanding as u64,
                late_threshold: args.late_threshold(),
                drain: args.timeout() + Duration::from_secs(1),
            };
            run::open_loop::run(bets, stats.clone(), pacing).await;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = report::process_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    done.store(true, Ordering::Relaxed);
    let _ = progress.await;

    let ok = stats.ok.load(Ordering::Relaxed);
    let sent = stats.sent.load(Ordering::Relaxed);
    let report = Report {
        mode: args.mode.as_str(),
        request: kind.as_str(),
        target_rate: args.rate.filter(|_| args.mode == Mode::Rate),
        concurrency: args.concurrency,
        duration_s: args.duration,
        players: args.players,
        sent,
        ok,
        failures: report::failures(&stats),
        late: stats.late.load(Ordering::Relaxed),
        unsent: stats.unsent.load(Ordering::Relaxed),
        throughput_per_s: (ok as f64 / elapsed * 10.0).round() / 10.0,
        latency_ms: Latency::from_micros(&stats.latency.lock().expect("not poisoned")),
        send_lag_ms: (args.mode == Mode::Rate)
            .then(|| Latency::from_micros(&stats.send_lag.lock().expect("not poisoned"))),
        elapsed_s: (elapsed * 1000.0).round() / 1000.0,
        client_threads: args.client_threads,
        idempotency_keys: args.idempotency_keys,
        client_cpu_s: cpu,
        client_cpu_us_per_request: cpu
            .filter(|_| sent > 0)
            .map(|c| (c * 1e6 / sent as f64 * 10.0).round() / 10.0),
        run_id,
        url: args.url.clone(),
    };
    eprint!("{}", report.human());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
