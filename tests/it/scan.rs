//! `doppel rules scan` on databases nobody tuned it for: the third-party sample databases and
//! our own fixtures. The suggested rules file, unedited, must take an anonymized snapshot on
//! the first try, and the restored copy must hold none of the sampled personal values of the
//! columns the scan flagged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::*;

const KEY_VAR: &str = "DOPPEL_ANON_KEY";
const KEY: &str = "scan-test-anonymization-secret-0123456789";

/// Transformers that draw from a list or a small space (a country, a given name, a date),
/// so that the restored column may hold a value that is also among the originals without
/// anything having survived: "Paris" drawn for one row is not "Paris" kept from another.
/// For these, each row is compared with its own original instead, and only chance
/// coincidences are tolerated.
const DRAWS: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "username",
    "city",
    "country",
    "company",
    "job_title",
    "postcode",
    "street_address",
    "date_of_birth",
    "weighted_choice",
];

/// A column the suggested file transforms: by its own rule, or by following the key it
/// references.
#[derive(Debug, Clone)]
struct Personal {
    table: String,
    column: String,
    /// The transformer, or the column it follows.
    how: String,
    draws: bool,
}

/// The columns the rules file at `path` transforms, from its rules and its "follows"
/// comments.
fn personal_columns(path: &Path) -> Vec<Personal> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut out = Vec::new();
    let tables = doc.get("tables").and_then(|t| t.as_table());
    for (table, body) in tables.into_iter().flatten() {
        let columns = body.get("columns").and_then(|c| c.as_table());
        for (column, rule) in columns.into_iter().flatten() {
            let transformer = match rule {
                toml::Value::String(s) => s.as_str(),
                toml::Value::Table(t) => t["transformer"].as_str().unwrap(),
                other => panic!("{table}.{column}: unexpected rule {other}"),
            };
            if transformer != "keep" {
                out.push(Personal {
                    table: table.clone(),
                    column: column.clone(),
                    how: transformer.to_string(),
                    draws: DRAWS.contains(&transformer),
                });
            }
        }
    }
    // `# col: follows schema.table.key (foreign key fk), which is transformed; …`
    let mut table = String::new();
    for line in text.lines() {
        if let Some(t) = line
            .strip_prefix("[tables.")
            .and_then(|l| l.strip_suffix(".columns]"))
        {
            table = toml::from_str::<toml::Table>(&format!("t = {t}"))
                .map(|v| v["t"].as_str().unwrap().to_string())
                .unwrap_or_else(|_| t.to_string());
        }
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, follows)) = rest.split_once(": follows ") else {
            continue;
        };
        if !follows.contains("which is transformed") {
            continue;
        }
        let column = toml::from_str::<toml::Table>(&format!("{key} = 1"))
            .ok()
            .and_then(|t| t.keys().next().cloned())
            .unwrap_or_else(|| panic!("cannot read column {key:?}"));
        let target = follows.split(' ').next().unwrap().to_string();
        let draws = out
            .iter()
            .any(|p| target == format!("{}.{}", p.table, p.column) && p.draws);
        out.push(Personal {
            table: table.clone(),
            column,
            how: format!("follows {target}"),
            draws,
        });
    }
    out
}

/// `schema.table` as SQL, and whether its rows are in partitions (read through it).
fn relation(cluster: &doppel::pg::cluster::Cluster, db: &str, table: &str) -> String {
    let (schema, name) = table.split_once('.').unwrap();
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let sql = format!("{}.{}", q(schema), q(name));
    let kind = psql(
        cluster,
        db,
        &format!(
            "SELECT relkind FROM pg_class WHERE oid = '{}'::regclass",
            sql.replace('\'', "''")
        ),
    );
    if kind == "p" {
        sql
    } else {
        format!("ONLY {sql}")
    }
}

/// The column's non-NULL, non-blank values as (md5, a short preview), one per row, in the
/// order rows are stored (partition by partition): a restore loads each table's rows in the
/// order the snapshot read them, so the n-th row of the source is the n-th of the copy.
fn rows_of(
    cluster: &doppel::pg::cluster::Cluster,
    db: &str,
    p: &Personal,
) -> Vec<Option<(String, String)>> {
    let from = relation(cluster, db, &p.table);
    let col = format!("\"{}\"", p.column.replace('"', "\"\""));
    let out = psql(
        cluster,
        db,
        &format!(
            "SELECT CASE WHEN {col} IS NULL OR btrim({col}::text) = '' THEN '-' \
               ELSE md5({col}::text) || ' ' || left(regexp_replace({col}::text, '\\s+', ' ', 'g'), 40) END \
             FROM {from} ORDER BY tableoid::regclass::text, ctid"
        ),
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            (l != "-").then(|| {
                let (h, preview) = l.split_once(' ').unwrap_or((l, ""));
                (h.to_string(), preview.to_string())
            })
        })
        .collect()
}

/// Scans `db` on the source cluster, snapshots it with the suggested rules
/// as written, restores and checks the personal columns. Returns how many original values
/// were compared.
fn scan_snapshot_restore(db: &str, prefix: &str) -> usize {
    let mut ws = Workspace::with_source(db);
    ws.set(KEY_VAR, KEY);
    let rules = ws.dir.path().join("scanned");
    let file = rules.join("suggested.toml");
    let out = ws.ok(&["rules", "scan", "--write", file.to_str().unwrap()]);
    assert!(out.contains("look personal"), "{out}");
    let personal = personal_columns(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !personal.is_empty(),
        "the scan flagged nothing in {db}:\n{text}"
    );

    // The file as written: a strict check, then a snapshot.
    ws.ok(&["rules", "check", "--rules", rules.to_str().unwrap()]);
    let summary = ws.ok(&["snapshot", "--rules", rules.to_str().unwrap(), "--json"]);
    let summary: serde_json::Value =
        serde_json::from_str(&summary).unwrap_or_else(|e| panic!("{e}: {summary}"));
    assert_eq!(summary["kind"], "anonymized");
    let id = summary["id"].as_str().unwrap();
    let restored = ws.restore_verified(id, prefix);

    let mut compared = 0;
    let mut leaks = Vec::new();
    for p in &personal {
        let before = rows_of(source(), db, p);
        let after = rows_of(target(), &restored, p);
        assert_eq!(
            before.len(),
            after.len(),
            "{}.{}: row counts differ",
            p.table,
            p.column
        );
        let originals: Vec<&(String, String)> = before.iter().flatten().collect();
        compared += originals.len();
        if p.draws {
            // Each row against its own original: a drawn value equals it only by chance.
            let same = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| {
                    b.is_some() && b.as_ref().map(|x| &x.0) == a.as_ref().map(|x| &x.0)
                })
                .count();
            if same > 1 + originals.len() / 10 {
                leaks.push(format!(
                    "{}.{} ({}): {same} of {} rows kept their original value",
                    p.table,
                    p.column,
                    p.how,
                    originals.len()
                ));
            }
        } else {
            let kept: BTreeMap<&str, &str> = after
                .iter()
                .flatten()
                .map(|(h, v)| (h.as_str(), v.as_str()))
                .collect();
            let found: BTreeSet<&str> = originals
                .iter()
                .filter(|(h, _)| kept.contains_key(h.as_str()))
                .map(|(_, v)| v.as_str())
                .collect();
            if !found.is_empty() {
                leaks.push(format!(
                    "{}.{} ({}): {} original values survive, e.g. {:?}",
                    p.table,
                    p.column,
                    p.how,
                    found.len(),
                    found.iter().take(3).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "personal values survive in the restored copy of {db}:\n{}\nrules:\n{text}",
        leaks.join("\n")
    );
    compared
}

/// Loads a dataset, runs the round trip, and requires that values were compared wherever
/// the database has rows.
fn dataset(name: &str) {
    let db = load_dataset(name);
    psql(source(), &db, "ANALYZE");
    let compared = scan_snapshot_restore(&db, &format!("scan_{name}"));
    let rows: u64 = psql(
        source(),
        &db,
        "SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables",
    )
    .parse()
    .unwrap();
    assert!(
        compared > 0 || rows == 0,
        "{name}: {rows} rows, but no personal value was compared"
    );
}

fn fixture(file: &str) -> usize {
    let db = fresh_db(source(), "scan_fixture");
    load_file(source(), &db, &fixtures().join(file));
    psql(source(), &db, "ANALYZE");
    scan_snapshot_restore(&db, "scan_fixture_restored")
}

#[test]
fn chinook_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    dataset("chinook");
}

#[test]
fn northwind_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    dataset("northwind");
}

#[test]
fn pgexercises_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    dataset("pgexercises");
}

#[test]
fn neon_misc_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    dataset("neon_misc");
}

#[test]
fn airlines_demo_schema_scans_into_rules_that_snapshot() {
    // No rows: the rules come from names and types alone, and must still build.
    dataset("airlines_demo_schema");
}

#[test]
fn the_pii_fixture_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    assert!(fixture("pii.sql") > 1000);
}

#[test]
fn the_demo_fixture_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    assert!(fixture("demo.sql") > 1000);
}

#[test]
fn the_fidelity_fixture_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    fixture("fidelity.sql");
}

#[test]
fn the_subset_fixture_scans_into_rules_that_snapshot_and_leave_no_personal_value() {
    fixture("subset.sql");
}
