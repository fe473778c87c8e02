//! Tests against a real PostgreSQL: the catalog query, and the example rules under `rules/`
//! against the fixtures they are written for. One throwaway cluster for this test binary
//! (kept in a static, so its watchdog removes it when the process ends), a database per test.

use crate::catalog::{read_catalog, Catalog, ColumnId, TableName};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::*;
use crate::pg::cluster::{Cluster, ClusterOptions};
use crate::pg::ConnInfo;

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(super) fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| {
            panic!(
                "cannot start a PostgreSQL test cluster: {e}\nInstall the server \
                 (apt-get install postgresql) or set DOPPEL_PG_BIN to its bin folder."
            )
        })
    })
}

pub(super) fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh database, with `sql_file` loaded into it when given.
pub(super) fn database(prefix: &str, sql_file: Option<&Path>) -> String {
    let c = cluster();
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    c.create_database(&name).expect("create test database");
    if let Some(file) = sql_file {
        let out = c
            .client_command("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(file)
            .env("PGDATABASE", &name)
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "loading {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    name
}

pub(super) async fn catalog_of(db: &str) -> Catalog {
    let info = ConnInfo::parse(&cluster().url(db)).expect("test URL");
    let client = crate::pg::connect(&info).await.expect("connect");
    read_catalog(&client).await.expect("read catalog")
}

/// Whether a rule's transformer keeps values distinct, from the transformer registry.
fn preserves(rule: &ColumnRule) -> Option<bool> {
    super::compile::preserves_uniqueness(rule)
}

#[test]
fn every_example_rules_file_parses() {
    // One folder per fixture, each loaded on its own as `--rules DIR` loads it.
    let root = project().join(DEFAULT_DIR);
    let mut folders = 0;
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        folders += 1;
        let set = RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !set.files().is_empty(),
            "no rules files under {}",
            dir.display()
        );
        for file in set.files() {
            let text = std::fs::read_to_string(file).unwrap();
            RuleSet::parse(file, &text).unwrap_or_else(|e| panic!("{e}"));
        }
        for rule in set.tables().flat_map(|t| t.columns.values()) {
            assert!(
                preserves(rule).is_some(),
                "{}: unknown transformer {}",
                rule.location,
                rule.transformer
            );
        }
    }
    assert!(
        folders >= 3,
        "expected the example folders under {}",
        root.display()
    );
}

#[tokio::test]
async fn demo_rules_cover_the_demo_fixture_strictly() {
    let db = database("rules_demo", Some(&project().join("fixtures/demo.sql")));
    let catalog = catalog_of(&db).await;
    let rules = RuleSet::load_dir(&project().join(DEFAULT_DIR).join("demo")).unwrap();
    let report = check(&rules, &catalog, true, &preserves);
    assert!(report.is_ok(), "{report}");
    assert!(report.warnings.is_empty(), "{report}");
    // Every rule builds for its column's real type.
    super::CompiledRules::new(&rules, &catalog).unwrap_or_else(|e| panic!("{e}"));
    let effective = effective_rules(&rules, &catalog).unwrap();
    let email = |t: &str, c: &str| {
        effective
            .get(&ColumnId::new("public", t, c))
            .unwrap_or_else(|| panic!("{t}.{c} is not transformed"))
            .domain
            .clone()
    };
    assert_eq!(email("customers", "email"), "email");
    assert_eq!(email("audit_log", "actor_email"), "email");
    assert_eq!(
        effective
            .table(&TableName::new("public", "products"))
            .unwrap()
            .decision,
        Decision::Keep
    );

    // Production gains a column the rules do not know: a strict snapshot stops, naming it.
    cluster()
        .psql(
            &db,
            "ALTER TABLE public.customers ADD COLUMN loyalty_tier text; \
             ALTER TABLE public.orders ADD COLUMN gift_message text; \
             ALTER TABLE public.customers ADD COLUMN email_lower text \
               GENERATED ALWAYS AS (lower(email)) STORED",
        )
        .unwrap();
    let catalog = catalog_of(&db).await;
    let report = check(&rules, &catalog, true, &preserves);
    let names: Vec<String> = report
        .uncovered
        .iter()
        .map(|u| u.column.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "public.customers.loyalty_tier",
            "public.orders.gift_message"
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("loyalty_tier = \"keep\"  # needs review"),
        "{text}"
    );
    assert!(text.contains("rules/demo/shop.toml:"), "{text}");
    assert!(check(&rules, &catalog, false, &preserves).is_ok());
}

#[tokio::test]
async fn the_catalog_has_keys_partitions_and_generated_columns() {
    let db = database("rules_catalog", None);
    cluster()
        .psql(
            &db,
            r#"
CREATE SCHEMA "odd.schema";
CREATE TABLE "odd.schema"."Person" (
  "Id" int PRIMARY KEY,
  email text NOT NULL,
  nick varchar(20),
  dropped int,
  full_name text GENERATED ALWAYS AS (email || nick) STORED
);
ALTER TABLE "odd.schema"."Person" DROP COLUMN dropped;
CREATE UNIQUE INDEX person_email ON "odd.schema"."Person" (email);
CREATE UNIQUE INDEX person_nick_lower ON "odd.schema"."Person" (lower(nick));
CREATE UNIQUE INDEX person_nick_partial ON "odd.schema"."Person" (nick) WHERE nick IS NOT NULL;
CREATE TABLE public.pairs (a int, b int, note text, PRIMARY KEY (a, b));
CREATE TABLE public.pair_refs (
  x int, y int, person int REFERENCES "odd.schema"."Person" ("Id"),
  CONSTRAINT pair_fk FOREIGN KEY (y, x) REFERENCES public.pairs (b, a)
);
CREATE TABLE public.events (id int, at date, who int REFERENCES "odd.schema"."Person" ("Id"), note text,
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (id);
CREATE TABLE public.events_2024_a PARTITION OF public.events_2024 FOR VALUES IN (1, 2);
CREATE TABLE public.parent (id int);
CREATE TABLE public.child (extra text) INHERITS (public.parent);
CREATE UNLOGGED TABLE public.cache (k text);
CREATE VIEW public.v AS SELECT 1 AS one;
CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;
"#,
        )
        .unwrap();
    let catalog = catalog_of(&db).await;
    let names: Vec<String> = catalog
        .tables
        .iter()
        .map(|t| t.table_name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "odd.schema.Person",
            "public.cache",
            "public.child",
            "public.events",
            "public.events_2024",
            "public.events_2024_a",
            "public.pair_refs",
            "public.pairs",
            "public.parent"
        ]
    );
    let person = catalog
        .table(&TableName::new("odd.schema", "Person"))
        .unwrap();
    let cols: Vec<(&str, &str, bool, bool)> = person
        .columns
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.type_name.as_str(),
                c.not_null,
                c.generated,
            )
        })
        .collect();
    assert_eq!(
        cols,
        [
            ("Id", "integer", true, false),
            ("email", "text", true, false),
            ("nick", "character varying(20)", false, false),
            ("full_name", "text", false, true)
        ]
    );
    assert_eq!(person.primary_key, ["Id"]);
    assert_eq!(person.unique, [vec!["email"], vec!["nick"]]);
    assert!(person.is_unique_member("nick") && !person.is_unique_member("full_name"));

    let refs = catalog
        .table(&TableName::new("public", "pair_refs"))
        .unwrap();
    let fks: Vec<(&str, Vec<&str>, String, Vec<&str>)> = refs
        .foreign_keys
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.columns.iter().map(String::as_str).collect(),
                format!("{}.{}", f.ref_schema, f.ref_table),
                f.ref_columns.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        fks,
        [
            (
                "pair_fk",
                vec!["y", "x"],
                "public.pairs".into(),
                vec!["b", "a"]
            ),
            (
                "pair_refs_person_fkey",
                vec!["person"],
                "odd.schema.Person".into(),
                vec!["Id"]
            )
        ]
    );
    assert_eq!(
        catalog
            .table(&TableName::new("public", "pairs"))
            .unwrap()
            .primary_key,
        ["a", "b"]
    );

    let events = catalog.table(&TableName::new("public", "events")).unwrap();
    assert!(events.partitioned && events.partition_of.is_none());
    assert_eq!(events.foreign_keys.len(), 1);
    let leaf = catalog
        .table(&TableName::new("public", "events_2024_a"))
        .unwrap();
    assert!(!leaf.partitioned);
    // The foreign key is declared once, on the partitioned table; its clones are left out.
    assert!(leaf.foreign_keys.is_empty());
    assert_eq!(
        catalog.partition_ancestors(&leaf.table_name()),
        [
            TableName::new("public", "events_2024_a"),
            TableName::new("public", "events_2024"),
            TableName::new("public", "events")
        ]
    );
    let child = catalog.table(&TableName::new("public", "child")).unwrap();
    assert!(
        child.partition_of.is_none(),
        "inheritance is not partitioning"
    );
    assert_eq!(child.columns.len(), 2);

    // Rules on the partitioned root cover the leaves; the reference to Person follows its
    // transformed key in every partition.
    let text = r#"version = 1
[tables.'"odd.schema".Person'.columns]
Id = "permute"
email = "email"
nick = "username"
[tables."public.events".columns]
id = "keep"
at = "keep"
note = "sentence"
[tables."public.pair_refs".columns]
x = "keep"
y = "keep"
[tables."public.pairs"]
decision = "keep"
[tables."public.parent".columns]
id = "keep"
[tables."public.child"]
decision = "skip"
[tables."public.cache"]
decision = "schema-only"
"#;
    let rules = RuleSet::parse(Path::new("rules/t.toml"), text).unwrap();
    let report = check(&rules, &catalog, true, &preserves);
    assert!(report.is_ok(), "{report}");
    let effective = effective_rules(&rules, &catalog).unwrap();
    for (table, column) in [
        ("events_2024_a", "who"),
        ("events", "who"),
        ("pair_refs", "person"),
    ] {
        let e = effective
            .get(&ColumnId::new("public", table, column))
            .unwrap_or_else(|| panic!("{table}.{column}"));
        assert_eq!(e.domain, "odd.schema.Person.Id");
        assert_eq!(e.rule.transformer, "permute");
    }
    assert_eq!(
        effective
            .get(&ColumnId::new("public", "events_2024_a", "note"))
            .unwrap()
            .origin,
        ColumnId::new("public", "events", "note")
    );
}

#[tokio::test]
async fn the_fidelity_fixture_catalog_reads_and_every_column_gets_a_suggestion() {
    let db = database(
        "rules_fidelity",
        Some(&project().join("fixtures/fidelity.sql")),
    );
    let catalog = catalog_of(&db).await;
    assert!(catalog.tables.len() >= 39, "{}", catalog.tables.len());
    let report = check(&RuleSet::default(), &catalog, true, &preserves);
    assert!(report.errors.is_empty(), "{report}");
    let with_rows: usize = catalog
        .tables
        .iter()
        .filter(|t| !t.partitioned)
        .map(|t| t.columns.iter().filter(|c| !c.generated).count())
        .sum();
    assert_eq!(report.uncovered.len(), with_rows);
    // The suggestions, pasted as they are, make a valid rules file that covers everything.
    let suggested = format!("version = 1\n{}", report.suggested_rules());
    let rules = RuleSet::parse(Path::new("suggested.toml"), &suggested)
        .unwrap_or_else(|e| panic!("{e}\n{suggested}"));
    let report = check(&rules, &catalog, true, &preserves);
    assert!(report.uncovered.is_empty(), "{report}");
}
