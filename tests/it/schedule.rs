//! The scheduler daemon against a real cluster and a real repository, on a simulated clock:
//! a day of schedule in seconds, then the kept set must be exactly what the policy says.

use crate::common::*;
use chrono::{DateTime, TimeDelta, Utc};
use doppel::config::Config;
use doppel::repo::Repository;
use doppel::retention::{plan, SnapshotInfo, Tiers};
use doppel::schedule::run as schedule;
use doppel::schedule::{Clock, Metrics, SimulatedClock};
use doppel::store::LocalStore;
use std::io::Write;
use std::sync::Arc;

fn tiers() -> Tiers {
    Tiers::parse(&[
        "10m@1h".to_string(),
        "1h@6h".to_string(),
        "6h@1d".to_string(),
    ])
    .unwrap()
}

#[test]
fn a_simulated_day_keeps_what_the_policy_says() {
    let db = fresh_db(source(), "schedule");
    psql(
        source(),
        &db,
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g",
    );
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let end = start + TimeDelta::hours(20);
    let clock = Arc::new(SimulatedClock::new(start));
    let metrics = Arc::new(Metrics::new(start));
    let kept = rt.block_on(async {
        let repo = Arc::new(
            Repository::open_or_init(Arc::new(LocalStore::new(dir.path())), &Default::default())
                .await
                .unwrap(),
        );
        // The daemon the config describes, as `doppel schedule run` builds it.
        let config = Config::parse(
            &dir.path().join("doppel.toml"),
            &format!(
                "[repository]\npath = \"{}\"\n\n[environments.prod]\nrole = \"production\"\n\
                 url = \"${{PROD_URL}}\"\n\n[snapshot]\npg_bin = \"{}\"\n\n\
                 [retention]\ntiers = [\"10m@1h\", \"1h@6h\", \"6h@1d\"]\n",
                dir.path().display(),
                source().bin_dir().display()
            ),
            &|var| (var == "PROD_URL").then(|| source().url(&db)),
        )
        .unwrap();
        assert_eq!(config.retention, tiers());
        let snapshots = schedule::plan(&config, Some(1)).unwrap();
        let daemon = schedule::daemon(
            &config,
            snapshots,
            repo.clone(),
            clock.clone(),
            metrics.clone(),
        );
        daemon.run(std::future::pending(), Some(end)).await.unwrap();
        repo.manifests().await.unwrap()
    });
    // Every slot from start to end produced one snapshot at the slot's time.
    let slots: Vec<DateTime<Utc>> = (0..=120)
        .map(|i| start + TimeDelta::minutes(10 * i))
        .collect();
    assert!(
        metrics
            .render()
            .contains(&format!("doppel_snapshots_total {}", slots.len())),
        "{}",
        metrics.render()
    );
    // Every family the daemon exposes, the change archive's included, is valid Prometheus
    // text for promtool.
    metrics.served(end);
    metrics.archive_progress("prod", &doppel::changes::run::RunReport::default());
    metrics.archive_stopped("qa \"x\"", "its slot was dropped");
    promtool_check_metrics(&metrics.render());
    let all: Vec<SnapshotInfo> = slots
        .iter()
        .map(|t| SnapshotInfo {
            id: t.to_rfc3339(),
            series: "prod/raw".into(),
            time: *t,
            pinned: false,
            complete: true,
        })
        .collect();
    let expected: Vec<DateTime<Utc>> = plan(&tiers(), &all, clock.now())
        .decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.time)
        .collect();
    let mut got: Vec<DateTime<Utc>> = kept.iter().map(|m| m.time).collect();
    got.sort();
    assert_eq!(
        got, expected,
        "the repository keeps other snapshots than the policy"
    );
    assert!(
        got.len() < 25,
        "retention kept {} of {}",
        got.len(),
        slots.len()
    );
    // "As of T" within the bound: the covering tier's spacing beyond the best possible.
    let now = clock.now();
    // Inside both the history (it began at `start`) and the horizon.
    let mut t = start.max(now - TimeDelta::days(1));
    while t <= now {
        let age = now - t;
        let bound = if age <= TimeDelta::hours(1) {
            TimeDelta::minutes(10)
        } else if age <= TimeDelta::hours(6) {
            TimeDelta::hours(1)
        } else {
            TimeDelta::hours(6)
        };
        let best = got
            .iter()
            .filter(|s| **s <= t)
            .max()
            .expect("a snapshot at or before T");
        assert!(
            t - *best < bound + TimeDelta::minutes(10),
            "as of {t}: newest kept is {best}"
        );
        t += TimeDelta::minutes(7);
    }
    // Nothing is left over: no locks, no orphan chunks.
    assert!(
        std::fs::read_dir(dir.path().join("locks"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}

#[test]
fn health_fails_after_missed_spacings_and_metrics_are_prometheus_text() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let clock = Arc::new(SimulatedClock::new(start));
    let metrics = Arc::new(Metrics::new(start));
    rt.block_on(async {
        let state = doppel::schedule::http::HealthState {
            metrics: metrics.clone(),
            clock: clock.clone(),
            spacing: TimeDelta::minutes(1),
            max_missed: 3,
            page: None,
        };
        let (addr, server) = doppel::schedule::http::serve("127.0.0.1:0", state)
            .await
            .unwrap();
        let (ok, body) =
            tokio::task::spawn_blocking(move || (get(addr, "/healthz"), get(addr, "/metrics")))
                .await
                .unwrap();
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(
            body.contains("# TYPE doppel_failures_total counter")
                && body.contains("doppel_snapshots_total 0"),
            "{body}"
        );
        clock.sleep_until(start + TimeDelta::minutes(4)).await;
        let bad = tokio::task::spawn_blocking(move || get(addr, "/healthz"))
            .await
            .unwrap();
        assert!(
            bad.starts_with("HTTP/1.1 503") && bad.contains("no successful snapshot for 240s"),
            "{bad}"
        );
        server.abort();
    });
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let db = fresh_db(source(), "daemon");
    psql(
        source(),
        &db,
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g",
    );
    let ws = Workspace::with_source(&db);
    let config = ws.dir.path().join("doppel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[retention]\ntiers = [\"2s@1m\", \"1m@1h\"]\n");
    std::fs::write(&config, text).unwrap();
    let mut child = ws
        .command(&[
            "schedule",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "-v",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ws.repo_files("snapshots").len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon took no snapshot"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited early"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_no_secrets(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with('{') && l.contains("snapshot taken")),
        "no JSON log lines: {err}"
    );
    assert!(
        ws.repo_files("locks").is_empty(),
        "the daemon left its lock"
    );
    let listed = ws.ok(&["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(listed.as_array().unwrap().len() >= 2);
    // Whatever was in flight left no manifest behind: every listed snapshot restores.
    ws.ok(&[
        "restore",
        "latest",
        "--target-url",
        &target().url(&unique("after_daemon")),
    ]);
}

/// `promtool check metrics` on an exposition: it must pass without a lint.
fn promtool_check_metrics(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's prometheus package (it ships promtool)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    http_get(&addr.to_string(), path).expect("the daemon answers")
}
