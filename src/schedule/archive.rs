//! The change archives the daemon keeps: `changes run` for every scheduled environment with
//! `changes = "logical"`, its progress and its stops reported through the metrics and
//! `/healthz`.

use std::sync::Arc;
use std::time::Duration;

use super::notify::{Alert, AlertKind, Notifier};
use super::Metrics;
use crate::commands::changes::{run, RunArgs};
use crate::config::{ChangesMode, Config};
use crate::error::Error;

/// Wait before starting again an archive that stopped on an error that may pass (the
/// server restarting, the network).
const RETRY: Duration = Duration::from_secs(30);

/// The scheduled environments whose changes are archived.
pub fn environments(config: &Config, scheduled: &[String]) -> Vec<String> {
    scheduled
        .iter()
        .filter(|name| {
            config
                .environment(name)
                .is_ok_and(|e| e.changes == ChangesMode::Logical)
        })
        .cloned()
        .collect()
}

/// Keeps environment `env`'s archive running until the task is aborted. A refusal (the slot
/// dropped past `changes_max_lag`, no publication) stops it for good and `/healthz` says
/// why until the daemon is restarted; other errors are retried.
pub async fn keep(config: Config, env: String, metrics: Arc<Metrics>, notifier: Notifier) {
    loop {
        let (tx, mut rx) = tokio::sync::watch::channel(Default::default());
        let args = RunArgs {
            env: Some(env.clone()),
            progress: Some(Arc::new(tx)),
            ..RunArgs::default()
        };
        let running = run(&config, &args);
        tokio::pin!(running);
        let result = loop {
            tokio::select! {
                r = &mut running => break r,
                Ok(()) = rx.changed() => {
                    let report = rx.borrow_and_update().clone();
                    metrics.archive_progress(&env, &report);
                }
            }
        };
        let e = match result {
            Ok(_) => Error::Interrupted("the change archive returned".into()),
            Err(e) => e,
        };
        tracing::error!(environment = %env, "change archive stopped: {e}");
        metrics.archive_stopped(&env, &e.to_string());
        notifier.send(Alert::new(
            AlertKind::ArchiveStopped,
            Some(&env),
            &format!("the change archive stopped: {e}"),
        ));
        if matches!(e.root(), Error::Refused(_) | Error::Config(_)) {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}
