//! Throwaway local clusters for async callers (the demo, scratch drills, `derive --subset`):
//! starting and stopping one runs initdb and pg_ctl, which block, so both go to the blocking
//! pool, and their errors become the crate's.

use std::path::PathBuf;

use super::cluster::{Cluster, ClusterOptions};
use crate::error::{Error, Result};

/// Starts a throwaway cluster with the server binaries in `bin_dir` (found by default when
/// `None`); `what` says what it is for, in the error.
pub async fn start(bin_dir: Option<PathBuf>, what: &str) -> Result<Cluster> {
    let options = ClusterOptions {
        bin_dir,
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .map_err(|e| Error::Postgres(format!("starting the {what} failed: {e}")))?
        .map_err(|e| Error::Postgres(format!("cannot start the {what}: {e}")))
}

/// Stops `cluster` and removes its data; a failure to stop cleanly is only logged, since
/// the cluster is thrown away either way.
pub async fn stop(cluster: Cluster) {
    match tokio::task::spawn_blocking(move || cluster.stop()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("the throwaway cluster did not stop cleanly: {e}"),
        Err(e) => tracing::warn!("stopping the throwaway cluster failed: {e}"),
    }
}
