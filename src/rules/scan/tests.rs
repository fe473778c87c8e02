//! The classifier on case tables (names, values, keys), the rules file on a hand-built
//! catalog, and whole scans of the demo and personal-data fixtures on a real PostgreSQL.

use std::path::Path;

use chrono::NaiveDate;

use super::classify::classify_at;
use super::*;
use crate::anonymize::ColumnType;
use crate::catalog::ForeignKey;
use crate::pg::ConnInfo;
use crate::rules::compile::CompiledRules;
use crate::rules::tests::{catalog_of, cluster, database, project};
use crate::rules::{check, RuleSet};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

/// Classifies with a fixed date, optionally as a member of a key.
fn run(name: &str, type_name: &str, values: &[String], unique: bool) -> Option<Finding> {
    let ty = ColumnType::parse(type_name).ok();
    let keys = Constraints {
        unique: unique.then(|| format!("the primary key ({name})")),
        ..Constraints::default()
    };
    let f = classify_at(
        day(),
        &ColumnId::new("public", "t", name),
        type_name,
        ty.as_ref(),
        values,
        &keys,
    )?;
    // Whatever is suggested must build for the column, as a snapshot will build it.
    if f.transformer != KEEP {
        let mut spec = f.params.clone();
        spec.insert("transformer".into(), f.transformer.into());
        let built = crate::anonymize::Anonymizer::from_spec(&spec, ty.as_ref().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {} does not build: {e}", f.transformer));
        if unique {
            assert!(built.preserves_uniqueness(), "{name}: {}", f.transformer);
        }
    }
    for v in values.iter().filter(|v| v.len() >= 4) {
        assert!(!f.reason.contains(v.as_str()), "{name}: reason leaks {v:?}");
        assert!(
            !f.rule_line().contains(v.as_str()),
            "{name}: rule leaks {v:?}"
        );
    }
    Some(f)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// `n` values made by `make(i)`.
fn many(n: usize, make: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(make).collect()
}

/// The kind and transformer a case expects, or `None` for nothing personal.
type Expected<'a> = Option<(PiiKind, &'a str)>;

#[test]
fn names_alone_suggest_rules_that_fit_the_type() {
    let cases: &[(&str, &str, Expected)] = &[
        ("email", "text", Some((PiiKind::Email, "email"))),
        (
            "first_name",
            "text",
            Some((PiiKind::FirstName, "first_name")),
        ),
        (
            "LastName",
            "varchar(40)",
            Some((PiiKind::LastName, "last_name")),
        ),
        ("phone", "text", Some((PiiKind::Phone, "phone"))),
        (
            "shipping_street",
            "text",
            Some((PiiKind::StreetAddress, "street_address")),
        ),
        ("client_ip", "inet", Some((PiiKind::IpAddress, "ip"))),
        ("anything", "inet", Some((PiiKind::IpAddress, "ip"))),
        (
            "date_of_birth",
            "date",
            Some((PiiKind::DateOfBirth, "date_of_birth")),
        ),
        (
            "password_hash",
            "text",
            Some((PiiKind::PasswordHash, "password_hash")),
        ),
        ("api_key", "text", Some((PiiKind::Token, "hash"))),
        ("reset_token", "varchar(64)", Some((PiiKind::Token, "hash"))),
        ("clientSecret", "text", Some((PiiKind::Token, "hash"))),
        (
            "country",
            "character(2)",
            Some((PiiKind::Country, "country")),
        ),
        ("notes", "text", Some((PiiKind::FreeText, "paragraph"))),
        ("company", "text", Some((PiiKind::Company, "company"))),
        ("id", "bigint", None),
        ("customer_id", "bigint", None),
        ("status", "text", None),
        ("secretary", "text", None),
        ("price", "numeric(10,2)", None),
        // Names whose transformer cannot write the type are no evidence.
        ("email_sent", "boolean", None),
        ("mail_count", "integer", None),
        // A weak hint needs dates to back it.
        ("born_on", "date", None),
    ];
    for (name, ty, want) in cases {
        let got = run(name, ty, &[], false).map(|f| (f.kind, f.transformer));
        assert_eq!(got, *want, "{name} {ty}");
    }
    let f = run("first_name", "text", &[], false).unwrap();
    assert_eq!(f.reason, "name suggests a first name");
    assert_eq!(f.share, None);
    let f = run("anything", "inet", &[], false).unwrap();
    assert_eq!(f.reason, "the type holds IP addresses");
    let f = run("country", "character(2)", &[], false).unwrap();
    assert_eq!(
        f.rule_line(),
        r#"country = { transformer = "country", output = "code" }"#
    );
}

#[test]
fn postcodes_kept_as_integers_are_shuffled() {
    let zips = many(20, |i| (10_000 + i * 37).to_string());
    for ty in ["integer", "bigint", "numeric(5,0)"] {
        let f = run("zipcode", ty, &zips, false).unwrap_or_else(|| panic!("{ty}"));
        assert_eq!(
            (f.kind, f.transformer),
            (PiiKind::Postcode, "permute"),
            "{ty}"
        );
    }
    let f = run("zipcode", "text", &zips, false).unwrap();
    assert_eq!(f.transformer, "postcode");
    assert_eq!(run("zipcode", "boolean", &[], false), None);
}

#[test]
fn a_name_column_is_a_persons_name_only_in_a_table_of_people() {
    let ty = ColumnType::text();
    let values = strings(&["customer 1", "customer 2", "customer 3"]);
    let classify = |table: &str, column: &str| {
        classify_at(
            day(),
            &ColumnId::new("public", table, column),
            "text",
            Some(&ty),
            &values,
            &Constraints::default(),
        )
        .map(|f| (f.kind, f.transformer, f.reason))
    };
    for (table, column) in [
        ("customers", "name"),
        ("passenger", "name"),
        ("Staff", "name_wiki"),
        ("club_members", "name"),
    ] {
        let (kind, t, reason) =
            classify(table, column).unwrap_or_else(|| panic!("{table}.{column}"));
        assert_eq!(
            (kind, t),
            (PiiKind::FullName, "full_name"),
            "{table}.{column}"
        );
        assert_eq!(
            reason,
            "a name in a table of people suggests a person's full name"
        );
    }
    for (table, column) in [
        ("products", "name"),
        ("customers", "status"),
        ("countries", "name"),
    ] {
        assert_eq!(classify(table, column), None, "{table}.{column}");
    }
}

#[test]
fn values_need_a_clear_majority_and_say_so() {
    let emails = |n| many(n, |i| format!("person{i}@example.com"));
    let junk = |n| many(n, |i| format!("item {i}"));

    let f = run("contact", "text", &emails(200), false).unwrap();
    assert_eq!((f.kind, f.transformer), (PiiKind::Email, "email"));
    assert_eq!(
        f.reason,
        "100% of 200 sampled values look like e-mail addresses (threshold 60%)"
    );
    assert_eq!(f.sampled, 200);

    let mut mixed = emails(6);
    mixed.extend(junk(4));
    let f = run("contact", "text", &mixed, false).unwrap();
    assert!(
        f.reason.starts_with("60% of 10 sampled values"),
        "{}",
        f.reason
    );

    let mut mixed = emails(5);
    mixed.extend(junk(5));
    assert_eq!(run("contact", "text", &mixed, false), None);
    // Too few values to be evidence at all.
    assert_eq!(run("contact", "text", &emails(2), false), None);
    assert_eq!(run("contact", "text", &junk(50), false), None);
}

#[test]
fn value_classes_from_samples() {
    let cards = strings(&[
        "4111111111111111",
        "5555 5555 5555 4444",
        "378282246310005",
        "6011111111111117",
        "4012888888881881",
    ]);
    let ibans = strings(&[
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
    ]);
    let bcrypt = many(10, |i| {
        format!(
            "$2b$10${:0>53}",
            format!("TnEBDcLPO0mIqvqxbkAIPOdRavtJzNd4r6hszYHToA24E{i}")
        )
    });
    let argon = many(10, |i| {
        format!("$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ{i}$aGFzaGhhc2hoYXNo")
    });
    let md5 = many(10, |i| {
        format!(
            "{:032x}",
            0x5f4dcc3b5aa765d61d8327deb882cf99u128 + i as u128
        )
    });
    let v4 = many(20, |i| format!("198.51.100.{i}"));
    let v6 = many(20, |i| format!("2001:db8::{i:x}"));
    let mut both = v4.clone();
    both.extend(v6.clone());
    let people = strings(&[
        "Emma Smith",
        "Lucas García",
        "Chloé de Vries",
        "Omar Khan",
        "Priya Patel",
        "Zbigniew Nowak",
        "Ingrid Lindqvist",
        "Yuki Tanaka",
    ]);
    let given = strings(&[
        "Emma", "Liam", "Chloé", "Søren", "Aiko", "Kwame", "Zoë", "Tomás",
    ]);
    let cities = strings(&["London", "Paris", "München", "New York", "Lisboa", "Madrid"]);
    let streets = strings(&[
        "12 High Street",
        "4 rue de Rivoli",
        "Friedrichstraße 12",
        "Calle Mayor 3",
        "221B Baker Street, Apt 2",
    ]);
    let notes = strings(&[
        "Customer called about the late parcel. Promised a refund by Friday.",
        "Prefers deliveries in the morning. Leave with the neighbour at number four.",
        "Asked to close the account. Sent the form by post!",
    ]);
    let one_liners = strings(&[
        "Please leave the parcel at the back door",
        "Ring twice and wait for the dog to calm down",
        "Deliver to the office on weekdays only please",
    ]);
    let tokens = many(20, |i| format!("sk_live_4eC39HqLyjWDarjtT1zdp{i:03}Qx"));
    let births = many(20, |i| {
        format!("19{:02}-0{}-1{}", 50 + i, 1 + i % 9, i % 10)
    });
    let future = many(20, |i| format!("20{:02}-01-01", 30 + i));
    let phones = strings(&[
        "+44 7700 900123",
        "+1 212-555-0142",
        "06 39 98 12 34",
        "0612345678",
    ]);

    type Case<'a> = (&'a str, &'a str, &'a [String], Expected<'a>);
    let cases: &[Case] = &[
        (
            "ref",
            "text",
            &cards,
            Some((PiiKind::CardNumber, "card_number")),
        ),
        ("acct", "text", &ibans, Some((PiiKind::Iban, "iban"))),
        (
            "pw",
            "text",
            &bcrypt,
            Some((PiiKind::PasswordHash, "password_hash")),
        ),
        (
            "pw",
            "text",
            &argon,
            Some((PiiKind::PasswordHash, "password_hash")),
        ),
        (
            "password",
            "text",
            &md5,
            Some((PiiKind::PasswordHash, "password_hash")),
        ),
        // A bare digest without a name saying password is not evidence of anything.
        ("checksum", "text", &md5, None),
        ("addr", "inet", &v4, Some((PiiKind::IpAddress, "ipv4"))),
        ("addr", "text", &v6, Some((PiiKind::IpAddress, "ipv6"))),
        ("addr", "inet", &both, Some((PiiKind::IpAddress, "ip"))),
        (
            "who",
            "text",
            &people,
            Some((PiiKind::FullName, "full_name")),
        ),
        (
            "given",
            "text",
            &given,
            Some((PiiKind::FirstName, "first_name")),
        ),
        ("place", "text", &cities, Some((PiiKind::City, "city"))),
        (
            "line1",
            "text",
            &streets,
            Some((PiiKind::StreetAddress, "street_address")),
        ),
        (
            "remarks",
            "text",
            &notes,
            Some((PiiKind::FreeText, "paragraph")),
        ),
        (
            "remarks",
            "text",
            &one_liners,
            Some((PiiKind::FreeText, "sentence")),
        ),
        ("session", "text", &tokens, Some((PiiKind::Token, "hash"))),
        ("contact", "text", &phones, Some((PiiKind::Phone, "phone"))),
        (
            "born_on",
            "date",
            &births,
            Some((PiiKind::DateOfBirth, "date_of_birth")),
        ),
        ("born_on", "date", &future, None),
        // Dates are only birth dates when the name hints at it.
        ("shipped", "date", &births, None),
    ];
    for (name, ty, values, want) in cases {
        let got = run(name, ty, values, false);
        assert_eq!(
            got.as_ref().map(|f| (f.kind, f.transformer)),
            *want,
            "{name} {ty}: {got:?}"
        );
    }
    let f = run("pw", "text", &argon, false).unwrap();
    assert_eq!(
        f.params.get("scheme").and_then(|v| v.as_str()),
        Some("argon2id")
    );
    let f = run("pw", "text", &bcrypt, false).unwrap();
    assert!(f.params.is_empty(), "bcrypt is the default: {:?}", f.params);
    let f = run("born_on", "date", &births, false).unwrap();
    assert!(
        f.reason
            .starts_with("name hints at a birth date, and 100% of 20"),
        "{}",
        f.reason
    );
}

#[test]
fn names_and_values_together() {
    let emails = many(20, |i| format!("user{i}@example.org"));
    // Agreeing evidence is stated as both.
    let f = run("email", "text", &emails, false).unwrap();
    assert_eq!(
        f.reason,
        "name suggests an e-mail address, and 100% of 20 sampled values look like e-mail \
         addresses"
    );
    // A strict format in the values outweighs the name.
    let f = run("login", "text", &emails, false).unwrap();
    assert_eq!(f.kind, PiiKind::Email);
    assert!(
        f.reason.ends_with("though the name suggests a user name"),
        "{}",
        f.reason
    );
    // A name promising a checkable format the values do not have is kept, with the reason.
    let flags = many(20, |i| {
        if i % 2 == 0 {
            "yes".into()
        } else {
            "no".into()
        }
    });
    let f = run("email", "text", &flags, false).unwrap();
    assert_eq!((f.kind, f.transformer), (PiiKind::Email, KEEP));
    assert!(
        f.reason.contains("but only 0% of 20 sampled values"),
        "{}",
        f.reason
    );
    // Fuzzy values do not overrule a name: surnames in a first-name column stay first names.
    let surnames = strings(&["Smith", "Jones", "Taylor", "Brown", "Wilson"]);
    let f = run("first_name", "text", &surnames, false).unwrap();
    assert_eq!(f.kind, PiiKind::FirstName);
    assert_eq!(f.reason, "name suggests a first name");
}

#[test]
fn keys_get_only_rules_that_keep_values_distinct() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "email",
            "text",
            "email",
            "unique = true keeps distinct values distinct",
        ),
        ("username", "varchar(80)", "username", "unique = true"),
        (
            "phone",
            "text",
            "hash",
            "phone would not keep values distinct",
        ),
        (
            "first_name",
            "text",
            "hash",
            "first_name would not keep values distinct",
        ),
        ("client_ip", "inet", "ip", ""),
        ("api_token", "character(32)", "hash", ""),
        // A hash cut to 16 characters could collide, and dates cannot be hashed.
        ("phone", "varchar(16)", KEEP, "kept; review"),
        ("date_of_birth", "date", KEEP, "kept; review"),
    ];
    for (name, ty, want, reason) in cases {
        let f = run(name, ty, &[], true).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(f.transformer, *want, "{name} {ty}: {}", f.reason);
        assert!(f.reason.contains(reason), "{name}: {}", f.reason);
    }
    let f = run("email", "text", &[], true).unwrap();
    assert_eq!(
        f.rule_line(),
        r#"email = { transformer = "email", unique = true }"#
    );
}

#[test]
fn arrays_get_a_rule_for_their_elements() {
    let phones = strings(&["+44 7700 900123", "+1 212-555-0142", "06 39 98 12 34"]);
    let colours = strings(&["red", "blue", "green", "black"]);
    let cases: &[(&str, &str, &[String], Option<&str>)] = &[
        (
            "emails",
            "text[]",
            &[],
            Some(r#"{ transformer = "email" }"#),
        ),
        (
            "contacts",
            "varchar(20)[]",
            &phones,
            Some(r#"{ transformer = "phone" }"#),
        ),
        (
            "country_codes",
            "character(2)[]",
            &[],
            Some(r#"{ output = "code", transformer = "country" }"#),
        ),
        ("tags", "text[]", &colours, None),
        ("ids", "integer[]", &[], None),
    ];
    for (name, ty, values, want) in cases {
        let f = run(name, ty, values, false);
        let got = f.as_ref().map(|f| {
            assert_eq!(f.transformer, "array", "{name}");
            render_value(&f.params["element"])
        });
        assert_eq!(got.as_deref(), *want, "{name} {ty}");
    }
}

#[test]
fn json_documents_get_a_rule_per_personal_path() {
    let docs = many(30, |i| {
        serde_json::json!({
            "email": format!("user{i}@example.com"),
            "name": if i % 2 == 0 { "Emma Smith" } else { "Omar Khan" },
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "action": "customer.login",
            "address": { "street": format!("{} High Street", i + 1) },
            "phones": ["+44 7700 900123"],
            "odd key": "Liam",
        })
        .to_string()
    });
    let f = run("details", "jsonb", &docs, false).unwrap();
    assert_eq!((f.kind, f.transformer), (PiiKind::Json, "json"));
    let paths = f.params["paths"].as_table().unwrap();
    let got: Vec<(&str, &str)> = paths
        .iter()
        .map(|(p, spec)| (p.as_str(), spec["transformer"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("$.address.street", "street_address"),
            ("$.email", "email"),
            ("$.name", "full_name"),
            ("$.phones[*]", "phone"),
            ("$[\"odd key\"]", "first_name"),
        ]
    );
    assert!(
        f.reason
            .starts_with("5 paths in 30 sampled JSON documents look personal"),
        "{}",
        f.reason
    );
    assert_eq!(
        run("details", "jsonb", &strings(&["{}", "[1, 2]", "3"]), false),
        None
    );
}

/// A catalog with what a rules file must get right: quoted names, a generated column,
/// partitions, and foreign keys to a transformed and to a kept key.
fn hand_catalog() -> Catalog {
    let col = |name: &str, ty: &str| CatalogColumn {
        name: name.into(),
        type_name: ty.into(),
        base_type: ty.into(),
        ..CatalogColumn::default()
    };
    Catalog {
        tables: vec![
            CatalogTable {
                schema: "odd.schema".into(),
                name: "Person".into(),
                columns: vec![
                    col("Id", "integer"),
                    col("email", "text"),
                    col("weird name", "text"),
                    CatalogColumn {
                        generated: true,
                        ..col("email_lower", "text")
                    },
                ],
                primary_key: vec!["Id".into()],
                unique: vec![vec!["email".into()]],
                ..CatalogTable::default()
            },
            CatalogTable {
                schema: "public".into(),
                name: "events".into(),
                columns: vec![
                    col("person", "integer"),
                    col("person_email", "text"),
                    col("note", "text"),
                ],
                partitioned: true,
                foreign_keys: vec![
                    ForeignKey {
                        name: "events_person".into(),
                        columns: vec!["person".into()],
                        ref_schema: "odd.schema".into(),
                        ref_table: "Person".into(),
                        ref_columns: vec!["Id".into()],
                    },
                    ForeignKey {
                        name: "events_email".into(),
                        columns: vec!["person_email".into()],
                        ref_schema: "odd.schema".into(),
                        ref_table: "Person".into(),
                        ref_columns: vec!["email".into()],
                    },
                ],
                ..CatalogTable::default()
            },
            CatalogTable {
                schema: "public".into(),
                name: "empty".into(),
                ..CatalogTable::default()
            },
            CatalogTable {
                schema: "public".into(),
                name: "events_2024".into(),
                columns: vec![
                    col("person", "integer"),
                    col("person_email", "text"),
                    col("note", "text"),
                ],
                partition_of: Some(TableName::new("public", "events")),
                ..CatalogTable::default()
            },
        ],
    }
}

#[test]
fn the_rules_file_covers_every_column_and_passes_a_strict_check() {
    let catalog = hand_catalog();
    let person = |c: &str| ColumnId::new("odd.schema", "Person", c);
    let report = ScanReport {
        sample: 200,
        columns: 6,
        findings: vec![
            run("email", "text", &[], true)
                .map(|f| Finding {
                    column: person("email"),
                    ..f
                })
                .unwrap(),
            run(
                "weird name",
                "text",
                &many(5, |i| format!("w{i}@example.com")),
                false,
            )
            .map(|f| Finding {
                column: person("weird name"),
                ..f
            })
            .unwrap(),
            run("person_email", "text", &[], false)
                .map(|f| Finding {
                    column: ColumnId::new("public", "events", "person_email"),
                    ..f
                })
                .unwrap(),
        ],
        flags: Vec::new(),
    };
    let text = report.to_rules_file(&catalog);
    let expected_lines = [
        "version = 1",
        r#"[tables.'"odd.schema".Person'.columns]"#,
        r#"Id = "keep"  # no personal data found: review"#,
        r#"email = { transformer = "email", unique = true }  # name suggests an e-mail address; in the primary key (email), so unique = true keeps distinct values distinct"#,
        r#""weird name" = "email"  # 100% of 5 sampled values look like e-mail addresses (threshold 60%)"#,
        "# email_lower: a generated column, recomputed on restore (it needs no rule)",
        r#"[tables."public.events".columns]"#,
        r#"person = "keep"  # references odd.schema.Person.Id (foreign key events_person), which is kept, so it is kept too"#,
        "# person_email: follows odd.schema.Person.email (foreign key events_email), which is transformed; a referencing column needs no rule of its own",
        r#"note = "keep"  # no personal data found: review"#,
        "# public.events_2024 is a partition of public.events, whose rules apply to it",
    ];
    for line in expected_lines {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    let rules = RuleSet::parse(Path::new("rules/suggested.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let checked = check(
        &rules,
        &catalog,
        true,
        &crate::rules::compile::preserves_uniqueness,
    );
    assert!(checked.is_ok(), "{checked}\n{text}");
    assert!(checked.warnings.is_empty(), "{checked}");
    CompiledRules::new(&rules, &catalog).unwrap_or_else(|e| panic!("{e}\n{text}"));

    let shown = report.to_string();
    assert!(shown.contains("odd.schema.Person\n"), "{shown}");
    assert!(shown.contains("3 of 6 columns look personal"), "{shown}");
}

async fn connect(db: &str) -> tokio_postgres::Client {
    let info = ConnInfo::parse(&cluster().url(db)).expect("test URL");
    crate::pg::connect(&info).await.expect("connect")
}

/// The report's rules, as a snapshot takes them: parsed, strictly checked, built.
fn assert_usable(report: &ScanReport, catalog: &Catalog) -> String {
    let text = report.to_rules_file(catalog);
    let rules = RuleSet::parse(Path::new("rules/suggested.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let checked = check(
        &rules,
        catalog,
        true,
        &crate::rules::compile::preserves_uniqueness,
    );
    assert!(checked.is_ok(), "{checked}\n{text}");
    assert!(checked.warnings.is_empty(), "{checked}\n{text}");
    CompiledRules::prepare(&rules, catalog).unwrap_or_else(|e| panic!("{e}\n{text}"));
    text
}

#[tokio::test]
async fn the_demo_shop_is_classified_flagged_and_covered() {
    let db = database("scan_demo", Some(&project().join("fixtures/demo.sql")));
    cluster()
        .psql(
            &db,
            r#"
CREATE TABLE public.support_tickets (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES public.customers (id),
  subject text NOT NULL,
  body text,
  search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', subject || ' ' || coalesce(body, ''))) STORED,
  body_tsv tsvector,
  legacy_tsv tsvector NOT NULL DEFAULT '',
  cc_emails text[]
);
CREATE TRIGGER support_tickets_tsv BEFORE INSERT OR UPDATE ON public.support_tickets
  FOR EACH ROW EXECUTE FUNCTION tsvector_update_trigger(body_tsv, 'pg_catalog.simple', body);
INSERT INTO public.support_tickets (customer_id, subject, body, cc_emails)
SELECT id, 'Order ' || id || ' never arrived',
       'Hello, this is ' || first_name || ' ' || last_name || '. My parcel did not arrive at '
         || street_address || '. Please call me back.',
       CASE WHEN id % 2 = 0 THEN ARRAY[email, NULL] END
FROM public.customers WHERE id <= 300;
CREATE MATERIALIZED VIEW public.customer_emails AS
  SELECT c.id, lower(c.email) AS email_lower, c.city FROM public.customers c;
CREATE MATERIALIZED VIEW public.order_counts AS
  SELECT status, count(*) AS n FROM public.orders GROUP BY status;
CREATE MATERIALIZED VIEW public.summary_mv AS SELECT * FROM public.customer_order_summary;
-- Big enough to be sampled through TABLESAMPLE; e-mails only on one row in ten.
CREATE TABLE public.page_views (id bigint PRIMARY KEY, visitor_email text, path text);
INSERT INTO public.page_views
SELECT i, CASE WHEN i % 10 = 0 THEN 'visitor' || i || '@example.net' END, '/products/' || i % 120
FROM generate_series(1, 60000) AS i;
-- Names that need quoting everywhere: in SQL and in the rules file.
CREATE SCHEMA "odd.schema";
CREATE TABLE "odd.schema"."We""ird" ("E-mail Address" text PRIMARY KEY, "select" int);
INSERT INTO "odd.schema"."We""ird" SELECT 'odd' || i || '@example.org', i FROM generate_series(1, 50) i;
ANALYZE;
"#,
        )
        .unwrap();
    let catalog = catalog_of(&db).await;
    let client = connect(&db).await;
    let report = scan(&client, &catalog, 200).await.unwrap();

    let rule = |t: &str, c: &str| {
        report
            .finding(&ColumnId::new("public", t, c))
            .map(|f| (f.kind, f.transformer))
    };
    let customers = [
        ("id", None),
        ("first_name", Some((PiiKind::FirstName, "first_name"))),
        ("last_name", Some((PiiKind::LastName, "last_name"))),
        ("email", Some((PiiKind::Email, "email"))),
        ("phone", Some((PiiKind::Phone, "phone"))),
        (
            "street_address",
            Some((PiiKind::StreetAddress, "street_address")),
        ),
        ("city", Some((PiiKind::City, "city"))),
        ("postcode", Some((PiiKind::Postcode, "postcode"))),
        ("country", Some((PiiKind::Country, "country"))),
        (
            "date_of_birth",
            Some((PiiKind::DateOfBirth, "date_of_birth")),
        ),
        ("marketing_opt_in", None),
        ("created_at", None),
    ];
    for (c, want) in customers {
        assert_eq!(rule("customers", c), want, "customers.{c}");
    }
    let email = report
        .finding(&ColumnId::new("public", "customers", "email"))
        .unwrap();
    assert_eq!(
        email.params.get("unique"),
        Some(&toml::Value::Boolean(true))
    );
    assert!(
        email
            .reason
            .contains("100% of 200 sampled values look like e-mail addresses"),
        "{}",
        email.reason
    );
    let phone = report
        .finding(&ColumnId::new("public", "customers", "phone"))
        .unwrap();
    assert_eq!(phone.sampled, 200, "NULLs are not sampled");
    let odd = report
        .finding(&ColumnId::new("odd.schema", "We\"ird", "E-mail Address"))
        .unwrap();
    assert_eq!((odd.transformer, odd.sampled), ("email", 50));
    let visitors = report
        .finding(&ColumnId::new("public", "page_views", "visitor_email"))
        .unwrap();
    assert_eq!(visitors.transformer, "email");
    // A sample of the table's pages, not its first rows: about 5 × 200 rows, a tenth of
    // them with an e-mail.
    assert!(
        (20..200).contains(&visitors.sampled),
        "{}",
        visitors.sampled
    );
    assert_eq!(
        rule("audit_log", "client_ip"),
        Some((PiiKind::IpAddress, "ipv4"))
    );
    assert_eq!(
        rule("audit_log", "actor_email"),
        Some((PiiKind::Email, "email"))
    );
    assert_eq!(rule("audit_log", "details"), Some((PiiKind::Json, "json")));
    assert_eq!(
        rule("orders", "shipping_name"),
        Some((PiiKind::FullName, "full_name"))
    );
    assert_eq!(
        rule("support_tickets", "body"),
        Some((PiiKind::FreeText, "paragraph"))
    );
    let cc = report
        .finding(&ColumnId::new("public", "support_tickets", "cc_emails"))
        .unwrap();
    assert_eq!((cc.kind, cc.transformer), (PiiKind::Email, "array"));
    assert!(
        cc.reason.contains("100% of 150 sampled values"),
        "{}",
        cc.reason
    );
    for (t, c) in [
        ("products", "id"),
        ("products", "sku"),
        ("products", "name"),
        ("products", "category"),
        ("orders", "id"),
        ("orders", "status"),
        ("order_items", "order_id"),
        ("audit_log", "id"),
        ("audit_log", "action"),
        ("support_tickets", "subject"),
    ] {
        assert_eq!(rule(t, c), None, "{t}.{c}");
    }
    let details = report
        .finding(&ColumnId::new("public", "audit_log", "details"))
        .unwrap();
    let paths: Vec<&String> = details.params["paths"].as_table().unwrap().keys().collect();
    for p in [
        "$.email",
        "$.name",
        "$.old_street",
        "$.old_city",
        "$.old_phone",
    ] {
        assert!(paths.iter().any(|k| *k == p), "{p} not in {paths:?}");
    }
    assert!(!paths.iter().any(|k| *k == "$.user_agent"), "{paths:?}");

    // tsvector columns: generated (recomputed), from a personal column (emptied), of
    // unknown origin and NOT NULL (emptied with a constant).
    let flagged = |kind: FlagKind, subject: &str| {
        report
            .flags
            .iter()
            .find(|f| f.kind == kind && f.subject == subject)
            .map(|f| f.message.clone())
    };
    let search = flagged(FlagKind::TsVector, "public.support_tickets.search").unwrap();
    assert!(search.contains("generated from body, subject"), "{search}");
    let body_tsv = flagged(FlagKind::TsVector, "public.support_tickets.body_tsv").unwrap();
    assert!(
        body_tsv.contains("built from personal column body"),
        "{body_tsv}"
    );
    assert!(
        flagged(FlagKind::TsVector, "public.support_tickets.legacy_tsv")
            .unwrap()
            .contains("of unknown origin")
    );
    assert_eq!(
        rule("support_tickets", "body_tsv"),
        Some((PiiKind::SearchVector, "null"))
    );
    assert_eq!(
        rule("support_tickets", "legacy_tsv"),
        Some((PiiKind::SearchVector, "constant"))
    );
    assert_eq!(rule("support_tickets", "search"), None);
    // Materialized views: over customers directly, over a view of customers; not over
    // order statuses.
    let mv = flagged(FlagKind::MaterializedView, "public.customer_emails").unwrap();
    assert!(
        mv.contains("public.customers.email (email)")
            && mv.contains("public.customers.city (city)"),
        "{mv}"
    );
    assert!(!mv.contains("customers.id"), "{mv}");
    assert!(flagged(FlagKind::MaterializedView, "public.summary_mv")
        .unwrap()
        .contains("public.customers.first_name (first_name)"));
    assert_eq!(
        flagged(FlagKind::MaterializedView, "public.order_counts"),
        None
    );

    let text = assert_usable(&report, &catalog);
    for line in [
        r#"id = "keep"  # no personal data found: review"#,
        r#"customer_id = "keep"  # references public.customers.id (foreign key orders_customer_id_fkey), which is kept, so it is kept too"#,
        "# search: a generated column, recomputed on restore (it needs no rule)",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.contains("# - materialized view public.customer_emails"),
        "{text}"
    );
    assert!(text
        .lines()
        .any(|l| l.starts_with("email = { transformer = \"email\", unique = true }  # ")));

    // No sampled value reaches the file or the terminal: compare with every distinct value
    // of the sampled columns (short ones such as "GB" would match by accident).
    let values = cluster()
        .psql(
            &db,
            "SELECT DISTINCT v FROM ( \
               SELECT unnest(ARRAY[first_name, last_name, email, phone, street_address, city, \
                                   postcode, date_of_birth::text]) AS v FROM public.customers \
               UNION ALL SELECT unnest(ARRAY[shipping_name, shipping_street]) FROM public.orders \
               UNION ALL SELECT unnest(ARRAY[host(client_ip), client_ip::text, actor_email]) \
                 FROM public.audit_log \
               UNION ALL SELECT body FROM public.support_tickets) s \
             WHERE length(v) >= 6",
        )
        .unwrap();
    let shown = report.to_string();
    let mut checked = 0;
    for v in values.lines() {
        assert!(!text.contains(v), "the rules file leaks {v:?}");
        assert!(!shown.contains(v), "the summary leaks {v:?}");
        checked += 1;
    }
    assert!(checked > 5000, "{checked}");
}

#[tokio::test]
async fn the_pii_fixture_scans_into_rules_a_snapshot_accepts() {
    let db = database("scan_pii", Some(&project().join("fixtures/pii.sql")));
    cluster().psql(&db, "ANALYZE").unwrap();
    let catalog = catalog_of(&db).await;
    let client = connect(&db).await;
    let report = scan(&client, &catalog, 50).await.unwrap();
    let text = assert_usable(&report, &catalog);
    // Every personal value of this fixture carries the marker.
    assert!(!text.to_lowercase().contains("qzv"), "{text}");
    assert!(!report.to_string().to_lowercase().contains("qzv"));

    let rule = |t: &str, c: &str| {
        let f = report.finding(&ColumnId::new("app", t, c))?;
        Some((f.transformer, f.params.clone()))
    };
    let unique = || {
        let mut p = toml::Table::new();
        p.insert("unique".into(), toml::Value::Boolean(true));
        p
    };
    assert_eq!(rule("people", "email"), Some(("email", unique())));
    assert_eq!(rule("people", "username"), Some(("username", unique())));
    for (c, t) in [
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("phone", "phone"),
        ("street", "street_address"),
        ("city", "city"),
        ("postcode", "postcode"),
        ("birth_date", "date_of_birth"),
        ("client_ip", "ipv4"),
        ("password_hash", "password_hash"),
        ("api_token", "hash"),
        ("notes", "sentence"),
        ("display_name", "full_name"),
        ("country", "country"),
    ] {
        assert_eq!(rule("people", c).map(|r| r.0), Some(t), "people.{c}");
    }
    for c in ["id", "is_admin", "tier", "salary"] {
        assert_eq!(rule("people", c), None, "people.{c}");
    }
    assert_eq!(rule("messages", "sender_email").map(|r| r.0), Some("email"));
    assert_eq!(rule("messages", "body").map(|r| r.0), Some("sentence"));
    assert_eq!(rule("audit", "details").map(|r| r.0), Some("json"));
    assert_eq!(rule("secrets_archive", "secret").map(|r| r.0), Some("hash"));
    assert_eq!(rule("countries", "code"), None);
    for line in [
        "# username: follows app.people.username (foreign key sessions_username_fkey), which is transformed; a referencing column needs no rule of its own",
        "# full_name: a generated column, recomputed on restore (it needs no rule)",
        "# app.messages_2025 is a partition of app.messages, whose rules apply to it",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    // A role that may read one table only: the others are classified by name and flagged.
    let role = format!("scan_reader_{}", std::process::id());
    cluster()
        .psql(
            &db,
            &format!(
                "CREATE ROLE {role} LOGIN PASSWORD 'reader'; \
                 GRANT USAGE ON SCHEMA app TO {role}; GRANT SELECT ON app.people TO {role}"
            ),
        )
        .unwrap();
    let url = format!(
        "postgresql://{role}:reader@{}:{}/{db}",
        cluster().host(),
        cluster().port()
    );
    let reader = crate::pg::connect(&ConnInfo::parse(&url).unwrap())
        .await
        .unwrap();
    let limited = scan(&reader, &catalog, 50).await.unwrap();
    let refused: Vec<&str> = limited
        .flags
        .iter()
        .filter(|f| f.kind == FlagKind::NotSampled)
        .map(|f| f.subject.as_str())
        .collect();
    assert!(
        refused.contains(&"app.sessions") && refused.contains(&"app.audit"),
        "{refused:?}"
    );
    assert!(!refused.contains(&"app.people"), "{refused:?}");
    let people_email = limited
        .finding(&ColumnId::new("app", "people", "email"))
        .unwrap();
    assert_eq!(people_email.sampled, 50);
    let actor = limited
        .finding(&ColumnId::new("app", "audit", "actor_email"))
        .unwrap();
    assert_eq!((actor.transformer, actor.sampled), ("email", 0));
    assert_eq!(actor.reason, "name suggests an e-mail address");
    let text = assert_usable(&limited, &catalog);
    assert!(
        text.contains("\n# app.audit: values could not be sampled (ERROR: permission denied"),
        "{text}"
    );
}
