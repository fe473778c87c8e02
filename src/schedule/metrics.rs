//! The daemon's figures, rendered in the Prometheus text format for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::repo::Manifest;
use crate::retention::{Plan, Reason};

#[derive(Debug, Default)]
struct Figures {
    last_success: Option<DateTime<Utc>>,
    last_duration: Duration,
    bytes_read_total: u64,
    bytes_stored_total: u64,
    snapshots_total: u64,
    served_total: u64,
    failures_total: u64,
    lag: TimeDelta,
    kept_by_tier: BTreeMap<String, u64>,
    kept_total: u64,
    archives: BTreeMap<String, ArchiveFigures>,
}

/// One environment's change archive, as the daemon keeps it.
#[derive(Debug, Default, Clone)]
struct ArchiveFigures {
    segments: u64,
    changes: u64,
    caught_up: Option<DateTime<Utc>>,
    /// Why it is not running, when it is not.
    stopped: Option<String>,
}

/// A label value as the text format wants it: backslash, double quote and newline escaped
/// (environment names are TOML keys, which may hold any of them).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Shared, updated by the daemon, read by the HTTP server.
#[derive(Debug)]
pub struct Metrics {
    started: DateTime<Utc>,
    figures: Mutex<Figures>,
}

impl Metrics {
    /// Figures starting at `started`.
    pub fn new(started: DateTime<Utc>) -> Metrics {
        Metrics {
            started,
            figures: Mutex::new(Figures::default()),
        }
    }

    fn f(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the daemon started.
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// When the last snapshot succeeded.
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        self.f().last_success
    }

    /// Records a successful snapshot.
    pub fn success(&self, at: DateTime<Utc>, took: Duration, m: &Manifest) {
        let mut f = self.f();
        f.last_success = Some(at);
        f.last_duration = took;
        f.bytes_read_total += m.stats.bytes_read;
        f.bytes_stored_total += m.stats.bytes_stored_new;
        f.snapshots_total += 1;
    }

    /// Records a slot the change archive served without a snapshot.
    pub fn served(&self, at: DateTime<Utc>) {
        let mut f = self.f();
        f.last_success = Some(at);
        f.served_total += 1;
    }

    /// Records a failed snapshot or prune.
    pub fn failure(&self) {
        self.f().failures_total += 1;
    }

    /// Records the running report of environment `env`'s change archive.
    pub fn archive_progress(&self, env: &str, report: &crate::changes::run::RunReport) {
        let mut f = self.f();
        let a = f.archives.entry(env.to_string()).or_default();
        a.segments = report.segments;
        a.changes = report.changes;
        a.caught_up = report.caught_up.or(a.caught_up);
        a.stopped = None;
    }

    /// Records that environment `env`'s change archive stopped, and why.
    pub fn archive_stopped(&self, env: &str, why: &str) {
        self.f()
            .archives
            .entry(env.to_string())
            .or_default()
            .stopped = Some(why.to_string());
    }

    /// The change archives that are running, with the time each is complete up to.
    pub fn archives_running(&self) -> Vec<(String, Option<DateTime<Utc>>)> {
        self.f()
            .archives
            .iter()
            .filter(|(_, a)| a.stopped.is_none())
            .map(|(env, a)| (env.clone(), a.caught_up))
            .collect()
    }

    /// The change archives that are not running, with why.
    pub fn archives_stopped(&self) -> Vec<(String, String)> {
        self.f()
            .archives
            .iter()
            .filter_map(|(env, a)| a.stopped.clone().map(|why| (env.clone(), why)))
            .collect()
    }

    /// Records how late the current slot started.
    pub fn set_lag(&self, lag: TimeDelta) {
        self.f().lag = lag.max(TimeDelta::zero());
    }

    /// Records what retention keeps, by the tier that keeps it.
    pub fn kept(&self, plan: &Plan) {
        let mut by_tier = BTreeMap::new();
        let mut total = 0;
        for d in plan.decisions.iter().filter(|d| d.keep) {
            total += 1;
            for r in &d.reasons {
                if let Reason::Tier { spacing, .. } = r {
                    *by_tier
                        .entry(crate::retention::format_span(*spacing))
                        .or_insert(0) += 1;
                }
            }
        }
        let mut f = self.f();
        f.kept_by_tier = by_tier;
        f.kept_total = total;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let f = self.f();
        let mut s = String::new();
        let mut metric = |name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(
                s,
                "# HELP doppel_{name} {help}\n# TYPE doppel_{name} {kind}\n{value}"
            );
        };
        metric(
            "last_success_timestamp_seconds",
            "Time of the last successful snapshot (or slot the change archive served).",
            "gauge",
            format!(
                "doppel_last_success_timestamp_seconds {}",
                f.last_success.map_or(0, |t| t.timestamp())
            ),
        );
        metric(
            "last_duration_seconds",
            "Wall time of the last successful snapshot.",
            "gauge",
            format!(
                "doppel_last_duration_seconds {:.3}",
                f.last_duration.as_secs_f64()
            ),
        );
        metric(
            "bytes_read_total",
            "Bytes read from sources.",
            "counter",
            format!("doppel_bytes_read_total {}", f.bytes_read_total),
        );
        metric(
            "bytes_stored_total",
            "Compressed bytes added to the repository.",
            "counter",
            format!("doppel_bytes_stored_total {}", f.bytes_stored_total),
        );
        metric(
            "snapshots_total",
            "Snapshots taken.",
            "counter",
            format!("doppel_snapshots_total {}", f.snapshots_total),
        );
        metric(
            "slots_served_by_archive_total",
            "Slots the running change archive served: no snapshot taken, every second restorable.",
            "counter",
            format!("doppel_slots_served_by_archive_total {}", f.served_total),
        );
        metric(
            "failures_total",
            "Failed snapshots and prunes.",
            "counter",
            format!("doppel_failures_total {}", f.failures_total),
        );
        metric(
            "lag_seconds",
            "How late the current slot started.",
            "gauge",
            format!(
                "doppel_lag_seconds {}",
                f.lag.num_milliseconds() as f64 / 1000.0
            ),
        );
        let mut tiers: Vec<String> = f
            .kept_by_tier
            .iter()
            .map(|(t, n)| format!("doppel_snapshots_kept{{tier=\"{t}\"}} {n}"))
            .collect();
        tiers.push(format!(
            "doppel_snapshots_kept{{tier=\"all\"}} {}",
            f.kept_total
        ));
        metric(
            "snapshots_kept",
            "Snapshots retention keeps, by tier.",
            "gauge",
            tiers.join("\n"),
        );
        if !f.archives.is_empty() {
            let each = |value: &dyn Fn(&ArchiveFigures) -> String| {
                f.archives
                    .iter()
                    .map(|(env, a)| format!("{{environment=\"{}\"}} {}", label(env), value(a)))
                    .collect::<Vec<_>>()
            };
            let lines = |name: &str, values: Vec<String>| {
                values
                    .into_iter()
                    .map(|v| format!("doppel_{name}{v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            metric(
                "changes_up",
                "Whether the change archive is running (0: stopped; /healthz says why).",
                "gauge",
                lines(
                    "changes_up",
                    each(&|a| u8::from(a.stopped.is_none()).to_string()),
                ),
            );
            metric(
                "changes_segments_total",
                "Change segments stored by this daemon.",
                "counter",
                lines("changes_segments_total", each(&|a| a.segments.to_string())),
            );
            metric(
                "changes_total",
                "Row changes archived by this daemon.",
                "counter",
                lines("changes_total", each(&|a| a.changes.to_string())),
            );
            metric(
                "changes_caught_up_timestamp_seconds",
                "Every change committed before this time is archived.",
                "gauge",
                lines(
                    "changes_caught_up_timestamp_seconds",
                    each(&|a| a.caught_up.map_or(0, |t| t.timestamp()).to_string()),
                ),
            );
        }
        s
    }
}
