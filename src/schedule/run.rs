//! `schedule run`: the scheduler daemon the config describes — a raw snapshot of every
//! scheduled environment at each finest-tier slot, planned as [`crate::commands::snapshot`] plans them,
//! then a prune; the change archive of every scheduled environment with `changes =
//! "logical"`, which serves the slots between its base snapshots; with `/healthz` and
//! `/metrics` served while it runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::http::{serve, HealthState};
use super::{check, Clock, Daemon, Metrics, SystemClock};
use crate::commands::snapshot::{self, Plan};
use crate::config::Config;
use crate::error::Result;
use crate::repo::Repository;

/// Options of the daemon.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Parallel workers per snapshot (default: snapshot.jobs, else 2).
    pub jobs: Option<usize>,
    /// Address for `/healthz` and `/metrics` (default: schedule.listen).
    pub listen: Option<String>,
}

/// The snapshots taken at every slot: one of each `schedule.environments` (default: the
/// environment with role production), tagged `scheduled`; checked against the tiers.
pub fn plan(config: &Config, jobs: Option<usize>) -> Result<Vec<Plan>> {
    let names: Vec<Option<String>> = if config.schedule.environments.is_empty() {
        vec![None]
    } else {
        config
            .schedule
            .environments
            .iter()
            .cloned()
            .map(Some)
            .collect()
    };
    let plans = names
        .into_iter()
        .map(|env| {
            let opts = snapshot::Options {
                env,
                jobs,
                tags: vec!["scheduled".into()],
                ..Default::default()
            };
            snapshot::plan(config, &opts)
        })
        .collect::<Result<Vec<_>>>()?;
    check(&config.retention, &plans)?;
    Ok(plans)
}

/// The daemon taking `snapshots` into `repo` with the configured retention, on `clock`.
pub fn daemon(
    config: &Config,
    snapshots: Vec<Plan>,
    repo: Arc<Repository>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Daemon {
    Daemon {
        repo,
        snapshots,
        tiers: config.retention.clone(),
        clock,
        metrics,
        notifier: super::notify::Notifier::new(&config.notify),
        lagging: Default::default(),
    }
}

/// A daemon ready to run, its health and metrics already served.
pub struct Started {
    daemon: Daemon,
    addr: SocketAddr,
    server: JoinHandle<()>,
    /// The change archives it keeps, one task each.
    archives: Vec<JoinHandle<()>>,
}

impl Started {
    /// Where `/healthz` and `/metrics` are served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The daemon.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Runs until `stop` resolves, then stops serving.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        let result = self.daemon.run(stop, None).await;
        // Stopping an archive anywhere loses nothing: what it did not store stays in the slot.
        for a in &self.archives {
            a.abort();
        }
        self.server.abort();
        tracing::info!("scheduler stopped");
        result
    }
}

/// Plans the snapshots, opens the repository (creating it if needed) and serves health and
/// metrics on the real clock.
pub async fn start(config: &Config, opts: &Options) -> Result<Started> {
    let snapshots = plan(config, opts.jobs)?;
    let repo = Arc::new(config.repo.open_or_init().await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(Metrics::new(Utc::now()));
    let daemon = daemon(config, snapshots, repo, clock.clone(), metrics.clone());
    let listen = opts
        .listen
        .clone()
        .unwrap_or_else(|| config.schedule.listen.clone());
    let state = HealthState {
        metrics,
        clock,
        spacing: daemon.spacing(),
        max_missed: config.schedule.healthz_max_missed,
        page: Some(super::http::PageSource {
            config: config.clone(),
            repo: daemon.repo.clone(),
        }),
    };
    let (addr, server) = serve(&listen, state).await?;
    let scheduled: Vec<String> = daemon
        .snapshots
        .iter()
        .map(|p| p.environment().to_string())
        .collect();
    let archives = super::archive::environments(config, &scheduled)
        .into_iter()
        .map(|env| {
            tracing::info!(environment = %env, "keeping the change archive");
            tokio::spawn(super::archive::keep(
                config.clone(),
                env,
                daemon.metrics.clone(),
                daemon.notifier.clone(),
            ))
        })
        .collect();
    tracing::info!(
        every_s = daemon.spacing().num_seconds(),
        environments = ?daemon.snapshots.iter().map(Plan::environment).collect::<Vec<_>>(),
        "scheduler started; health on http://{addr}/healthz, metrics on http://{addr}/metrics"
    );
    Ok(Started {
        daemon,
        addr,
        server,
        archives,
    })
}
