//! `array`: applies a transformer to every element of a PostgreSQL array
//! (`tags = { transformer = "array", element = { transformer = "words", count = 1 } }`),
//! multi-dimensional arrays included. NULL elements stay NULL unless the element's transformer
//! says otherwise; the array's shape and bounds are kept.

use super::anonymizer::Anonymizer;
use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{ColumnRead, Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "array",
    summary: "a transformer applied to each element of an array",
    types: "any array type (the element's transformer must fit the element type)",
    preserves_uniqueness: Uniqueness::Depends("when the element's transformer does"),
    params: &[ParamInfo {
        name: "element",
        kind: ParamKind::Spec,
        default: None,
        doc: "the element's transformer spec, e.g. { transformer = \"email\" } (required)",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let element_type = match (column.kind(), column.element()) {
        (TypeKind::Array, Some(e)) => e,
        // Arrays kept in text columns: elements are text.
        (TypeKind::Text, _) => ColumnType::text(),
        _ => {
            return Err(p.does_not_fit(
                column,
                "it works on arrays; use it on array columns such as text[]",
            ))
        }
    };
    let spec = p.table("element")?.ok_or_else(|| {
        p.missing(
            "element",
            "the element's transformer, e.g. element = { transformer = \"email\" }",
        )
    })?;
    let element = Anonymizer::from_spec(spec, &element_type).map_err(|e| BuildError::Nested {
        at: "array element".into(),
        source: Box::new(e),
    })?;
    Ok(Box::new(Array { element }))
}

struct Array {
    element: Anonymizer,
}

/// One level of an array literal: elements or nested arrays.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Item(Option<String>),
    List(Vec<Node>),
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

const MALFORMED: &str = "not an array literal";

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += self.peek().map_or(0, char::len_utf8);
        }
    }

    fn list(&mut self, depth: usize) -> Result<Node, &'static str> {
        if depth > 6 {
            // PostgreSQL's MAXDIM.
            return Err("not an array literal (more than 6 dimensions)");
        }
        self.skip_ws();
        if self.peek() != Some('{') {
            return Err(MALFORMED);
        }
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.i += 1;
            return Ok(Node::List(items));
        }
        loop {
            self.skip_ws();
            items.push(match self.peek() {
                Some('{') => self.list(depth + 1)?,
                Some('"') => Node::Item(Some(self.quoted()?)),
                Some(_) => self.unquoted()?,
                None => return Err(MALFORMED),
            });
            self.skip_ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some('}') => {
                    self.i += 1;
                    return Ok(Node::List(items));
                }
                _ => return Err(MALFORMED),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, &'static str> {
        self.i += 1;
        let mut out = String::new();
        let mut chars = self.s[self.i..].char_indices();
        while let Some((off, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += off + 1;
                    return Ok(out);
                }
                '\\' => out.push(chars.next().ok_or(MALFORMED)?.1),
                c => out.push(c),
            }
        }
        Err(MALFORMED)
    }

    fn unquoted(&mut self) -> Result<Node, &'static str> {
        let mut out = String::new();
        let mut chars = self.s[self.i..].char_indices();
        let mut end = self.s.len() - self.i;
        while let Some((off, c)) = chars.next() {
            match c {
                ',' | '}' => {
                    end = off;
                    break;
                }
                '{' | '"' => return Err(MALFORMED),
                '\\' => out.push(chars.next().ok_or(MALFORMED)?.1),
                c => out.push(c),
            }
        }
        self.i += end;
        // Unquoted elements lose surrounding whitespace, and NULL means NULL.
        let trimmed = out.trim();
        if trimmed.eq_ignore_ascii_case("null") {
            return Ok(Node::Item(None));
        }
        if trimmed.is_empty() {
            return Err(MALFORMED);
        }
        Ok(Node::Item(Some(trimmed.to_string())))
    }
}

/// Parses an array literal into its optional bounds decoration (`[0:1]=`) and its contents.
fn parse(s: &str) -> Result<(&str, Node), &'static str> {
    let (bounds, body) = match s.find('=') {
        Some(eq) if s.starts_with('[') => (&s[..=eq], &s[eq + 1..]),
        _ => ("", s),
    };
    let mut p = Parser { s: body, i: 0 };
    let node = p.list(1)?;
    p.skip_ws();
    if p.i != body.len() {
        return Err(MALFORMED);
    }
    Ok((bounds, node))
}

/// Writes an element as PostgreSQL does: quoted when it is empty, would read as NULL, or
/// holds a delimiter, brace, quote, backslash or white space.
fn write_item(v: &str, out: &mut String) {
    let quote = v.is_empty()
        || v.eq_ignore_ascii_case("null")
        || v.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if !quote {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn write(node: &Node, out: &mut String) {
    match node {
        Node::Item(None) => out.push_str("NULL"),
        Node::Item(Some(v)) => write_item(v, out),
        Node::List(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push('}');
        }
    }
}

impl Array {
    fn map(&self, node: &mut Node, ctx: &mut Ctx<'_>) -> Result<(), TransformError> {
        match node {
            Node::Item(v) => *v = self.element.apply_in(v.as_deref(), ctx)?,
            Node::List(items) => {
                for item in items {
                    self.map(item, ctx)?;
                }
            }
        }
        Ok(())
    }
}

impl Transformer for Array {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let (bounds, mut node) = parse(value).map_err(|why| TransformError::new("array", why))?;
        self.map(&mut node, ctx)
            .map_err(|e| TransformError::new("array", format!("in an element: {e}")))?;
        let mut out = bounds.to_string();
        write(&node, &mut out);
        Ok(Some(out))
    }

    fn preserves_uniqueness(&self) -> bool {
        self.element.preserves_uniqueness()
    }

    fn reads(&self) -> Vec<ColumnRead> {
        self.element.reads()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, write};
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn literals_round_trip() {
        for lit in [
            "{a,b,c}",
            "{}",
            "{NULL,\"NULL\",\"\",\"a b\",\"q\\\"uote\",\"back\\\\slash\",\"{x}\"}",
            "{{1,2},{3,4}}",
            "[0:1]={x,y}",
            "{é,日本}",
        ] {
            let (bounds, node) = parse(lit).unwrap();
            let mut out = bounds.to_string();
            write(&node, &mut out);
            assert_eq!(out, lit);
        }
        let (_, spaced) = parse("{ a , b }").unwrap();
        let mut out = String::new();
        write(&spaced, &mut out);
        assert_eq!(out, "{a,b}");
    }

    #[test]
    fn transforms_each_element() {
        let col = ColumnType::parse("varchar(64)[]").unwrap();
        let t = build("array", "element = { transformer = \"email\" }", &col);
        check_common(
            t.as_ref(),
            &ColumnType::text(),
            &["{a@b.c,x@y.z}", "{q@r.s}", "{NULL,t@u.v}"],
            Keyed::Yes,
        );
        let v = out(t.as_ref(), "{a@b.c,NULL,\"quoted@x.y\"}");
        let parts: Vec<&str> = v.trim_matches(['{', '}']).split(',').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            parts[0].ends_with("@example.com") && parts[1] == "NULL",
            "{v}"
        );
        // The same element maps alike wherever it is.
        let again = out(t.as_ref(), "{\"quoted@x.y\"}");
        assert_eq!(again.trim_matches(['{', '}']), parts[2]);
        let nested = out(t.as_ref(), "{{a@b.c},{x@y.z}}");
        assert!(
            nested.starts_with("{{") && nested.ends_with("}}"),
            "{nested}"
        );
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn uniqueness_follows_the_element() {
        let t = build(
            "array",
            "element = { transformer = \"uuid\" }",
            &ColumnType::new("_uuid"),
        );
        assert!(t.preserves_uniqueness());
    }

    #[test]
    fn element_types_are_checked() {
        let e = build_err(
            "array",
            "element = { transformer = \"email\" }",
            &ColumnType::parse("varchar(3)[]").unwrap(),
        );
        assert!(matches!(e, BuildError::Nested { .. }), "{e}");
        assert!(e.to_string().starts_with("array element: "), "{e}");
        assert!(matches!(
            build_err("array", "", &ColumnType::new("_text")),
            BuildError::MissingParam { .. }
        ));
        assert!(matches!(
            build_err(
                "array",
                "element = { transformer = \"keep\" }",
                &ColumnType::new("int4")
            ),
            BuildError::DoesNotFit { .. }
        ));
    }

    #[test]
    fn malformed_input() {
        let t = build(
            "array",
            "element = { transformer = \"keep\" }",
            &ColumnType::new("_text"),
        );
        for bad in ["a,b", "{a,b", "{a,,b}", "{\"a}", "{a}x"] {
            assert_eq!(err(t.as_ref(), bad).reason, "not an array literal", "{bad}");
        }
        let strict = build(
            "array",
            "element = { transformer = \"uuid\" }",
            &ColumnType::new("_text"),
        );
        assert!(err(strict.as_ref(), "{nope}").reason.contains("uuid"));
    }
}
