//! The change archive end to end: `changes run` takes a base inside its slot and stores the
//! changes a writer makes; `restore --at T` at times between the writer's transactions
//! gives exactly the database as it was after the last transaction committed before T.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{
    database_state, fresh_db, http_get, logical, production_workspace, psql, target, unique,
    Workspace,
};

const SCHEMA: &str = r#"
CREATE TABLE accounts (id serial PRIMARY KEY, email text, balance numeric(12,2), meta jsonb,
                       note text);
CREATE TABLE events (at timestamptz, kind text, payload json);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE orders (id int, region text, amount int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
CREATE TABLE "Odd ""Name""" ("Key" text PRIMARY KEY, "v q" text);
CREATE TABLE lookup (code text, label text);
CREATE TABLE seats (id int PRIMARY KEY, holder text UNIQUE);
INSERT INTO seats VALUES (1, 'a'), (2, 'b');
INSERT INTO accounts (email, balance, note)
    SELECT 'u' || g || '@example.org', g, CASE WHEN g % 3 = 0 THEN '' END
    FROM generate_series(1, 50) g;
INSERT INTO events SELECT '2026-01-01', 'boot', '{"a": 1}' FROM generate_series(1, 5);
INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 10
    FROM generate_series(1, 20) g;
INSERT INTO lookup VALUES ('a', 'A');
"#;

/// The writer's transactions: inserts, updates (a key change, a move between partitions,
/// an unchanged TOAST value), deletes, truncates, a table without a primary key
/// (`REPLICA IDENTITY FULL`, duplicate rows), odd names and values, a large transaction.
const WRITES: &[&str] = &[
    "INSERT INTO accounts (email, balance) VALUES ('new@example.org', 1.5), (NULL, 0)",
    "UPDATE accounts SET balance = balance * 2 WHERE id % 5 = 0",
    "DELETE FROM accounts WHERE id IN (3, 4)",
    "UPDATE accounts SET id = -id WHERE id = 7",
    "INSERT INTO events VALUES (now(), 'tick', '[1, 2]'); UPDATE events SET kind = 'x' WHERE kind = 'boot' AND ctid = (SELECT min(ctid) FROM events WHERE kind = 'boot')",
    "DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE kind = 'boot')",
    "UPDATE orders SET region = 'eu' WHERE id = 1",
    "INSERT INTO \"Odd \"\"Name\"\"\" VALUES (E'tab\\there', E'quote''s \\\\ and\\nnewline'), ('', NULL)",
    "UPDATE accounts SET meta = '{\"k\": [1, 2]}', note = repeat('long text ', 4000) WHERE id = 10",
    "UPDATE accounts SET balance = balance + 1 WHERE id = 10",
    "TRUNCATE events",
    "INSERT INTO accounts (email) VALUES ('a@example.org'); DELETE FROM accounts WHERE email = 'a@example.org'",
    "INSERT INTO orders SELECT g, 'us', g FROM generate_series(1000, 3999) g",
    "UPDATE \"Odd \"\"Name\"\"\" SET \"v q\" = 'é ü 中' WHERE \"Key\" = ''",
    // Two seats trade holders in three transactions: applied as one set-based UPDATE, the
    // unique holder collides whatever the row order, and the replay goes change by change.
    "UPDATE seats SET holder = 'z' WHERE id = 1",
    "UPDATE seats SET holder = 'a' WHERE id = 2",
    "UPDATE seats SET holder = 'b' WHERE id = 1",
    "DELETE FROM orders WHERE id BETWEEN 1000 AND 1500",
    "INSERT INTO events VALUES (NULL, NULL, NULL), (NULL, NULL, NULL)",
    "DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE kind IS NULL)",
    "UPDATE lookup SET label = 'changed'",
];

/// The tables' content (sequences are compared apart: after a replay they are at least the
/// values the rows used, not equal).
fn tables_state(db: &str, cluster: &doppel::pg::cluster::Cluster) -> BTreeMap<String, String> {
    database_state(cluster, db)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("sequence ") && k != "large objects")
        .collect()
}

fn server_clock(db: &str) -> chrono::DateTime<chrono::Utc> {
    crate::common::server_clock(logical(), db)
        .parse()
        .expect("a time")
}

#[test]
fn restore_at_any_time_between_transactions_gives_the_state_then() {
    let db = fresh_db(logical(), "archive");
    psql(logical(), &db, SCHEMA);
    // Slots are the server's: each test has an environment (and so a slot) of its own.
    let ws = production_workspace(
        "archive_raw",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );

    ws.ok(&["changes", "setup"]);
    // The first run creates the slot and takes the base inside it.
    let first: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "run", "--once", "--json"])).unwrap();
    assert_eq!(first["started"], true, "{first}");
    assert_eq!(first["bases"].as_array().map(Vec::len), Some(1), "{first}");
    let slot = psql(
        logical(),
        &db,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'doppel_archive_raw'",
    );
    assert_eq!(slot, "1");

    // An archiver running while the writer writes is killed mid-way; the next run goes on.
    let mut running = ws.archiver(&["--poll", "0.05", "--max-changes", "40"]);
    // (time after the previous commit, state) for each point the writer passes.
    let mut points = vec![(server_clock(&db), tables_state(&db, logical()))];
    let write = |sql: &str, points: &mut Vec<_>| {
        std::thread::sleep(Duration::from_millis(30));
        psql(logical(), &db, &format!("BEGIN; {sql}; COMMIT;"));
        points.push((server_clock(&db), tables_state(&db, logical())));
    };
    let (first_half, second_half) = WRITES.split_at(WRITES.len() / 2);
    for sql in first_half {
        write(sql, &mut points);
    }
    running.kill().expect("kill -9 the archiver");
    running.wait().unwrap();
    for sql in second_half {
        write(sql, &mut points);
    }
    std::thread::sleep(Duration::from_millis(30));
    let end = server_clock(&db);
    // The archive vouches for times a little before it looked (a commit's time is taken just
    // before its record is written).
    std::thread::sleep(Duration::from_millis(300));
    let last: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "run", "--once", "--json"])).unwrap();
    assert_eq!(last["started"], false, "the archive goes on: {last}");
    let status: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
    let archive = &status["archive"];
    assert_eq!(archive["id"], first["archive"], "{status}");
    assert_eq!(
        archive["transactions"].as_u64(),
        Some(WRITES.len() as u64 - 1),
        "every archived transaction once, none twice: {status}"
    );
    assert!(archive["bytes"].as_u64().unwrap() > 0, "{status}");
    assert!(archive["ended"].is_null(), "{status}");

    // Every point, with T anywhere before the next transaction began.
    for (i, (after, expected)) in points.iter().enumerate() {
        let next = points.get(i + 1).map_or(end, |p| p.0);
        let gap = (next - *after).num_microseconds().unwrap().max(2);
        let t =
            *after + chrono::Duration::microseconds(gap / 3 + (i as i64 * 7919) % (gap / 3 + 1));
        let restored = unique("at");
        let out = ws.ok(&[
            "restore",
            "--at",
            &t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "--target-url",
            &target().url(&restored),
            "--json",
        ]);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        // The last transaction changes `lookup`, which has no replica identity: it is not
        // archived, the restore says so, and the table is as of the base.
        let archived = i.min(WRITES.len() - 1) as u64;
        assert_eq!(
            report["replay"]["transactions"].as_u64(),
            Some(archived),
            "point {i} replays the transactions before it: {report}"
        );
        // Set-based batches serve every point but those where the seats trade holders.
        let one_by_one = report["replay"]["batches_one_by_one"].as_u64();
        let traded = WRITES[..i.min(WRITES.len())]
            .iter()
            .any(|w| w.contains("holder = 'b'"));
        assert_eq!(one_by_one, Some(traded as u64), "point {i}: {report}");
        let warnings = report["warnings"].to_string();
        assert!(warnings.contains("public.lookup"), "{warnings}");
        let mut got = tables_state(&restored, target());
        let mut expected = expected.clone();
        assert_eq!(
            got.remove("public.lookup"),
            points[0].1.get("public.lookup").cloned(),
            "lookup is as of the base"
        );
        expected.remove("public.lookup");
        assert_eq!(got, expected, "restore at point {i} ({t})");
        // Sequences are at least what the rows used: inserting after a restore never collides.
        let max_id = psql(
            target(),
            &restored,
            "SELECT coalesce(max(id), 0) FROM accounts",
        );
        let seq = psql(
            target(),
            &restored,
            "SELECT last_value FROM accounts_id_seq",
        );
        assert!(
            seq.parse::<i64>().unwrap() >= max_id.parse::<i64>().unwrap(),
            "sequence {seq} behind max id {max_id} at point {i}"
        );
    }

    // Prune keeps the segments the kept base needs, and their chunks: the last point still
    // restores the same after it.
    let dry: serde_json::Value =
        serde_json::from_str(&ws.ok(&["prune", "--dry-run", "--json"])).unwrap();
    assert!(dry["segments_kept"].as_u64().unwrap() > 0, "{dry}");
    assert_eq!(dry["segments_deleted"], serde_json::json!([]), "{dry}");
    let decisions = dry["segments"].as_array().unwrap();
    assert!(
        decisions.iter().all(|d| d["keep"] == true
            && d["reason"]
                .as_str()
                .unwrap()
                .contains("serves restore points")),
        "{dry}"
    );
    ws.ok(&["prune"]);
    let restored = unique("after_prune");
    ws.ok(&[
        "restore",
        "--at",
        &end.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "--target-url",
        &target().url(&restored),
    ]);
    let mut got = tables_state(&restored, target());
    let mut expected = points.last().unwrap().1.clone();
    got.remove("public.lookup");
    expected.remove("public.lookup");
    assert_eq!(got, expected, "restore at the end after prune");
    // The slot is the server's: gone with teardown, the archive stays in the repository.
    ws.ok(&["changes", "teardown"]);
}

#[test]
fn archive_commands_refuse_what_they_cannot_do() {
    let db = fresh_db(logical(), "archive_refusals");
    psql(logical(), &db, "CREATE TABLE t (id int PRIMARY KEY)");
    let mut ws = Workspace::new(&[("plain", "production", "PROD_URL")]);
    ws.set("PROD_URL", &logical().url(&db));
    // changes = "none": run says what to set.
    let err = ws.fails(&["changes", "run", "--once"]);
    assert!(err.contains("changes = \"logical\""), "{err}");
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}changes = \"logical\"\n")).unwrap();
    // No publication yet: run says to run setup, and creates no slot.
    let err = ws.fails(&["changes", "run", "--once"]);
    assert!(err.contains("doppel changes setup"), "{err}");
    let slots = psql(
        logical(),
        &db,
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'doppel_plain'",
    );
    assert_eq!(slots, "0");
}

#[test]
fn an_anonymized_archive_restores_what_an_anonymized_snapshot_then_holds() {
    let db = fresh_db(logical(), "archive_anon");
    psql(logical(), &db, SCHEMA);
    let staging = unique("anon_at");
    let mut ws = Workspace::new(&[
        ("archive_anon", "production", "PROD_URL"),
        ("qa", "qa", "QA_URL"),
    ]);
    ws.set("PROD_URL", &logical().url(&db));
    ws.set("QA_URL", &target().url(&staging));
    ws.set("DOPPEL_ANON_KEY", "archive-anonymization-secret-0123456789");
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "url = \"${PROD_URL}\"\n",
        "url = \"${PROD_URL}\"\nchanges = \"logical\"\n",
    );
    std::fs::write(
        &config,
        format!("{text}\n[anonymization]\nkey_env = \"DOPPEL_ANON_KEY\"\n"),
    )
    .unwrap();
    let rules = ws.dir.path().join("rules");
    ws.ok(&[
        "rules",
        "scan",
        "--write",
        rules.join("suggested.toml").to_str().unwrap(),
    ]);
    let rules = rules.to_str().unwrap();
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once", "--rules", rules]);
    let mut archiver = ws.archiver(&["--rules", rules, "--poll", "0.05"]);
    // After each transaction: its time, then an anonymized snapshot of that moment.
    let mut points = Vec::new();
    for sql in &WRITES[..WRITES.len() - 1] {
        std::thread::sleep(Duration::from_millis(20));
        psql(logical(), &db, &format!("BEGIN; {sql}; COMMIT;"));
        std::thread::sleep(Duration::from_millis(30));
        let t = server_clock(&db).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        std::thread::sleep(Duration::from_millis(30));
        let snapshot: serde_json::Value =
            serde_json::from_str(&ws.ok(&["snapshot", "--rules", rules, "--json"])).unwrap();
        points.push((t, snapshot["id"].as_str().unwrap().to_string()));
    }
    archiver.kill().unwrap();
    archiver.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ws.ok(&["changes", "run", "--once", "--rules", rules]);

    // At each T: the newest base before it (the previous point's snapshot, the archive's own
    // first) and the transaction after that base, replayed through the rules, give the
    // anonymized snapshot of T.
    let restore_snapshot = |id: &str| {
        let whole = unique("anon_whole");
        ws.ok(&["restore", id, "--target-url", &target().url(&whole)]);
        whole
    };
    // (`--to qa`: an environment that receives anonymized data chooses from that series.)
    for (i, (t, id)) in points.iter().enumerate() {
        let out = ws.ok(&["restore", "--at", t, "--to", "qa", "--replace", "--json"]);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            report["replay"]["transactions"].as_u64(),
            Some(1),
            "point {i}: {report}"
        );
        if i > 0 {
            assert_eq!(report["snapshot"], points[i - 1].1.as_str(), "{report}");
        }
        assert_eq!(
            tables_state(&staging, target()),
            tables_state(&restore_snapshot(id), target()),
            "point {i}: the anonymized archive at T and the anonymized snapshot of T differ"
        );
    }
    let (t, last) = points.last().unwrap();
    let whole = restore_snapshot(last);
    assert_eq!(
        tables_state(&staging, target()),
        tables_state(&whole, target()),
        "the anonymized archive at T and the anonymized snapshot of T differ"
    );
    // The e-mails the writer inserted never reach the anonymized copy.
    let leaked = psql(
        target(),
        &staging,
        "SELECT count(*) FROM accounts WHERE email LIKE '%@example.org'",
    );
    assert_eq!(leaked, "0");
    // A drill at T recovers to T itself: RPO zero, the replay among its checks.
    let out = ws.ok(&["drill", "--at", t, "--to", "qa", "--json"]);
    let drill: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(drill["passed"], true, "{drill}");
    assert_eq!(drill["replay"]["transactions"].as_u64(), Some(1), "{drill}");
    assert_eq!(drill["rpo_s"].as_f64(), Some(0.0), "{drill}");
    assert!(
        drill["checks"]
            .to_string()
            .contains("change archive replay"),
        "{drill}"
    );
    assert_eq!(
        tables_state(&staging, target()),
        tables_state(&whole, target()),
        "the drill's copy differs from the anonymized snapshot of T"
    );
    ws.ok(&["changes", "teardown"]);
}

#[test]
fn past_the_lag_limit_the_slot_is_dropped_and_health_says_so() {
    let db = fresh_db(logical(), "archive_lag");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, pad text)",
    );
    let ws = production_workspace(
        "archive_lag",
        &logical().url(&db),
        "changes = \"logical\"\nchanges_max_lag = \"64kB\"\n",
    );
    ws.ok(&["changes", "setup"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // The daemon keeps the archive of the scheduled environment.
    let mut daemon = ws
        .command(&["schedule", "run", "--listen", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let slot_exists = || {
        psql(
            logical(),
            &db,
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'doppel_archive_lag'",
        ) == "1"
    };
    while !slot_exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Far more WAL than the 64 kB the slot may hold back.
    psql(
        logical(),
        &db,
        "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
    );
    let mut health = String::new();
    while std::time::Instant::now() < deadline {
        health = http_get(&addr, "/healthz").unwrap_or_default();
        if health.starts_with("HTTP/1.1 503") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = http_get(&addr, "/metrics").unwrap_or_default();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    daemon.wait().unwrap();
    assert!(
        health.starts_with("HTTP/1.1 503")
            && health.contains("change archive of archive_lag stopped")
            && health.contains("changes_max_lag"),
        "{health}"
    );
    assert!(
        metrics.contains("doppel_changes_up{environment=\"archive_lag\"} 0"),
        "{metrics}"
    );
    assert!(!slot_exists(), "the slot was not dropped");
    let status: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
    assert!(status["slot"].is_null(), "{status}");
    let reason = status["archive"]["ended"]["reason"].to_string();
    assert!(reason.contains("changes_max_lag"), "{status}");
    // Snapshots go on, whole.
    ws.snapshot();
}

#[test]
fn a_column_added_while_archiving_takes_a_new_base_and_stops_an_anonymized_archive() {
    let db = fresh_db(logical(), "archive_ddl");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a')",
    );
    let mut ws = production_workspace(
        "archive_ddl",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    std::thread::sleep(Duration::from_millis(30));
    psql(logical(), &db, "INSERT INTO t VALUES (2, 'b')");
    let before_change = tables_state(&db, logical());
    std::thread::sleep(Duration::from_millis(30));
    let t1 = server_clock(&db);
    psql(
        logical(),
        &db,
        "ALTER TABLE t ADD COLUMN extra int; INSERT INTO t VALUES (3, 'c', 7)",
    );
    std::thread::sleep(Duration::from_millis(30));
    let t2 = server_clock(&db);
    std::thread::sleep(Duration::from_millis(300));
    let run: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "run", "--once", "--json"])).unwrap();
    assert_eq!(
        run["bases"].as_array().map(Vec::len),
        Some(1),
        "a new base after the schema change: {run}"
    );
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // Before the change: the first base and the insert.
    let restored = unique("ddl_before");
    ws.ok(&[
        "restore",
        "--at",
        &at(t1),
        "--target-url",
        &target().url(&restored),
    ]);
    assert_eq!(tables_state(&restored, target()), before_change);
    // Between the change and the new base: refused, with what to do.
    let err = ws.fails(&[
        "restore",
        "--at",
        &at(t2),
        "--target-url",
        &target().url(&unique("ddl_between")),
    ]);
    assert!(
        err.contains("changed shape") && err.contains("public.t"),
        "{err}"
    );
    // After the new base: all of it.
    std::thread::sleep(Duration::from_millis(30));
    let restored = unique("ddl_after");
    ws.ok(&[
        "restore",
        "--at",
        &at(server_clock(&db)),
        "--target-url",
        &target().url(&restored),
    ]);
    assert_eq!(
        tables_state(&restored, target()),
        tables_state(&db, logical())
    );

    // Anonymized: rules written before the column existed stop the archive, naming it.
    ws.set("DOPPEL_ANON_KEY", "archive-anonymization-secret-0123456789");
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[anonymization]\nkey_env = \"DOPPEL_ANON_KEY\"\n"),
    )
    .unwrap();
    psql(logical(), &db, "ALTER TABLE t DROP COLUMN extra");
    let rules = ws.dir.path().join("rules");
    ws.ok(&[
        "rules",
        "scan",
        "--write",
        rules.join("suggested.toml").to_str().unwrap(),
    ]);
    let rules = rules.to_str().unwrap();
    ws.ok(&["changes", "run", "--once", "--rules", rules]);
    psql(
        logical(),
        &db,
        "ALTER TABLE t ADD COLUMN email text; INSERT INTO t VALUES (4, 'd', 'x@example.org')",
    );
    let err = ws.fails(&["changes", "run", "--once", "--rules", rules]);
    assert!(err.contains("email"), "{err}");
    assert!(!err.contains("x@example.org"), "{err}");
    ws.ok(&["changes", "teardown"]);
}

#[test]
fn while_the_archive_runs_a_snapshot_reads_only_the_tables_that_changed() {
    let db = fresh_db(logical(), "archive_incr");
    psql(
        logical(),
        &db,
        "CREATE TABLE big (id int PRIMARY KEY, pad text); \
         INSERT INTO big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g; \
         CREATE TABLE small (id int PRIMARY KEY, v int); INSERT INTO small VALUES (1, 1), (2, 2); \
         CREATE TABLE keyless (v text); INSERT INTO keyless VALUES ('x')",
    );
    let ws = production_workspace(
        "archive_incr",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );
    ws.ok(&["changes", "setup"]);
    let mut archiver = ws.archiver(&["--poll", "0.05"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ws.repo_files("snapshots").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    psql(
        logical(),
        &db,
        "UPDATE small SET v = v + 10 WHERE id = 1; UPDATE keyless SET v = 'y'",
    );
    let id = ws.snapshot();
    archiver.kill().unwrap();
    archiver.wait().unwrap();

    let listed: serde_json::Value = serde_json::from_str(&ws.ok(&["list", "--json"])).unwrap();
    let base = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .find(|s| *s != id)
        .expect("the archive's base");
    let (base, point) = (ws.manifest(&base), ws.manifest(&id));
    let entry = |m: &serde_json::Value, name: &str| {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    // The untouched table is the base's entry, chunk for chunk; the changed ones were read.
    assert_eq!(entry(&point, "big"), entry(&base, "big"));
    assert_ne!(
        entry(&point, "small")["digest"],
        entry(&base, "small")["digest"]
    );
    assert_ne!(
        entry(&point, "keyless")["digest"],
        entry(&base, "keyless")["digest"]
    );
    let read = |m: &serde_json::Value| m["stats"]["bytes_read"].as_u64().unwrap();
    assert!(
        read(&point) * 10 < read(&base),
        "the point read {} bytes, the base {}",
        read(&point),
        read(&base)
    );
    // And it restores to the source as it is, verified table by table.
    let restored = ws.restore_verified(&id, "incr");
    assert_eq!(
        tables_state(&restored, target()),
        tables_state(&db, logical())
    );
    ws.ok(&["changes", "teardown"]);
}

/// A `changes run --once` goes on with the same archive, which then holds `transactions`
/// transactions: none lost, none stored twice.
fn resumes_storing_each_once(ws: &Workspace, transactions: u64) {
    let run: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "run", "--once", "--json"])).unwrap();
    assert_eq!(run["started"], false, "the same archive goes on: {run}");
    let status: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
    assert_eq!(
        status["archive"]["transactions"].as_u64(),
        Some(transactions),
        "every transaction stored exactly once: {status}"
    );
}

#[test]
fn a_cut_connection_loses_nothing_and_the_archive_goes_on() {
    let db = fresh_db(logical(), "archive_cut");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
    );
    let ws = production_workspace(
        "archive_cut",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    let mut archiver = ws
        .command(&["changes", "run", "--poll", "0.02", "--max-changes", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start changes run");
    let mut writes = 0;
    for i in 0..40 {
        psql(
            logical(),
            &db,
            &format!(
                "INSERT INTO t SELECT g, 'r{i}' FROM generate_series({0}, {0} + 9) g",
                i * 10
            ),
        );
        writes += 1;
        if i == 20 {
            // The server ends every other session on the database: the archiver's too.
            psql(
                logical(),
                &db,
                "SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            );
        }
    }
    // Without its connection the archiver stops with an error (the daemon retries).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while archiver.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = archiver.try_wait().unwrap();
    if status.is_none() {
        archiver.kill().unwrap();
    }
    let out = archiver.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "the archiver should have lost its connection"
    );
    std::thread::sleep(Duration::from_millis(300));
    resumes_storing_each_once(&ws, writes);
    let restored = unique("after_cut");
    ws.ok(&[
        "restore",
        "--at",
        &server_clock(&db).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "--target-url",
        &target().url(&restored),
    ]);
    assert_eq!(
        tables_state(&restored, target()),
        tables_state(&db, logical())
    );
    ws.ok(&["changes", "teardown"]);
}

#[test]
fn a_server_crash_loses_nothing_and_the_archive_goes_on() {
    // A server of its own: this one crashes.
    let setting = |name: &str, value: &str| (name.to_string(), value.to_string());
    let pg = doppel::pg::cluster::Cluster::start(doppel::pg::cluster::ClusterOptions {
        extra_conf: vec![
            setting("wal_level", "logical"),
            setting("max_wal_senders", "4"),
            setting("max_replication_slots", "4"),
        ],
        ..Default::default()
    })
    .expect("start a PostgreSQL test cluster");
    crate::common::watch_password(pg.password());
    let db = fresh_db(&pg, "crash");
    psql(&pg, &db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    let ws = production_workspace("archive_crash", &pg.url(&db), "changes = \"logical\"\n");
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    let write = |from: i32| {
        for i in from..from + 10 {
            psql(&pg, &db, &format!("INSERT INTO t VALUES ({i}, 'v{i}')"));
        }
    };
    write(0);
    std::thread::sleep(Duration::from_millis(300));
    ws.ok(&["changes", "run", "--once"]);
    // No checkpoint since the slot was advanced: after the crash it is back where it was.
    pg.crash_and_restart()
        .expect("crash and restart the server");
    write(10);
    std::thread::sleep(Duration::from_millis(300));
    resumes_storing_each_once(&ws, 20);
    let restored = unique("after_crash");
    ws.ok(&[
        "restore",
        "--at",
        &psql(&pg, &db, "SELECT to_char((clock_timestamp() - interval '150 milliseconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"),
        "--target-url",
        &target().url(&restored),
    ]);
    assert_eq!(tables_state(&restored, target()), tables_state(&db, &pg));
    ws.ok(&["changes", "teardown"]);
    pg.stop().expect("stop the test cluster");
}
