//! How references follow their keys, and what stops them.

use super::*;

#[test]
fn partitions_follow_keys_through_their_parent_and_report_once() {
    let mut catalog = shop();
    let parent = catalog
        .tables
        .iter_mut()
        .find(|t| t.name == "measurements")
        .unwrap();
    parent.foreign_keys.push(ForeignKey {
        name: "measurements_operator_fkey".into(),
        columns: vec!["operator_email".into()],
        ref_schema: "public".into(),
        ref_table: "customers".into(),
        ref_columns: vec!["email".into()],
    });
    // The same rule as the key (same transformer and domain): fine.
    let report = run(SHOP_RULES, &catalog, true);
    assert!(report.is_ok(), "{report}");
    let eff = effective_rules(&rules(SHOP_RULES), &catalog).unwrap();
    let leaf = eff
        .get(&ColumnId::new(
            "public",
            "measurements_2024",
            "operator_email",
        ))
        .unwrap();
    assert_eq!(leaf.origin, ColumnId::new("public", "customers", "email"));
    let text = shop_with(
        "operator_email = { transformer = \"email\", domain = \"email\" }",
        "operator_email = \"hash\"",
    );
    let report = run(&text, &catalog, true);
    let conflicts: Vec<&Diagnostic> = report
        .errors
        .iter()
        .filter(|e| e.message.contains("must be transformed the same way"))
        .collect();
    assert_eq!(conflicts.len(), 1, "{report}");
    assert!(conflicts[0]
        .message
        .starts_with("public.measurements.operator_email"));
}

#[test]
fn references_follow_a_transformed_key() {
    let text = shop_with("id = \"keep\"\nemail", "id = \"permute\"\nemail");
    let set = rules(&text.replace("customer_id = \"keep\"\n", ""));
    let report = check(&set, &shop(), true, &preserves);
    assert!(report.is_ok(), "{report}");
    let eff = effective_rules(&set, &shop()).unwrap();
    let followed = eff
        .get(&ColumnId::new("public", "orders", "customer_id"))
        .unwrap();
    assert_eq!(followed.rule.transformer, "permute");
    assert_eq!(followed.origin, ColumnId::new("public", "customers", "id"));
    assert_eq!(followed.domain, "public.customers.id");
    let key = eff
        .get(&ColumnId::new("public", "customers", "id"))
        .unwrap();
    assert_eq!(key.domain, followed.domain);
    // Explicit domains are kept; kept columns are absent; partitions use their parent's rules.
    assert_eq!(
        eff.get(&ColumnId::new("public", "customers", "email"))
            .unwrap()
            .domain,
        "email"
    );
    assert!(eff
        .get(&ColumnId::new("public", "orders", "status"))
        .is_none());
    let reading = eff
        .get(&ColumnId::new("public", "measurements_2024", "reading"))
        .unwrap();
    assert_eq!(
        reading.origin,
        ColumnId::new("public", "measurements", "reading")
    );
    assert_eq!(reading.domain, "public.measurements.reading");
    let plan = eff
        .table(&TableName::new("public", "measurements_2024"))
        .unwrap();
    assert_eq!(
        plan.rules_from,
        Some(TableName::new("public", "measurements"))
    );
    assert_eq!(
        eff.table(&TableName::new("public", "audit_log"))
            .unwrap()
            .decision,
        Decision::Skip
    );
    let all: Vec<String> = eff.columns().map(|(id, _)| id.to_string()).collect();
    assert!(
        all.contains(&"public.orders.customer_id".to_string()),
        "{all:?}"
    );

    // An identical explicit rule on the reference is fine; a different one is not.
    let same = text.replace(
        "customer_id = \"keep\"",
        "customer_id = { transformer = \"permute\" }",
    );
    assert!(run(&same, &shop(), true).is_ok());
    let same_domain = text.replace(
        "customer_id = \"keep\"",
        "customer_id = { transformer = \"permute\", domain = \"public.customers.id\" }",
    );
    assert!(run(&same_domain, &shop(), true).is_ok());
    let cases: &[(&str, &str)] = &[
        ("customer_id = \"keep\"", "must be transformed the same way"),
        ("customer_id = \"hash\"", "must be transformed the same way"),
        (
            "customer_id = { transformer = \"permute\", domain = \"other\" }",
            "must be transformed the same way",
        ),
        (
            "customer_id = { transformer = \"permute\", seed = 3 }",
            "must be transformed the same way",
        ),
    ];
    for (rule, msg) in cases {
        let t = text.replace("customer_id = \"keep\"", rule);
        let report = run(&t, &shop(), true);
        let e = report.errors.iter().find(|e| e.message.contains(msg));
        let e = e.unwrap_or_else(|| panic!("{rule}: {report}"));
        assert_eq!(e.location.as_ref().unwrap().line, 12, "{rule}: {report}");
        assert!(effective_rules(&rules(&t), &shop()).is_err());
    }
}

#[test]
fn references_to_kept_keys_stay_kept() {
    // orders.id is kept: order_items.order_id (a kept table) is fine as it is, but
    // transforming a reference to a kept key would break it.
    let text = shop_with("customer_id = \"keep\"", "customer_id = \"permute\"");
    let report = run(&text, &shop(), true);
    assert!(
        report.errors.iter().any(|e| e
            .message
            .contains("which is kept as it is, so transforming")),
        "{report}"
    );
}

#[test]
fn a_kept_table_cannot_reference_a_transformed_key() {
    let text = shop_with(
        "[tables.\"public.orders\".columns]\nid = \"keep\"",
        "[tables.\"public.orders\".columns]\nid = \"permute\"",
    );
    let report = run(&text, &shop(), true);
    let e = report
        .errors
        .iter()
        .find(|e| e.message.contains("public.order_items is kept as it is"))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(e.location.as_ref().unwrap().line, 16, "{report}");
}

#[test]
fn a_referenced_key_cannot_be_conditional() {
    let text = shop_with(
        "id = \"keep\"\nemail",
        "id = { transformer = \"permute\", when = \"is_admin\" }\nemail",
    );
    let report = run(&text, &shop(), true);
    let e = report
        .errors
        .iter()
        .find(|e| e.message.contains("cannot be followed"))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        e.location.as_ref().unwrap().to_string(),
        "rules/shop.toml:3:41"
    );
    assert_eq!(
        report
            .errors
            .iter()
            .filter(|e| e.message.contains("cannot be followed"))
            .count(),
        1
    );
}

#[test]
fn references_follow_keys_transitively_and_through_cycles() {
    let mut a = table("a", vec![col("id", "bigint", true)]);
    a.primary_key = vec!["id".into()];
    let mut b = table("b", vec![col("a_id", "bigint", true)]);
    b.primary_key = vec!["a_id".into()];
    b.foreign_keys = vec![fk("b_a", &["a_id"], "a", &["id"])];
    let mut c = table(
        "c",
        vec![col("b_id", "bigint", true), col("self_id", "bigint", false)],
    );
    c.primary_key = vec!["b_id".into()];
    c.foreign_keys = vec![
        fk("c_b", &["b_id"], "b", &["a_id"]),
        fk("c_self", &["self_id"], "c", &["b_id"]),
    ];
    // d.x and e.y reference each other.
    let mut d = table("d", vec![col("x", "bigint", true)]);
    d.primary_key = vec!["x".into()];
    d.foreign_keys = vec![fk("d_e", &["x"], "e", &["y"])];
    let mut e = table("e", vec![col("y", "bigint", true)]);
    e.primary_key = vec!["y".into()];
    e.foreign_keys = vec![fk("e_d", &["y"], "d", &["x"])];
    let catalog = Catalog {
        tables: vec![a, b, c, d, e],
    };
    let text = "version = 1\n[tables.\"public.a\".columns]\nid = \"hash\"\n\
                [tables.\"public.d\".columns]\nx = \"hash\"\n";
    let set = rules(text);
    let report = check(&set, &catalog, true, &preserves);
    assert!(report.is_ok(), "{report}");
    let eff = effective_rules(&set, &catalog).unwrap();
    for column in [("b", "a_id"), ("c", "b_id"), ("c", "self_id")] {
        let r = eff
            .get(&ColumnId::new("public", column.0, column.1))
            .unwrap();
        assert_eq!(r.origin, ColumnId::new("public", "a", "id"), "{column:?}");
    }
    let y = eff.get(&ColumnId::new("public", "e", "y")).unwrap();
    assert_eq!(y.origin, ColumnId::new("public", "d", "x"));
}

#[test]
fn a_column_referencing_two_keys_needs_them_alike() {
    let mut a = table("a", vec![col("id", "bigint", true)]);
    a.primary_key = vec!["id".into()];
    let mut b = table("b", vec![col("id", "bigint", true)]);
    b.primary_key = vec!["id".into()];
    let mut c = table("c", vec![col("ref", "bigint", true)]);
    c.foreign_keys = vec![
        fk("c_a", &["ref"], "a", &["id"]),
        fk("c_b", &["ref"], "b", &["id"]),
    ];
    let catalog = Catalog {
        tables: vec![a, b, c],
    };
    let alike = "version = 1\n[tables.\"public.a\".columns]\nid = { transformer = \"hash\", domain = \"k\" }\n\
                 [tables.\"public.b\".columns]\nid = { transformer = \"hash\", domain = \"k\" }\n";
    assert!(check(&rules(alike), &catalog, true, &preserves).is_ok());
    let different = alike.replacen("domain = \"k\"", "domain = \"j\"", 1);
    let report = check(&rules(&different), &catalog, true, &preserves);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.message.contains("transformed differently")),
        "{report}"
    );
    let half = "version = 1\n[tables.\"public.a\".columns]\nid = \"hash\"\n\
                [tables.\"public.b\".columns]\nid = \"keep\"\n";
    let report = check(&rules(half), &catalog, true, &preserves);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.message.contains("need the same rule")),
        "{report}"
    );
}
