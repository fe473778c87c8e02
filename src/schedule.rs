//! The scheduler daemon: a snapshot at every finest-tier spacing (aligned to the clock),
//! never two at once, a prune after each, one daemon per repository, and health and metrics
//! over HTTP. Time comes from a [`Clock`], so tests can run days of schedule in seconds
//! against a real cluster and a real repository. What it runs goes through the library
//! commands: snapshots planned by [`crate::commands::snapshot::plan`] (built from the config
//! by [`run`]) and [`crate::commands::prune::apply`].

pub mod archive;
pub mod clock;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod run;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::commands::snapshot::Plan;
use crate::error::{Error, Result};
use crate::repo::lock::{Lock, LockKind};
use crate::repo::Repository;
use crate::retention::Tiers;
pub use clock::{Clock, SimulatedClock, SystemClock};
pub use metrics::Metrics;

/// Everything the daemon needs.
#[derive(Clone)]
pub struct Daemon {
    /// The repository.
    pub repo: Arc<Repository>,
    /// The snapshots to take, in order, at every slot.
    pub snapshots: Vec<Plan>,
    /// Retention.
    pub tiers: Tiers,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Figures for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where alerts go (`[notify]`).
    pub notifier: notify::Notifier,
    /// Environments whose archive lag was alerted, until it catches up again.
    pub lagging: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

/// How far behind a running change archive may be before an alert.
pub const ARCHIVE_LAG_ALERT: TimeDelta = TimeDelta::minutes(5);

/// How far behind its heartbeat a running archive may be complete and still serve a slot.
const SERVE_BEHIND: TimeDelta = TimeDelta::seconds(30);

pub use crate::retention::align_up;

impl Daemon {
    /// The finest spacing: how often snapshots are taken.
    pub fn spacing(&self) -> TimeDelta {
        self.tiers.finest_spacing()
    }

    /// Runs until `stop` resolves (a signal) or `until` is reached on the clock. Holds the
    /// daemon lock throughout. A snapshot in flight when `stop` fires is abandoned: no
    /// manifest is written, so nothing partial is ever listed.
    pub async fn run(
        &self,
        stop: impl Future<Output = ()>,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let (lock, report) = Lock::acquire(self.repo.store(), LockKind::Daemon).await?;
        for s in report.stale {
            tracing::warn!("stale lock in the repository (a daemon or prune that died?): {s}");
        }
        let spacing = self.spacing();
        let mut slot = align_up(self.clock.now(), spacing);
        tokio::pin!(stop);
        loop {
            if until.is_some_and(|u| slot > u) {
                break;
            }
            tokio::select! {
                _ = self.clock.sleep_until(slot) => {}
                _ = &mut stop => break,
            }
            let started = self.clock.now();
            self.metrics.set_lag(started - slot);
            let mut tick = Box::pin(self.tick(slot));
            let stopped = tokio::select! {
                _ = &mut tick => false,
                _ = &mut stop => true,
            };
            if stopped {
                tracing::warn!(slot = %slot.to_rfc3339(), "stopping: the snapshot in flight is abandoned, nothing of it is listed");
                drop(tick);
                // A store write of the abandoned work (a lock being taken) may still land
                // after its future is gone: let it, then remove every lock this process holds.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                crate::repo::lock::remove_own(self.repo.store().as_ref(), lock.key()).await?;
                break;
            }
            // A slot outrun by its snapshot is skipped, never run twice or late in a burst.
            let next = align_up(self.clock.now(), spacing);
            slot = if next > slot { next } else { slot + spacing };
            let lag = self.clock.now() - started;
            if lag > spacing {
                tracing::warn!(
                    took_s = lag.num_seconds(),
                    "a snapshot outran its slot; the next one is delayed"
                );
                self.notifier.send(notify::Alert::new(
                    notify::AlertKind::SlotsMissed,
                    None,
                    &format!(
                        "the slot of {} took {} s, longer than the {} s between slots: the \
                         slots it overran were skipped",
                        started.to_rfc3339(),
                        lag.num_seconds(),
                        spacing.num_seconds()
                    ),
                ));
            }
        }
        lock.release().await
    }

    /// One slot: every planned snapshot, then a prune. An environment whose change archive
    /// runs and whose base snapshot is not due gets none: the archive serves the slot.
    async fn tick(&self, slot: DateTime<Utc>) {
        for plan in &self.snapshots {
            let environment = plan.environment();
            let deciding = std::time::Instant::now();
            if let Some(complete_to) = self.served(plan, slot).await {
                tracing::info!(
                    environment = %environment, slot = %slot.to_rfc3339(),
                    complete_to = %complete_to.to_rfc3339(),
                    took_ms = deciding.elapsed().as_millis() as u64,
                    "slot served by the change archive: every second restores with `restore --at`, no snapshot taken"
                );
                self.metrics.served(self.clock.now());
                continue;
            }
            let began = self.clock.now();
            let real = std::time::Instant::now();
            let plan = plan.clone().recorded_at(self.clock.recorded_time());
            match plan.take(self.repo.clone()).await {
                Ok(m) => {
                    tracing::info!(
                        snapshot = %m.id, environment = %environment, slot = %slot.to_rfc3339(),
                        bytes_read = m.stats.bytes_read, bytes_stored = m.stats.bytes_stored_new,
                        "snapshot taken"
                    );
                    self.metrics.success(self.clock.now(), real.elapsed(), &m);
                }
                Err(e) => {
                    tracing::error!(environment = %environment, slot = %slot.to_rfc3339(), started = %began.to_rfc3339(), "snapshot failed: {e}");
                    self.metrics.failure();
                    self.notifier.send(notify::Alert::new(
                        notify::AlertKind::SnapshotFailed,
                        Some(environment),
                        &format!("the snapshot of slot {} failed: {e}", slot.to_rfc3339()),
                    ));
                }
            }
        }
        self.check_archive_lag(Utc::now());
        let pruned =
            crate::commands::prune::apply(&self.repo, &self.tiers, self.clock.now(), false).await;
        match pruned {
            Ok(report) => self.metrics.kept(&report.plan),
            Err(e) => {
                tracing::error!("prune failed: {e}");
                self.metrics.failure();
                self.notifier.send(notify::Alert::new(
                    notify::AlertKind::PruneFailed,
                    None,
                    &format!("retention could not be applied: {e}"),
                ));
            }
        }
    }

    /// Alerts once when a running archive is complete only up to more than
    /// [`ARCHIVE_LAG_ALERT`] before `now` (archives run on real time), and again only after it
    /// caught up.
    fn check_archive_lag(&self, now: DateTime<Utc>) {
        let mut lagging = self.lagging.lock().unwrap_or_else(|p| p.into_inner());
        for (env, caught_up) in self.metrics.archives_running() {
            let Some(c) = caught_up else { continue };
            if now - c <= ARCHIVE_LAG_ALERT {
                lagging.remove(&env);
            } else if lagging.insert(env.clone()) {
                self.notifier.send(notify::Alert::new(
                    notify::AlertKind::ArchiveLagging,
                    Some(&env),
                    &format!(
                        "the change archive is complete only up to {} ({} s behind): restores \
                         at later times are as of then until it catches up",
                        c.to_rfc3339(),
                        (now - c).num_seconds()
                    ),
                ));
            }
        }
    }
    /// The time the archive of `plan`'s environment is complete up to, when it serves `slot`:
    /// the slot is not one where a base is due (a multiple of `changes_base_every`), the
    /// archive runs and keeps up, and it extends a base taken since the last such slot (which
    /// bounds how much a restore replays). `None` takes the snapshot.
    async fn served(&self, plan: &Plan, slot: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let archived = plan.archived()?;
        let base_slot = align_up(slot, archived.base_every);
        if base_slot == slot {
            return None;
        }
        let since = base_slot - archived.base_every;
        let environment = plan.environment();
        let found = async {
            let Some((archive, complete_to)) = crate::changes::incremental::serving(
                &self.repo,
                environment,
                &archived.kind,
                SERVE_BEHIND,
            )
            .await?
            else {
                return Ok(None);
            };
            let based = self
                .repo
                .manifests()
                .await?
                .iter()
                .any(|m| archive.extends(m) && m.time >= since);
            Ok::<_, Error>(based.then_some(complete_to))
        };
        match found.await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(environment = %environment, "cannot tell whether the change archive serves the slot ({e}): taking a snapshot");
                None
            }
        }
    }
}

/// Whether the daemon is healthy: every change archive it keeps is running, and it
/// succeeded within `max_missed` spacings (or has been up for less than that).
pub fn healthy(
    metrics: &Metrics,
    now: DateTime<Utc>,
    spacing: TimeDelta,
    max_missed: u32,
) -> std::result::Result<String, String> {
    // A stopped change archive is an alert of its own: restores at T lose their precision,
    // and production may have been spared a full disk only by dropping the slot.
    let stopped = metrics.archives_stopped();
    if !stopped.is_empty() {
        return Err(stopped
            .iter()
            .map(|(env, why)| format!("unhealthy: the change archive of {env} stopped: {why}\n"))
            .collect());
    }
    let allowed = spacing * max_missed as i32;
    let since = metrics.last_success().unwrap_or(metrics.started());
    let age = now - since;
    if age <= allowed {
        Ok(format!("ok: last success {}s ago\n", age.num_seconds()))
    } else {
        Err(format!(
            "unhealthy: no successful snapshot for {}s (allowed {}s = {max_missed} spacings)\n",
            age.num_seconds(),
            allowed.num_seconds()
        ))
    }
}

/// Checks a `schedule` section against the tiers before starting.
pub fn check(tiers: &Tiers, snapshots: &[Plan]) -> Result<()> {
    if snapshots.is_empty() {
        return Err(Error::Config(
            "the schedule has no environment to snapshot".into(),
        ));
    }
    if tiers.finest_spacing() <= TimeDelta::zero() {
        return Err(Error::Config(
            "the finest retention tier has no spacing".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn archive_lag_is_alerted_once_until_it_catches_up() {
        let store = Arc::new(crate::store::MemoryStore::new());
        let repo = Repository::open_or_init(store, &Default::default())
            .await
            .unwrap();
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let metrics = Arc::new(Metrics::new(now));
        let daemon = Daemon {
            repo: Arc::new(repo),
            snapshots: Vec::new(),
            tiers: Tiers::default(),
            clock: Arc::new(SimulatedClock::new(now)),
            metrics: metrics.clone(),
            notifier: notify::Notifier::default(),
            lagging: Default::default(),
        };
        let progress = |caught_up: DateTime<Utc>| crate::changes::run::RunReport {
            caught_up: Some(caught_up),
            ..Default::default()
        };
        let lagging = || daemon.lagging.lock().unwrap().clone();
        metrics.archive_progress("prod", &progress(now - TimeDelta::minutes(1)));
        daemon.check_archive_lag(now);
        assert!(lagging().is_empty());
        metrics.archive_progress("prod", &progress(now - TimeDelta::minutes(6)));
        daemon.check_archive_lag(now);
        assert_eq!(lagging(), ["prod".to_string()].into());
        // Still behind: no second alert (the set already holds it); caught up: cleared.
        daemon.check_archive_lag(now + TimeDelta::minutes(1));
        assert_eq!(lagging().len(), 1);
        metrics.archive_progress("prod", &progress(now + TimeDelta::minutes(2)));
        daemon.check_archive_lag(now + TimeDelta::minutes(2));
        assert!(lagging().is_empty());
    }

    #[test]
    fn slots_align_to_the_epoch() {
        let t: DateTime<Utc> = "2026-11-22T10:03:20Z".parse().unwrap();
        assert_eq!(
            align_up(t, TimeDelta::minutes(5)).to_rfc3339(),
            "2026-11-22T10:05:00+00:00"
        );
        let on: DateTime<Utc> = "2026-11-22T10:05:00Z".parse().unwrap();
        assert_eq!(align_up(on, TimeDelta::minutes(5)), on);
        assert_eq!(
            align_up(t, TimeDelta::hours(6)).to_rfc3339(),
            "2026-11-22T12:00:00+00:00"
        );
    }
}
