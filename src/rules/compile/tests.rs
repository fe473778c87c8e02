//! Rules built against a hand-made catalog and applied to COPY rows.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::anonymize::Key;
use crate::catalog::{CatalogColumn, CatalogTable, ForeignKey};
use crate::rules::RuleSet;

fn col(name: &str, type_name: &str) -> CatalogColumn {
    CatalogColumn {
        name: name.into(),
        type_name: type_name.into(),
        not_null: false,
        generated: false,
        base_type: type_name.into(),
        ..CatalogColumn::default()
    }
}

/// users(id, email unique, first_name, last_name, nick, is_admin, notes) and
/// logins(id, user_id → users.id, ip).
fn catalog() -> Catalog {
    let users = CatalogTable {
        schema: "public".into(),
        name: "users".into(),
        columns: vec![
            col("id", "integer"),
            col("email", "character varying(60)"),
            col("first_name", "text"),
            col("last_name", "text"),
            col("nick", "text"),
            col("is_admin", "boolean"),
            col("notes", "text"),
        ],
        primary_key: vec!["id".into()],
        unique: vec![vec!["email".into()]],
        ..CatalogTable::default()
    };
    let logins = CatalogTable {
        schema: "public".into(),
        name: "logins".into(),
        columns: vec![
            col("id", "integer"),
            col("user_id", "integer"),
            col("ip", "inet"),
        ],
        primary_key: vec!["id".into()],
        foreign_keys: vec![ForeignKey {
            name: "logins_user_id_fkey".into(),
            columns: vec!["user_id".into()],
            ref_schema: "public".into(),
            ref_table: "users".into(),
            ref_columns: vec!["id".into()],
        }],
        ..CatalogTable::default()
    };
    Catalog {
        tables: vec![logins, users],
    }
}

const RULES: &str = r#"version = 1
[tables."public.users".columns]
id = { transformer = "permute" }
email = { transformer = "email", unique = true }
first_name = "first_name"
last_name = "last_name"
nick = { transformer = "template", template = "{first_name|lower}.{last_name|initial|lower}", when = "NOT is_admin" }
is_admin = "keep"
notes = "keep"

[tables."public.logins".columns]
id = "keep"
ip = "ipv4"
"#;

fn rules(text: &str) -> RuleSet {
    RuleSet::parse(Path::new("rules/t.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn key(secret: &str) -> Arc<Key> {
    Arc::new(Key::from_secret(secret).unwrap())
}

fn users_columns() -> Vec<String> {
    [
        "id",
        "email",
        "first_name",
        "last_name",
        "nick",
        "is_admin",
        "notes",
    ]
    .map(String::from)
    .to_vec()
}

fn transform(compiled: &CompiledRules, table: &str, columns: &[String]) -> Arc<TableTransform> {
    match compiled
        .bind(&TableName::new("public", table), columns)
        .unwrap()
    {
        TableAction::Transform(t) => t,
        other => panic!("{table}: {other:?}"),
    }
}

fn rewrite(rewriter: &mut Rewriter, rows: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for row in rows {
        rewriter.rewrite(row.as_bytes(), &mut out).unwrap();
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
fn rows_are_rewritten_and_untouched_fields_keep_their_exact_bytes() {
    let compiled = CompiledRules::new(&rules(RULES), &catalog()).unwrap();
    let t = transform(&compiled, "users", &users_columns());
    let mut r = Rewriter::new(t, key("a secret of sixteen chars or more"));
    // notes holds escapes that a decode/encode round trip would normalise (\x41 is "A").
    let rows = rewrite(
        &mut r,
        &[
            "1\tada@corp.example\tAda\tLovelace\tada\tf\tline\\nbreak \\x41",
            "2\tstaff@corp.example\tGrace\tHopper\tSupport\tt\t\\N",
        ],
    );
    assert_eq!(
        rows[0][6], "line\\nbreak \\x41",
        "a kept field is copied raw"
    );
    assert_eq!(rows[1][6], "\\N");
    assert_ne!(rows[0][1], "ada@corp.example");
    assert!(rows[0][1].chars().count() <= 60);
    assert_ne!(rows[0][2], "Ada");
    // The template read the new names; the admin row kept its nick (its `when` is false).
    let expected = format!(
        "{}.{}",
        rows[0][2].to_lowercase(),
        rows[0][3].chars().next().unwrap().to_lowercase()
    );
    assert_eq!(rows[0][4], expected);
    assert_eq!(rows[1][4], "Support");
    assert_eq!(rows[0][5], "f");
    assert_eq!(r.rows(), 2);
}

#[test]
fn the_same_key_gives_the_same_rows_and_references_follow_their_key() {
    let compiled = CompiledRules::new(&rules(RULES), &catalog()).unwrap();
    let users = transform(&compiled, "users", &users_columns());
    let logins_cols = ["id", "user_id", "ip"].map(String::from).to_vec();
    let logins = transform(&compiled, "logins", &logins_cols);
    let row = ["7\tx@y.example\tA\tB\tn\tf\t\\N"];
    let a = rewrite(
        &mut Rewriter::new(users.clone(), key("first secret, long enough")),
        &row,
    );
    let b = rewrite(
        &mut Rewriter::new(users.clone(), key("first secret, long enough")),
        &row,
    );
    let c = rewrite(
        &mut Rewriter::new(users, key("second secret, long enough")),
        &row,
    );
    assert_eq!(a, b);
    assert_ne!(a[0][1], c[0][1]);
    // logins.user_id follows users.id: the same original id maps to the same new id.
    let l = rewrite(
        &mut Rewriter::new(logins, key("first secret, long enough")),
        &["1\t7\t10.0.0.1"],
    );
    assert_eq!(l[0][1], a[0][0]);
    assert_eq!(l[0][0], "1", "logins.id is kept");
    assert_ne!(l[0][2], "10.0.0.1");
}

#[test]
fn two_rows_that_would_share_a_unique_value_stop_with_the_columns_named() {
    // Transformed only where the condition holds: a new address can meet an untouched one.
    let text = RULES.replace(
        "email = { transformer = \"email\", unique = true }",
        "email = { transformer = \"constant\", value = \"same@example.com\", when = \"NOT is_admin\" }",
    );
    let e = CompiledRules::new(&rules(&text), &catalog()).unwrap_err();
    let line = text.lines().position(|l| l.starts_with("email")).unwrap() + 1;
    assert!(
        e.to_string().contains(&format!("rules/t.toml:{line}:")),
        "{e}"
    );
    assert!(e.to_string().contains("public.users.email"), "{e}");

    let text = RULES.replace(
        "email = { transformer = \"email\", unique = true }",
        "email = { transformer = \"hash\", length = 32, when = \"NOT is_admin\" }",
    );
    let compiled = CompiledRules::new(&rules(&text), &catalog()).unwrap();
    let t = transform(&compiled, "users", &users_columns());
    let k = key("a secret of sixteen chars or more");
    // Find what the hash makes of an address, then give an admin (left as is) that value.
    let first = rewrite(
        &mut Rewriter::new(t.clone(), k.clone()),
        &["1\tp@q.example\tA\tB\tn\tf\tx"],
    );
    let hashed = &first[0][1];
    let mut r = Rewriter::new(t, k);
    let mut out = Vec::new();
    r.rewrite(b"1\tp@q.example\tA\tB\tn\tf\tx", &mut out)
        .unwrap();
    let clash = format!("2\t{hashed}\tC\tD\tm\tt\ty");
    let e = r
        .rewrite(clash.as_bytes(), &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("table public.users, row 2") && e.contains("(email)"),
        "{e}"
    );
    assert!(!e.contains(hashed.as_str()), "values are never quoted: {e}");
}

#[test]
fn build_errors_point_at_the_rule_and_parameter() {
    let text = RULES.replace(
        "ip = \"ipv4\"",
        "ip = { transformer = \"ipv4\", bogus = 1 }",
    );
    let e = CompiledRules::new(&rules(&text), &catalog())
        .unwrap_err()
        .to_string();
    let (line, text_line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("ip ="))
        .unwrap();
    let col = text_line.find("bogus").unwrap() + 1;
    assert!(
        e.contains(&format!("rules/t.toml:{}:{col}", line + 1)),
        "{e}"
    );
    assert!(e.contains("bogus"), "{e}");

    // An output that cannot fit: a 60-character column cannot take a 200-character constant.
    let text = RULES
        .replace(
            "first_name = \"first_name\"",
            &format!("first_name = \"first_name\"\n# {}", "x"),
        )
        .replace(
            "email = { transformer = \"email\", unique = true }",
            &format!(
                "email = {{ transformer = \"constant\", value = \"{}\" }}",
                "y".repeat(200)
            ),
        );
    let e = CompiledRules::new(&rules(&text), &catalog())
        .unwrap_err()
        .to_string();
    assert!(e.contains("public.users.email"), "{e}");
}

#[test]
fn a_value_the_transformer_refuses_names_table_column_and_row_never_the_value() {
    let text = RULES.replace("ip = \"ipv4\"", "ip = { transformer = \"permute\" }");
    let catalog = {
        let mut c = catalog();
        c.tables[0].columns[2] = col("ip", "text");
        c
    };
    let compiled = CompiledRules::new(&rules(&text), &catalog).unwrap();
    let cols = ["id", "user_id", "ip"].map(String::from).to_vec();
    let t = transform(&compiled, "logins", &cols);
    let mut r = Rewriter::new(t, key("a secret of sixteen chars or more"));
    let mut out = Vec::new();
    r.rewrite(b"1\t7\t42", &mut out).unwrap();
    let e = r
        .rewrite(b"2\t7\tsecret-looking-value", &mut out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("table public.logins, row 2: column ip"), "{e}");
    assert!(e.contains("on_error"), "{e}");
    assert!(!e.contains("secret-looking-value"), "{e}");
    // Nothing of the refused row was written.
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn the_stream_is_rewritten_across_arbitrary_piece_boundaries() {
    let compiled = CompiledRules::new(&rules(RULES), &catalog()).unwrap();
    let t = transform(&compiled, "users", &users_columns());
    let k = key("a secret of sixteen chars or more");
    let input: String = (1..=50)
        .map(|i| format!("{i}\tu{i}@x.example\tF{i}\tL{i}\tn{i}\tf\tnote {i}\n"))
        .collect();
    let mut whole = Vec::new();
    Rewriter::new(t.clone(), k.clone())
        .feed(input.as_bytes(), &mut whole)
        .unwrap();
    let pieces: Vec<Result<bytes::Bytes>> = input
        .as_bytes()
        .chunks(7)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let streamed: Vec<u8> = futures::executor::block_on(async {
        use futures::StreamExt;
        let s = Rewriter::new(t.clone(), k.clone()).stream(futures::stream::iter(pieces));
        let parts: Vec<Result<bytes::Bytes>> = s.collect().await;
        parts
            .into_iter()
            .flat_map(|p| p.unwrap().to_vec())
            .collect()
    });
    assert_eq!(streamed, whole);
    // A stream cut inside a row ends with an error, not with a shorter table.
    let cut = &input.as_bytes()[..input.len() - 3];
    let result: Vec<Result<bytes::Bytes>> = futures::executor::block_on(async {
        use futures::StreamExt;
        Rewriter::new(t, k)
            .stream(futures::stream::iter([Ok(bytes::Bytes::copy_from_slice(
                cut,
            ))]))
            .collect()
            .await
    });
    assert!(result.last().unwrap().is_err());
}

#[test]
fn tables_without_transformed_columns_are_copied_and_decisions_are_kept() {
    let text = format!("{RULES}\n[tables.\"public.logins\"]\ndecision = \"schema-only\"\n")
        .replace(
            "[tables.\"public.logins\".columns]\nid = \"keep\"\nip = \"ipv4\"\n",
            "",
        );
    let compiled = CompiledRules::new(&rules(&text), &catalog()).unwrap();
    let cols = ["id", "user_id", "ip"].map(String::from).to_vec();
    assert!(matches!(
        compiled
            .bind(&TableName::new("public", "logins"), &cols)
            .unwrap(),
        TableAction::SchemaOnly
    ));
    let e = compiled
        .bind(&TableName::new("public", "new_table"), &cols)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("public.new_table") && e.contains("rules check"),
        "{e}"
    );
}

#[test]
fn a_remembered_output_is_the_output_a_fresh_rewriter_computes() {
    let compiled = CompiledRules::new(&rules(RULES), &catalog()).unwrap();
    let t = transform(&compiled, "users", &users_columns());
    let k = key("a secret of sixteen chars or more");
    let rows: Vec<String> = (1..=300)
        .map(|i| format!("{i}\tu{i}@x.example\tName{}\tLast{}\tn\tf\tx", i % 7, i % 5))
        .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let together = rewrite(&mut Rewriter::new(t.clone(), k.clone()), &refs);
    for (row, out) in refs.iter().zip(&together).step_by(37) {
        let alone = rewrite(&mut Rewriter::new(t.clone(), k.clone()), &[row]);
        assert_eq!(&alone[0], out, "{row}");
    }
}

#[test]
fn simple_domain_checks_are_evaluated_on_every_output() {
    for (def, simple) in [
        ("CHECK ((VALUE > 0))", true),
        ("CHECK (((VALUE)::text <> ''::text))", true),
        ("CHECK ((VALUE)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))", false),
        ("CHECK ((VALUE ~ '^[A-Z]{2}$'::text))", false),
        ("CHECK ((char_length((VALUE)::text) <= 10))", false),
        ("CHECK (((VALUE)::text <> ALL (ARRAY['x'::text])))", false),
    ] {
        assert_eq!(super::domain_check(def).is_some(), simple, "{def}");
    }
    let with_check = |rule: &str| {
        let mut catalog = catalog();
        catalog.tables[1].columns[4].domain_checks = vec![
            "CHECK ((VALUE <> 'forbidden'::text))".into(),
            "CHECK ((VALUE ~ '^x'::text))".into(),
        ];
        let text = RULES.replace(
            "nick = { transformer = \"template\", template = \"{first_name|lower}.{last_name|initial|lower}\", when = \"NOT is_admin\" }",
            rule,
        );
        let compiled = CompiledRules::new(&rules(&text), &catalog).unwrap();
        let t = transform(&compiled, "users", &users_columns());
        let mut out = Vec::new();
        Rewriter::new(t, key("a secret of sixteen chars or more"))
            .rewrite(b"1\ta@b.example\tA\tB\tn\tf\tx", &mut out)
            .map(|()| String::from_utf8(out).unwrap())
    };
    let e = with_check("nick = { transformer = \"constant\", value = \"forbidden\" }")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("row 1: column nick") && e.contains("VALUE <> 'forbidden'"),
        "{e}"
    );
    let ok = with_check(
        "nick = { transformer = \"constant\", value = \"forbidden\", on_error = { fallback = \"anon\" } }",
    )
    .unwrap();
    assert_eq!(ok.split('\t').nth(4), Some("anon"));
    assert!(with_check("nick = { transformer = \"constant\", value = \"fine\" }").is_ok());
}
