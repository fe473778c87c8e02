//! The scheduler with a running change archive: base snapshots every `changes_base_every`,
//! and the slots between served by the archive (no snapshot, every second restorable).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use doppel::config::Config;

use crate::common::{
    fresh_db, logical, production_workspace, psql, server_clock, simulated_daemon, target, unique,
};

#[test]
fn between_base_snapshots_the_running_archive_serves_the_slots() {
    let db = fresh_db(logical(), "served");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')",
    );
    let url = logical().url(&db);
    let ws = production_workspace(
        "archive_served",
        &url,
        "changes = \"logical\"\nchanges_base_every = \"5m\"\n",
    );
    ws.ok(&["changes", "setup"]);
    // The daemon the config describes, as `doppel schedule run` builds it, on a simulated
    // clock with a slot every minute.
    let path = ws.dir.path().join("doppel.toml");
    let text = format!(
        "{}\n[snapshot]\npg_bin = \"{}\"\n\n[retention]\ntiers = [\"1m@1h\", \"5m@1d\"]\n",
        std::fs::read_to_string(&path).unwrap(),
        logical().bin_dir().display()
    );
    let config = Config::parse(&path, &text, &|var| {
        (var == "PROD_URL").then(|| url.clone())
    })
    .expect("config");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run_daemon = |from: DateTime<Utc>, minutes: i64| {
        rt.block_on(async {
            simulated_daemon(&config, from, from + TimeDelta::minutes(minutes))
                .await
                .render()
        })
    };
    let start: DateTime<Utc> = "2030-01-01T00:01:00Z".parse().unwrap();

    // No archive runs yet: every slot takes its snapshot.
    let before = run_daemon(start, 2);
    assert!(before.contains("doppel_snapshots_total 3\n"), "{before}");
    assert!(
        before.contains("doppel_slots_served_by_archive_total 0\n"),
        "{before}"
    );

    // With the archive running, a base at each multiple of 5 minutes; the slots between are
    // served by the archive.
    let mut archiver = ws.archiver(&["--poll", "0.05"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status: serde_json::Value =
            serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
        if !status["archive"]["caught_up"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the archive never caught up: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let during = run_daemon(start + TimeDelta::minutes(9), 9);
    // Slots 00:10 to 00:19: bases at 00:10 and 00:15, eight slots served.
    assert!(during.contains("doppel_snapshots_total 2\n"), "{during}");
    assert!(
        during.contains("doppel_slots_served_by_archive_total 8\n"),
        "{during}"
    );
    assert!(during.contains("doppel_failures_total 0\n"), "{during}");

    // Any second since is restorable: a change made now is in a restore at now.
    psql(logical(), &db, "UPDATE t SET v = 'b' WHERE id = 1");
    std::thread::sleep(Duration::from_millis(300));
    let now = server_clock(logical(), &db);
    std::thread::sleep(Duration::from_secs(3));
    let restored = unique("served");
    ws.ok(&[
        "restore",
        "--at",
        now.trim(),
        "--target-url",
        &target().url(&restored),
    ]);
    assert_eq!(
        psql(target(), &restored, "SELECT v FROM t WHERE id = 1"),
        "b"
    );

    // The archive ended (here: its slot torn down): every slot takes its snapshot again.
    archiver.kill().unwrap();
    archiver.wait().unwrap();
    ws.ok(&["changes", "teardown"]);
    let status: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
    assert!(
        status["archive"]["ended"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("teardown")),
        "{status}"
    );
    let after = run_daemon(start + TimeDelta::minutes(21), 2);
    assert!(after.contains("doppel_snapshots_total 3\n"), "{after}");
}

#[test]
fn after_a_run_with_once_snapshots_do_not_wait_for_the_archive() {
    let db = fresh_db(logical(), "paused");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    );
    let ws = production_workspace(
        "archive_paused",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    psql(logical(), &db, "INSERT INTO t VALUES (2)");
    // Nothing reads the slot now (as between two cron runs): the snapshot reads every table
    // at once instead of waiting for an archive that will not come.
    let out = ws.run(&["-v", "snapshot"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("the change archive is not running"), "{log}");
    // The next run goes on with the same archive and stores the insert.
    let run: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "run", "--once", "--json"])).unwrap();
    assert_eq!(run["started"], false, "{run}");
    assert_eq!(run["transactions"], 1, "{run}");
    ws.ok(&["changes", "teardown"]);
}
