//! Helpers for the transformers' tests: two keys, building from TOML, and the checks every
//! transformer must pass (determinism, another key → another output, NULL stays NULL, output
//! fits the column).

use std::collections::HashSet;

use super::Transformer;
use super::{build as build_any, BuildError, ColumnType, Ctx, Key, NoRow, Row, TransformError};

/// The domain the tests transform in.
pub(crate) const DOMAIN: &str = "public.t.c";

/// The key most tests use.
pub(crate) fn key() -> Key {
    Key::from_secret("test key: not a secret, only long enough").unwrap()
}

/// Another key, whose outputs must differ.
pub(crate) fn other_key() -> Key {
    Key::from_secret("another test key, just as long as the first").unwrap()
}

fn table(params: &str) -> toml::Table {
    toml::from_str(params).unwrap_or_else(|e| panic!("bad test TOML {params:?}: {e}"))
}

/// Builds transformer `name` from TOML parameters, panicking on error.
pub(crate) fn build(name: &str, params: &str, column: &ColumnType) -> Box<dyn Transformer> {
    build_any(name, &table(params), column).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The error building transformer `name` gives.
pub(crate) fn build_err(name: &str, params: &str, column: &ColumnType) -> BuildError {
    match build_any(name, &table(params), column) {
        Ok(_) => panic!("{name} with {params:?} built for {column}"),
        Err(e) => e,
    }
}

/// Transforms `input` with `key` in [`DOMAIN`] and no row.
pub(crate) fn run_with(
    t: &dyn Transformer,
    key: &Key,
    input: Option<&str>,
) -> Result<Option<String>, TransformError> {
    run_in_row(t, key, input, &NoRow)
}

/// Transforms `input` with `key` in [`DOMAIN`] in `row`.
pub(crate) fn run_in_row(
    t: &dyn Transformer,
    key: &Key,
    input: Option<&str>,
    row: &dyn Row,
) -> Result<Option<String>, TransformError> {
    let mut ctx = Ctx::new(key, DOMAIN, row);
    t.transform(input, &mut ctx)
}

/// The output for a non-NULL `input` with the usual key, panicking on error or NULL.
pub(crate) fn out(t: &dyn Transformer, input: &str) -> String {
    run_with(t, &key(), Some(input))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("non-NULL output")
}

/// The error for `input`, panicking if it is accepted; also checks that the message does not
/// quote the value.
pub(crate) fn err(t: &dyn Transformer, input: &str) -> TransformError {
    match run_with(t, &key(), Some(input)) {
        Ok(v) => panic!("accepted, gave {v:?}"),
        Err(e) => {
            if input.len() >= 4 {
                assert!(
                    !e.to_string().contains(input),
                    "error quotes the value: {e}"
                );
            }
            e
        }
    }
}

/// Whether a transformer's output depends on the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyed {
    /// Another key gives other outputs.
    Yes,
    /// The output is a fixed function of the input (keep, mask, constant, ...).
    No,
}

/// The checks every transformer passes on `inputs`: the same key gives the same output,
/// NULL stays NULL, every output fits `column`, and for keyed transformers another key gives
/// another output for most inputs.
pub(crate) fn check_common(
    t: &dyn Transformer,
    column: &ColumnType,
    inputs: &[&str],
    keyed: Keyed,
) {
    assert_eq!(
        run_with(t, &key(), None).unwrap(),
        None,
        "NULL must stay NULL"
    );
    let mut differ = 0;
    for input in inputs {
        let a = run_with(t, &key(), Some(input)).unwrap_or_else(|e| panic!("{e}"));
        let b = run_with(t, &key(), Some(input)).unwrap();
        assert_eq!(a, b, "not deterministic");
        if let Some(v) = &a {
            column
                .check(v)
                .unwrap_or_else(|why| panic!("output {v:?} for {column}: {why}"));
        }
        let c = run_with(t, &other_key(), Some(input)).unwrap();
        if keyed == Keyed::No {
            assert_eq!(a, c, "output depends on the key");
        } else if a != c {
            differ += 1;
        }
    }
    if keyed == Keyed::Yes {
        // Small output spaces (a country, a city) may agree by chance on one input, rarely on
        // most.
        assert!(
            differ * 2 >= inputs.len(),
            "another key changed only {differ} of {} outputs",
            inputs.len()
        );
    }
}

/// Checks that distinct `inputs` give distinct outputs.
pub(crate) fn check_unique(t: &dyn Transformer, inputs: impl IntoIterator<Item = String>) {
    let mut seen_in = HashSet::new();
    let mut seen_out = HashSet::new();
    for input in inputs {
        if !seen_in.insert(input.clone()) {
            continue;
        }
        let o = out(t, &input);
        assert!(seen_out.insert(o.clone()), "collision on {o:?}");
    }
}

/// Sample values of various shapes for transformers that take any text.
pub(crate) const SAMPLES: &[&str] = &[
    "alice@example.org",
    "Bob",
    "Zoë O'Brien",
    "",
    "42",
    "a much longer value with several words in it",
    "山田太郎",
    "x",
];

/// A text generator: its outputs fit a `varchar(4)` (cut to the length), and a non-text
/// column is refused when the rule is built.
pub(crate) fn check_short_text(name: &str) {
    let col = ColumnType::parse("varchar(4)").unwrap();
    let t = build(name, "", &col);
    check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
    assert!(matches!(
        build_err(name, "", &ColumnType::new("int4")),
        BuildError::DoesNotFit { .. }
    ));
}

/// A locale-aware generator: `ja_jp` changes most outputs, an unknown locale is refused.
pub(crate) fn check_locales(name: &str) {
    let col = ColumnType::text();
    let en = build(name, "", &col);
    let ja = build(name, "locale = \"ja_jp\"", &col);
    let differ = SAMPLES
        .iter()
        .filter(|s| out(en.as_ref(), s) != out(ja.as_ref(), s))
        .count();
    assert!(
        differ >= SAMPLES.len() / 2,
        "{name}: ja_jp changed only {differ} outputs"
    );
    assert!(matches!(
        build_err(name, "locale = \"xx\"", &col),
        BuildError::BadValue { .. }
    ));
}
