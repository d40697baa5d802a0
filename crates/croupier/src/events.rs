//! Wiring of the `worker` and `relay` roles: the outbox relay and the event
//! consumers, over NATS JetStream when `nats_url` is set, else over the
//! in-process bus (relay and consumers in this process).

use crate::config::Config;
use anyhow::Context;
use croupier_core::ports::Store;
use croupier_events::jetstream::{self, JetStreamBus, JetStreamSource};
use croupier_events::{
    Bus, CancellationToken, Consumer, ExportConsumer, Housekeeper, InProcessBus, MissionsConsumer,
    Relay, StatsConsumer, StoreDeadLetters,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Event domains whose streams are created at startup (others on first use).
pub const DOMAINS: &[&str] = &[
    "player", "wallet", "bet", "fairness", "game", "mission", "reward",
];

/// Every consumer this build runs, for one-shot use (replay, re-drive): the
/// export writes its manifests after each batch.
pub fn consumers(cfg: &Config, store: &Arc<dyn Store>) -> Vec<Arc<dyn Consumer>> {
    let mut all = projections(cfg, store);
    all.extend(export_consumer(cfg, store, false).map(|e| e as Arc<dyn Consumer>));
    all
}

/// The consumers that keep projections in the store.
fn projections(cfg: &Config, store: &Arc<dyn Store>) -> Vec<Arc<dyn Consumer>> {
    vec![
        Arc::new(StatsConsumer::new(store.clone())),
        Arc::new(MissionsConsumer::new(store.clone(), cfg.missions.clone())),
        Arc::new(croupier_events::RecommendationsConsumer::new(store.clone())),
    ]
}

/// The analytics export, if it runs (validation has opened its options
/// once). `deferred`: manifests every `export.manifest_interval_ms`, written
/// by [`ExportConsumer::run_manifests`] (a worker's); else after each batch.
fn export_consumer(
    cfg: &Config,
    store: &Arc<dyn Store>,
    deferred: bool,
) -> Option<Arc<ExportConsumer>> {
    match cfg.export_options() {
        Ok(opts) => opts.map(|mut o| {
            if !deferred {
                o.manifest_interval = Duration::ZERO;
            }
            Arc::new(ExportConsumer::new(store.clone(), o))
        }),
        Err(e) => {
            tracing::error!(error = %e, "export disabled");
            None
        }
    }
}

/// The consumers a worker runs: [`consumers`] (the export with deferred
/// manifests), plus live notifications when something can deliver them (not
/// replayable, so not in [`consumers`]).
fn worker_consumers(
    cfg: &Config,
    store: &Arc<dyn Store>,
    export: &Option<Arc<ExportConsumer>>,
    notifier: &Option<Arc<dyn croupier_core::notify::Notifier>>,
) -> Vec<Arc<dyn Consumer>> {
    let mut all = projections(cfg, store);
    all.extend(export.clone().map(|e| e as Arc<dyn Consumer>));
    if let Some(n) = notifier {
        let max_age = Duration::from_secs(cfg.ws.max_event_age_secs);
        all.push(Arc::new(croupier_events::NotificationsConsumer::new(
            n.clone(),
            max_age,
        )));
    }
    all
}

/// The running relay and consumer loops.
pub struct Events {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// The worker's export, whose manifests are flushed once the loops end.
    export: Option<Arc<ExportConsumer>>,
}

impl Events {
    /// Starts what the configured roles ask for (nothing for `api` alone).
    /// `notifier`: where live notifications go (`None`: nowhere, no consumer).
    pub async fn start(
        cfg: &Config,
        store: Arc<dyn Store>,
        notifier: Option<Arc<dyn croupier_core::notify::Notifier>>,
    ) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let roles = cfg.roles;
        if !(roles.worker || roles.relay) {
            return Ok(Self {
                stop,
                tasks,
                export: None,
            });
        }
        if roles.relay {
            // Every consumer that keeps an inbox, wherever it runs.
            let names = consumers(cfg, &store)
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            let keeper = Housekeeper::new(store.clone(), cfg.housekeeping_options(names));
            tasks.push(tokio::spawn(keeper.run(stop.clone())));
        }
        let dead_letters = Arc::new(StoreDeadLetters::new(store.clone()));
        let mut export = None;
        if roles.worker {
            dead_letters.refresh_gauge().await;
            export = export_consumer(cfg, &store, true);
            if let Some(x) = &export {
                tasks.push(tokio::spawn(x.clone().run_manifests(stop.clone())));
            }
        }
        let workers = if roles.worker {
            worker_consumers(cfg, &store, &export, &notifier)
        } else {
            Vec::new()
        };
        match &cfg.nats_url {
            Some(url) => {
                let started = start_jetstream(cfg, url, &store, workers, dead_letters, &stop);
                tasks.extend(started.await?);
            }
            None => {
                // Validation guarantees both roles here: relaying *is* consuming.
                let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(
                    workers,
                    dead_letters,
                    cfg.events.max_attempts,
                ));
                let relay = Relay::new(store.clone(), bus, cfg.relay_options());
                tasks.push(tokio::spawn(relay.run(stop.clone())));
            }
        }
        tracing::info!(
            roles = %roles,
            bus = if cfg.nats_url.is_some() { "jetstream" } else { "in_process" },
            "event loops started"
        );
        Ok(Self {
            stop,
            tasks,
            export,
        })
    }

    /// Stops the loops; each finishes the batch in hand first. Then the
    /// export's manifests catch up with the batches handled.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "event loop ended abnormally");
            }
        }
        if let Some(x) = self.export {
            if let Err(e) = x.flush_manifests().await {
                tracing::error!(error = %e, "cannot write the export manifests at stop; the next start rewrites them");
            }
        }
    }
}

/// Over JetStream: the relay publishes to the streams (relay role), and each
/// of `workers` reads its own durable consumer (worker role; empty otherwise).
async fn start_jetstream(
    cfg: &Config,
    url: &str,
    store: &Arc<dyn Store>,
    workers: Vec<Arc<dyn Consumer>>,
    dead_letters: Arc<StoreDeadLetters>,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let timeout = Duration::from_secs(cfg.nats.connect_timeout_secs);
    let client = jetstream::connect(url, timeout)
        .await
        .map_err(anyhow::Error::msg)?;
    let opts = cfg.jetstream_options();
    let mut tasks = Vec::new();
    if cfg.roles.relay {
        let bus = JetStreamBus::new(client.clone(), opts.clone(), DOMAINS)
            .await
            .map_err(anyhow::Error::msg)
            .context("cannot set up the JetStream streams")?;
        let relay = Relay::new(store.clone(), Arc::new(bus), cfg.relay_options());
        tasks.push(tokio::spawn(relay.run(stop.clone())));
    }
    if !workers.is_empty() {
        let source =
            JetStreamSource::new(client, opts, dead_letters).map_err(anyhow::Error::msg)?;
        for consumer in workers {
            let spawned = source
                .spawn(consumer, stop.clone())
                .await
                .map_err(anyhow::Error::msg)
                .context("cannot set up the JetStream consumers")?;
            tasks.extend(spawned);
        }
    }
    Ok(tasks)
}
