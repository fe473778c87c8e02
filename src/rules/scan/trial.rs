//! Proving a suggestion on the values it was made from: the scan builds each suggested rule
//! exactly as a snapshot will (same transformer, same parameters, the column's real type and
//! domain checks) and runs it over the sampled values before writing it. A rule that fails on
//! one of them would stop the snapshot at that row, so it is made more tolerant first —
//! `on_error` for the values it cannot handle, else a transformer that takes anything — and
//! the file says why. Nothing here keeps a value: only counts and the transformers' own
//! messages, which never quote what they refused.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Constraints;
use crate::anonymize::{Anonymizer, ColumnType, Key, NoRow, OnError, TypeKind};
use crate::rules::compile::domain_checked;
use crate::rules::model::{KEEP, NULL};

/// The key trial runs use: a transformer fails or not whatever the key, and the outputs are
/// dropped, so a fixed one does.
fn trial_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        Key::from_secret("doppel rules scan: a fixed key for trial runs only")
            .expect("the trial secret is long enough")
    })
}

/// How a suggestion fared on the sample: how many values failed, and the first reason.
#[derive(Debug, Clone, PartialEq)]
struct Failures {
    count: usize,
    reason: String,
}

/// Runs `transformer` with `params` (rule keys such as `on_error` included) over `values`
/// as a column of type `ty` with `keys`: `None` when every value gives an output that loads
/// back, passes the column's domain checks and, on a key, stays distinct.
fn failures(
    transformer: &str,
    params: &toml::Table,
    ty: &ColumnType,
    keys: &Constraints,
    values: &[String],
) -> Option<Failures> {
    let mut spec = params.clone();
    spec.insert(
        "transformer".into(),
        toml::Value::String(transformer.into()),
    );
    let rule = match Anonymizer::from_spec(&spec, ty) {
        Ok(r) => r,
        Err(e) => {
            return Some(Failures {
                count: values.len().max(1),
                reason: e.to_string(),
            })
        }
    };
    if let Some(key) = keys
        .unique
        .as_ref()
        .filter(|_| !rule.preserves_uniqueness())
    {
        return Some(Failures {
            count: values.len(),
            reason: format!("with these parameters it does not keep values distinct in {key}"),
        });
    }
    let mut count = 0;
    let mut first: Option<String> = None;
    let mut seen: HashMap<String, &str> = HashMap::new();
    for v in values {
        let outcome = rule
            .apply(Some(v), trial_key(), "doppel.scan.trial", &NoRow)
            .map_err(|e| e.to_string())
            .and_then(|out| checked(out, ty, keys, rule.on_error()));
        let problem = match outcome {
            Err(why) => Some(why),
            Ok(Some(out)) if keys.unique.is_some() => match seen.insert(out, v) {
                Some(other) if other != v => Some(
                    "two distinct sampled values gave the same output, in a column whose values \
                     must stay distinct"
                        .to_string(),
                ),
                _ => None,
            },
            Ok(_) => None,
        };
        if let Some(why) = problem {
            count += 1;
            first.get_or_insert(why);
        }
    }
    first.map(|reason| Failures { count, reason })
}

/// `out`, or why it would not load: the type's own checks, then the domain's CHECKs as the
/// snapshot applies them (a broken one goes through `on_error`, like there).
fn checked(
    out: Option<String>,
    ty: &ColumnType,
    keys: &Constraints,
    on_error: &OnError,
) -> Result<Option<String>, String> {
    if let Some(v) = &out {
        if !matches!(ty.kind(), TypeKind::Array | TypeKind::Json) {
            ty.check(v).map_err(|why| format!("an output is {why}"))?;
        }
    }
    domain_checked(out, &keys.checks, on_error)
}

/// `params` with `on_error` set where the failing values are met: on the rule itself, or on
/// each element or path rule of `array` and `json`, so that one bad element or path does not
/// cost the whole value.
fn with_on_error(transformer: &str, params: &toml::Table, on_error: toml::Value) -> toml::Table {
    let mut out = params.clone();
    match transformer {
        "array" => {
            if let Some(toml::Value::Table(element)) = out.get_mut("element") {
                element.insert("on_error".into(), on_error);
            }
        }
        "json" => {
            if let Some(toml::Value::Table(paths)) = out.get_mut("paths") {
                for (_, spec) in paths.iter_mut() {
                    if let toml::Value::Table(spec) = spec {
                        spec.insert("on_error".into(), on_error.clone());
                    }
                }
            }
        }
        _ => {
            out.insert("on_error".into(), on_error);
        }
    }
    out
}

/// A suggestion after its trial run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Proven {
    pub(super) transformer: &'static str,
    pub(super) params: toml::Table,
    /// Why the suggestion changed, for the file's comment; `None` when it passed as it was.
    pub(super) note: Option<String>,
}

/// Runs the suggestion `transformer` with `params` over the sampled `values` of a column of
/// type `ty`; when some value fails, returns the first more tolerant rule that passes:
/// `on_error = "null"` (a nullable column, or elements and JSON paths), `on_error = {
/// fallback = "" }` (a NOT NULL text column outside keys), then `hash` (text), then `null`,
/// and as a last resort `keep`, with a note to review.
pub(super) fn prove(
    transformer: &'static str,
    params: toml::Table,
    ty: &ColumnType,
    keys: &Constraints,
    values: &[String],
) -> Proven {
    if transformer == KEEP || values.is_empty() {
        return Proven {
            transformer,
            params,
            note: None,
        };
    }
    let Some(failed) = failures(transformer, &params, ty, keys, values) else {
        return Proven {
            transformer,
            params,
            note: None,
        };
    };
    let what = format!(
        "`{transformer}` failed on {} of {} sampled values ({})",
        failed.count,
        values.len(),
        failed.reason
    );
    let nested = matches!(transformer, "array" | "json");
    let text = ty.kind() == TypeKind::Text;
    let mut candidates: Vec<(&'static str, toml::Table, &str)> = Vec::new();
    if nested || !ty.not_null {
        candidates.push((
            transformer,
            with_on_error(transformer, &params, toml::Value::String("null".into())),
            "on_error = \"null\" writes NULL for such values",
        ));
    }
    if text && keys.unique.is_none() && !nested && ty.check("").is_ok() {
        let mut fallback = toml::Table::new();
        fallback.insert("fallback".into(), toml::Value::String(String::new()));
        candidates.push((
            transformer,
            with_on_error(transformer, &params, toml::Value::Table(fallback)),
            "on_error = { fallback = \"\" } writes an empty value for such values",
        ));
    }
    if text && transformer != "hash" {
        candidates.push((
            "hash",
            toml::Table::new(),
            "`hash` instead, which takes any text",
        ));
    }
    if !ty.not_null && transformer != NULL {
        candidates.push((NULL, toml::Table::new(), "`null` instead"));
    }
    for (t, p, how) in candidates {
        if failures(t, &p, ty, keys, values).is_none() {
            return Proven {
                transformer: t,
                params: p,
                note: Some(format!("{what}: {how}")),
            };
        }
    }
    Proven {
        transformer: KEEP,
        params: toml::Table::new(),
        note: Some(format!(
            "{what}, and no more tolerant rule fits the column: kept; review"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    fn unique() -> Constraints {
        Constraints {
            unique: Some("the primary key (c)".into()),
            ..Constraints::default()
        }
    }

    #[test]
    fn a_rule_that_handles_every_sampled_value_is_left_alone() {
        let ty = ColumnType::text();
        let values = strings(&["+33 1 23 45 67 89", "", "   ", "(555) 010-0199"]);
        let p = prove(
            "phone",
            toml::Table::new(),
            &ty,
            &Constraints::default(),
            &values,
        );
        assert_eq!(
            p,
            Proven {
                transformer: "phone",
                params: toml::Table::new(),
                note: None
            }
        );
    }

    #[test]
    fn failing_values_make_the_rule_tolerant_and_say_why() {
        let values = strings(&["+33 1 23 45 67 89", "unknown", "ask reception", "555-0100"]);
        let cases: &[(ColumnType, &Constraints, &str, &str)] = &[
            // Nullable: NULL for what the transformer cannot handle.
            (
                ColumnType::text(),
                &Constraints::default(),
                "phone",
                "on_error = \"null\"",
            ),
            // NOT NULL: an empty value.
            (
                ColumnType::text().not_null(),
                &Constraints::default(),
                "phone",
                "fallback = \"\"",
            ),
        ];
        for (ty, keys, want, how) in cases {
            let p = prove("phone", toml::Table::new(), ty, keys, &values);
            assert_eq!(p.transformer, *want, "{ty}");
            let note = p.note.unwrap();
            assert!(note.contains(how), "{note}");
            assert!(
                note.starts_with("`phone` failed on 2 of 4 sampled values (phone: "),
                "{note}"
            );
            for v in &values {
                assert!(!note.contains(v.as_str()), "the note quotes {v:?}: {note}");
            }
            // What is proposed now passes the same trial.
            assert_eq!(failures(p.transformer, &p.params, ty, keys, &values), None);
        }
    }

    #[test]
    fn a_key_only_gets_a_rule_that_keeps_values_distinct() {
        // A NOT NULL key: a fallback would collide, so `hash`, which takes anything.
        let values = strings(&["10.0.0.1", "n/a", "10.0.0.2"]);
        let ty = ColumnType::text().not_null();
        let p = prove("ipv4", toml::Table::new(), &ty, &unique(), &values);
        assert_eq!(p.transformer, "hash");
        let note = p.note.unwrap();
        assert!(
            note.starts_with("`ipv4` failed on 1 of 3 sampled values"),
            "{note}"
        );
        assert!(
            note.ends_with("`hash` instead, which takes any text"),
            "{note}"
        );
        // A hash too short to keep values apart is no rule for a key: NULL where it may be…
        let short: toml::Table = toml::from_str("length = 8").unwrap();
        let ty = ColumnType::parse("varchar(8)").unwrap();
        let p = prove("hash", short.clone(), &ty, &unique(), &values);
        assert_eq!(p.transformer, NULL, "{:?}", p.note);
        assert!(p.note.unwrap().contains("does not keep values distinct"));
        // …and where it may not, nothing fits: kept, to review.
        let p = prove("hash", short, &ty.not_null(), &unique(), &values);
        assert_eq!(p.transformer, KEEP);
        assert!(p.note.unwrap().ends_with("kept; review"));
    }

    #[test]
    fn elements_and_json_paths_get_their_own_on_error() {
        let element: toml::Table =
            toml::from_str("element = { transformer = \"postcode\" }").unwrap();
        let p = prove(
            "array",
            element,
            &ColumnType::parse("text[]").unwrap(),
            &Constraints::default(),
            &strings(&["{75001,\"-\"}", "{\"SW1A 1AA\"}"]),
        );
        assert_eq!(p.transformer, "array");
        assert_eq!(
            p.params["element"]["on_error"],
            toml::Value::String("null".into())
        );
        let paths: toml::Table =
            toml::from_str("paths = { \"$.tel\" = { transformer = \"phone\" } }").unwrap();
        let ty = ColumnType::new("jsonb").not_null();
        let p = prove(
            "json",
            paths,
            &ty,
            &Constraints::default(),
            &strings(&["{\"tel\": \"none\"}", "{\"tel\": \"+1 555 0100\"}"]),
        );
        assert_eq!(p.transformer, "json");
        assert_eq!(
            p.params["paths"]["$.tel"]["on_error"],
            toml::Value::String("null".into())
        );
    }

    #[test]
    fn outputs_that_break_a_domain_check_count_as_failures() {
        let keys = Constraints {
            checks: vec![(
                "CHECK ((VALUE <> 'x'))".into(),
                crate::rules::compile::domain_check("CHECK ((VALUE <> 'x'::text))").unwrap(),
            )],
            ..Constraints::default()
        };
        let ty = ColumnType::text();
        let p = prove(
            "constant",
            toml::from_str("value = \"x\"").unwrap(),
            &ty,
            &keys,
            &strings(&["a", "b"]),
        );
        assert_eq!(p.transformer, "constant");
        assert!(p.note.unwrap().contains("domain constraint"));
        assert_eq!(p.params["on_error"], toml::Value::String("null".into()));
    }
}
