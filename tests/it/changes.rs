//! The change archive's server side: `changes setup`, `status` and `teardown` against a
//! server with `wal_level = logical`, and what setup says on a server that cannot hold it.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    fresh_db, logical, production_workspace as workspace, psql, source, watch_password,
};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn tables(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|t| {
            // An unidentified table's entry holds the name under `table`.
            let t = t.get("table").unwrap_or(t);
            format!(
                "{}.{}",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// doppel's slot and publication for `env` as the server lists them.
fn server_objects(env: &str, db: &str) -> String {
    let sql = format!(
        "SELECT coalesce((SELECT string_agg(slot_name || ' ' || plugin || ' ' || slot_type || ' ' \
         || database || ' ' || restart_lsn, ',') FROM pg_replication_slots \
         WHERE slot_name = 'doppel_{env}'), 'no slot') || ' | ' || \
         coalesce((SELECT string_agg(schemaname || '.' || tablename, ',' \
         ORDER BY schemaname, tablename) \
         FROM pg_publication_tables WHERE pubname = 'doppel_{env}'), 'no tables') || ' | ' || \
         (SELECT count(*) FROM pg_publication WHERE pubname = 'doppel_{env}')"
    );
    psql(logical(), db, &sql)
}

/// The slot archiving creates when it starts, as `pg_create_logical_replication_slot` does.
fn create_slot(db: &str, env: &str) {
    psql(
        logical(),
        db,
        &format!("SELECT 1 FROM pg_create_logical_replication_slot('doppel_{env}', 'pgoutput')"),
    );
}

const SCHEMA: &str = "CREATE TABLE orders (id int PRIMARY KEY, note text); \
     CREATE TABLE audit (id int, note text); ALTER TABLE audit REPLICA IDENTITY FULL; \
     CREATE TABLE log (at timestamptz, msg text); \
     CREATE TABLE quiet (id int PRIMARY KEY); ALTER TABLE quiet REPLICA IDENTITY NOTHING; \
     INSERT INTO log VALUES (now(), 'a'); INSERT INTO quiet VALUES (1);";

#[test]
fn setup_status_teardown_on_a_logical_server() {
    let db = fresh_db(logical(), "changes");
    psql(logical(), &db, SCHEMA);
    let ws = workspace("shop", &logical().url(&db), "changes = \"logical\"\n");

    let setup = json(&ws.ok(&["changes", "setup", "--json"]));
    assert_eq!(setup["environment"], "shop");
    assert_eq!(setup["name"], "doppel_shop");
    assert_eq!(setup["publication_created"], true);
    // No slot yet: nothing holds back WAL before archiving starts.
    assert!(setup["slot"].is_null(), "{setup}");
    assert!(
        server_objects("shop", &db).starts_with("no slot | public.audit,public.orders | 1"),
        "{}",
        server_objects("shop", &db)
    );
    // Archiving starts by creating the slot (with its base snapshot).
    create_slot(&db, "shop");
    assert_eq!(
        tables(&setup["published"]),
        ["public.audit", "public.orders"]
    );
    assert_eq!(
        tables(&setup["unidentified"]),
        ["public.log", "public.quiet"]
    );
    let created = server_objects("shop", &db);
    assert!(
        created.starts_with(&format!("doppel_shop pgoutput logical {db} ")),
        "{created}"
    );
    assert!(
        created.ends_with("| public.audit,public.orders | 1"),
        "{created}"
    );
    // The tables left out of the publication are still written to as before.
    psql(
        logical(),
        &db,
        "UPDATE log SET msg = 'b'; DELETE FROM quiet; UPDATE orders SET note = 'n'",
    );

    let status = json(&ws.ok(&["changes", "status", "--json"]));
    assert_eq!(status["changes"], "logical");
    assert_eq!(status["wal_level"], "logical");
    let slot = &status["slot"];
    assert_eq!(
        (&slot["plugin"], &slot["active"]),
        (&"pgoutput".into(), &false.into())
    );
    assert!(slot["restart_lsn"].is_string(), "{slot}");
    assert!(slot["retained_bytes"].as_i64().unwrap() >= 0, "{slot}");
    assert_eq!(slot["wal_status"], "reserved");
    assert_eq!(status["max_lag_bytes"], 4u64 << 30);
    assert_eq!(status["over_max_lag"], false);
    assert_eq!(
        tables(&status["publication"]["tables"]),
        ["public.audit", "public.orders"]
    );
    assert_eq!(
        tables(&status["unidentified"]),
        ["public.log", "public.quiet"]
    );
    let text = ws.ok(&["changes", "status"]);
    for want in [
        "replication slot doppel_shop: logical pgoutput, inactive",
        "cannot be archived row by row; read whole at each snapshot",
        "public.log (no primary key, REPLICA IDENTITY DEFAULT)",
        "public.quiet (REPLICA IDENTITY NOTHING)",
    ] {
        assert!(text.contains(want), "want `{want}` in:\n{text}");
    }

    // A second setup finds everything in place and changes nothing.
    let again = json(&ws.ok(&["changes", "setup", "--json"]));
    assert_eq!(again["slot"]["plugin"], "pgoutput");
    assert_eq!(again["publication_created"], false);
    assert_eq!(again["tables_added"], Value::Array(vec![]));
    assert_eq!(server_objects("shop", &db), created);
    assert!(ws.ok(&["changes", "setup"]).contains("exists, unchanged"));

    // A table created since is added by the next setup.
    psql(logical(), &db, "CREATE TABLE later (id int PRIMARY KEY)");
    let added = json(&ws.ok(&["changes", "setup", "--json"]));
    assert_eq!(tables(&added["tables_added"]), ["public.later"]);

    let down = json(&ws.ok(&["changes", "teardown", "--json"]));
    assert_eq!(
        (&down["slot_dropped"], &down["publication_dropped"]),
        (&true.into(), &true.into())
    );
    assert_eq!(server_objects("shop", &db), "no slot | no tables | 0");
    let again = json(&ws.ok(&["changes", "teardown", "--json"]));
    assert_eq!(
        (&again["slot_dropped"], &again["publication_dropped"]),
        (&false.into(), &false.into())
    );
    let status = json(&ws.ok(&["changes", "status", "--json"]));
    assert!(
        status["slot"].is_null() && status["publication"].is_null(),
        "{status}"
    );
}

/// Streams from the slot with pg_recvlogical until killed.
fn stream(db: &str) -> Child {
    logical()
        .client_command("pg_recvlogical")
        .args(["--slot", "doppel_busy", "--start", "-f", "/dev/null"])
        .args([
            "-o",
            "proto_version=1",
            "-o",
            "publication_names=doppel_busy",
        ])
        .args(["-d", db])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pg_recvlogical")
}

#[test]
fn teardown_refuses_an_active_slot() {
    let db = fresh_db(logical(), "changes_active");
    psql(logical(), &db, SCHEMA);
    let ws = workspace("busy", &logical().url(&db), "changes = \"logical\"\n");
    ws.ok(&["changes", "setup"]);
    create_slot(&db, "busy");
    let mut reader = stream(&db);
    let started = Instant::now();
    while psql(
        logical(),
        &db,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'doppel_busy'",
    ) != "t"
    {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = reader.kill();
            let out = reader.wait_with_output().expect("pg_recvlogical");
            panic!(
                "the slot never became active: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ws.run(&["changes", "teardown"]);
    let _ = reader.kill();
    let _ = reader.wait();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("replication slot doppel_busy is active")
            && err.contains("Nothing was dropped"),
        "{err}"
    );
    assert!(server_objects("busy", &db).starts_with("doppel_busy pgoutput"));
    // Once the reader is gone the slot is released (the server needs a moment to notice).
    let started = Instant::now();
    loop {
        let out = ws.run(&["changes", "teardown"]);
        if out.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "teardown kept failing"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(server_objects("busy", &db), "no slot | no tables | 0");
}

#[test]
fn setup_says_everything_the_server_lacks_and_creates_nothing() {
    // The ordinary test cluster runs with wal_level = minimal and no WAL senders.
    let db = fresh_db(source(), "changes_plain");
    psql(source(), &db, "CREATE TABLE t (id int PRIMARY KEY)");
    let ws = workspace("plain", &source().url(&db), "changes = \"logical\"\n");
    let out = ws.run(&["changes", "setup"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "nothing was created",
        "wal_level = logical (it is minimal)",
        "ALTER SYSTEM SET wal_level = logical",
        "restart the server",
        "max_wal_senders",
    ] {
        assert!(err.contains(want), "want `{want}` in: {err}");
    }
    assert_eq!(
        psql(
            source(),
            &db,
            "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)"
        ),
        "0"
    );

    // A role without REPLICATION nor CREATE on the database is told what to grant.
    let db = fresh_db(logical(), "changes_role");
    let password = format!("pw{}", std::process::id());
    watch_password(&password);
    let role = db.replace("changes_role", "app");
    psql(
        logical(),
        &db,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; \
             REVOKE CREATE ON DATABASE {db} FROM PUBLIC; \
             CREATE TABLE t (id int PRIMARY KEY); ALTER TABLE t OWNER TO {role}"
        ),
    );
    let url = logical().url(&db).replacen(
        &format!("postgres:{}", logical().password()),
        &format!("{role}:{password}"),
        1,
    );
    let ws = workspace("limited", &url, "changes = \"logical\"\n");
    let err = ws.fails(&["changes", "setup"]);
    for want in [
        format!("ALTER ROLE \"{role}\" WITH REPLICATION"),
        format!("GRANT CREATE ON DATABASE \"{db}\" TO \"{role}\""),
    ] {
        assert!(err.contains(&want), "want `{want}` in: {err}");
    }
    assert!(!err.contains("wal_level"), "{err}");
    assert_eq!(server_objects("limited", &db), "no slot | no tables | 0");

    // Without changes = "logical" in its section, setup is refused before connecting.
    let ws = workspace("limited", &logical().url(&db), "");
    let err = ws.fails(&["changes", "setup"]);
    assert!(err.contains("set changes = \"logical\""), "{err}");
}

#[test]
fn a_bad_changes_setting_is_pointed_at() {
    let ws = workspace(
        "prod",
        "postgresql://nobody@127.0.0.1:1/none",
        "changes = \"logicl\"\n",
    );
    let err = ws.fails(&["changes", "status"]);
    assert!(err.contains("doppel.toml:7:11:"), "{err}");
    assert!(err.contains("unknown variant `logicl`"), "{err}");
}
