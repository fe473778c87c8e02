//! Anonymized snapshots as a user checks them: restored into staging, not one original
//! personal value is left anywhere in the database, keys and references still hold, the
//! same key gives the same data, `derive` gives what a direct snapshot gives.

use doppel::pg::cluster::Cluster;

use crate::common::*;

const KEY_VAR: &str = "DOPPEL_ANON_KEY";
const KEY: &str = "test-anonymization-secret-0123456789";
const OTHER_KEY: &str = "another-anonymization-secret-9876543210";

/// The rules for fixtures/pii.sql.
fn pii_rules() -> String {
    project_dir().join("rules/pii").display().to_string()
}

fn project_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A workspace whose prod is a fresh database loaded with fixtures/pii.sql, and the key set.
fn pii_workspace(prefix: &str) -> (Workspace, String) {
    let db = fresh_db(source(), prefix);
    load_file(source(), &db, &fixtures().join("pii.sql"));
    let mut ws = Workspace::with_source(&db);
    ws.set(KEY_VAR, KEY);
    (ws, db)
}

fn snapshot_json(ws: &Workspace, args: &[&str]) -> serde_json::Value {
    let out = ws.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Every original value of the columns the rules anonymize, read from the source.
fn original_personal_values(db: &str) -> Vec<String> {
    let sql = "SELECT DISTINCT v FROM ( \
        SELECT unnest(ARRAY[username, first_name, last_name, full_name, email, phone, street, \
                            city, postcode, client_ip::text, password_hash, api_token, notes]) \
          FROM app.people \
        UNION ALL SELECT display_name FROM app.people WHERE NOT is_admin \
        UNION ALL SELECT client_ip::text FROM app.sessions \
        UNION ALL SELECT unnest(ARRAY[actor_email, details->>'email', details->>'name']) \
          FROM app.audit \
        UNION ALL SELECT unnest(ARRAY[sender_email, body]) FROM app.messages \
        UNION ALL SELECT payload FROM app.raw_import \
        UNION ALL SELECT secret FROM app.secrets_archive) x(v) \
      WHERE v IS NOT NULL ORDER BY 1";
    psql(source(), db, sql)
        .lines()
        .map(str::to_string)
        .collect()
}

/// (table, column, value) for every original value found anywhere in `db`: every column of
/// every user table, cast to text, searched for every value as a substring.
fn leaks(cluster: &Cluster, db: &str, originals: &[String]) -> Vec<String> {
    let values = originals
        .iter()
        .map(|v| format!("('{}')", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",");
    let columns = psql(
        cluster,
        db,
        "SELECT format('%I.%I', n.nspname, c.relname) || '|' || quote_ident(a.attname) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'm') AND a.attnum > 0 AND NOT a.attisdropped \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    );
    assert!(columns.lines().count() > 30, "too few columns: {columns}");
    let mut found = Vec::new();
    for line in columns.lines() {
        let (table, column) = line.split_once('|').unwrap();
        let hits = psql(
            cluster,
            db,
            &format!(
                "SELECT DISTINCT o.v FROM {table} t, (VALUES {values}) o(v) \
                 WHERE strpos(t.{column}::text, o.v) > 0"
            ),
        );
        for v in hits.lines() {
            found.push(format!("{table}.{column} holds original value {v:?}"));
        }
    }
    found
}

#[test]
fn an_anonymized_restore_holds_no_original_personal_value_and_keeps_every_key() {
    let (ws, db) = pii_workspace("anon_pii");
    let originals = original_personal_values(&db);
    assert!(originals.len() > 1000, "{} originals", originals.len());

    let summary = snapshot_json(&ws, &["snapshot", "--rules", &pii_rules(), "--json"]);
    let id = summary["id"].as_str().unwrap().to_string();
    assert_eq!(summary["kind"], "anonymized");
    let manifest = ws.manifest(&id);
    assert_eq!(manifest["kind"]["kind"], "anonymized");
    let fingerprint = manifest["kind"]["key_fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 16, "{fingerprint}");
    assert!(manifest["kind"]["rules_digest"].as_str().is_some());
    // The key itself is nowhere in the repository.
    for file in ws.repo_files("") {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is in {}",
            file.display()
        );
    }
    // A skipped table is not in the snapshot; a schema-only one has no rows.
    let digests = table_digests(&manifest);
    assert!(!digests.contains_key("app.secrets_archive"), "{digests:?}");
    assert_eq!(digests["app.raw_import"].0, 0);
    assert_eq!(digests["app.people"].0, 120);

    let restored = ws.restore_verified(&id, "anon_restored");

    // The search finds what is there: run on the source, it finds every original.
    let in_source = leaks(source(), &db, &originals);
    assert!(in_source.len() >= 20, "{in_source:?}");
    let found = leaks(target(), &restored, &originals);
    assert!(
        found.is_empty(),
        "{} leaks:\n{}",
        found.len(),
        found.join("\n")
    );

    let one = |sql: &str| psql(target(), &restored, sql);
    // Keys and references: every foreign key was created by the restore and validates; the
    // anonymized usernames and ids are still unique and still referenced.
    assert_eq!(
        one(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated \
             AND connamespace = 'app'::regnamespace"
        ),
        "2"
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM app.sessions s LEFT JOIN app.people p USING (username) \
             WHERE p.id IS NULL"
        ),
        "0"
    );
    assert_eq!(
        one("SELECT count(DISTINCT username) FROM app.people"),
        "120"
    );
    assert_eq!(one("SELECT count(DISTINCT email) FROM app.people"), "120");
    assert_eq!(
        one("SELECT count(DISTINCT s.username) FROM app.sessions s"),
        psql(
            source(),
            &db,
            "SELECT count(DISTINCT username) FROM app.sessions"
        )
    );
    // The permuted ids are not the originals, but the audit still points at the same people:
    // each audit row's actor e-mail is the e-mail of the person it references.
    assert_ne!(
        one("SELECT count(*) FROM app.people WHERE is_admin <> (id % 10 = 0)"),
        "0",
        "the ids were not shuffled (is_admin follows id % 10 in the source)"
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM app.audit a JOIN app.people p ON p.id = a.person_id \
             WHERE a.actor_email <> p.email OR a.details->>'email' <> p.email"
        ),
        "0"
    );
    // Messages were sent by the same (anonymized) addresses as the people's.
    assert_eq!(
        one(
            "SELECT count(*) FROM app.messages m LEFT JOIN app.people p \
             ON p.email = m.sender_email WHERE p.id IS NULL"
        ),
        "0"
    );
    // The generated column is recomputed from the new names; the template used them too;
    // staff accounts kept their display name (the condition was false for them).
    assert_eq!(
        one("SELECT count(*) FROM app.people WHERE full_name <> first_name || ' ' || last_name"),
        "0"
    );
    assert_eq!(
        one("SELECT count(*) FROM app.people WHERE NOT is_admin AND \
             display_name <> first_name || ' ' || left(last_name, 1) || '.'"),
        "0"
    );
    assert_eq!(
        one("SELECT count(*) FROM app.people WHERE is_admin AND display_name LIKE 'Staff account %'"),
        "12"
    );
    // NULL stays NULL; kept columns are unchanged.
    assert_eq!(
        one("SELECT count(*) FROM app.people WHERE phone IS NULL"),
        "17"
    );
    assert_eq!(
        one(
            "SELECT string_agg(country || tier, ',' ORDER BY username) IS NOT NULL FROM app.people"
        ),
        "t"
    );
    assert_eq!(one("SELECT count(*) FROM app.raw_import"), "0");
    assert_eq!(
        one("SELECT to_regclass('app.secrets_archive') IS NULL"),
        "t"
    );
    assert_eq!(
        one("SELECT count(*) FROM app.messages_2026"),
        psql(source(), &db, "SELECT count(*) FROM app.messages_2026")
    );
    // The identity sequence was moved past the permuted ids: the copy takes new rows.
    assert_eq!(
        one(
            "SELECT nextval(pg_get_serial_sequence('app.people', 'id')) > max(id) \
             FROM app.people"
        ),
        "t"
    );
}

#[test]
fn the_same_key_gives_the_same_data_another_key_other_data_and_derive_matches() {
    let (mut ws, _db) = pii_workspace("anon_keys");
    // derive cannot leave a table out of a stored schema: this variant empties it instead.
    let rules = rules_variant(
        &ws,
        "no-skip",
        &[("decision = \"skip\"", "decision = \"schema-only\"")],
    );
    let first = snapshot_json(&ws, &["snapshot", "--rules", &rules, "--json"]);
    let second = snapshot_json(&ws, &["snapshot", "--rules", &rules, "--json"]);
    let a = table_digests(&ws.manifest(first["id"].as_str().unwrap()));
    let b = table_digests(&ws.manifest(second["id"].as_str().unwrap()));
    assert_eq!(
        a, b,
        "two runs with the same key must give identical tables"
    );
    // Identical data stores nothing new.
    assert!(
        second["bytes_stored_new"].as_u64().unwrap() < 4096,
        "{second}"
    );

    // derive from a raw snapshot gives the same tables as the direct anonymized snapshot.
    let raw = ws.snapshot();
    let derived = snapshot_json(&ws, &["derive", &raw, "--rules", &rules, "--json"]);
    let derived_manifest = ws.manifest(derived["id"].as_str().unwrap());
    assert_eq!(derived_manifest["kind"]["derived_from"], raw.as_str());
    assert_eq!(
        table_digests(&derived_manifest),
        a,
        "derive must match a direct snapshot"
    );
    let err = ws.fails(&["derive", derived["id"].as_str().unwrap(), "--rules", &rules]);
    assert!(err.contains("already anonymized"), "{err}");
    let err = ws.fails(&["derive", &raw, "--rules", &pii_rules()]);
    assert!(
        err.contains("app.secrets_archive") && err.contains("schema-only"),
        "{err}"
    );

    ws.set(KEY_VAR, OTHER_KEY);
    let other = snapshot_json(&ws, &["snapshot", "--rules", &rules, "--json"]);
    let other_manifest = ws.manifest(other["id"].as_str().unwrap());
    let c = table_digests(&other_manifest);
    assert_ne!(
        c["app.people"], a["app.people"],
        "another key must give other data"
    );
    assert_eq!(
        c["app.countries"], a["app.countries"],
        "kept tables do not depend on the key"
    );
    assert_ne!(
        other_manifest["kind"]["key_fingerprint"],
        ws.manifest(first["id"].as_str().unwrap())["kind"]["key_fingerprint"]
    );
}

#[test]
fn strict_coverage_and_bad_rules_stop_the_snapshot_before_any_row_is_read() {
    let (mut ws, db) = pii_workspace("anon_strict");
    let rules = pii_rules();
    // A column added in production since the rules were written.
    psql(
        source(),
        &db,
        "ALTER TABLE app.people ADD COLUMN loyalty_note text",
    );
    let err = ws.fails(&["snapshot", "--rules", &rules]);
    assert!(err.contains("app.people.loyalty_note"), "{err}");
    assert!(err.contains("loyalty_note = "), "a suggested rule: {err}");
    assert!(ws.ok(&["list"]).lines().all(|l| !l.contains("anonymized")));
    psql(
        source(),
        &db,
        "ALTER TABLE app.people DROP COLUMN loyalty_note",
    );

    // The key variable unset: named, and nothing else said about it.
    ws.vars.remove(KEY_VAR);
    let err = ws.fails(&["snapshot", "--rules", &rules]);
    assert!(
        err.contains("DOPPEL_ANON_KEY") && err.contains("not set"),
        "{err}"
    );
    ws.set(KEY_VAR, KEY);

    // A rule whose output cannot fit the column, at its file:line:col.
    let bad = rules_variant(
        &ws,
        "bad-rules",
        &[(
            "postcode = \"postcode\"",
            "postcode = { transformer = \"constant\", value = \"a value far too long for twelve\" }",
        )],
    );
    let err = ws.fails(&["snapshot", "--rules", &bad]);
    let text = std::fs::read_to_string(std::path::Path::new(&bad).join("app.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("postcode"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("app.toml:{line}:")), "{err}");
    assert!(err.contains("app.people.postcode"), "{err}");

    // A value the transformer cannot handle (keep_domain needs a well-formed address):
    // named by table, column and row, never quoted; on_error decides, the default stops.
    psql(
        source(),
        &db,
        "UPDATE app.people SET email = 'broken-qzv-address' WHERE id = 5",
    );
    let people_email = "email = { transformer = \"email\", domain = \"email\", unique = true }";
    let strict = rules_variant(
        &ws,
        "keep-domain",
        &[(
            people_email,
            "email = { transformer = \"email\", keep_domain = true, unique = true }",
        )],
    );
    let err = ws.fails(&["snapshot", "--rules", &strict]);
    assert!(
        err.contains("table app.people, row ") && err.contains("column email"),
        "{err}"
    );
    assert!(
        !err.contains("broken-qzv-address"),
        "the value leaked: {err}"
    );
    assert!(ws.ok(&["list"]).lines().all(|l| !l.contains("anonymized")));
    let fallback = rules_variant(
        &ws,
        "fallback",
        &[(
            people_email,
            "email = { transformer = \"email\", keep_domain = true, unique = true, \
             on_error = { fallback = \"unknown@example.com\" } }",
        )],
    );
    let out = ws.ok(&["snapshot", "--rules", &fallback, "--json"]);
    assert!(out.contains("anonymized"), "{out}");
}

/// A copy of the pii rules with some lines replaced, in the workspace; returns its folder.
fn rules_variant(ws: &Workspace, name: &str, replace: &[(&str, &str)]) -> String {
    let dir = ws.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = std::fs::read_to_string(project_dir().join("rules/pii/app.toml")).unwrap();
    for (old, new) in replace {
        assert!(text.contains(old), "{old} is not in the pii rules");
        text = text.replacen(old, new, 1);
    }
    std::fs::write(dir.join("app.toml"), &text).unwrap();
    dir.display().to_string()
}

#[test]
fn rules_check_preview_and_the_transformer_list() {
    let (ws, _db) = pii_workspace("anon_cli");
    let rules = pii_rules();
    let out = ws.ok(&["rules", "check", "--rules", &rules]);
    assert!(out.contains("rules OK"), "{out}");
    // Against a raw snapshot's recorded catalog, without the source.
    let raw = ws.snapshot();
    let out = ws.ok(&["rules", "check", "--snapshot", &raw, "--rules", &rules]);
    assert!(out.contains(&format!("snapshot {raw}")), "{out}");
    // The demo rules do not fit this database: every unknown table is named.
    let demo = project_dir().join("rules/demo");
    let err = ws.fails(&["rules", "check", "--rules", demo.to_str().unwrap()]);
    assert!(err.contains("public.customers does not exist"), "{err}");

    let out = ws.ok(&[
        "rules",
        "preview",
        "--table",
        "app.people",
        "--limit",
        "2",
        "--rules",
        &rules,
    ]);
    assert!(out.contains("qzv.person1@origin-corp.test"), "{out}");
    assert!(out.contains("→"), "{out}");
    assert_eq!(out.matches("── app.people row").count(), 2, "{out}");

    // scan writes a complete rules file that checks strictly, with no sampled value in it.
    let suggested = ws.dir.path().join("suggested");
    let file = suggested.join("suggested.toml");
    let out = ws.ok(&["rules", "scan", "--write", file.to_str().unwrap()]);
    assert!(
        !out.to_lowercase().contains("qzv"),
        "a sampled value was printed: {out}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.to_lowercase().contains("qzv"),
        "a sampled value was written: {text}"
    );
    assert!(text.contains("email = { transformer = \"email\""), "{text}");
    let out = ws.ok(&["rules", "check", "--rules", suggested.to_str().unwrap()]);
    assert!(out.contains("rules OK"), "{out}");
    let err = ws.fails(&["rules", "scan", "--write", file.to_str().unwrap()]);
    assert!(err.contains("--force"), "{err}");

    let out = ws.ok(&["rules", "list-transformers", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(list.len() >= 30, "{} transformers", list.len());
    let email = list.iter().find(|t| t["name"] == "email").unwrap();
    assert_eq!(email["preserves_uniqueness"], "only with unique = true");
    assert!(email["params"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "unique"));
}

#[test]
fn a_table_left_out_takes_its_own_sequence_along_and_the_restore_succeeds() {
    let db = fresh_db(source(), "anon_skipseq");
    psql(
        source(),
        &db,
        "CREATE TABLE kept (id serial PRIMARY KEY, v text); \
         CREATE TABLE audit (id bigserial PRIMARY KEY, what text); \
         INSERT INTO kept (v) SELECT 'v' || g FROM generate_series(1, 50) g; \
         INSERT INTO audit (what) SELECT 'secret ' || g FROM generate_series(1, 50) g;",
    );
    let mut ws = Workspace::with_source(&db);
    ws.set(KEY_VAR, "skip-sequence-test-key-0123");
    let dir = ws.dir.path().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("r.toml"),
        "version = 1\n[tables.\"public.kept\"]\ndecision = \"keep\"\n\
         [tables.\"public.audit\"]\ndecision = \"skip\"\n",
    )
    .unwrap();
    let out = snapshot_json(
        &ws,
        &["snapshot", "--rules", dir.to_str().unwrap(), "--json"],
    );
    let id = out["id"].as_str().unwrap().to_string();
    let restored = ws.restore_verified(&id, "skipseq");
    assert_eq!(psql(target(), &restored, "SELECT count(*) FROM kept"), "50");
    assert_eq!(
        psql(target(), &restored, "SELECT to_regclass('public.audit_id_seq') IS NULL, to_regclass('public.audit') IS NULL"),
        "t|t",
        "neither the table left out nor its sequence is restored"
    );
    assert_eq!(
        psql(target(), &restored, "SELECT nextval('kept_id_seq')"),
        "51"
    );
}

#[test]
fn empty_values_are_kept_unless_the_rule_says_empty_transform() {
    let db = fresh_db(source(), "anon_empty");
    psql(
        source(),
        &db,
        "CREATE TABLE people (id int PRIMARY KEY, phone text, title text, code char(4)); \
         INSERT INTO people SELECT g, \
           CASE WHEN g % 2 = 0 THEN '' ELSE '+1 555 01' || lpad(g::text, 2, '0') END, \
           CASE WHEN g % 3 = 0 THEN '' ELSE 'Dr' END, \
           CASE WHEN g % 2 = 0 THEN '' ELSE 'AB' || g % 10 END \
         FROM generate_series(1, 30) g;",
    );
    let mut ws = Workspace::with_source(&db);
    ws.set(KEY_VAR, KEY);
    let dir = ws.dir.path().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    let rules = |title_rule: &str| {
        std::fs::write(
            dir.join("r.toml"),
            format!(
                "version = 1\n[tables.\"public.people\".columns]\nid = \"keep\"\n\
                 phone = \"phone\"\ncode = \"postcode\"\ntitle = {title_rule}\n"
            ),
        )
        .unwrap();
    };
    // By default the blank phones and codes (a blank char(4) is four spaces) stay as they
    // are, where `phone` and `postcode` would refuse them, and the constant leaves them too.
    rules("{ transformer = \"constant\", value = \"n/a\" }");
    let out = snapshot_json(
        &ws,
        &["snapshot", "--rules", dir.to_str().unwrap(), "--json"],
    );
    let restored = ws.restore_verified(out["id"].as_str().unwrap(), "anon_empty_keep");
    let one = |db: &str, sql: &str| psql(target(), db, sql);
    assert_eq!(
        one(&restored, "SELECT count(*) FROM people WHERE phone = ''"),
        "15"
    );
    assert_eq!(
        one(&restored, "SELECT count(*) FROM people WHERE code = ''"),
        "15"
    );
    assert_eq!(
        one(&restored, "SELECT count(*) FILTER (WHERE title = ''), count(*) FILTER (WHERE title = 'n/a') FROM people"),
        "10|20"
    );
    // The others are redrawn, in their own shape.
    assert_eq!(
        one(
            &restored,
            "SELECT count(*) FROM people WHERE phone ~ '^\\+\\d \\d{3} \\d{4}$'"
        ),
        "15"
    );
    let originals = psql(
        source(),
        &db,
        "SELECT string_agg(quote_literal(phone), ',') FROM people WHERE phone <> ''",
    );
    assert_eq!(
        one(
            &restored,
            &format!("SELECT count(*) FROM people WHERE phone IN ({originals})")
        ),
        "0"
    );
    // `empty = "transform"`: the constant is written over them too; on `phone`, a blank is
    // then a value like any other, which it refuses.
    rules("{ transformer = \"constant\", value = \"n/a\", empty = \"transform\" }");
    let out = snapshot_json(
        &ws,
        &["snapshot", "--rules", dir.to_str().unwrap(), "--json"],
    );
    let restored = ws.restore_verified(out["id"].as_str().unwrap(), "anon_empty_transform");
    assert_eq!(
        one(&restored, "SELECT count(*) FROM people WHERE title = 'n/a'"),
        "30"
    );
    std::fs::write(
        dir.join("r.toml"),
        "version = 1\n[tables.\"public.people\".columns]\nid = \"keep\"\ntitle = \"keep\"\n\
         code = \"keep\"\nphone = { transformer = \"phone\", empty = \"transform\" }\n",
    )
    .unwrap();
    let err = ws.fails(&["snapshot", "--rules", dir.to_str().unwrap()]);
    assert!(err.contains("not a phone number (no digits)"), "{err}");
    assert!(err.contains("column phone"), "{err}");
    // The option is listed with the rule-level keys.
    let out = ws.ok(&["rules", "list-transformers"]);
    assert!(
        out.contains("empty (what an empty (or all-blank) value becomes"),
        "{out}"
    );
}
