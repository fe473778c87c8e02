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
/// coincidences are tolerated. Two more draw by design and are decided per column (see
/// [`draws`]): `email` without `unique = true` (its local part is made from the same name
/// lists, so "mhansen@example.com" can come out for a row that had another address), and the
/// IP transformers on `cidr` columns (a network is permuted among the networks of its prefix
/// length: there is one /0, so `0.0.0.0/0` stays itself, and a few /16 may meet).
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
    // A keyed shuffle of the numbers of each length (postcodes kept as integers): another
    // row's number can come out.
    "permute",
];

/// A column the suggested file transforms: by its own rule, or by following the key it
/// references.
#[derive(Debug, Clone)]
struct Personal {
    table: String,
    column: String,
    /// The transformer, or the column it follows.
    how: String,
    /// The transformer's name and whether it has `unique = true` (the followed key's rule
    /// for a referencing column).
    transformer: String,
    unique: bool,
}

/// Whether `p`'s transformer may by design give a value that is among the originals.
fn draws(cluster: &doppel::pg::cluster::Cluster, db: &str, p: &Personal) -> bool {
    let t = p.transformer.as_str();
    if DRAWS.contains(&t) || (t == "email" && !p.unique) {
        return true;
    }
    if !["ip", "ipv4", "ipv6"].contains(&t) {
        return false;
    }
    let (schema, table) = p.table.split_once('.').unwrap();
    psql(
        cluster,
        db,
        &format!(
            "SELECT atttypid = 'cidr'::regtype FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{}' AND c.relname = '{}' AND a.attname = '{}'",
            schema.replace('\'', "''"),
            table.replace('\'', "''"),
            p.column.replace('\'', "''")
        ),
    ) == "t"
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
            let (transformer, unique) = match rule {
                toml::Value::String(s) => (s.as_str(), false),
                toml::Value::Table(t) => (
                    t["transformer"].as_str().unwrap(),
                    t.get("unique").and_then(|u| u.as_bool()) == Some(true),
                ),
                other => panic!("{table}.{column}: unexpected rule {other}"),
            };
            if transformer != "keep" {
                out.push(Personal {
                    table: table.clone(),
                    column: column.clone(),
                    how: transformer.to_string(),
                    transformer: transformer.to_string(),
                    unique,
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
        let rule = out
            .iter()
            .find(|p| target == format!("{}.{}", p.table, p.column))
            .map(|p| (p.transformer.clone(), p.unique))
            .unwrap_or_default();
        out.push(Personal {
            table: table.clone(),
            column,
            how: format!("follows {target}"),
            transformer: rule.0,
            unique: rule.1,
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

/// What a round trip left to look at.
struct RoundTrip {
    /// How many original values were compared.
    compared: usize,
    /// The restored database, on the target cluster.
    restored: String,
    /// The suggested rules file.
    rules: String,
}

/// The columns of `table` no rule transforms (generated ones aside), as SQL.
fn kept_columns(db: &str, table: &str, personal: &[Personal]) -> Vec<String> {
    let (schema, name) = table.split_once('.').unwrap();
    let list = psql(
        source(),
        db,
        &format!(
            "SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{}' AND c.relname = '{}' AND a.attnum > 0 \
               AND NOT a.attisdropped AND a.attgenerated = ''",
            schema.replace('\'', "''"),
            name.replace('\'', "''")
        ),
    );
    list.split(',')
        .filter(|c| !c.is_empty())
        .filter(|c| {
            let bare = c.trim_matches('"').replace("\"\"", "\"");
            !personal
                .iter()
                .any(|p| p.table == table && p.column == bare)
        })
        .map(str::to_string)
        .collect()
}

/// A digest of each row's `kept` columns, in storage order (none without kept columns).
fn kept_rows(
    cluster: &doppel::pg::cluster::Cluster,
    db: &str,
    table: &str,
    kept: &[String],
) -> Vec<String> {
    if kept.is_empty() {
        return Vec::new();
    }
    let from = relation(cluster, db, table);
    psql(
        cluster,
        db,
        &format!(
            "SELECT md5(ROW({})::text) FROM {from} ORDER BY tableoid::regclass::text, ctid",
            kept.join(", ")
        ),
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// Scans `db` on the source cluster, snapshots it with the suggested rules as written,
/// restores and checks the personal columns.
fn scan_snapshot_restore(db: &str, prefix: &str) -> RoundTrip {
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
        if draws(source(), db, p) {
            // Each row against its own original: a drawn value equals it only by chance. The
            // rows pair up by storage order, which the kept columns confirm.
            let kept = kept_columns(db, &p.table, &personal);
            assert_eq!(
                kept_rows(source(), db, &p.table, &kept),
                kept_rows(target(), &restored, &p.table, &kept),
                "{}: the kept columns ({kept:?}) differ, row by row",
                p.table
            );
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
    RoundTrip {
        compared,
        restored,
        rules: text,
    }
}

/// Loads a dataset, runs the round trip, and requires that values were compared wherever
/// the database has rows.
fn dataset(name: &str) {
    let db = load_dataset(name);
    psql(source(), &db, "ANALYZE");
    let compared = scan_snapshot_restore(&db, &format!("scan_{name}")).compared;
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
    scan_snapshot_restore(&db, "scan_fixture_restored").compared
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

#[test]
fn blank_phones_and_postcodes_and_values_no_transformer_takes_do_not_stop_the_snapshot() {
    // What users met: phone and postcode columns holding empty strings, and a few values
    // that are no phone number at all.
    let db = fresh_db(source(), "scan_blanks");
    psql(
        source(),
        &db,
        "CREATE TABLE public.contacts ( \
           id integer PRIMARY KEY, \
           phone text, \
           fax varchar(20) NOT NULL, \
           postcode char(8) NOT NULL, \
           email text); \
         INSERT INTO public.contacts \
         SELECT i, \
           CASE i % 5 WHEN 0 THEN '' WHEN 1 THEN '   ' WHEN 2 THEN 'ask reception' \
             ELSE '+44 20 7946 ' || lpad((i * 37 % 10000)::text, 4, '0') END, \
           CASE i % 4 WHEN 0 THEN '' WHEN 1 THEN 'none' \
             ELSE '(555) 01' || lpad((i % 100)::text, 2, '0') END, \
           CASE WHEN i % 3 = 0 THEN '' ELSE 'SW' || (i % 9 + 1) || 'A ' || (i % 10) || 'AA' END, \
           CASE WHEN i % 6 = 0 THEN '' ELSE 'person' || i || '@mail.example.org' END \
         FROM generate_series(1, 120) i; \
         ANALYZE",
    );
    let trip = scan_snapshot_restore(&db, "scan_blanks_restored");
    assert!(trip.compared > 200, "{}", trip.compared);
    let rule_of = |column: &str| {
        trip.rules
            .lines()
            .find(|l| l.starts_with(&format!("{column} = ")))
            .unwrap_or_else(|| panic!("no rule for {column}:\n{}", trip.rules))
    };
    for (column, transformer) in [
        ("phone", "phone"),
        ("fax", "phone"),
        ("postcode", "postcode"),
    ] {
        let line = rule_of(column);
        assert!(line.contains(&format!("\"{transformer}\"")), "{line}");
    }
    // Values the phone transformer cannot take: the rule says what becomes of them, and why.
    let phone = rule_of("phone");
    assert!(phone.contains("on_error = \"null\""), "{phone}");
    assert!(phone.contains("`phone` failed on "), "{phone}");
    assert!(!phone.contains("reception"), "{phone}");
    let fax = rule_of("fax");
    assert!(fax.contains("on_error = { fallback = \"\" }"), "{fax}");
    // Blank values come back as they were; the others are no longer there.
    let one = |sql: &str| psql(target(), &trip.restored, sql);
    assert_eq!(
        one("SELECT count(*) FROM contacts WHERE phone = '' OR phone = '   '"),
        "48"
    );
    assert_eq!(
        one("SELECT count(*) FROM contacts WHERE phone IS NULL"),
        "24"
    );
    assert_eq!(one("SELECT count(*) FROM contacts WHERE fax = ''"), "60");
    assert_eq!(
        one("SELECT count(*) FROM contacts WHERE postcode = ''"),
        "40"
    );
    assert_eq!(one("SELECT count(*) FROM contacts WHERE email = ''"), "20");
}
