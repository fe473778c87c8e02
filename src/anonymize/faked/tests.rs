use crate::anonymize::testing::*;
use crate::anonymize::ColumnType;

/// What one value of a transformer must look like.
type LooksRight = fn(&str) -> bool;

/// Every transformer of the table, with what one of its values must look like.
const CASES: &[(&str, LooksRight)] = &[
    ("first_name", |v| v.chars().next().unwrap().is_uppercase()),
    ("last_name", |v| {
        !v.is_empty() && !v.contains(char::is_numeric)
    }),
    ("full_name", |v| v.contains(' ')),
    ("company", |v| !v.is_empty()),
    ("job_title", |v| v.contains(' ')),
];

#[test]
fn writes_fake_values() {
    let col = ColumnType::parse("varchar(40)").unwrap();
    for (name, looks_right) in CASES {
        let t = build(name, "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        assert!(!t.preserves_uniqueness(), "{name}");
        let v = out(t.as_ref(), "Ada Lovelace");
        assert!(looks_right(&v), "{name}: {v}");
    }
}

#[test]
fn locales_change_the_data() {
    for (name, _) in CASES {
        check_locales(name);
    }
}

#[test]
fn fits_short_columns_and_refuses_other_types() {
    for (name, _) in CASES {
        check_short_text(name);
    }
}
