//! `prune`, `pin`, `unpin`: retention applied to a real repository, garbage collected, and
//! every snapshot that remains still restores.

use crate::common::*;

fn with_tiers(ws: &Workspace, tiers: &str) {
    let config = ws.dir.path().join("doppel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[retention]\ntiers = {tiers}\n"));
    std::fs::write(&config, text).unwrap();
}

fn listed(ws: &Workspace) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&ws.ok(&["list", "--json"])).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prune_keeps_the_oldest_per_bucket_the_newest_and_pins_then_sweeps_orphans() {
    let db = fresh_db(source(), "prune");
    psql(source(), &db, "CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    let ws = Workspace::with_source(&db);
    // One bucket a day: of snapshots taken minutes apart, the oldest and the newest stay.
    with_tiers(&ws, "[\"1d@30d\"]");
    let first = ws.snapshot();
    let mut middle = Vec::new();
    for i in 0..3 {
        psql(
            source(),
            &db,
            &format!("UPDATE t SET v = 'changed {i}' WHERE id % 50 = {i}"),
        );
        middle.push(ws.snapshot());
    }
    let last = middle.pop().unwrap();
    ws.ok(&["pin", &middle[0], "--reason", "incident 42"]);
    // An interrupted snapshot's leftovers: a pack no index names.
    let orphan = ws.repo().join("packs/00/00orphan");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"leftover").unwrap();

    let dry = ws.ok(&["prune", "--dry-run"]);
    for id in [&first, &middle[0], &middle[1], &last] {
        assert!(
            dry.contains(id.as_str()),
            "dry run does not show {id}: {dry}"
        );
    }
    assert!(dry.to_lowercase().contains("pinned"), "{dry}");
    assert_eq!(listed(&ws).len(), 4, "a dry run deleted something");
    assert!(orphan.exists());

    let out = ws.ok(&["prune"]);
    let left = listed(&ws);
    let crossed_midnight = first[..8] != last[..8];
    if !crossed_midnight {
        assert_eq!(
            left,
            vec![first.clone(), middle[0].clone(), last.clone()],
            "{out}"
        );
    }
    assert!(
        left.contains(&first) && left.contains(&last) && left.contains(&middle[0]),
        "{out}"
    );
    assert!(!orphan.exists(), "the orphan pack was not swept");
    for id in &left {
        ws.ok(&[
            "restore",
            id,
            "--target-url",
            &target().url(&unique("pruned")),
            "--verify",
            "full",
        ]);
    }
    // Pruning again changes nothing.
    ws.ok(&["prune"]);
    assert_eq!(listed(&ws), left);

    ws.ok(&["unpin", &middle[0]]);
    let err = ws.fails(&["unpin", &middle[0]]);
    assert!(err.contains("not pinned"), "{err}");
}

#[test]
fn prune_waits_for_a_running_snapshot() {
    let db = fresh_db(source(), "prune_lock");
    psql(source(), &db, "CREATE TABLE t AS SELECT 1 AS x");
    let ws = Workspace::with_source(&db);
    ws.snapshot();
    // A live snapshot's shared lock: this test process is alive on this host.
    let lock = serde_json::json!({
        "kind": "shared", "host": doppel::repo::lock::hostname(), "pid": std::process::id(),
        "created": chrono::Utc::now(), "refreshed": chrono::Utc::now()
    });
    std::fs::create_dir_all(ws.repo().join("locks")).unwrap();
    std::fs::write(ws.repo().join("locks/live.json"), lock.to_string()).unwrap();
    let err = ws.fails(&["prune"]);
    assert!(err.contains("busy") && err.contains("shared lock"), "{err}");
    // A dead process's lock is stale: reported, ignored, removed.
    let stale = serde_json::json!({
        "kind": "shared", "host": doppel::repo::lock::hostname(), "pid": 999_999_999u32,
        "created": chrono::Utc::now(), "refreshed": chrono::Utc::now()
    });
    std::fs::write(ws.repo().join("locks/live.json"), stale.to_string()).unwrap();
    let out = ws.ok(&["prune"]);
    assert!(out.contains("removed 1 stale lock"), "{out}");
}

#[test]
fn bad_tiers_are_refused_before_anything_is_deleted() {
    let db = fresh_db(source(), "prune_bad");
    psql(source(), &db, "CREATE TABLE t AS SELECT 1 AS x");
    let ws = Workspace::with_source(&db);
    ws.snapshot();
    for bad in [
        "[]",
        "[\"5m@1h\", \"1m@2h\"]",
        "[\"1h@10m\"]",
        "[\"often@1h\"]",
    ] {
        let cfg = ws.dir.path().join("doppel.toml");
        let original = std::fs::read_to_string(&cfg).unwrap();
        with_tiers(&ws, bad);
        let err = ws.fails(&["prune"]);
        assert!(err.contains("retention.tiers"), "{bad}: {err}");
        std::fs::write(&cfg, original).unwrap();
        assert_eq!(listed(&ws).len(), 1);
    }
}
