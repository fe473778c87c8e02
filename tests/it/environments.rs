//! Restores as environments see them: as of a time, within each environment's data policy,
//! behind the production guards, neutralized after loading, and reset from a pristine copy.

use crate::common::*;

/// A workspace whose config is `envs` (TOML sections for environments), prod pointing at a
/// fresh source database with a small table; returns it with the database name.
fn workspace(prefix: &str, envs: &str) -> (Workspace, String) {
    let db = fresh_db(source(), prefix);
    psql(
        source(),
        &db,
        "CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL); \
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g",
    );
    let ws = Workspace::new(&[]);
    let text = format!(
        "[repository]\npath = \"repo\"\n\n[environments.prod]\nrole = \"production\"\n\
         url = \"${{PROD_URL}}\"\n{envs}"
    );
    std::fs::write(ws.dir.path().join("doppel.toml"), text).unwrap();
    let mut ws = ws;
    ws.set("PROD_URL", &source().url(&db));
    (ws, db)
}

fn count(db: &str) -> String {
    psql(target(), db, "SELECT count(*) FROM items")
}

#[test]
fn restore_as_of_t_picks_the_newest_snapshot_taken_at_or_before_it() {
    let copy = unique("asof_copy");
    let (mut ws, db) = workspace(
        "asof",
        "[environments.copy]\nrole = \"prod-copy\"\nurl = \"${COPY_URL}\"\n",
    );
    ws.set("COPY_URL", &target().url(&copy));
    let first = ws.snapshot();
    let first_time = ws.manifest(&first)["time"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    psql(source(), &db, "DELETE FROM items WHERE id > 60");
    let second = ws.snapshot();

    // T between the two snapshots: the first one, and the output says how stale it is.
    let t = chrono::DateTime::parse_from_rfc3339(&first_time).unwrap()
        + chrono::Duration::milliseconds(500);
    let out = ws.ok(&["restore", "--at", &t.to_rfc3339(), "--to", "copy"]);
    assert!(out.contains(&format!("snapshot {first}")), "{out}");
    assert!(out.contains("before T"), "{out}");
    assert_eq!(count(&copy), "100");
    // Now (relative): the second.
    let out = ws.ok(&["restore", "--at", "-0m", "--to", "copy", "--replace"]);
    assert!(out.contains(&format!("snapshot {second}")), "{out}");
    assert_eq!(count(&copy), "60");
    // Before any snapshot: refused, saying how far back the repository reaches.
    let err = ws.fails(&[
        "restore",
        "--at",
        "2001-01-01 00:00",
        "--to",
        "copy",
        "--replace",
    ]);
    assert!(err.contains("no snapshot is old enough"), "{err}");
    let err = ws.fails(&["restore", "--at", "next tuesday", "--to", "copy"]);
    assert!(
        err.contains("cannot read the time") && err.contains("1d ago"),
        "{err}"
    );
    // Staging takes anonymized snapshots only: there is none, so --at finds nothing.
    ws.set("STAGING_URL", &target().url(&unique("asof_staging")));
    let mut text = std::fs::read_to_string(ws.dir.path().join("doppel.toml")).unwrap();
    text.push_str("[environments.staging]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\n");
    std::fs::write(ws.dir.path().join("doppel.toml"), text).unwrap();
    let err = ws.fails(&["restore", "--at", "now", "--to", "staging"]);
    assert!(err.contains("anonymized snapshots of prod"), "{err}");
}

#[test]
fn raw_snapshots_never_reach_an_anonymized_environment() {
    let staging = unique("policy_staging");
    let qa = unique("policy_qa");
    let (mut ws, _db) = workspace(
        "policy",
        "[environments.staging]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\n\
         [environments.qa]\nrole = \"qa\"\nurl = \"${QA_URL}\"\ndata = \"raw\"\n",
    );
    ws.set("STAGING_URL", &target().url(&staging));
    ws.set("QA_URL", &target().url(&qa));
    let id = ws.snapshot();
    let err = ws.fails(&["restore", &id, "--to", "staging"]);
    assert!(
        err.contains("anonymized data only") && err.contains("doppel derive"),
        "{err}"
    );
    assert_eq!(
        psql(
            target(),
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{staging}'")
        ),
        "0",
        "nothing was created"
    );
    // An environment that says data = "raw" takes it.
    ws.ok(&["restore", &id, "--to", "qa"]);
    assert_eq!(count(&qa), "100");
}

#[test]
fn production_needs_allow_production_and_a_typed_confirmation() {
    let (ws, db) = workspace("prodguard", "");
    let id = ws.snapshot();
    let err = ws.fails(&["restore", &id, "--to", "prod", "--replace"]);
    assert!(err.contains("--allow-production"), "{err}");
    // No terminal: the database name must be given with --confirm.
    let err = ws.fails(&[
        "restore",
        &id,
        "--to",
        "prod",
        "--replace",
        "--allow-production",
    ]);
    assert!(err.contains(&format!("--confirm {db}")), "{err}");
    let err = ws.fails(&[
        "restore",
        &id,
        "--to",
        "prod",
        "--replace",
        "--allow-production",
        "--confirm",
        "other",
    ]);
    assert!(err.contains("does not match"), "{err}");
    psql(source(), &db, "DELETE FROM items");
    ws.ok(&[
        "restore",
        &id,
        "--to",
        "prod",
        "--replace",
        "--allow-production",
        "--confirm",
        &db,
    ]);
    assert_eq!(psql(source(), &db, "SELECT count(*) FROM items"), "100");
}

#[test]
fn the_library_commands_refuse_what_the_command_line_refuses() {
    use doppel::commands::{self, restore};
    let staging = unique("lib_staging");
    let (mut ws, db) = workspace(
        "libguard",
        "[environments.staging]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\n",
    );
    ws.set("STAGING_URL", &target().url(&staging));
    let id = ws.snapshot();
    psql(source(), &db, "DELETE FROM items WHERE id > 40");
    let config = ws.config();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = |to: &str| restore::Options {
        which: restore::Which::Snapshot(id.clone()),
        target: restore::Target::Environment(to.into()),
        jobs: Some(1),
        replace: true,
        keep_owners: false,
        verify: doppel::restore::VerifyMode::Full,
        allow_production: true,
        scope: doppel::restore::scope::Scope::All,
        hold_fixtures: false,
        progress: Default::default(),
    };
    // Into production with the flag but nobody to confirm: refused, production untouched.
    let err = rt
        .block_on(restore::run(
            &config,
            &opts("prod"),
            &commands::no_confirmation,
        ))
        .unwrap_err();
    assert!(
        matches!(err, doppel::Error::Refused(ref m) if m.contains("nobody to confirm")),
        "{err}"
    );
    assert_eq!(psql(source(), &db, "SELECT count(*) FROM items"), "40");
    // A raw snapshot into an environment that receives anonymized data: refused, nothing
    // created.
    let err = rt
        .block_on(restore::run(
            &config,
            &opts("staging"),
            &commands::no_confirmation,
        ))
        .unwrap_err();
    assert!(
        matches!(err, doppel::Error::Refused(ref m) if m.contains("anonymized data only")),
        "{err}"
    );
    assert_eq!(
        psql(
            target(),
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{staging}'")
        ),
        "0",
        "nothing was created"
    );
    // The other verbs that replace a database never touch production either.
    let reseed = commands::reseed::Options {
        env: "prod".into(),
        from: Some(id.clone()),
        at: None,
        synthetic: false,
        generation: Default::default(),
        jobs: Some(1),
        progress: Default::default(),
    };
    let err = rt
        .block_on(commands::reseed::run(&config, &reseed))
        .unwrap_err();
    assert!(matches!(err, doppel::Error::Refused(_)), "{err}");
    let err = rt
        .block_on(commands::reset::run(&config, "prod"))
        .unwrap_err();
    assert!(matches!(err, doppel::Error::Refused(_)), "{err}");
    let drill = commands::drill::Options {
        to: Some("prod".into()),
        ..Default::default()
    };
    let err = rt
        .block_on(commands::drill::run(&config, &drill))
        .unwrap_err();
    assert!(matches!(err, doppel::Error::Refused(_)), "{err}");
    assert_eq!(psql(source(), &db, "SELECT count(*) FROM items"), "40");
}

#[test]
fn after_restore_subscriptions_are_disabled_and_the_environment_sql_runs() {
    let staging = unique("neutral_staging");
    let (mut ws, db) = workspace(
        "neutral",
        "[environments.staging]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\ndata = \"raw\"\n\
         after_restore = [\"sql/neutralize.sql\"]\n",
    );
    ws.set("STAGING_URL", &target().url(&staging));
    // A subscription to a publisher that production talks to (connect = false: the test
    // needs no real publisher).
    psql(
        source(),
        &db,
        "CREATE TABLE settings (key text PRIMARY KEY, value text); \
         INSERT INTO settings VALUES ('payment_gateway', 'https://pay.example.com/live'); \
         CREATE SUBSCRIPTION peer_sub CONNECTION 'host=127.0.0.1 port=1 dbname=peer' \
           PUBLICATION peer_pub WITH (connect = false, slot_name = 'peer_slot')",
    );
    let sql_dir = ws.dir.path().join("sql");
    std::fs::create_dir_all(&sql_dir).unwrap();
    std::fs::write(
        sql_dir.join("neutralize.sql"),
        "-- point integrations at sandboxes\n\
         UPDATE settings SET value = 'https://pay.example.com/sandbox'\n\
         WHERE key = 'payment_gateway';\n",
    )
    .unwrap();
    let id = ws.snapshot();
    let out = ws.ok(&["restore", &id, "--to", "staging"]);
    assert!(out.contains("peer_sub"), "{out}");
    assert_eq!(
        psql(target(), &staging, "SELECT value FROM settings"),
        "https://pay.example.com/sandbox"
    );
    assert_eq!(
        psql(
            target(),
            &staging,
            "SELECT subenabled::text || ' ' || coalesce(subslotname::text, 'none') \
             FROM pg_subscription WHERE subname = 'peer_sub'"
        ),
        "false none"
    );
    psql(
        source(),
        &db,
        "ALTER SUBSCRIPTION peer_sub SET (slot_name = NONE); DROP SUBSCRIPTION peer_sub",
    );

    // A failing file: named with its line, and the restore is marked failed.
    std::fs::write(
        sql_dir.join("neutralize.sql"),
        "UPDATE settings SET value = 'x';\n\nUPDATE no_such_table SET a = 1;\n",
    )
    .unwrap();
    let err = ws.fails(&["restore", &id, "--to", "staging", "--replace"]);
    assert!(err.contains("neutralize.sql:3"), "{err}");
    assert!(err.contains("failed"), "{err}");
}

#[test]
fn reset_returns_a_pristine_environment_to_the_state_of_its_restore() {
    let copy = unique("reset_copy");
    let (mut ws, _db) = workspace(
        "reset",
        "[environments.copy]\nrole = \"prod-copy\"\nurl = \"${COPY_URL}\"\npristine = true\n\
         [environments.scratch]\nrole = \"dev\"\nurl = \"${COPY_URL}\"\n",
    );
    ws.set("COPY_URL", &target().url(&copy));
    let err = ws.fails(&["reset", "copy"]);
    assert!(err.contains("no pristine copy"), "{err}");
    let id = ws.snapshot();
    let out = ws.ok(&["restore", &id, "--to", "copy"]);
    assert!(out.contains("pristine copy kept"), "{out}");
    let before = database_state(target(), &copy);
    // Status: the database as restored, unmodified, and its pristine copy of the snapshot.
    let d = ws.status_database("copy");
    assert_eq!(d["modified"]["state"], "unmodified", "{d}");
    assert_eq!(d["pristine"]["exists"], true, "{d}");
    assert_eq!(d["pristine"]["snapshot"], id.as_str(), "{d}");
    let rows: i64 = psql(target(), &copy, "SELECT count(*) FROM items")
        .trim()
        .parse()
        .unwrap();
    psql(
        target(),
        &copy,
        "DELETE FROM items WHERE id % 2 = 0; UPDATE items SET label = 'broken'; \
         CREATE TABLE debris (x int)",
    );
    assert_ne!(database_state(target(), &copy), before);
    // A session reports its writes to the statistics as it ends, a moment after psql exits.
    let modified = |ws: &Workspace| {
        let started = std::time::Instant::now();
        loop {
            let d = ws.status_database("copy");
            if d["modified"]["state"] != "unmodified" || started.elapsed().as_secs() >= 5 {
                return d;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let d = modified(&ws);
    assert_eq!(d["modified"]["state"], "modified", "{d}");
    assert_eq!(d["modified"]["tables_changed"], true, "{d}");
    // Half the rows deleted, the other half updated.
    assert_eq!(
        d["modified"]["writes"].as_i64(),
        Some(rows),
        "every deleted and updated row counts: {d}"
    );
    let text = ws.ok(&["status"]);
    assert!(text.contains("MODIFIED since"), "{text}");
    let out = ws.ok(&["reset", "copy"]);
    assert!(
        out.contains(&id),
        "the reset says what it went back to: {out}"
    );
    assert_eq!(database_state(target(), &copy), before);
    let d = ws.status_database("copy");
    assert_eq!(d["modified"]["state"], "unmodified", "{d}");
    assert!(d["reset_at"].is_string(), "{d}");
    assert_eq!(d["snapshot"], id.as_str(), "{d}");
    // A TRUNCATE counts no row in the statistics, but gives the table a new file.
    psql(target(), &copy, "TRUNCATE items CASCADE");
    let d = modified(&ws);
    assert_eq!(d["modified"]["state"], "modified", "{d}");
    assert_eq!(d["modified"]["tables_changed"], true, "{d}");
    let err = ws.fails(&["reset", "scratch"]);
    assert!(err.contains("pristine = true"), "{err}");
    let err = ws.fails(&["reset", "prod"]);
    assert!(err.contains("production"), "{err}");
}

#[test]
fn partial_restores_tables_with_their_parents_schema_only_then_data_only() {
    let db = fresh_db(source(), "partial");
    psql(
        source(),
        &db,
        "CREATE TABLE customers (id int PRIMARY KEY, name text); \
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers); \
         CREATE TABLE order_items (order_id int REFERENCES orders, line int, PRIMARY KEY (order_id, line)); \
         CREATE TABLE audit (id serial PRIMARY KEY, what text); \
         INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g; \
         INSERT INTO orders SELECT g, 1 + g % 50 FROM generate_series(1, 200) g; \
         INSERT INTO order_items SELECT 1 + g % 200, g FROM generate_series(1, 600) g; \
         INSERT INTO audit (what) SELECT 'event ' || g FROM generate_series(1, 30) g",
    );
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let counts = |target_db: &str| {
        psql(
            target(),
            target_db,
            "SELECT (SELECT count(*) FROM customers) || ' ' || (SELECT count(*) FROM orders) \
             || ' ' || (SELECT count(*) FROM order_items) || ' ' || (SELECT count(*) FROM audit)",
        )
    };

    // orders, with the customers they reference; nothing else.
    let some = unique("partial_tables");
    let out = ws.ok(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&some),
        "--tables",
        "orders",
    ]);
    assert!(out.contains("2 tables, 250 rows"), "{out}");
    assert_eq!(counts(&some), "50 200 0 0");
    let err = ws.fails(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&unique("p")),
        "--tables",
        "public.nope",
    ]);
    assert!(err.contains("has no table public.nope"), "{err}");

    // The schema alone, then the data into it: the same database as the source.
    let staged = unique("partial_staged");
    let url = target().url(&staged);
    let err = ws.fails(&["restore", &id, "--target-url", &url, "--data-only"]);
    assert!(err.contains("--schema-only"), "{err}");
    ws.ok(&["restore", &id, "--target-url", &url, "--schema-only"]);
    assert_eq!(counts(&staged), "0 0 0 0");
    assert_eq!(schema_text(target(), &staged), schema_text(source(), &db));
    ws.ok(&[
        "restore",
        &id,
        "--target-url",
        &url,
        "--data-only",
        "--verify",
        "full",
    ]);
    assert_same_database((source(), &db), (target(), &staged));
    // Data-only again replaces rows rather than adding to them.
    psql(target(), &staged, "DELETE FROM order_items WHERE line > 10");
    ws.ok(&["restore", &id, "--target-url", &url, "--data-only"]);
    assert_same_database((source(), &db), (target(), &staged));
}
