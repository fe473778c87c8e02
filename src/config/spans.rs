//! `${VAR}` substitution and the spans of the config text that locate errors.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{line_col, Error};

/// Replaces every `${NAME}` in `s`; `$$` stands for a literal `$`. Returns the first missing name.
pub fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| body.to_string())?;
            let name = &body[..end];
            out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the keys and values of the config text are, from toml's spanned document: errors
/// found after deserializing point at the value that caused them, never at an earlier
/// mention of the same word (a commented-out line, another section).
pub(super) struct Spans<'a> {
    path: &'a Path,
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Spans<'a> {
    /// The spans of `text`, read from `path` (named in the locations).
    pub(super) fn new(path: &'a Path, text: &'a str) -> Spans<'a> {
        Spans {
            path,
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// The key and the value at `keys` (`["repositories", "offsite", "url"]`).
    pub(super) fn entry(&self, keys: &[&str]) -> Option<(Range<usize>, &Spanned<DeValue<'a>>)> {
        pub(super) fn find<'t, 'a>(
            table: &'t DeTable<'a>,
            key: &str,
        ) -> Option<(Range<usize>, &'t Spanned<DeValue<'a>>)> {
            table
                .iter()
                .find(|(k, _)| k.get_ref() == key)
                .map(|(k, v)| (k.span(), v))
        }
        let (first, rest) = keys.split_first()?;
        let mut found = find(self.root.as_ref()?.get_ref(), first)?;
        for key in rest {
            let DeValue::Table(table) = found.1.get_ref() else {
                return None;
            };
            found = find(table, key)?;
        }
        Some(found)
    }

    /// The span of the value at `keys`; of the nearest enclosing key that is written when the
    /// value is not (a key left out of its section).
    pub(super) fn span(&self, keys: &[&str]) -> Option<Range<usize>> {
        (1..=keys.len()).rev().find_map(|n| {
            let (key, value) = self.entry(&keys[..n])?;
            // A table's span may cover its whole body: its key is where it starts.
            Some(match value.get_ref() {
                DeValue::Table(_) => key,
                _ => value.span(),
            })
        })
    }

    /// `file:line:col` of `offset`.
    pub(super) fn location(&self, offset: Option<usize>) -> String {
        let (line, col) = line_col(self.text, offset.unwrap_or(0));
        format!("{}:{line}:{col}", self.path.display())
    }

    /// `file:line:col` of the value at `keys` (see [`Spans::span`]).
    pub(super) fn at(&self, keys: &[&str]) -> String {
        self.location(self.span(keys).map(|s| s.start))
    }

    /// `file:line:col` of item `index` of the array at `keys`.
    pub(super) fn at_item(&self, keys: &[&str], index: usize) -> String {
        let item = self.entry(keys).and_then(|(_, v)| match v.get_ref() {
            DeValue::Array(items) => items.get(index).map(|i| i.span().start),
            _ => None,
        });
        match item {
            Some(offset) => self.location(Some(offset)),
            None => self.at(keys),
        }
    }

    /// The error for `${var}` unset in the value at `keys`, located at the reference itself.
    pub(super) fn missing_var(&self, keys: &[&str], var: &str) -> Error {
        let offset = self.span(keys).map(|s| {
            let within = self.text.get(s.clone()).unwrap_or("");
            s.start + within.find(&format!("${{{var}")).unwrap_or(0)
        });
        Error::Config(format!(
            "{}: environment variable {var} is not set (export it before running doppel)",
            self.location(offset)
        ))
    }
}
