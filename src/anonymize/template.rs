//! `template`: builds the value from the row's other columns, e.g. an e-mail address from the
//! new first and last names: `"{first_name|ascii|lower}.{last_name|ascii|lower}@example.com"`.
//!
//! `{column}` is the value that will be written for that column — its anonymized value when it
//! has a rule, which then runs first — and `{original:column}` the value it had. Filters after
//! `|`: `lower`, `upper`, `ascii` (transliterate to ASCII), `alnum` (keep letters and digits),
//! `initial` (first character), `trim`, `hash:N` (N hex characters of a keyed hash). `{{` and
//! `}}` write braces.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::text_only;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{ColumnRead, Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "template",
    summary: "a value built from the row's columns: \"{first_name|lower}.{last_name|lower}@example.com\"",
    types: "text, varchar (cut to the length)",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "template",
            kind: ParamKind::String,
            default: None,
            doc: "text with {column}, {original:column} and filters {column|lower|ascii|alnum|initial|trim|upper|hash:N} (required)",
        },
        ParamInfo {
            name: "null",
            kind: ParamKind::Choice(&["empty", "null", "error"]),
            default: Some("\"empty\""),
            doc: "what a NULL column in the template does: counts as \"\", makes the result NULL, or is an error",
        },
    ],
};

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Lower,
    Upper,
    Ascii,
    Alnum,
    Initial,
    Trim,
    Hash(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Column {
        name: String,
        original: bool,
        filters: Vec<Filter>,
    },
}

fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("a lone `}` (write `}}` for a brace)".into()),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err("a `{` is never closed".into()),
                    }
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(parse_field(&field)?);
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

fn parse_field(field: &str) -> Result<Part, String> {
    let mut pieces = field.split('|');
    let column = pieces.next().unwrap_or("").trim();
    let (name, original) = match column.strip_prefix("original:") {
        Some(n) => (n.trim(), true),
        None => (column, false),
    };
    if name.is_empty() {
        return Err(format!("`{{{field}}}` names no column"));
    }
    let filters = pieces
        .map(|f| match f.trim() {
            "lower" => Ok(Filter::Lower),
            "upper" => Ok(Filter::Upper),
            "ascii" => Ok(Filter::Ascii),
            "alnum" => Ok(Filter::Alnum),
            "initial" => Ok(Filter::Initial),
            "trim" => Ok(Filter::Trim),
            other => match other.strip_prefix("hash:").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=64).contains(&n) => Ok(Filter::Hash(n)),
                _ => Err(format!("unknown filter `{other}` (lower, upper, ascii, alnum, initial, trim, hash:N with N ≤ 64)")),
            },
        })
        .collect::<Result<_, _>>()?;
    Ok(Part::Column {
        name: name.to_string(),
        original,
        filters,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Nulls {
    Empty,
    Null,
    Error,
}

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let template = p.str("template")?.ok_or_else(|| {
        p.missing(
            "template",
            "the text to build, e.g. template = \"{first_name}.{last_name}@example.com\"",
        )
    })?;
    let parts = parse(template).map_err(|why| p.bad("template", why))?;
    let nulls = match p.choice("null", &["empty", "null", "error"], "empty")? {
        "null" => Nulls::Null,
        "error" => Nulls::Error,
        _ => Nulls::Empty,
    };
    if nulls == Nulls::Null && column.not_null {
        return Err(p.bad("null", "the column is NOT NULL; use \"empty\" or \"error\""));
    }
    Ok(Box::new(Template {
        parts,
        nulls,
        column: column.clone(),
    }))
}

struct Template {
    parts: Vec<Part>,
    nulls: Nulls,
    column: ColumnType,
}

fn apply(filter: &Filter, s: String, ctx: &Ctx<'_>) -> String {
    match filter {
        Filter::Lower => s.to_lowercase(),
        Filter::Upper => s.to_uppercase(),
        Filter::Ascii => deunicode::deunicode(&s),
        Filter::Alnum => s.chars().filter(|c| c.is_alphanumeric()).collect(),
        Filter::Initial => s.chars().take(1).collect(),
        Filter::Trim => s.trim().to_string(),
        Filter::Hash(n) => {
            let mut h = hex::encode(ctx.hash(s.as_bytes()));
            h.truncate(*n);
            h
        }
    }
}

impl Transformer for Template {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        if value.is_none() {
            return Ok(None);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Column {
                    name,
                    original,
                    filters,
                } => {
                    let row = ctx.row();
                    let v = if *original {
                        row.original(name)
                    } else {
                        row.written(name)
                    };
                    let v = match v {
                        None => {
                            return Err(TransformError::new(
                                "template",
                                format!("the table has no column `{name}`"),
                            ))
                        }
                        Some(Some(v)) => v.to_string(),
                        Some(None) => match self.nulls {
                            Nulls::Empty => String::new(),
                            Nulls::Null => return Ok(None),
                            Nulls::Error => {
                                return Err(TransformError::new(
                                    "template",
                                    format!("column `{name}` is NULL"),
                                ))
                            }
                        },
                    };
                    out.push_str(&filters.iter().fold(v, |s, f| apply(f, s, ctx)));
                }
            }
        }
        Ok(Some(self.column.truncate(out)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }

    fn reads(&self) -> Vec<ColumnRead> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Column { name, original, .. } => Some(ColumnRead {
                    column: name.clone(),
                    original: *original,
                }),
                Part::Text(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnRead, ColumnType, MapRow};

    fn row() -> MapRow {
        let mut r = MapRow::new()
            .with("first_name", Some("Ada"))
            .with("last_name", Some("Lovelace"))
            .with("id", Some("7"))
            .with("middle", None);
        r.set_written("first_name", Some("Zoë".into()));
        r.set_written("last_name", Some("O'Brien".into()));
        r
    }

    #[test]
    fn builds_email_from_new_names() {
        let col = ColumnType::parse("varchar(40)").unwrap();
        let t = build(
            "template",
            "template = \"{first_name|ascii|lower}.{last_name|ascii|alnum|lower}@example.com\"",
            &col,
        );
        let v = run_in_row(t.as_ref(), &key(), Some("ada@corp.example"), &row()).unwrap();
        assert_eq!(v.as_deref(), Some("zoe.obrien@example.com"));
        assert_eq!(run_in_row(t.as_ref(), &key(), None, &row()).unwrap(), None);
        assert_eq!(
            t.reads(),
            vec![
                ColumnRead {
                    column: "first_name".into(),
                    original: false
                },
                ColumnRead {
                    column: "last_name".into(),
                    original: false
                },
            ]
        );
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn originals_filters_and_braces() {
        let t = build(
            "template",
            "template = \"{{{original:first_name|upper|initial}}} #{id|hash:8}\"",
            &ColumnType::text(),
        );
        let a = run_in_row(t.as_ref(), &key(), Some("x"), &row())
            .unwrap()
            .unwrap();
        let b = run_in_row(t.as_ref(), &other_key(), Some("x"), &row())
            .unwrap()
            .unwrap();
        assert!(a.starts_with("{A} #") && a.len() == 13, "{a}");
        assert_ne!(a, b, "hash:N is keyed");
        let a2 = run_in_row(t.as_ref(), &key(), Some("x"), &row())
            .unwrap()
            .unwrap();
        assert_eq!(a, a2);
    }

    #[test]
    fn nulls_and_missing_columns() {
        let col = ColumnType::text();
        let empty = build("template", "template = \"{first_name} {middle}!\"", &col);
        assert_eq!(
            run_in_row(empty.as_ref(), &key(), Some("x"), &row())
                .unwrap()
                .as_deref(),
            Some("Zoë !")
        );
        let null = build("template", "template = \"{middle}\"\nnull = \"null\"", &col);
        assert_eq!(
            run_in_row(null.as_ref(), &key(), Some("x"), &row()).unwrap(),
            None
        );
        let error = build(
            "template",
            "template = \"{middle}\"\nnull = \"error\"",
            &col,
        );
        assert!(run_in_row(error.as_ref(), &key(), Some("x"), &row())
            .unwrap_err()
            .reason
            .contains("NULL"));
        let missing = build("template", "template = \"{nope}\"", &col);
        assert!(run_in_row(missing.as_ref(), &key(), Some("x"), &row())
            .unwrap_err()
            .reason
            .contains("no column `nope`"));
    }

    #[test]
    fn fits_and_parses() {
        let col = ColumnType::parse("varchar(5)").unwrap();
        let t = build("template", "template = \"{last_name}-{first_name}\"", &col);
        assert_eq!(
            run_in_row(t.as_ref(), &key(), Some("x"), &row())
                .unwrap()
                .as_deref(),
            Some("O'Bri")
        );
        for bad in ["{", "}", "{}", "{a|nope}", "{a|hash:0}"] {
            let e = build_err(
                "template",
                &format!("template = \"{bad}\""),
                &ColumnType::text(),
            );
            assert!(matches!(e, BuildError::BadValue { .. }), "{bad}: {e}");
        }
        check_common(
            build("template", "template = \"fixed\"", &col).as_ref(),
            &col,
            SAMPLES,
            Keyed::No,
        );
    }
}
