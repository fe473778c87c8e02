//! `doppel snapshot --rules DIR --subset`: a referentially complete slice taken at the
//! source. The restore creates every foreign key (which validates it), and the slice holds
//! exactly what the targets and the closure call for.

use crate::common::*;

fn subset_db() -> String {
    let db = fresh_db(source(), "subset");
    load_file(source(), &db, &fixtures().join("subset.sql"));
    db
}

fn rules_dir() -> std::path::PathBuf {
    fixtures().join("../rules/subset")
}

/// Takes a subset snapshot with the rules in `dir`; returns its id.
fn subset_snapshot(ws: &Workspace, dir: &std::path::Path) -> String {
    let out = ws.ok(&[
        "snapshot",
        "--rules",
        dir.to_str().unwrap(),
        "--subset",
        "--json",
    ]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn count(cluster: &doppel::pg::cluster::Cluster, db: &str, sql: &str) -> i64 {
    psql(cluster, db, sql).trim().parse().unwrap()
}

#[test]
fn a_subset_holds_its_targets_and_everything_they_reference() {
    let db = subset_db();
    let mut ws = Workspace::with_source(&db);
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let rules = rules_dir();
    let id = subset_snapshot(&ws, &rules);
    // The restore creates every foreign key after the data: a dangling reference fails it.
    let restored = ws.restore_verified(&id, "subset");
    let march = "ordered_at >= date '2026-03-01' AND ordered_at < date '2026-04-01'";
    let (t, s) = (target(), source());
    // Targets: exactly the March orders, and every item of theirs (followed).
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM orders"),
        count(
            s,
            &db,
            &format!("SELECT count(*) FROM orders WHERE {march}")
        )
    );
    assert_eq!(
        count(
            t,
            &restored,
            &format!("SELECT count(*) FROM orders WHERE NOT ({march})")
        ),
        0
    );
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM order_items"),
        count(s, &db, &format!("SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE {march}"))
    );
    // Parents: only the customers and products referenced, all of them.
    let customers = count(t, &restored, "SELECT count(*) FROM customers");
    assert!(customers > 0 && customers < 2000, "{customers} customers");
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM products"),
        count(
            t,
            &restored,
            "SELECT count(DISTINCT (sku, variant)) FROM order_items"
        )
    );
    // The self-reference is closed: every manager of a kept employee is kept, up to the top.
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM employees e WHERE e.manager_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM employees m WHERE m.id = e.manager_id)"),
        0
    );
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM employees WHERE id = 1"),
        1
    );
    // The virtual foreign key: every kept review's customer is kept.
    let reviews = count(t, &restored, "SELECT count(*) FROM reviews");
    assert!(
        (75..=225).contains(&reviews),
        "5% of 3000 reviews, got {reviews}"
    );
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM reviews r WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = r.customer_ref)"),
        0
    );
    // Not followed, but referencing orders: only notes of kept orders (or of none).
    assert_eq!(
        count(t, &restored, "SELECT count(*) FROM notes"),
        count(s, &db, &format!("SELECT count(*) FROM notes n LEFT JOIN orders o ON o.id = n.order_id WHERE n.order_id IS NULL OR ({march})"))
    );
    // Unreached and unrelated: whole.
    assert_eq!(count(t, &restored, "SELECT count(*) FROM countries"), 3);

    // The same inputs and seed give the same slice.
    let again = subset_snapshot(&ws, &rules);
    assert_eq!(
        table_digests(&ws.manifest(&id)),
        table_digests(&ws.manifest(&again))
    );
}

#[test]
fn a_subset_derived_from_a_stored_snapshot_equals_one_taken_at_the_source() {
    let db = subset_db();
    let mut ws = Workspace::with_source(&db);
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let rules = rules_dir();
    let raw = ws.snapshot();
    let direct = subset_snapshot(&ws, &rules);
    let out = ws.ok(&[
        "derive",
        &raw,
        "--rules",
        rules.to_str().unwrap(),
        "--subset",
        "--json",
    ]);
    let derived = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (m, r) = (ws.manifest(&derived), ws.manifest(&raw));
    assert_eq!(table_digests(&m), table_digests(&ws.manifest(&direct)));
    assert_eq!(m["kind"]["kind"], "anonymized");
    assert_eq!(m["kind"]["derived_from"], raw.as_str());
    // Recorded as the same subset, so it lands in the direct one's series.
    assert!(m["kind"]["subset"]["digest"].is_string(), "{}", m["kind"]);
    assert_eq!(m["kind"]["subset"], ws.manifest(&direct)["kind"]["subset"]);
    assert_eq!(r["kind"].get("subset"), None);
    // It stands for the stored snapshot's moment and source, not the scratch server's.
    assert_eq!(m["time"], r["time"]);
    assert_eq!(m["source"], r["source"]);
    // And restores with every foreign key.
    let restored = ws.restore_verified(&derived, "subsetderived");
    assert!(count(target(), &restored, "SELECT count(*) FROM orders") > 0);
    // Derive needs a raw snapshot.
    let e = ws.fails(&[
        "derive",
        &direct,
        "--rules",
        rules.to_str().unwrap(),
        "--subset",
    ]);
    assert!(e.contains("derive works from a raw snapshot"), "{e}");
}

#[test]
fn subset_conditions_are_single_expressions_and_mistakes_are_named() {
    let db = subset_db();
    let mut ws = Workspace::with_source(&db);
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let dir = ws.dir.path().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read_to_string(rules_dir().join("shop.toml")).unwrap();
    for (from, to, says) in [
        (
            "where = \"ordered_at >= date '2026-03-01' AND ordered_at < date '2026-04-01'\"",
            "where = \"true; DROP TABLE customers\"",
            "only a single expression",
        ),
        (
            "table = \"public.reviews\"",
            "table = \"public.reveiws\"",
            "public.reveiws does not exist",
        ),
        ("percent = 5", "percent = 500", "percent = 500"),
        (
            "unreached = \"all\"",
            "unreached = \"some\"",
            "shop.toml:6:13",
        ),
        (
            "child = \"public.order_items\"",
            "child = \"public.countries\"",
            "does not reference",
        ),
    ] {
        std::fs::write(dir.join("shop.toml"), base.replace(from, to)).unwrap();
        let err = ws.fails(&["snapshot", "--rules", dir.to_str().unwrap(), "--subset"]);
        assert!(err.contains(says), "{to}: {err}");
        // `rules check` finds the same mistake before any snapshot is tried.
        let err = ws.fails(&["rules", "check", "--rules", dir.to_str().unwrap()]);
        assert!(err.contains(says), "rules check, {to}: {err}");
    }
    let ok = ws.ok(&["rules", "check", "--rules", rules_dir().to_str().unwrap()]);
    assert!(ok.contains("subset OK") && ok.contains("targets"), "{ok}");
    assert_eq!(count(source(), &db, "SELECT count(*) FROM customers"), 2000);
    assert!(ws.ok(&["list"]).contains("no snapshots"));
}

/// Keep-everything rules for every table of `db`, and a subset of 10% of its largest table.
fn dataset_rules(db: &str, dir: &std::path::Path) -> (String, i64) {
    let q = |s: &str| {
        if s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            s.to_string()
        } else {
            format!("\"{s}\"")
        }
    };
    let tables = psql(
        source(),
        db,
        "SELECT n.nspname || '|' || c.relname || '|' || c.reltuples::bigint FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY c.reltuples DESC, 1",
    );
    let mut rules = String::from("version = 1\n");
    let mut largest = None;
    for line in tables.lines().filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split('|').collect();
        let key = format!("{}.{}", q(parts[0]), q(parts[1]));
        largest.get_or_insert((key.clone(), doppel::catalog::qualified(parts[0], parts[1])));
        rules.push_str(&format!("[tables.'{key}']\ndecision = \"keep\"\n"));
    }
    let (key, sql_name) = largest.expect("a table");
    rules.push_str(&format!(
        "[subset]\nseed = 1\n[[subset.targets]]\ntable = '{key}'\npercent = 10\n"
    ));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("subset.toml"), rules).unwrap();
    let rows = count(source(), db, &format!("SELECT count(*) FROM {sql_name}"));
    (sql_name, rows)
}

fn dataset_subset(name: &str) {
    let db = load_dataset(name);
    let mut ws = Workspace::with_source(&db);
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let dir = ws.dir.path().join("rules");
    let (table, rows) = dataset_rules(&db, &dir);
    let id = subset_snapshot(&ws, &dir);
    // Every foreign key is created after the load, so a dangling reference fails here.
    let restored = ws.restore_verified(&id, &format!("{name}_subset"));
    let kept = count(
        target(),
        &restored,
        &format!("SELECT count(*) FROM {table}"),
    );
    let (low, high) = (rows / 20, rows * 3 / 20 + 5);
    assert!(
        (low..=high).contains(&kept),
        "{name}: {table} kept {kept} of {rows} rows for a 10% target (closure included)"
    );
}

#[test]
fn subset_dataset_chinook() {
    dataset_subset("chinook");
}

#[test]
fn subset_dataset_northwind() {
    dataset_subset("northwind");
}

#[test]
fn subset_dataset_pgexercises() {
    dataset_subset("pgexercises");
}

#[test]
fn subset_dataset_neon_misc() {
    dataset_subset("neon_misc");
}

#[test]
fn subset_dataset_airlines_demo_schema() {
    dataset_subset("airlines_demo_schema");
}

#[test]
fn unreached_none_leaves_tables_out_unless_a_kept_foreign_key_needs_them() {
    let db = fresh_db(source(), "subsetnone");
    psql(
        source(),
        &db,
        "CREATE TABLE regions (id int PRIMARY KEY, name text); \
         CREATE TABLE shops (id serial PRIMARY KEY, region_id int REFERENCES regions); \
         CREATE TABLE logs (id bigserial PRIMARY KEY, line text); \
         INSERT INTO regions VALUES (1, 'north'), (2, 'south'); \
         INSERT INTO shops (region_id) SELECT CASE WHEN g % 2 = 0 THEN NULL ELSE 1 + g % 2 END \
           FROM generate_series(1, 40) g; \
         INSERT INTO logs (line) SELECT 'line ' || g FROM generate_series(1, 30) g;",
    );
    let mut ws = Workspace::with_source(&db);
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let dir = ws.dir.path().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("r.toml"),
        "version = 1\n[subset]\nunreached = \"none\"\n[[subset.targets]]\n\
         table = \"public.shops\"\nwhere = \"region_id IS NULL\"\n\
         [tables.\"public.regions\"]\ndecision = \"keep\"\n[tables.\"public.shops\"]\n\
         decision = \"keep\"\n[tables.\"public.logs\"]\ndecision = \"keep\"\n",
    )
    .unwrap();
    let id = subset_snapshot(&ws, &dir);
    let restored = ws.restore_verified(&id, "subsetnone");
    let t = target();
    assert_eq!(count(t, &restored, "SELECT count(*) FROM shops"), 20);
    // No kept row reaches a region, but shops' foreign key needs the table: created empty.
    assert_eq!(count(t, &restored, "SELECT count(*) FROM regions"), 0);
    // Nothing needs logs: left out, with its sequence.
    assert_eq!(
        psql(
            t,
            &restored,
            "SELECT to_regclass('public.logs') IS NULL, to_regclass('public.logs_id_seq') IS NULL"
        ),
        "t|t"
    );
    // At debug level the statement sent for each target is logged as it went.
    let out = ws.run(&[
        "-vv",
        "snapshot",
        "--rules",
        dir.to_str().unwrap(),
        "--subset",
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("subset target: SELECT") && log.contains("AND (region_id IS NULL)"),
        "{log}"
    );
}

/// The ids in `list --json` of each series.
fn series_of(ws: &Workspace) -> std::collections::BTreeMap<String, Vec<String>> {
    let list: serde_json::Value = serde_json::from_str(&ws.ok(&["list", "--json"])).unwrap();
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for row in list.as_array().unwrap() {
        out.entry(row["series"].as_str().unwrap().to_string())
            .or_default()
            .push(row["id"].as_str().unwrap().to_string());
    }
    out
}

#[test]
fn subsets_are_a_series_of_their_own_chosen_only_where_declared() {
    let db = subset_db();
    let (staging, slice) = (unique("kinds_staging"), unique("kinds_slice"));
    let mut ws = Workspace::new(&[
        ("prod", "production", "PROD_URL"),
        ("staging", "staging", "STAGING_URL"),
        ("slice", "qa", "SLICE_URL"),
    ]);
    // `slice` receives subsets; one daily tier, so that in a shared series a prune would keep
    // only the oldest snapshot and the newest one.
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "url = \"${SLICE_URL}\"\n",
        "url = \"${SLICE_URL}\"\nsubset = true\n",
    ) + "\n[retention]\ntiers = [\"30d@60d\"]\n";
    std::fs::write(&config, text).unwrap();
    ws.set("PROD_URL", &source().url(&db));
    ws.set("STAGING_URL", &target().url(&staging));
    ws.set("SLICE_URL", &target().url(&slice));
    ws.set("DOPPEL_ANON_KEY", "subset-test-key-0123456789");
    let rules = rules_dir();
    let anonymized = |ws: &Workspace| {
        let out = ws.ok(&["snapshot", "--rules", rules.to_str().unwrap(), "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let whole = anonymized(&ws);

    // No subset yet: the environment that wants one is refused, and told which series.
    let err = ws.fails(&["restore", "--at", "now", "--to", "slice"]);
    assert!(
        err.contains("prod/anonymized/subset-* holds no snapshot") && err.contains("--subset"),
        "{err}"
    );

    let sub = subset_snapshot(&ws, &rules);
    let sub_series = ws.manifest(&sub)["kind"]["subset"]["digest"]
        .as_str()
        .map(|d| format!("prod/anonymized/subset-{}", &d[..12]))
        .expect("the subset is recorded");
    let orders = |db: &str| count(target(), db, "SELECT count(*) FROM orders");
    let march = count(
        source(),
        &db,
        "SELECT count(*) FROM orders WHERE ordered_at >= date '2026-03-01' \
         AND ordered_at < date '2026-04-01'",
    );
    let all_orders = count(source(), &db, "SELECT count(*) FROM orders");
    assert!(march < all_orders);

    // The subset is the newest snapshot, yet staging, as of now, gets the whole database.
    let out = ws.ok(&["restore", "--at", "now", "--to", "staging"]);
    assert!(out.contains(&format!("snapshot {whole}")), "{out}");
    assert_eq!(orders(&staging), all_orders);
    // The environment that declares subset = true gets the subset, and reseed agrees.
    let out = ws.ok(&["restore", "--at", "now", "--to", "slice"]);
    assert!(
        out.contains(&format!("snapshot {sub}")) && out.contains("subset-"),
        "{out}"
    );
    assert_eq!(orders(&slice), march);
    let reseed: serde_json::Value =
        serde_json::from_str(&ws.ok(&["reseed", "slice", "--json"])).unwrap();
    assert_eq!(reseed["restore"]["snapshot"], sub.as_str());
    assert_eq!(orders(&slice), march);

    // Two more whole snapshots: the second whole one is the only one retention may drop.
    let (whole2, whole3) = (anonymized(&ws), anonymized(&ws));
    let series = series_of(&ws);
    assert_eq!(
        series,
        [
            (
                "prod/anonymized".to_string(),
                vec![whole.clone(), whole2.clone(), whole3.clone()]
            ),
            (sub_series.clone(), vec![sub.clone()]),
        ]
        .into()
    );
    let list: serde_json::Value = serde_json::from_str(&ws.ok(&["list", "--json"])).unwrap();
    let row = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&sub)["kind"], "anonymized");
    assert_eq!(row(&sub)["subset"], sub_series.rsplit('/').next().unwrap());
    assert_eq!(row(&whole)["subset"], serde_json::Value::Null);
    let text = ws.ok(&["list"]);
    assert!(text.contains("anonymized/subset-"), "{text}");
    let inspect = ws.ok(&["inspect", &sub]);
    assert!(
        inspect.contains(&sub_series) && inspect.contains("public.reviews 5%"),
        "{inspect}"
    );

    // Each series keeps its newest: in one shared series the subset, neither the oldest nor
    // the newest, would go.
    ws.ok(&["prune"]);
    let series = series_of(&ws);
    assert_eq!(series["prod/anonymized"], [whole, whole3]);
    assert_eq!(series[&sub_series], [sub]);
}
