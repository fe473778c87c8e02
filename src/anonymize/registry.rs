//! Every transformer by name: its description for `doppel rules list-transformers`, and how to
//! build it from a rule's parameters.

use std::fmt;

use super::column::ColumnType;
use super::error::BuildError;
use super::params::{ParamInfo, Params};
use super::Transformer;

/// Whether a transformer keeps distinct inputs distinct, as the catalog states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// Always: safe on primary keys and unique columns.
    Yes,
    /// Never guaranteed.
    No,
    /// Only with some parameters, described here; the built transformer says for sure
    /// ([`Transformer::preserves_uniqueness`]).
    Depends(&'static str),
}

impl fmt::Display for Uniqueness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uniqueness::Yes => f.write_str("yes"),
            Uniqueness::No => f.write_str("no"),
            Uniqueness::Depends(when) => write!(f, "only {when}"),
        }
    }
}

/// A transformer's static description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformerInfo {
    /// The name rules use.
    pub name: &'static str,
    /// One line on what it writes.
    pub summary: &'static str,
    /// The column types it writes.
    pub types: &'static str,
    /// Whether it keeps distinct inputs distinct.
    pub preserves_uniqueness: Uniqueness,
    /// Its parameters (besides the rule-level ones in [`super::COMMON_PARAMS`]).
    pub params: &'static [ParamInfo],
}

type BuildFn = fn(&Params<'_>, &ColumnType) -> Result<Box<dyn Transformer>, BuildError>;

struct Entry {
    info: &'static TransformerInfo,
    build: BuildFn,
}

/// The entry of a transformer module (its `INFO` and `build`), or `faked(NAME)` for one of
/// the table in [`super::faked`].
macro_rules! entry {
    (faked($name:ident)) => {
        Entry {
            info: &super::faked::$name.info,
            build: |p, column| super::faked::$name.build(p, column),
        }
    };
    ($module:ident) => {
        Entry {
            info: &super::$module::INFO,
            build: super::$module::build,
        }
    };
}

macro_rules! entries {
    ($($name:ident $(($faked:ident))?),* $(,)?) => {
        &[$(entry!($name $(($faked))?)),*]
    };
}

/// In the order `list-transformers` shows them: the basics, then fakes, then numbers and
/// dates, then the structural ones.
static ENTRIES: &[Entry] = entries![
    keep,
    null,
    constant,
    hash,
    mask,
    regex_replace,
    password_hash,
    permute,
    faked(FIRST_NAME),
    faked(LAST_NAME),
    faked(FULL_NAME),
    email,
    username,
    phone,
    street_address,
    city,
    postcode,
    country,
    faked(COMPANY),
    faked(JOB_TITLE),
    ip,
    ipv4,
    ipv6,
    mac,
    url,
    iban,
    card_number,
    national_id,
    uuid,
    words,
    sentence,
    paragraph,
    date_of_birth,
    noise,
    numeric_range,
    date_shift,
    date_generalize,
    weighted_choice,
    template,
    json,
    array,
];

/// Every transformer's description, in catalog order.
pub fn catalog() -> Vec<&'static TransformerInfo> {
    ENTRIES.iter().map(|e| e.info).collect()
}

/// The description of the transformer called `name`.
pub fn info(name: &str) -> Option<&'static TransformerInfo> {
    ENTRIES.iter().find(|e| e.info.name == name).map(|e| e.info)
}

/// Builds transformer `name` with a rule's `params` (without the rule-level keys
/// `transformer`, `domain`, `on_error`) for a column of type `column`.
pub fn build(
    name: &str,
    params: &toml::Table,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let Some(entry) = ENTRIES.iter().find(|e| e.info.name == name) else {
        return Err(BuildError::UnknownTransformer {
            name: name.into(),
            hint: closest(name, ENTRIES.iter().map(|e| e.info.name))
                .map(|c| format!(", did you mean `{c}`?"))
                .unwrap_or_default(),
        });
    };
    for key in params.keys() {
        if !entry.info.params.iter().any(|p| p.name == key) {
            let known: Vec<&str> = entry.info.params.iter().map(|p| p.name).collect();
            return Err(BuildError::UnknownParam {
                transformer: name.into(),
                param: key.clone(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
    }
    (entry.build)(&Params::new(entry.info.name, params), column)
}

/// The known name closest to a misspelt one, if it is close enough to be a typo.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_thirty_transformers_with_unique_names_and_documented_params() {
        let all = catalog();
        assert!(all.len() >= 30, "{}", all.len());
        let mut names: Vec<&str> = all.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for i in &all {
            assert!(!i.summary.is_empty() && !i.types.is_empty(), "{}", i.name);
            for p in i.params {
                assert!(!p.doc.is_empty(), "{}.{}", i.name, p.name);
                assert!(
                    !super::super::COMMON_PARAMS.iter().any(|c| c.name == p.name),
                    "{}.{} shadows a rule-level key",
                    i.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn unknown_names_are_distinct_errors() {
        let none = toml::Table::new();
        let e = build("emial", &none, &ColumnType::text()).err().unwrap();
        assert!(matches!(e, BuildError::UnknownTransformer { .. }));
        assert!(e.to_string().contains("did you mean `email`"), "{e}");
        let params: toml::Table = toml::from_str("lenght = 8").unwrap();
        let e = build("hash", &params, &ColumnType::text()).err().unwrap();
        assert!(matches!(e, BuildError::UnknownParam { .. }));
        assert!(e.to_string().contains("length"), "{e}");
    }

    #[test]
    fn every_transformer_builds_with_its_defaults_or_says_what_it_needs() {
        for i in catalog() {
            match build(i.name, &toml::Table::new(), &ColumnType::text()) {
                Ok(_) => {}
                Err(BuildError::MissingParam { transformer, .. }) => {
                    assert_eq!(transformer, i.name)
                }
                Err(e) => panic!("{}: {e}", i.name),
            }
        }
    }

    #[test]
    fn uniqueness_shows_in_words() {
        assert_eq!(
            info("permute").unwrap().preserves_uniqueness,
            Uniqueness::Yes
        );
        assert_eq!(
            info("first_name").unwrap().preserves_uniqueness.to_string(),
            "no"
        );
        assert!(info("hash")
            .unwrap()
            .preserves_uniqueness
            .to_string()
            .starts_with("only "));
    }
}
