//! Synthetic data: `doppel seed generate` fills an empty database from its schema and the
//! rules, and `doppel reseed --synthetic` rebuilds an environment that way, reproducibly.

use crate::common::*;

/// A workspace whose only environment, `qa`, is database `qa` on the target cluster.
fn qa_only(qa: &str) -> Workspace {
    let mut ws = Workspace::new(&[("qa", "qa", "QA_URL")]);
    ws.set("QA_URL", &target().url(qa));
    ws
}

/// A QA database with the synthetic fixture's schema and no rows, and a workspace naming it.
fn empty_qa() -> (Workspace, String) {
    let qa = fresh_db(target(), "synth");
    load_file(target(), &qa, &fixtures().join("synthetic.sql"));
    (qa_only(&qa), qa)
}

fn rules() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules/synthetic")
        .display()
        .to_string()
}

fn count(db: &str, sql: &str) -> i64 {
    psql(target(), db, sql)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn seed_generate_fills_every_table_inside_its_constraints() {
    let (ws, qa) = empty_qa();
    let rules = rules();
    let out = ws.ok(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.customers=200,public.orders=500,public.order_items=1000,public.events=300",
        "--seed",
        "7",
        "--rules",
        &rules,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
    // Asked counts, and the default of 10 for the others.
    for (table, rows) in [
        ("customers", 200),
        ("orders", 500),
        ("order_items", 1000),
        ("events", 300),
        ("departments", 10),
        ("employees", 10),
        ("products", 10),
    ] {
        assert_eq!(
            count(&qa, &format!("SELECT count(*) FROM {table}")),
            rows,
            "{table}"
        );
    }
    // Both partitions receive rows: dates spread over years either side of 2023.
    assert!(count(&qa, "SELECT count(*) FROM ONLY events_early") > 0);
    assert!(count(&qa, "SELECT count(*) FROM ONLY events_late") > 0);
    // Narrow partitions: every key lands in one, and each gets some.
    assert_eq!(count(&qa, "SELECT count(*) FROM payments"), 10);
    for p in [
        "payments_2026_01",
        "payments_2026_02",
        "regional_eu",
        "regional_na",
    ] {
        assert!(
            count(&qa, &format!("SELECT count(*) FROM ONLY {p}")) > 0,
            "{p}"
        );
    }
    // The rules shaped the values: generated e-mails, all distinct.
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM customers WHERE email !~ '^[^@ ]+@[^@ ]+\\.[a-z]+$'"
        ),
        0,
        "{}",
        psql(
            target(),
            &qa,
            "SELECT string_agg(email, ' ') FROM (SELECT email FROM customers LIMIT 5) e"
        )
    );
    assert_eq!(
        count(&qa, "SELECT count(DISTINCT email) FROM customers"),
        200
    );
    // Foreign keys reach every table they may: items spread over many orders and products,
    // a cycle (departments.head_id) filled after the fact, a self-reference forming a tree.
    assert!(count(&qa, "SELECT count(DISTINCT order_id) FROM order_items") > 100);
    assert!(
        count(
            &qa,
            "SELECT count(*) FROM departments WHERE head_id IS NOT NULL"
        ) > 0
    );
    assert!(
        count(
            &qa,
            "SELECT count(*) FROM employees WHERE manager_id IS NOT NULL"
        ) > 0
    );
    assert_eq!(
        count(
            &qa,
            "WITH RECURSIVE up(id, depth) AS (SELECT id, 0 FROM employees WHERE manager_id IS NULL \
             UNION ALL SELECT e.id, depth + 1 FROM employees e JOIN up ON e.manager_id = up.id \
             WHERE depth < 20) SELECT count(DISTINCT id) FROM up"
        ),
        10,
        "every employee reaches a root: no cycle of managers"
    );
    // Checks, enums and domains are met by construction (the server enforced them on load).
    assert_eq!(
        psql(
            target(),
            &qa,
            "SELECT min(level) >= 1 AND max(level) <= 7 FROM employees"
        ),
        "t"
    );
    assert!(count(&qa, "SELECT count(DISTINCT status) FROM orders") >= 3);
    assert!(count(&qa, "SELECT count(DISTINCT country) FROM customers") >= 3);
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM order_items WHERE line_total <> quantity * unit_price"
        ),
        0
    );
    // Sequences and identities moved past the generated keys: plain inserts work.
    psql(
        target(),
        &qa,
        "INSERT INTO departments (name) VALUES ('new one'); \
         INSERT INTO customers (email, first_name, country, created_at) \
         VALUES ('x@example.test', 'X', 'FR', now())",
    );
}

#[test]
fn seed_generate_refuses_what_it_cannot_do_and_leaves_nothing() {
    let (ws, qa) = empty_qa();
    let e = ws.fails(&["seed", "generate", "--env", "qa", "--rows", "public.nope=5"]);
    assert!(e.contains("table public.nope does not exist"), "{e}");
    let e = ws.fails(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.events_late=5",
    ]);
    assert!(e.contains("partition of public.events"), "{e}");
    let e = ws.fails(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.orders=many",
    ]);
    assert!(e.contains("`many` is not a row count"), "{e}");
    // A NOT NULL column of a type doppel does not generate: named, with what to do.
    psql(
        target(),
        &qa,
        "ALTER TABLE products ADD COLUMN shape polygon NOT NULL",
    );
    let e = ws.fails(&["seed", "generate", "--env", "qa"]);
    assert!(
        e.contains("public.products.shape") && e.contains("polygon"),
        "{e}"
    );
    assert!(e.contains("seed fixture"), "{e}");
    assert_eq!(
        count(&qa, "SELECT count(*) FROM customers"),
        0,
        "nothing loaded"
    );
    psql(target(), &qa, "ALTER TABLE products DROP COLUMN shape");
    // A check beyond what doppel reads fails the load with the constraint named, and the
    // transaction leaves nothing behind.
    psql(
        target(),
        &qa,
        "ALTER TABLE customers ADD CONSTRAINT odd_ids CHECK (id % 2 = 1)",
    );
    let e = ws.fails(&["seed", "generate", "--env", "qa"]);
    assert!(e.contains("odd_ids") && e.contains("rule"), "{e}");
    assert_eq!(
        count(&qa, "SELECT count(*) FROM departments"),
        0,
        "nothing loaded"
    );
    psql(
        target(),
        &qa,
        "ALTER TABLE customers DROP CONSTRAINT odd_ids",
    );
    // A database with rows is not topped up.
    ws.ok(&["seed", "generate", "--env", "qa"]);
    let e = ws.fails(&["seed", "generate", "--env", "qa"]);
    assert!(
        e.contains("already has rows") && e.contains("reseed"),
        "{e}"
    );
}

/// Every foreign key of `db`, one a line: table, name, definition (with DEFERRABLE),
/// whether the server validated it, and its comment.
fn foreign_keys(db: &str) -> String {
    psql(
        target(),
        db,
        "SELECT string_agg(format('%s %s %s validated=%s %s', conrelid::regclass, conname, \
         pg_get_constraintdef(oid), convalidated, obj_description(oid, 'pg_constraint')), \
         E'\\n' ORDER BY conrelid::regclass::text, conname) FROM pg_constraint WHERE contype = 'f'",
    )
}

/// The constraint's identity: the same while it is only deferred, new once re-created.
fn constraint_oid(db: &str, name: &str) -> String {
    psql(
        target(),
        db,
        &format!("SELECT oid FROM pg_constraint WHERE conname = '{name}'"),
    )
}

#[test]
fn seed_generate_fills_cycles_of_not_null_keys_and_the_server_validates_every_key() {
    let qa = fresh_db(target(), "synthcycles");
    load_file(target(), &qa, &fixtures().join("synthetic_cycles.sql"));
    let before = foreign_keys(&qa);
    assert_eq!(before.lines().count(), 11, "{before}");
    let deferrable = constraint_oid(&qa, "invoice_last_payment_fkey");
    let out = qa_only(&qa).ok(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.staff=40,public.book=50,public.region=60,public.office=80",
        "--seed",
        "11",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
    for (table, rows) in [
        ("store", 10),
        ("staff", 40),
        ("rental", 10),
        ("author", 10),
        ("publisher", 10),
        ("book", 50),
        ("region", 60),
        ("office", 80),
        ("invoice", 10),
        ("payment", 10),
    ] {
        assert_eq!(
            count(&qa, &format!("SELECT count(*) FROM {table}")),
            rows,
            "{table}"
        );
    }
    // The keys set aside for the load are back as they were, comment included, and the
    // server checked every row against them.
    let after = foreign_keys(&qa);
    assert_eq!(after, before);
    assert!(!after.contains("validated=f"), "{after}");
    for comment in [
        "store_manager_staff_id_fkey FOREIGN KEY (manager_staff_id) REFERENCES staff(staff_id) validated=t every store has a manager",
        "staff_store_id_fkey FOREIGN KEY (store_id) REFERENCES store(store_id) validated=t every member of staff works in a store",
    ] {
        assert!(after.contains(comment), "{after}");
    }
    assert_eq!(
        constraint_oid(&qa, "invoice_last_payment_fkey"),
        deferrable,
        "a DEFERRABLE key is deferred, not re-created"
    );
    // What a user would look at: each store managed by its own member of staff, staff
    // spread over the stores, offices over regions, the nullable editor key filled too.
    assert_eq!(
        count(&qa, "SELECT count(DISTINCT manager_staff_id) FROM store"),
        10
    );
    assert!(count(&qa, "SELECT count(DISTINCT store_id) FROM staff") > 5);
    assert!(
        count(
            &qa,
            "SELECT count(DISTINCT (country, region_code)) FROM office"
        ) > 20
    );
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM region r LEFT JOIN office o \
             ON (o.site, o.no) = (r.hq_site, r.hq_no) WHERE o.site IS NULL"
        ),
        0
    );
    assert!(count(&qa, "SELECT count(*) FROM book WHERE editor_id IS NOT NULL") > 0);
    // Identities and serials moved past the generated keys.
    psql(
        target(),
        &qa,
        "INSERT INTO publisher (name, founder_id) SELECT 'new one', min(author_id) FROM author",
    );
}

#[test]
fn reseed_synthetic_fills_not_null_cycles_reproducibly() {
    let prod = fresh_db(source(), "cyclesrc");
    load_file(source(), &prod, &fixtures().join("synthetic_cycles.sql"));
    let qa = unique("cycleqa");
    let ws = Workspace::with_qa(&prod, &qa, "data = \"raw\"\n");
    ws.snapshot();
    let reseed = |seed: &str| -> serde_json::Value {
        let out = ws.ok(&[
            "reseed",
            "qa",
            "--synthetic",
            "--seed",
            seed,
            "--default-rows",
            "25",
            "--json",
        ]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let first = reseed("5");
    assert_eq!(
        first["synthetic"]["warnings"],
        serde_json::json!([]),
        "{first}"
    );
    let tables = first["content"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 10, "{first}");
    assert!(tables.iter().all(|t| t["rows"] == 25), "{first}");
    assert_eq!(first["content"]["foreign_keys"], 11, "{first}");
    let fks = foreign_keys(&qa);
    assert_eq!(fks.lines().count(), 11, "{fks}");
    assert!(!fks.contains("validated=f"), "{fks}");
    let again = reseed("5");
    assert_eq!(
        first["content"]["digest"], again["content"]["digest"],
        "{first}\n{again}"
    );
    let other = reseed("6");
    assert_ne!(first["content"]["digest"], other["content"]["digest"]);
}

#[test]
fn a_cycle_no_key_can_break_is_refused_by_name_and_loads_nothing() {
    // Each key of the cycle references the other table's own foreign key column: neither
    // table's keys can be drawn before the other's.
    let qa = fresh_db(target(), "synthcycle");
    psql(
        target(),
        &qa,
        "CREATE TABLE a (x int PRIMARY KEY); \
         CREATE TABLE b (x int PRIMARY KEY REFERENCES a); \
         ALTER TABLE a ADD FOREIGN KEY (x) REFERENCES b; \
         CREATE TABLE c (id int PRIMARY KEY, a_x int NOT NULL REFERENCES a); \
         CREATE TABLE d (id int PRIMARY KEY);",
    );
    let e = qa_only(&qa).fails(&["seed", "generate", "--env", "qa"]);
    assert!(
        e.contains("between public.a, public.b form a cycle") && e.contains("seed fixture"),
        "{e}"
    );
    assert!(!e.contains("public.c"), "{e}");
    assert_eq!(count(&qa, "SELECT count(*) FROM d"), 0, "nothing loaded");
}

#[test]
fn more_stores_than_managers_stop_short_and_staff_work_in_the_stores_that_exist() {
    // Each store needs its own manager (a unique NOT NULL key into staff): 10 staff manage
    // at most 10 stores, though staff were given the keys of all 50 stores asked.
    let qa = fresh_db(target(), "synthshort");
    load_file(target(), &qa, &fixtures().join("synthetic_cycles.sql"));
    let out = qa_only(&qa).ok(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.store=50,public.staff=10",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("public.store: 10 of 50 rows: unique (manager_staff_id)"),
        "{report}"
    );
    assert_eq!(count(&qa, "SELECT count(*) FROM store"), 10);
    assert_eq!(count(&qa, "SELECT count(*) FROM staff"), 10);
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM staff WHERE store_id NOT IN (SELECT store_id FROM store)"
        ),
        0
    );
    let fks = foreign_keys(&qa);
    assert!(!fks.contains("validated=f"), "{fks}");
}

#[test]
fn a_one_to_one_cycle_asked_unequal_counts_is_refused_with_what_to_ask_instead() {
    // Every a has its own b and every b its own a: 10 of one cannot go with 50 of the other.
    let qa = fresh_db(target(), "synthonetoone");
    psql(
        target(),
        &qa,
        "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL UNIQUE); \
         CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL UNIQUE REFERENCES a); \
         ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;",
    );
    let e = qa_only(&qa).fails(&[
        "seed",
        "generate",
        "--env",
        "qa",
        "--rows",
        "public.a=10,public.b=50",
    ]);
    assert!(
        e.contains("stopped at 10 of 50 rows")
            && e.contains("unique (a_id)")
            && e.contains("--rows public.b=N"),
        "{e}"
    );
    assert_eq!(count(&qa, "SELECT count(*) FROM a"), 0, "nothing loaded");
}

#[test]
fn seed_generate_never_touches_production() {
    let db = fresh_db(source(), "synthprod");
    let mut ws = Workspace::new(&[("prod", "production", "PROD_URL")]);
    ws.set("PROD_URL", &source().url(&db));
    let e = ws.fails(&["seed", "generate", "--env", "prod"]);
    assert!(e.contains("role production"), "{e}");
}

#[test]
fn reseed_synthetic_is_reproducible_by_seed_and_applies_the_fixtures_after_the_rows() {
    // Production has the schema and a few real rows; the synthetic QA copy takes only its
    // schema from the snapshot.
    let prod = fresh_db(source(), "synthsrc");
    load_file(source(), &prod, &fixtures().join("synthetic.sql"));
    psql(
        source(),
        &prod,
        "INSERT INTO customers (email, first_name, country, created_at) \
         VALUES ('real.person@example.org', 'Real', 'FR', now())",
    );
    let qa = unique("synthqa");
    let ws = Workspace::with_qa(
        &prod,
        &qa,
        "data = \"raw\"\npristine = true\nseeds = [\"seeds/qa.sql\"]\n",
    );
    let seeds = ws.dir.path().join("seeds");
    std::fs::create_dir_all(&seeds).unwrap();
    std::fs::write(
        seeds.join("qa.sql"),
        "INSERT INTO customers (email, first_name, country, created_at) \
         VALUES ('qa@example.test', 'QA', 'DE', '2024-01-01');\n",
    )
    .unwrap();
    ws.snapshot();
    let rules = rules();
    let reseed = |seed: &str| -> serde_json::Value {
        let out = ws.ok(&[
            "reseed",
            "qa",
            "--synthetic",
            "--seed",
            seed,
            "--rows",
            "public.orders=300",
            "--rules",
            &rules,
            "--json",
        ]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let first = reseed("3");
    let again = reseed("3");
    assert_eq!(
        first["content"]["digest"], again["content"]["digest"],
        "{first}\n{again}"
    );
    assert_eq!(first["synthetic"]["seed"], 3);
    let other = reseed("4");
    assert_ne!(first["content"]["digest"], other["content"]["digest"]);
    // No real row, generated ones plus the fixture, whose key comes after the generated ones.
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM customers WHERE email = 'real.person@example.org'"
        ),
        0
    );
    assert_eq!(count(&qa, "SELECT count(*) FROM orders"), 300);
    assert_eq!(
        psql(
            target(),
            &qa,
            "SELECT id > 10 FROM customers WHERE email = 'qa@example.test'"
        ),
        "t"
    );
    let tables = first["content"]["tables"].as_array().unwrap();
    let orders = tables
        .iter()
        .find(|t| t["table"] == "public.orders")
        .unwrap();
    assert_eq!(orders["rows"], 300);
    assert!(
        first["content"]["foreign_keys"].as_u64().unwrap() >= 6,
        "{first}"
    );
    // The generated rows and the fixture are doppel's: status says unmodified, and names the
    // seed in the stamp; the pristine copy holds the same state.
    let qa_database = || ws.status_database("qa");
    let d = qa_database();
    assert_eq!(d["modified"]["state"], "unmodified", "{d}");
    assert!(
        d["stamp"]
            .as_str()
            .unwrap()
            .ends_with("then filled with synthetic rows (seed 4)"),
        "{d}"
    );
    assert_eq!(d["pristine"]["exists"], true, "{d}");
    // The pristine copy holds the generated rows and the fixture: reset returns to them.
    assert!(other["restore"]["pristine"].is_string(), "{other}");
    psql(target(), &qa, "DELETE FROM order_items; DELETE FROM orders");
    ws.ok(&["reset", "qa"]);
    assert_eq!(count(&qa, "SELECT count(*) FROM orders"), 300);
    assert_eq!(qa_database()["modified"]["state"], "unmodified");
    assert_eq!(
        count(
            &qa,
            "SELECT count(*) FROM customers WHERE email = 'qa@example.test'"
        ),
        1
    );
    // Generation options without --synthetic are refused rather than ignored.
    let e = ws.fails(&["reseed", "qa", "--seed", "3"]);
    assert!(e.contains("--synthetic"), "{e}");
    let e = ws.fails(&["reseed", "prod", "--synthetic"]);
    assert!(e.contains("role production"), "{e}");
}

/// Every dataset's schema, filled with synthetic rows by a reseed: the load succeeds with
/// every constraint in force and every table gets rows.
fn dataset_synthetic(name: &str) {
    let prod = load_dataset(name);
    let qa = unique(&format!("{name}_synth"));
    let ws = Workspace::with_qa(&prod, &qa, "data = \"raw\"\n");
    ws.snapshot();
    let out = ws.ok(&[
        "reseed",
        "qa",
        "--synthetic",
        "--default-rows",
        "30",
        "--json",
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let generated = report["synthetic"]["tables"].as_array().unwrap();
    assert!(!generated.is_empty(), "{report}");
    for t in generated {
        assert!(
            t["rows"].as_u64().unwrap() > 0,
            "{name}: {t} (warnings: {})",
            report["synthetic"]["warnings"]
        );
    }
    let empty: Vec<&serde_json::Value> = report["content"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["rows"] == 0)
        .collect();
    assert!(empty.is_empty(), "{name}: tables left empty: {empty:?}");
}

#[test]
fn synthetic_dataset_chinook() {
    dataset_synthetic("chinook");
}

#[test]
fn synthetic_dataset_northwind() {
    dataset_synthetic("northwind");
}

#[test]
fn synthetic_dataset_pgexercises() {
    dataset_synthetic("pgexercises");
}

#[test]
fn synthetic_dataset_neon_misc() {
    dataset_synthetic("neon_misc");
}

#[test]
fn synthetic_dataset_airlines_demo_schema() {
    dataset_synthetic("airlines_demo_schema");
}
