//! `json`: applies transformers at paths inside JSON documents, leaving the rest of the
//! document as it was:
//!
//! ```toml
//! profile = { transformer = "json", paths = { "$.email" = { transformer = "email" }, "$.phones[*]" = { transformer = "phone" } } }
//! ```
//!
//! Paths: `$` then `.key`, `["key"]`, `[0]`, `[*]` / `.*` (every element or member), and
//! `..key` (that key at any depth). A string is given to its transformer as the text, a
//! number or boolean as its JSON text (written back as a number or boolean when the result
//! still is one), `null` as NULL, and an object or array as its JSON text. A nested spec
//! without `domain` uses the column's, so the same value maps alike wherever it sits.

use super::anonymizer::Anonymizer;
use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::json_doc::{self, Json};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{ColumnRead, Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "json",
    summary: "transformers applied at JSON paths inside json/jsonb documents",
    types: "json, jsonb, text holding JSON",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "paths",
        kind: ParamKind::Specs,
        default: None,
        doc:
            "path → transformer spec, e.g. { \"$.email\" = { transformer = \"email\" } } (required)",
    }],
};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    All,
    Descend(String),
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let rest = path.strip_prefix('$').ok_or("a path starts with `$`")?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    let name_end = |from: usize| {
        b[from..]
            .iter()
            .position(|c| *c == b'.' || *c == b'[')
            .map_or(b.len(), |p| from + p)
    };
    while i < b.len() {
        if rest[i..].starts_with("..") {
            let end = name_end(i + 2);
            if end == i + 2 {
                return Err("`..` must be followed by a key".into());
            }
            steps.push(Step::Descend(rest[i + 2..end].to_string()));
            i = end;
        } else if rest[i..].starts_with(".*") {
            steps.push(Step::All);
            i += 2;
        } else if b[i] == b'.' {
            let end = name_end(i + 1);
            if end == i + 1 {
                return Err("`.` must be followed by a key".into());
            }
            steps.push(Step::Key(rest[i + 1..end].to_string()));
            i = end;
        } else if b[i] == b'[' {
            let close = rest[i..]
                .find(']')
                .map(|p| i + p)
                .ok_or("a `[` is never closed")?;
            let inner = rest[i + 1..close].trim();
            steps.push(if inner == "*" {
                Step::All
            } else if let Ok(n) = inner.parse::<usize>() {
                Step::Index(n)
            } else if inner.len() >= 2
                && (inner.starts_with('"') && inner.ends_with('"')
                    || inner.starts_with('\'') && inner.ends_with('\''))
            {
                Step::Key(inner[1..inner.len() - 1].to_string())
            } else {
                return Err(format!("`[{inner}]` is not an index, * or a quoted key"));
            });
            i = close + 1;
        } else {
            return Err(format!(
                "unexpected `{}` (use .key or [\"key\"])",
                &rest[i..i + 1]
            ));
        }
    }
    if steps.is_empty() {
        return Err(
            "the path `$` alone is the whole document: put the transformer on the column".into(),
        );
    }
    Ok(steps)
}

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    match column.kind() {
        TypeKind::Json | TypeKind::Text => {}
        _ => {
            return Err(p.does_not_fit(
                column,
                "it edits JSON documents; use it on json, jsonb or text columns",
            ))
        }
    }
    let paths = p.table("paths")?.ok_or_else(|| {
        p.missing(
            "paths",
            "path → transformer, e.g. paths = { \"$.email\" = { transformer = \"email\" } }",
        )
    })?;
    if paths.is_empty() {
        return Err(p.bad("paths", "must name at least one path"));
    }
    let mut rules = Vec::new();
    for (path, spec) in paths {
        let steps =
            parse_path(path).map_err(|why| p.bad("paths", format!("path `{path}`: {why}")))?;
        let toml::Value::Table(spec) = spec else {
            return Err(p.bad(
                "paths",
                format!("path `{path}` must map to a table such as {{ transformer = \"email\" }}"),
            ));
        };
        // Values inside documents are text of any length.
        let rule =
            Anonymizer::from_spec(spec, &ColumnType::text()).map_err(|e| BuildError::Nested {
                at: format!("json path `{path}`"),
                source: Box::new(e),
            })?;
        rules.push((path.clone(), steps, rule));
    }
    Ok(Box::new(JsonPaths { rules }))
}

struct JsonPaths {
    rules: Vec<(String, Vec<Step>, Anonymizer)>,
}

/// Calls `f` on every node `steps` reaches from `node`.
fn visit(
    node: &mut Json,
    steps: &[Step],
    f: &mut dyn FnMut(&mut Json) -> Result<(), TransformError>,
) -> Result<(), TransformError> {
    let Some((step, rest)) = steps.split_first() else {
        return f(node);
    };
    match (step, node) {
        (Step::Key(k), Json::Object(members)) => {
            for (_, v) in members.iter_mut().filter(|(name, _)| name == k) {
                visit(v, rest, f)?;
            }
        }
        (Step::Index(i), Json::Array(items)) => {
            if let Some(v) = items.get_mut(*i) {
                visit(v, rest, f)?;
            }
        }
        (Step::All, Json::Array(items)) => {
            for v in items {
                visit(v, rest, f)?;
            }
        }
        (Step::All, Json::Object(members)) => {
            for (_, v) in members {
                visit(v, rest, f)?;
            }
        }
        (Step::Descend(k), Json::Object(members)) => {
            for (name, v) in members {
                if name == k {
                    // A match is transformed, not searched further.
                    visit(v, rest, f)?;
                } else {
                    visit(v, steps, f)?;
                }
            }
        }
        (Step::Descend(_), Json::Array(items)) => {
            for v in items {
                visit(v, steps, f)?;
            }
        }
        // A path that does not fit this document's shape selects nothing.
        _ => {}
    }
    Ok(())
}

/// Applies `rule` to one node, keeping its JSON type where the result allows.
fn transform_node(
    node: &mut Json,
    rule: &Anonymizer,
    ctx: &mut Ctx<'_>,
) -> Result<(), TransformError> {
    let input = match node {
        Json::Null => None,
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.clone()),
        Json::String(s) => Some(std::mem::take(s)),
        Json::Array(_) | Json::Object(_) => Some(json_doc::to_string(node)),
    };
    let out = rule.apply_in(input.as_deref(), ctx)?;
    *node = match (out, &*node) {
        (None, _) => Json::Null,
        (Some(s), Json::Number(_)) if json_doc::is_number(&s) => Json::Number(s),
        (Some(s), Json::Bool(_)) if s == "true" || s == "false" => Json::Bool(s == "true"),
        (Some(s), Json::Array(_) | Json::Object(_)) => {
            json_doc::parse(&s).unwrap_or(Json::String(s))
        }
        (Some(s), _) => Json::String(s),
    };
    Ok(())
}

impl Transformer for JsonPaths {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut doc = json_doc::parse(value).map_err(|why| TransformError::new("json", why))?;
        for (path, steps, rule) in &self.rules {
            visit(&mut doc, steps, &mut |node| transform_node(node, rule, ctx))
                .map_err(|e| TransformError::new("json", format!("at {path}: {e}")))?;
        }
        Ok(Some(json_doc::to_string(&doc)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }

    fn reads(&self) -> Vec<ColumnRead> {
        self.rules.iter().flat_map(|(_, _, r)| r.reads()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_path, Step};
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const PARAMS: &str = r#"paths = { "$.email" = { transformer = "email" }, "$.phones[*]" = { transformer = "phone" }, "$..ssn" = { transformer = "constant", value = "***" }, "$.age" = { transformer = "noise", percent = 10 } }"#;

    const DOCS: &[&str] = &[
        r#"{"email": "a@b.c", "phones": ["+44 20 7946 0958", "555-0100"], "age": 42, "kids": [{"ssn": "078-05-1120"}], "keep": 1.50}"#,
        r#"{"email": null, "other": true}"#,
        r#"[1, 2, 3]"#,
        r#"{}"#,
    ];

    #[test]
    fn transforms_at_paths_and_keeps_the_rest() {
        let col = ColumnType::new("jsonb");
        let t = build("json", PARAMS, &col);
        check_common(t.as_ref(), &col, &DOCS[..1], Keyed::Yes);
        let v = out(t.as_ref(), DOCS[0]);
        assert!(v.contains("@example.com"), "{v}");
        assert!(v.contains(r#""ssn": "***""#), "{v}");
        assert!(v.contains(r#""keep": 1.50"#), "{v}");
        assert!(!v.contains("7946"), "{v}");
        assert!(
            v.contains(r#""age": "#) && !v.contains(r#""age": ""#),
            "number stays a number: {v}"
        );
        assert_eq!(
            out(t.as_ref(), DOCS[1]),
            r#"{"email": null, "other": true}"#
        );
        assert_eq!(out(t.as_ref(), DOCS[2]), "[1, 2, 3]");
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("$.a[0][*]..b[\"c d\"].*").unwrap(),
            vec![
                Step::Key("a".into()),
                Step::Index(0),
                Step::All,
                Step::Descend("b".into()),
                Step::Key("c d".into()),
                Step::All
            ]
        );
        for bad in ["a.b", "$", "$.", "$[x]", "$[0", "$x"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_errors_name_the_path() {
        let e = build_err(
            "json",
            r#"paths = { "$.a" = { transformer = "emial" } }"#,
            &ColumnType::new("jsonb"),
        );
        assert!(matches!(e, BuildError::Nested { .. }));
        assert!(
            e.to_string().contains("`$.a`") && e.to_string().contains("did you mean"),
            "{e}"
        );
        assert!(matches!(
            build_err("json", "", &ColumnType::new("jsonb")),
            BuildError::MissingParam { .. }
        ));
        assert!(matches!(
            build_err("json", PARAMS, &ColumnType::new("int4")),
            BuildError::DoesNotFit { .. }
        ));
    }

    #[test]
    fn malformed_documents_and_values() {
        let t = build("json", PARAMS, &ColumnType::new("jsonb"));
        assert!(err(t.as_ref(), r#"{"email": "secret@x.y""#)
            .reason
            .starts_with("not valid JSON"));
        let strict = build(
            "json",
            r#"paths = { "$.id" = { transformer = "uuid" } }"#,
            &ColumnType::new("jsonb"),
        );
        let e = err(strict.as_ref(), r#"{"id": "nope"}"#);
        assert!(
            e.reason.contains("at $.id") && e.reason.contains("uuid"),
            "{e}"
        );
        let lenient = build(
            "json",
            r#"paths = { "$.id" = { transformer = "uuid", on_error = "null" } }"#,
            &ColumnType::new("jsonb"),
        );
        assert_eq!(
            out(lenient.as_ref(), r#"{"id": "nope"}"#),
            r#"{"id": null}"#
        );
    }
}
