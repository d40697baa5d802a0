//! The faults, and one scenario's run: a fresh database and cluster, the
//! players, the steady load, the fault after `pre` seconds, `post` seconds
//! more of load, then the invariants.

use crate::cluster::Cluster;
use crate::engines::{short_id, signal, Engines};
use crate::invariants;
use crate::load::{self, Load};
use crate::proxy::{FaultProxy, Mode};
use crate::report::ScenarioReport;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::block_in_place;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// SIGKILL api2; restart it after `down`.
    KillApi,
    /// SIGTERM api1, api2, api3 one at a time, each started again and UP in HAProxy before the next.
    RollingRestart,
    /// `pg_ctlcluster restart -m fast`.
    PgRestartFast,
    /// `pg_ctlcluster restart -m immediate` (crash-stop, recovery on start).
    PgRestartImmediate,
    /// Redis stopped for `outage`, then started again on its port.
    RedisStop,
    /// NATS stopped for `outage`, then started again on its port and JetStream store.
    NatsStop,
    /// Every instance↔PostgreSQL connection closed and new ones refused for `db_outage`.
    DbCut,
    /// 100 ms added to every chunk between the instances and PostgreSQL for `db_outage`.
    DbDelay,
    /// SIGKILL the worker while it consumes; restart it after `down`.
    KillWorker,
}

pub const ALL: [Scenario; 9] = [
    Scenario::KillApi,
    Scenario::RollingRestart,
    Scenario::PgRestartFast,
    Scenario::PgRestartImmediate,
    Scenario::RedisStop,
    Scenario::NatsStop,
    Scenario::DbCut,
    Scenario::DbDelay,
    Scenario::KillWorker,
];

pub const DB_DELAY: Duration = Duration::from_millis(100);

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillApi => "kill-api",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::PgRestartFast => "pg-restart-fast",
            Scenario::PgRestartImmediate => "pg-restart-immediate",
            Scenario::RedisStop => "redis-stop",
            Scenario::NatsStop => "nats-stop",
            Scenario::DbCut => "db-cut",
            Scenario::DbDelay => "db-delay",
            Scenario::KillWorker => "kill-worker",
        }
    }

    pub fn fault(self, t: &Timing) -> String {
        let (down, outage, db) = (t.down.as_secs(), t.outage.as_secs(), t.db_outage.as_secs());
        match self {
            Scenario::KillApi => format!("SIGKILL api2, restarted after {down} s"),
            Scenario::RollingRestart => {
                "SIGTERM api1..3 one at a time, each back UP before the next".into()
            }
            Scenario::PgRestartFast => "PostgreSQL restart -m fast".into(),
            Scenario::PgRestartImmediate => "PostgreSQL restart -m immediate".into(),
            Scenario::RedisStop => format!("Redis stopped {outage} s"),
            Scenario::NatsStop => format!("NATS stopped {outage} s"),
            Scenario::DbCut => format!("DB link cut {db} s (proxy closes and refuses)"),
            Scenario::DbDelay => format!(
                "DB link +{} ms per chunk each way for {db} s",
                DB_DELAY.as_millis()
            ),
            Scenario::KillWorker => format!("SIGKILL worker mid-stream, restarted after {down} s"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Timing {
    /// Load before the fault.
    pub pre: Duration,
    /// Load after the fault ended.
    pub post: Duration,
    /// Redis and NATS outages.
    pub outage: Duration,
    /// DB link cut and slowed.
    pub db_outage: Duration,
    /// How long a SIGKILLed process stays down.
    pub down: Duration,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// The croupier binary the cluster runs.
    pub croupier: PathBuf,
    pub players: usize,
    pub load: Load,
    pub timing: Timing,
    /// Longest wait, after the load, for the stats projection to match the bets.
    pub catch_up: Duration,
    /// Where each scenario's cluster logs go (`<logs>/<scenario>/`).
    pub logs: PathBuf,
}

/// The private engines and the fault proxy, shared by the scenarios of a run
/// (each scenario has its own database, Redis key prefix and NATS streams).
pub struct Harness {
    pub engines: Engines,
    pub proxy: FaultProxy,
}

impl Harness {
    pub async fn start() -> Result<Harness> {
        let engines = tokio::task::spawn_blocking(Engines::start).await??;
        let proxy = FaultProxy::start(engines.postgres.port).await?;
        Ok(Harness { engines, proxy })
    }

    pub async fn run(&mut self, sc: Scenario, s: &Settings) -> Result<ScenarioReport> {
        let id = short_id()[..8].to_owned();
        let db = format!("chaos_{}_{id}", sc.name().replace('-', "_"));
        let env: Vec<(String, String)> = [
            (
                "CROUPIER_DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{}/{db}", self.proxy.port),
            ),
            (
                "CROUPIER_REDIS_URL",
                format!("redis://127.0.0.1:{}", self.engines.redis.port),
            ),
            ("CROUPIER_REDIS__KEY_PREFIX", format!("chaos-{id}:")),
            (
                "CROUPIER_NATS_URL",
                format!("nats://127.0.0.1:{}", self.engines.nats.port),
            ),
            ("CROUPIER_NATS__STREAM_PREFIX", format!("chaos_{id}")),
            // A killed relay's claimed rows and a killed worker's unacknowledged
            // messages come back after these (defaults 30 s), within the run.
            ("CROUPIER_EVENTS__LEASE_SECS", "5".into()),
            ("CROUPIER_NATS__ACK_WAIT_SECS", "5".into()),
            ("CROUPIER_LOG__FORMAT", "text".into()),
            ("CLUSTER_BIN", s.croupier.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let logs = s.logs.join(sc.name());
        let _ = std::fs::remove_dir_all(&logs);
        let mut cluster = {
            let (env, logs) = (env.clone(), logs.clone());
            tokio::task::spawn_blocking(move || Cluster::start(env, logs)).await??
        };

        let http = load::client(s.load.timeout);
        let tokens = load::players(&http, &cluster.lb, &id, s.players)
            .await
            .context("set up players")?;
        let running = load::start(http, &cluster.lb, tokens, s.load.clone());
        tokio::time::sleep(s.timing.pre).await;
        let fault_start = running.now();
        let injected = self.inject(sc, &cluster, &s.timing).await;
        let fault_end = running.now();
        // Whatever happened, leave every engine and the link up.
        self.proxy.set(Mode::Pass);
        for d in [&mut self.engines.redis, &mut self.engines.nats] {
            if !d.running() {
                let _ = block_in_place(|| d.start());
            }
        }
        if injected.is_ok() {
            tokio::time::sleep(s.timing.post).await;
        }
        let load_end = running.now();
        let bets = running.finish().await?;
        // The server log so far (pg_dropcluster deletes it), beside the cluster's.
        let _ = std::fs::copy(self.engines.postgres.log(), logs.join("postgresql.log"));
        injected.with_context(|| format!("inject {}", sc.name()))?;

        let direct = self.engines.postgres.url(&db);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&direct)
            .await?;
        let mut audit_env = env.clone();
        audit_env.retain(|(k, _)| k != "CROUPIER_DATABASE_URL");
        audit_env.push(("CROUPIER_DATABASE_URL".into(), direct));
        let inv = invariants::check(&pool, &bets, &s.croupier, &audit_env, s.catch_up).await?;
        pool.close().await;
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
        Ok(ScenarioReport::new(
            sc,
            s,
            &bets,
            (fault_start, fault_end, load_end),
            inv,
        ))
    }

    async fn inject(&mut self, sc: Scenario, cluster: &Cluster, t: &Timing) -> Result<()> {
        match sc {
            Scenario::KillApi | Scenario::KillWorker => {
                let name = if sc == Scenario::KillApi {
                    "api2"
                } else {
                    "worker"
                };
                signal(cluster.pid(name)?, libc::SIGKILL);
                tokio::time::sleep(t.down).await;
                cluster.restart(name).await?;
            }
            Scenario::RollingRestart => {
                for name in ["api1", "api2", "api3"] {
                    cluster.restart(name).await?;
                }
            }
            Scenario::PgRestartFast => block_in_place(|| self.engines.postgres.restart("fast"))?,
            Scenario::PgRestartImmediate => {
                block_in_place(|| self.engines.postgres.restart("immediate"))?
            }
            Scenario::RedisStop => {
                block_in_place(|| self.engines.redis.stop());
                tokio::time::sleep(t.outage).await;
                block_in_place(|| self.engines.redis.start())?;
            }
            Scenario::NatsStop => {
                block_in_place(|| self.engines.nats.stop());
                tokio::time::sleep(t.outage).await;
                block_in_place(|| self.engines.nats.start())?;
            }
            Scenario::DbCut | Scenario::DbDelay => {
                self.proxy.set(if sc == Scenario::DbCut {
                    Mode::Cut
                } else {
                    Mode::Delay(DB_DELAY)
                });
                tokio::time::sleep(t.db_outage).await;
                self.proxy.set(Mode::Pass);
            }
        }
        Ok(())
    }
}
