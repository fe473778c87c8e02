//! Throughput of every anonymization transformer, in rows per second: one rule applied to
//! 1024 distinct values of a typical shape, through `Anonymizer::apply` as the snapshot
//! pipeline calls it (key, domain and row lookups included).

// criterion's macros define public functions that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use doppel::anonymize::{catalog, Anonymizer, ColumnType, Key, MapRow};

const ROWS: usize = 1024;

/// Transformer, extra parameters, column type, and the i-th input.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    fn(usize) -> String,
);

const CASES: &[Case] = &[
    ("keep", "", "text", |i| format!("value {i}")),
    ("null", "", "text", |i| format!("value {i}")),
    ("constant", "value = \"redacted\"", "text", |i| format!("value {i}")),
    ("hash", "", "text", |i| format!("user{i}@corp.example")),
    ("mask", "keep_last = 4", "text", |i| format!("4111 1111 1111 {:04}", i % 10_000)),
    ("regex_replace", "pattern = '\\d'\nreplacement = \"#\"", "text", |i| format!("call me at 555-{i:04}")),
    ("password_hash", "", "text", |i| format!("$2b$12$hash{i}")),
    ("permute", "", "int8", |i| (i * 7919 + 1).to_string()),
    ("first_name", "", "varchar(40)", |i| format!("Name{i}")),
    ("last_name", "", "varchar(40)", |i| format!("Name{i}")),
    ("full_name", "", "varchar(80)", |i| format!("Name {i}")),
    ("email", "", "varchar(64)", |i| format!("user{i}@corp.example")),
    ("username", "", "varchar(32)", |i| format!("login{i}")),
    ("phone", "", "text", |i| format!("+44 20 7946 {:04}", i % 10_000)),
    ("street_address", "", "text", |i| format!("{i} Main Street")),
    ("city", "", "text", |i| format!("City {i}")),
    ("postcode", "", "text", |i| format!("SW{} {}AA", i % 10, i % 9)),
    ("country", "", "text", |i| format!("Country {i}")),
    ("company", "", "text", |i| format!("Company {i}")),
    ("job_title", "", "text", |i| format!("Job {i}")),
    ("ip", "", "inet", |i| format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)),
    ("ipv4", "", "inet", |i| format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)),
    ("ipv6", "", "inet", |i| format!("2001:db8::{i:x}")),
    ("mac", "", "macaddr", |i| format!("08:00:2b:00:{:02x}:{:02x}", i / 256 % 256, i % 256)),
    ("url", "", "text", |i| format!("https://example.org/user/{i}")),
    ("iban", "", "text", |i| format!("DE89 3704 0044 0532 {:04} 00", i % 10_000)),
    ("card_number", "", "text", |i| format!("4111 1111 1111 {:04}", i % 10_000)),
    ("national_id", "", "text", |i| format!("078-05-{:04}", i % 10_000)),
    ("uuid", "", "uuid", |i| format!("a0eebc99-9c0b-4ef8-bb6d-{i:012x}")),
    ("words", "", "text", |i| format!("value {i}")),
    ("sentence", "", "text", |i| format!("value {i}")),
    ("paragraph", "", "text", |i| format!("value {i}")),
    ("date_of_birth", "", "date", |i| format!("19{:02}-01-{:02}", i % 100, i % 28 + 1)),
    ("noise", "", "numeric(12,2)", |i| format!("{}.{:02}", i * 13, i % 100)),
    ("numeric_range", "min = 0\nmax = 1000", "numeric(8,2)", |i| i.to_string()),
    ("date_shift", "", "timestamptz", |i| format!("2024-{:02}-{:02} 13:45:12.123456+01", i % 12 + 1, i % 28 + 1)),
    ("date_generalize", "", "timestamptz", |i| format!("2024-{:02}-{:02} 13:45:12.123456+01", i % 12 + 1, i % 28 + 1)),
    ("weighted_choice", "choices = { gold = 1, silver = 3, bronze = 6 }", "text", |i| i.to_string()),
    ("template", "template = \"{first_name|ascii|lower}.{last_name|ascii|lower}@example.com\"", "text", |i| format!("user{i}@corp.example")),
    (
        "json",
        "paths = { \"$.email\" = { transformer = \"email\" }, \"$.phones[*]\" = { transformer = \"phone\" } }",
        "jsonb",
        |i| format!(r#"{{"email": "user{i}@corp.example", "phones": ["+44 20 7946 {:04}"], "plan": "pro", "seats": {i}}}"#, i % 10_000),
    ),
    ("array", "element = { transformer = \"last_name\" }", "_text", |i| format!("{{Name{i},Other{i},NULL}}")),
];

fn transformers(c: &mut Criterion) {
    let key = Key::from_secret("benchmark key, long enough to be accepted").unwrap();
    let row = MapRow::new()
        .with("first_name", Some("Zoë"))
        .with("last_name", Some("O'Brien"));
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    for (name, params, column, input) in CASES {
        let spec: toml::Table =
            toml::from_str(&format!("transformer = \"{name}\"\n{params}")).unwrap();
        let rule = Anonymizer::from_spec(&spec, &ColumnType::parse(column).unwrap()).unwrap();
        let inputs: Vec<String> = (0..ROWS).map(input).collect();
        group.bench_function(*name, |b| {
            b.iter(|| {
                for v in &inputs {
                    black_box(
                        rule.apply(Some(v), &key, "public.bench.column", &row)
                            .unwrap(),
                    );
                }
            })
        });
    }
    group.finish();
}

/// Fails the bench build's run early if a transformer was added without a case here.
fn every_transformer_has_a_case(_: &mut Criterion) {
    for info in catalog() {
        assert!(
            CASES.iter().any(|(n, ..)| *n == info.name),
            "no bench case for `{}`",
            info.name
        );
    }
}

/// The whole row path of an anonymized snapshot: 10-column person rows (as in the e2e
/// bench's wide table) with rules on 5 columns, rewritten by the table's `Rewriter`.
fn rewriter(c: &mut Criterion) {
    use doppel::catalog::TableName;
    use doppel::rules::{CompiledRules, RuleSet, TableAction};
    let columns = [
        "id",
        "first_name",
        "last_name",
        "email",
        "street",
        "city",
        "postcode",
        "phone",
        "profile",
        "created_at",
    ];
    let catalog = doppel::catalog::Catalog {
        tables: vec![doppel::catalog::CatalogTable {
            schema: "public".into(),
            name: "people".into(),
            columns: columns
                .iter()
                .map(|c| doppel::catalog::CatalogColumn {
                    name: c.to_string(),
                    type_name: "text".into(),
                    base_type: "text".into(),
                    ..Default::default()
                })
                .collect(),
            primary_key: vec!["id".into()],
            ..Default::default()
        }],
    };
    let rules = RuleSet::parse(
        std::path::Path::new("benches/rules/people.toml"),
        include_str!("rules/people.toml"),
    )
    .unwrap();
    let compiled = CompiledRules::new(&rules, &catalog).unwrap();
    let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let TableAction::Transform(t) = compiled
        .bind(&TableName::new("public", "people"), &names)
        .unwrap()
    else {
        panic!("the table has rules")
    };
    let key =
        std::sync::Arc::new(Key::from_secret("benchmark key, long enough to be accepted").unwrap());
    let first = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "José", "Zoë",
    ];
    let last = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "O'Brien", "Müller",
    ];
    let mut input = Vec::new();
    for i in 0..ROWS * 4 {
        input.extend_from_slice(
            format!(
                "{i}\t{f}\t{l}\t{f}.{l}{i}@example.com\t{} Main Street\tLondon\t{:05}\t+44 20 7946 {:04}\t{{\"bio\": \"joined via web\", \"score\": {i}}}\t2024-01-01 00:00:00+00\n",
                i % 1999,
                i * 7 % 100_000,
                i % 10_000,
                f = first[i % first.len()],
                l = last[i % last.len()],
            )
            .as_bytes(),
        );
    }
    let mut group = c.benchmark_group("rewriter");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("people rows, 5 rules of 10 columns", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len() * 2);
            let mut r = doppel::rules::Rewriter::new(t.clone(), key.clone());
            r.feed(&input, &mut out).unwrap();
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    every_transformer_has_a_case,
    transformers,
    rewriter
);
criterion_main!(benches);
