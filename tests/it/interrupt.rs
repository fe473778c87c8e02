//! SIGINT/SIGTERM during a snapshot: no manifest, a clear message, the next snapshot works,
//! and the orphan chunks are left for pruning.

use crate::common::*;
use std::time::{Duration, Instant};

fn interrupt_with(signal: &str) {
    let db = fresh_db(source(), "interrupt");
    psql(
        source(),
        &db,
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g + 1)::text) || md5((g * 3)::text) AS payload FROM generate_series(1, 1500000) g",
    );
    let ws = Workspace::with_source(&db);
    let mut child = ws
        .command(&["snapshot", "-j", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start snapshot");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ws.repo_files("packs").is_empty() {
        assert!(Instant::now() < deadline, "the snapshot wrote no chunks");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the snapshot finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_no_secrets(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!("interrupted: SIG{signal}")) && err.contains("doppel prune"),
        "{err}"
    );
    assert!(
        ws.repo_files("snapshots").is_empty(),
        "an interrupted snapshot left a manifest"
    );
    assert!(!ws.repo_files("packs").is_empty());
    assert!(ws.ok(&["list"]).contains("no snapshots"));

    let id = ws.snapshot();
    let m = ws.manifest(&id);
    assert_eq!(m["tables"][0]["rows"], 1500000);
    let restored = unique("after_interrupt");
    ws.ok(&["restore", &id, "--target-url", &target().url(&restored)]);
    assert_eq!(
        psql(target(), &restored, "SELECT count(*) FROM big"),
        "1500000"
    );
}

#[test]
fn sigterm_during_a_snapshot_records_nothing() {
    interrupt_with("TERM");
}

#[test]
fn sigint_during_a_snapshot_records_nothing() {
    interrupt_with("INT");
}
