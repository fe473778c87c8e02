use std::path::Path;

use super::*;
use crate::catalog::{CatalogColumn, ForeignKey};

mod effective;

fn col(name: &str, type_name: &str, not_null: bool) -> CatalogColumn {
    CatalogColumn {
        name: name.into(),
        type_name: type_name.into(),
        not_null,
        generated: false,
        base_type: type_name.into(),
        enum_labels: Vec::new(),
        domain_checks: Vec::new(),
    }
}

fn fk(name: &str, cols: &[&str], table: &str, ref_cols: &[&str]) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        columns: cols.iter().map(|c| c.to_string()).collect(),
        ref_schema: "public".into(),
        ref_table: table.into(),
        ref_columns: ref_cols.iter().map(|c| c.to_string()).collect(),
    }
}

fn table(name: &str, columns: Vec<CatalogColumn>) -> CatalogTable {
    CatalogTable {
        schema: "public".into(),
        name: name.into(),
        columns,
        ..CatalogTable::default()
    }
}

/// A small shop: customers ← orders ← order_items, an audit log, a partitioned table.
fn shop() -> Catalog {
    let mut customers = table(
        "customers",
        vec![
            col("id", "bigint", true),
            col("email", "text", true),
            col("first_name", "text", true),
            col("phone", "text", false),
            col("country", "character(2)", true),
            col("is_admin", "boolean", true),
            CatalogColumn {
                generated: true,
                ..col("email_domain", "text", false)
            },
        ],
    );
    customers.primary_key = vec!["id".into()];
    customers.unique = vec![vec!["email".into()]];
    let mut orders = table(
        "orders",
        vec![
            col("id", "bigint", true),
            col("customer_id", "bigint", true),
            col("shipping_name", "text", true),
            col("status", "text", true),
        ],
    );
    orders.primary_key = vec!["id".into()];
    orders.foreign_keys = vec![fk(
        "orders_customer_id_fkey",
        &["customer_id"],
        "customers",
        &["id"],
    )];
    let mut items = table(
        "order_items",
        vec![
            col("order_id", "bigint", true),
            col("line_no", "integer", true),
            col("quantity", "integer", true),
        ],
    );
    items.primary_key = vec!["order_id".into(), "line_no".into()];
    items.foreign_keys = vec![fk(
        "order_items_order_id_fkey",
        &["order_id"],
        "orders",
        &["id"],
    )];
    let audit = table(
        "audit_log",
        vec![col("id", "bigint", true), col("actor_email", "text", false)],
    );
    let parent = CatalogTable {
        partitioned: true,
        ..table(
            "measurements",
            vec![
                col("id", "bigint", true),
                col("reading", "numeric", false),
                col("operator_email", "text", false),
            ],
        )
    };
    let partition = CatalogTable {
        partition_of: Some(TableName::new("public", "measurements")),
        ..table(
            "measurements_2024",
            vec![
                col("id", "bigint", true),
                col("reading", "numeric", false),
                col("operator_email", "text", false),
            ],
        )
    };
    Catalog {
        tables: vec![audit, customers, parent, partition, items, orders],
    }
}

const SHOP_RULES: &str = r#"version = 1
[tables."public.customers".columns]
id = "keep"
email = { transformer = "email", domain = "email" }
first_name = "first_name"
phone = { transformer = "phone", when = "country = 'FR' AND NOT is_admin" }
country = "keep"
is_admin = "keep"

[tables."public.orders".columns]
id = "keep"
customer_id = "keep"
shipping_name = "full_name"
status = "keep"

[tables."public.order_items"]
decision = "keep"

[tables."public.audit_log"]
decision = "skip"

[tables."public.measurements".columns]
id = "keep"
reading = { transformer = "noise", ratio = 0.05 }
operator_email = { transformer = "email", domain = "email" }
"#;

fn rules(text: &str) -> RuleSet {
    RuleSet::parse(Path::new("rules/shop.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn preserves(rule: &ColumnRule) -> Option<bool> {
    match rule.transformer.as_str() {
        "email" | "hash" | "permute" | "uuid" => Some(true),
        "first_name" | "last_name" | "full_name" | "phone" | "null" | "constant" | "noise"
        | "city" => Some(false),
        _ => None,
    }
}

fn run(text: &str, catalog: &Catalog, strict: bool) -> Report {
    check(&rules(text), catalog, strict, &preserves)
}

/// Replaces the rules of one column of SHOP_RULES (or adds a line after a header).
fn shop_with(old: &str, new: &str) -> String {
    assert!(SHOP_RULES.contains(old), "{old}");
    SHOP_RULES.replacen(old, new, 1)
}

#[test]
fn the_shop_rules_cover_the_shop() {
    let report = run(SHOP_RULES, &shop(), true);
    assert!(report.is_ok(), "{report}");
    assert!(report.warnings.is_empty(), "{report}");
    assert_eq!(report.to_string(), "");
}

#[test]
fn a_new_column_stops_a_strict_check_with_a_suggestion() {
    let mut catalog = shop();
    let customers = catalog
        .tables
        .iter_mut()
        .find(|t| t.name == "customers")
        .unwrap();
    customers.columns.push(col("last_name", "text", false));
    customers.columns.push(col("loyalty_tier", "text", false));
    catalog.tables.push(table(
        "newsletter",
        vec![
            col("id", "integer", true),
            col("subscriber_email", "text", true),
        ],
    ));
    let report = run(SHOP_RULES, &catalog, true);
    assert!(report.errors.is_empty(), "{report}");
    let names: Vec<String> = report
        .uncovered
        .iter()
        .map(|u| u.column.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "public.customers.last_name",
            "public.customers.loyalty_tier",
            "public.newsletter.id",
            "public.newsletter.subscriber_email"
        ]
    );
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(text.contains("4 columns are not covered"), "{text}");
    assert!(
        text.contains("  public.customers.loyalty_tier (text)"),
        "{text}"
    );
    let suggested = report.suggested_rules();
    assert!(
        suggested.contains("# add to the columns of public.customers at rules/shop.toml:2:9\n[tables.\"public.customers\".columns]\nlast_name = { transformer = \"last_name\" }"),
        "{suggested}"
    );
    assert!(
        suggested.contains("loyalty_tier = \"keep\"  # needs review"),
        "{suggested}"
    );
    assert!(
        suggested.contains("[tables.\"public.newsletter\".columns]\nid = \"keep\"  # needs review: kept as it is\nsubscriber_email = { transformer = \"email\" }"),
        "{suggested}"
    );
    // The suggestions are valid rules: pasted in a file of their own, they cover it all.
    let extra: String = suggested
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("[tables.\"public.customers\".columns]\n", "");
    let merged = RuleSet::parse_sources(&[
        (
            "rules/shop.toml".into(),
            SHOP_RULES.replace(
                "is_admin = \"keep\"\n",
                &format!(
                    "is_admin = \"keep\"\n{}",
                    &extra[..extra.find("[tables").unwrap()]
                ),
            ),
        ),
        (
            "rules/new.toml".into(),
            format!("version = 1\n{}", &extra[extra.find("[tables").unwrap()..]),
        ),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let report = check(&merged, &catalog, true, &preserves);
    assert!(report.is_ok(), "{report}");
    // Not strict: the same gaps are copied as they are, without complaint.
    assert!(run(SHOP_RULES, &catalog, false).is_ok());
}

#[test]
fn rule_errors_point_at_the_rule() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (replace, with, expected location, message fragment)
        ("[tables.\"public.audit_log\"]", "[tables.\"public.audit_logs\"]", "19:9", "table public.audit_logs does not exist in the database (did you mean `public.audit_log`?)"),
        ("first_name = \"first_name\"", "frist_name = \"first_name\"", "5:1", "column public.customers.frist_name does not exist (did you mean `first_name`?)"),
        ("country = 'FR'", "county = 'FR'", "6:42", "reads column `county`, which public.customers does not have (did you mean `country`?)"),
        ("NOT is_admin", "NOT country", "6:42", "uses `country` as a condition, but it is character(2)"),
        ("email = { transformer = \"email\", domain = \"email\" }", "email = \"full_name\"", "4:9", "transformer `full_name` does not preserve uniqueness, but public.customers.email is in a unique constraint (email)"),
        ("id = \"keep\"\nemail", "id = \"first_name\"\nemail", "3:6", "public.customers.id is in the primary key (id)"),
        ("first_name = \"first_name\"", "first_name = \"frobnicate\"", "5:14", "unknown transformer `frobnicate`"),
        ("first_name = \"first_name\"", "first_name = \"null\"", "5:14", "NOT NULL, so transformer `null`"),
        ("first_name = \"first_name\"", "first_name = { transformer = \"first_name\", on_error = \"null\" }", "5:1", "on_error = \"null\""),
        ("is_admin = \"keep\"", "is_admin = \"keep\"\nemail_domain = \"hash\"", "9:1", "generated column"),
        ("country = 'FR'", "email_domain = 'FR'", "6:42", "generated column, which is not in the copied rows"),
    ];
    let mut wrong = Vec::new();
    for (old, new, at, msg) in cases {
        let report = run(&shop_with(old, new), &shop(), true);
        let want = format!("rules/shop.toml:{at}: ");
        if !report
            .errors
            .iter()
            .any(|e| e.to_string().starts_with(&want) && e.message.contains(msg))
        {
            wrong.push(format!("{new}: want {want}{msg}, got:\n{report}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Keeping a generated column is harmless.
    let keep_generated = shop_with(
        "is_admin = \"keep\"",
        "is_admin = \"keep\"\nemail_domain = \"keep\"",
    );
    assert!(run(&keep_generated, &shop(), true).is_ok());
}

#[test]
fn nulls_never_collide_in_a_unique_column() {
    let mut catalog = shop();
    let customers = catalog
        .tables
        .iter_mut()
        .find(|t| t.name == "customers")
        .unwrap();
    customers.unique.push(vec!["phone".into()]);
    let text = shop_with(
        "phone = { transformer = \"phone\", when = \"country = 'FR' AND NOT is_admin\" }",
        "phone = \"null\"",
    );
    assert!(run(&text, &catalog, true).is_ok());
    let text = shop_with(
        "phone = { transformer = \"phone\", when = \"country = 'FR' AND NOT is_admin\" }",
        "phone = \"phone\"",
    );
    assert!(!run(&text, &catalog, true).is_ok());
}

#[test]
fn a_conditional_transform_of_a_unique_column_is_a_warning() {
    let text = shop_with(
        "email = { transformer = \"email\", domain = \"email\" }",
        "email = { transformer = \"email\", when = \"NOT is_admin\" }",
    );
    let report = run(&text, &shop(), true);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.warnings.len(), 1, "{report}");
    assert!(
        report.warnings[0].message.contains("can collide"),
        "{report}"
    );
}

#[test]
fn warnings_for_shared_domains_and_references_to_empty_tables() {
    let text = shop_with(
        "operator_email = { transformer = \"email\", domain = \"email\" }",
        "operator_email = { transformer = \"hash\", domain = \"email\" }",
    )
    .replace("decision = \"skip\"", "decision = \"schema-only\"");
    // order_items (kept, so with rows) gains a foreign key to the now empty audit_log.
    let mut catalog = shop();
    let items = catalog
        .tables
        .iter_mut()
        .find(|t| t.name == "order_items")
        .unwrap();
    items
        .foreign_keys
        .push(fk("items_audit", &["quantity"], "audit_log", &["id"]));
    let report = run(&text, &catalog, false);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.warnings.len(), 2, "{report}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("share domain \"email\"")),
        "{report}"
    );
    let empty = report
        .warnings
        .iter()
        .find(|w| w.message.contains("schema-only"))
        .unwrap_or_else(|| panic!("{report}"));
    // At the decision's table, where the fix goes.
    assert_eq!(
        empty.location.as_ref().unwrap().to_string(),
        "rules/shop.toml:19:9"
    );
}

#[test]
fn did_you_mean_only_for_close_names() {
    assert_eq!(
        did_you_mean("emial", ["email", "id"].into_iter()),
        " (did you mean `email`?)"
    );
    assert_eq!(did_you_mean("zzz", ["email", "id"].into_iter()), "");
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(
        table_key(&TableName::new("public", "a.b")),
        "'public.\"a.b\"'"
    );
    assert_eq!(
        TableName::parse(
            &toml::from_str::<toml::Table>(&format!(
                "{} = 1",
                table_key(&TableName::new("p", "x\"y"))
            ))
            .unwrap()
            .keys()
            .next()
            .unwrap()[..]
        ),
        Ok(TableName::new("p", "x\"y"))
    );
}
