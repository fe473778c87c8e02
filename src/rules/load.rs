//! Reading rules files: TOML walked by hand over `toml`'s spanned document, so that every
//! key, value and parameter keeps its file, line and column, and unknown keys are refused
//! at the exact key (serde's `deny_unknown_fields` cannot keep the positions of a rule's
//! free-form parameters, nor accept both `col = "keep"` and `col = { … }` with spans).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::model::{
    ColumnRule, Decision, Diagnostic, Location, OnError, RuleSet, RulesError, TableRules, KEEP,
};
use super::when::When;
use super::FORMAT_VERSION;
use crate::anonymize::Empty;
use crate::catalog::TableName;

impl RuleSet {
    /// Loads every `*.toml` file under `dir` (recursively, hidden entries skipped) and merges
    /// them. An empty folder gives an empty rule set. Every problem in every file is
    /// reported, each with its file, line and column.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        if !dir.is_dir() {
            return Err(RulesError::new(vec![Diagnostic::general(format!(
                "rules folder {} does not exist; create it (`doppel init` writes one) or point \
                 to the right folder",
                dir.display()
            ))]));
        }
        let mut files = Vec::new();
        let mut diagnostics = Vec::new();
        collect_files(dir, &mut files, &mut diagnostics);
        files.sort();
        let mut sources = Vec::new();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((path, text)),
                Err(e) => diagnostics.push(Diagnostic::general(format!(
                    "cannot read rules file {}: {e}",
                    path.display()
                ))),
            }
        }
        match RuleSet::parse_sources(&sources) {
            Ok(set) if diagnostics.is_empty() => Ok(set),
            Ok(_) => Err(RulesError::new(diagnostics)),
            Err(e) => {
                diagnostics.extend(e.diagnostics);
                Err(RulesError::new(diagnostics))
            }
        }
    }

    /// Parses and merges rules files given as (path, content); a table defined in two
    /// places is an error naming both.
    pub fn parse_sources(sources: &[(PathBuf, String)]) -> Result<RuleSet, RulesError> {
        let mut diagnostics = Vec::new();
        let mut tables: BTreeMap<TableName, TableRules> = BTreeMap::new();
        for (path, text) in sources {
            let mut parser = FileParser {
                path,
                text,
                diagnostics: Vec::new(),
            };
            for rules in parser.file() {
                if let Some(first) = tables.get(&rules.table) {
                    parser.diagnostics.push(Diagnostic::at(
                        &rules.location,
                        format!(
                            "table {} is already defined at {}; define each table once \
                             (merge the two definitions)",
                            rules.table, first.location
                        ),
                    ));
                } else {
                    tables.insert(rules.table.clone(), rules);
                }
            }
            diagnostics.append(&mut parser.diagnostics);
        }
        if diagnostics.is_empty() {
            let mut files: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
            files.sort();
            Ok(RuleSet { tables, files })
        } else {
            Err(RulesError::new(diagnostics))
        }
    }

    /// Parses one rules file.
    pub fn parse(path: &Path, text: &str) -> Result<RuleSet, RulesError> {
        RuleSet::parse_sources(&[(path.to_path_buf(), text.to_string())])
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diagnostics.push(Diagnostic::general(format!(
                "cannot read rules folder {}: {e}",
                dir.display()
            )));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out, diagnostics);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

type Key<'i> = Spanned<std::borrow::Cow<'i, str>>;
type Val<'i> = Spanned<DeValue<'i>>;

struct FileParser<'a> {
    path: &'a Path,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl FileParser<'_> {
    fn loc(&self, span: Range<usize>) -> Location {
        Location::at(self.path, self.text, span.start)
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = Diagnostic::at(&self.loc(span), message);
        self.diagnostics.push(d);
    }

    fn file(&mut self) -> Vec<TableRules> {
        let root = match DeTable::parse(self.text) {
            Ok(root) => root,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim_end().to_string();
                self.error(span, format!("{message}; fix the TOML syntax"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut version_seen = false;
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "version" => {
                    version_seen = true;
                    let ok = matches!(value.get_ref(), DeValue::Integer(i)
                        if i.radix() == 10 && i.as_str().trim_start_matches('+') == FORMAT_VERSION.to_string());
                    if !ok {
                        self.error(
                            value.span(),
                            format!(
                                "unsupported rules version {}: this doppel reads version \
                                 {FORMAT_VERSION}; write `version = {FORMAT_VERSION}`",
                                &self.text[value.span()]
                            ),
                        );
                    }
                }
                "tables" => match value.get_ref() {
                    DeValue::Table(tables) => {
                        for (tkey, tvalue) in tables {
                            if let Some(rules) = self.table(tkey, tvalue) {
                                out.push(rules);
                            }
                        }
                    }
                    _ => self.error(
                        value.span(),
                        "`tables` must be a table of tables, e.g. [tables.\"public.customers\"]",
                    ),
                },
                // Read by `doppel snapshot --subset` (src/source_subset.rs), which checks it.
                "subset" => {}
                other => self.error(
                    key.span(),
                    format!(
                        "unknown key `{other}` at the top of a rules file; expected `version`, \
                         `tables` or `subset` (remove it or fix its spelling)"
                    ),
                ),
            }
        }
        if !version_seen {
            self.error(
                0..0,
                format!("missing `version = {FORMAT_VERSION}`; add it at the top of the file"),
            );
        }
        out
    }

    fn table(&mut self, key: &Key<'_>, value: &Val<'_>) -> Option<TableRules> {
        let table = match TableName::parse(key.get_ref()) {
            Ok(t) => t,
            Err(e) => {
                self.error(key.span(), e);
                return None;
            }
        };
        let location = self.loc(key.span());
        let DeValue::Table(fields) = value.get_ref() else {
            self.error(
                value.span(),
                format!(
                    "the rules for {table} must be a table, e.g. [tables.\"{table}\"] with \
                     `decision` and [tables.\"{table}\".columns]"
                ),
            );
            return None;
        };
        let mut decision = Decision::Anonymize;
        let mut decision_span = None;
        let mut columns = BTreeMap::new();
        let mut columns_span = None;
        for (fkey, fvalue) in fields {
            match fkey.get_ref().as_ref() {
                "decision" => {
                    decision_span = Some(fvalue.span());
                    match fvalue.get_ref().as_str().and_then(Decision::parse) {
                        Some(d) => decision = d,
                        None => self.error(
                            fvalue.span(),
                            format!(
                                "decision for {table} must be \"anonymize\", \"keep\", \
                                 \"schema-only\" or \"skip\", not {}",
                                &self.text[fvalue.span()]
                            ),
                        ),
                    }
                }
                "columns" => {
                    columns_span = Some(fkey.span());
                    let DeValue::Table(cols) = fvalue.get_ref() else {
                        self.error(
                            fvalue.span(),
                            format!(
                                "columns of {table} must be a table: [tables.\"{table}\".columns] \
                                 with one `column = rule` per line"
                            ),
                        );
                        continue;
                    };
                    for (ckey, cvalue) in cols {
                        if let Some(rule) = self.column(&table, ckey, cvalue) {
                            columns.insert(rule.column.clone(), rule);
                        }
                    }
                }
                other => {
                    let hint = if matches!(fvalue.get_ref(), DeValue::String(_) | DeValue::Table(_))
                    {
                        format!(" (column rules go under [tables.\"{table}\".columns])")
                    } else {
                        String::new()
                    };
                    self.error(
                        fkey.span(),
                        format!(
                            "unknown key `{other}` in the rules for {table}; expected `decision` \
                             or `columns`{hint}"
                        ),
                    );
                }
            }
        }
        if decision != Decision::Anonymize && !columns.is_empty() {
            let span = columns_span.or(decision_span).unwrap_or(key.span());
            self.error(
                span,
                format!(
                    "{table} has decision = \"{decision}\", which takes no column rules; remove \
                     the columns, or use decision = \"anonymize\" with `column = \"keep\"` for \
                     the columns to keep"
                ),
            );
        }
        Some(TableRules {
            table,
            decision,
            columns,
            location,
        })
    }

    fn column(&mut self, table: &TableName, key: &Key<'_>, value: &Val<'_>) -> Option<ColumnRule> {
        let column = key.get_ref().to_string();
        if column.is_empty() {
            self.error(
                key.span(),
                format!("empty column name in the rules for {table}"),
            );
            return None;
        }
        let mut rule = ColumnRule::new(&column, "", self.loc(key.span()));
        let fields = match value.get_ref() {
            DeValue::String(name) => {
                rule.transformer = name.to_string();
                rule.transformer_location = self.loc(value.span());
                if name.is_empty() {
                    self.error(
                        value.span(),
                        format!(
                            "empty transformer name for {table}.{}; name one, or \"keep\"",
                            rule.column
                        ),
                    );
                    return None;
                }
                return Some(rule);
            }
            DeValue::Table(fields) => fields,
            _ => {
                self.error(
                    value.span(),
                    format!(
                        "the rule for {table}.{} must be a transformer name (\"keep\", \
                         \"email\", …) or a table such as {{ transformer = \"email\" }}",
                        rule.column
                    ),
                );
                return None;
            }
        };
        let errors_before = self.diagnostics.len();
        let mut transformer_seen = false;
        for (fkey, fvalue) in fields {
            let name = fkey.get_ref().as_ref();
            match name {
                "transformer" => {
                    transformer_seen = true;
                    match fvalue.get_ref() {
                        DeValue::String(s) if !s.is_empty() => {
                            rule.transformer = s.to_string();
                            rule.transformer_location = self.loc(fvalue.span());
                        }
                        _ => self.error(
                            fvalue.span(),
                            "`transformer` must be a transformer's name in quotes, e.g. \
                             transformer = \"email\"",
                        ),
                    }
                }
                "when" => match fvalue.get_ref() {
                    DeValue::String(s) => {
                        let (offset, exact) = self.string_content_offset(fvalue.span(), s);
                        rule.when_location = Some(self.loc(offset..offset));
                        rule.when_verbatim = exact;
                        match When::parse(s) {
                            Ok(w) => rule.when = Some(w),
                            Err(e) => {
                                let at = if exact {
                                    offset + byte_offset(s, e.line, e.col)
                                } else {
                                    fvalue.span().start
                                };
                                let within = if exact {
                                    String::new()
                                } else {
                                    format!(" (line {}, column {} of the clause)", e.line, e.col)
                                };
                                self.error(at..at, format!("{}{within}", e.message));
                            }
                        }
                    }
                    _ => self.error(
                        fvalue.span(),
                        "`when` must be a condition in quotes, e.g. when = \"country = 'FR'\"",
                    ),
                },
                "domain" => match fvalue.get_ref() {
                    DeValue::String(s) if !s.is_empty() => {
                        rule.domain = Some(s.to_string());
                        rule.domain_location = Some(self.loc(fvalue.span()));
                    }
                    _ => self.error(
                        fvalue.span(),
                        "`domain` must be a non-empty name in quotes, e.g. domain = \"email\"",
                    ),
                },
                "on_error" => {
                    if let Some(on_error) = self.on_error(fvalue) {
                        rule.on_error = on_error;
                    }
                }
                "empty" => match fvalue.get_ref() {
                    DeValue::String(s) if Empty::parse(s).is_some() => {
                        rule.empty = Empty::parse(s).unwrap_or_default();
                    }
                    _ => self.error(
                        fvalue.span(),
                        "`empty` must be \"keep\" (empty and blank values stay as they are, \
                         the default) or \"transform\" (the transformer gets them too)",
                    ),
                },
                _ => match toml::Value::deserialize(ValueDeserializer::from(fvalue.clone())) {
                    Ok(v) => {
                        rule.params.insert(name.to_string(), v);
                        rule.param_locations
                            .insert(name.to_string(), self.loc(fkey.span()));
                    }
                    Err(e) => {
                        let span = e.span().unwrap_or(fvalue.span());
                        self.error(span, format!("parameter `{name}`: {}", e.message()));
                    }
                },
            }
        }
        if !transformer_seen {
            self.error(
                key.span(),
                format!(
                    "the rule for {table}.{} has no `transformer`; add one, e.g. \
                     {{ transformer = \"email\" }}, or write {} = \"keep\"",
                    rule.column, rule.column
                ),
            );
        }
        if self.diagnostics.len() > errors_before {
            return None;
        }
        if rule.transformer == KEEP
            && (!rule.params.is_empty()
                || rule.when.is_some()
                || rule.domain.is_some()
                || rule.on_error != OnError::Fail
                || rule.empty != Empty::Keep)
        {
            self.error(
                key.span(),
                format!(
                    "{table}.{} is kept as it is, which takes no parameters, `when`, `domain`, \
                     `on_error` or `empty`; remove them, or name the transformer to apply",
                    rule.column
                ),
            );
            return None;
        }
        Some(rule)
    }

    fn on_error(&mut self, value: &Val<'_>) -> Option<OnError> {
        const EXPECTED: &str = "`on_error` must be \"fail\", \"null\" or { fallback = VALUE }";
        match value.get_ref() {
            DeValue::String(s) if s == "fail" => Some(OnError::Fail),
            DeValue::String(s) if s == "null" => Some(OnError::Null),
            DeValue::Table(t) => {
                let mut fallback = None;
                for (k, v) in t {
                    if k.get_ref() != "fallback" {
                        self.error(
                            k.span(),
                            format!("unknown key `{}` in on_error; {EXPECTED}", k.get_ref()),
                        );
                        continue;
                    }
                    let text = match toml::Value::deserialize(ValueDeserializer::from(v.clone())) {
                        Ok(toml::Value::String(s)) => Some(s),
                        Ok(toml::Value::Integer(i)) => Some(i.to_string()),
                        Ok(toml::Value::Float(f)) => Some(f.to_string()),
                        Ok(toml::Value::Boolean(b)) => Some(b.to_string()),
                        Ok(toml::Value::Datetime(d)) => Some(d.to_string()),
                        _ => None,
                    };
                    match text {
                        Some(t) => fallback = Some(OnError::Fallback(t)),
                        None => self.error(
                            v.span(),
                            "the fallback must be a string, number, boolean or date",
                        ),
                    }
                }
                if fallback.is_none() && t.is_empty() {
                    self.error(value.span(), EXPECTED);
                }
                fallback
            }
            _ => {
                self.error(value.span(), EXPECTED);
                None
            }
        }
    }

    /// Where the text of a string value starts in the file, and whether the string is
    /// written verbatim (no escapes, no line-ending backslash), so that positions inside it
    /// map to the file one to one.
    fn string_content_offset(&self, span: Range<usize>, value: &str) -> (usize, bool) {
        let raw = &self.text[span.clone()];
        let delimiter = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let Some(body) = raw.get(delimiter..raw.len().saturating_sub(delimiter)) else {
            return (span.start, false);
        };
        // A multi-line string drops the newline right after its opening delimiter.
        let skip = if delimiter == 3 {
            if body.starts_with("\r\n") {
                2
            } else {
                usize::from(body.starts_with('\n'))
            }
        } else {
            0
        };
        if &body[skip..] == value {
            (span.start + delimiter + skip, true)
        } else {
            (span.start, false)
        }
    }
}

/// The byte offset of 1-based (line, column in characters) within `s`, clamped to its end.
fn byte_offset(s: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in s.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map(|(b, _)| b)
                    .unwrap_or(l.len());
        }
        offset += l.len();
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuleSet, RulesError> {
        RuleSet::parse(Path::new("rules/shop.toml"), text)
    }

    const GOOD: &str = r#"
version = 1

[tables."public.customers"]
decision = "anonymize"

[tables."public.customers".columns]
id = "keep"
email = { transformer = "email", domain = "email", on_error = "null" }
first_name = { transformer = "first_name", empty = "transform" }
notes = { transformer = "null", when = "country = 'FR' AND NOT is_admin" }
city = { transformer = "city", on_error = { fallback = "Springfield" } }
age = { transformer = "noise", ratio = 0.1, min = 18, ops = ["a", "b"], nested = { x = 1 } }
phone = "phone"

[tables."public.audit_log"]
decision = "skip"

[tables.'billing."odd.name"']
decision = "schema-only"
"#;

    #[test]
    fn reference_file_parses_into_rules() {
        let set = parse(GOOD).unwrap();
        let names: Vec<String> = set.tables().map(|t| t.table.to_string()).collect();
        assert_eq!(
            names,
            ["billing.odd.name", "public.audit_log", "public.customers"]
        );
        let odd = set.table(&TableName::new("billing", "odd.name")).unwrap();
        assert_eq!(odd.decision, Decision::SchemaOnly);
        let customers = set.table(&TableName::new("public", "customers")).unwrap();
        assert_eq!(customers.decision, Decision::Anonymize);
        let c = &customers.columns;
        assert!(c["id"].is_keep());
        assert_eq!(c["email"].transformer, "email");
        assert_eq!(c["email"].domain.as_deref(), Some("email"));
        assert_eq!(c["email"].on_error, OnError::Null);
        assert!(c["email"].params.is_empty());
        assert_eq!(c["city"].on_error, OnError::Fallback("Springfield".into()));
        assert_eq!(c["phone"].transformer, "phone");
        assert_eq!(c["phone"].empty, Empty::Keep);
        assert_eq!(c["first_name"].empty, Empty::Transform);
        assert!(c["first_name"].params.is_empty());
        let notes = &c["notes"];
        assert_eq!(
            notes.when.as_ref().unwrap().source(),
            "country = 'FR' AND NOT is_admin"
        );
        // The clause starts after `notes = { transformer = "null", when = "`.
        let at = notes.when_location.as_ref().unwrap();
        assert_eq!((at.line, at.col), (11, 41));
        let age = &c["age"];
        assert_eq!(age.params["ratio"], toml::Value::Float(0.1));
        assert_eq!(age.params["min"], toml::Value::Integer(18));
        assert_eq!(age.params.len(), 4);
        let at = age.param_location("min");
        assert_eq!((at.line, at.col), (13, 45));
        assert_eq!(age.param_location("nope"), &age.location);
        assert_eq!(
            (age.transformer_location.line, age.transformer_location.col),
            (13, 23)
        );
        assert_eq!(set.files(), [PathBuf::from("rules/shop.toml")]);
    }

    #[test]
    fn fallback_values_become_copy_text() {
        let text = "version = 1\n[tables.\"public.t\".columns]\n\
                    a = { transformer = \"x\", on_error = { fallback = 0 } }\n\
                    b = { transformer = \"x\", on_error = { fallback = 1.5 } }\n\
                    c = { transformer = \"x\", on_error = { fallback = true } }\n\
                    d = { transformer = \"x\", on_error = { fallback = 2024-01-02 } }\n\
                    e = { transformer = \"x\", on_error = \"fail\" }\n";
        let set = parse(text).unwrap();
        let cols = &set.table(&TableName::new("public", "t")).unwrap().columns;
        let got: Vec<&OnError> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|c| &cols[*c].on_error)
            .collect();
        assert_eq!(
            got,
            [
                &OnError::Fallback("0".into()),
                &OnError::Fallback("1.5".into()),
                &OnError::Fallback("true".into()),
                &OnError::Fallback("2024-01-02".into()),
                &OnError::Fail,
            ]
        );
    }

    #[test]
    fn errors_carry_file_line_and_column() {
        let h = "version = 1\n[tables.\"public.t\".columns]\n";
        // (file content, expected "line:col", a fragment of the message)
        let cases: &[(&str, &str, &str)] = &[
            ("version = 1\nversion = 1\n", "2:1", "duplicate key"),
            ("version = 1\n[tables\n", "2:8", "TOML"),
            ("[tables.\"public.t\".columns]\na = \"keep\"\n", "1:1", "missing `version = 1`"),
            ("version = 2\n", "1:11", "unsupported rules version 2"),
            ("version = \"1\"\n", "1:11", "unsupported rules version"),
            ("version = 1\nsubsets = 3\n", "2:1", "unknown key `subsets`"),
            ("version = 1\n[sample]\nx = 1\n", "2:2", "unknown key `sample`"),
            ("version = 1\ntables = 3\n", "2:10", "`tables` must be a table"),
            ("version = 1\n[tables.customers]\n", "2:9", "must be schema-qualified"),
            ("version = 1\n[tables.\"a.b.c\"]\n", "2:9", "must be `schema.table`"),
            ("version = 1\n[tables.'a.\"b']\n", "2:9", "unclosed double quote"),
            ("version = 1\n[tables.'\"a\"x.b']\n", "2:9", "quoted part"),
            ("version = 1\n[tables]\n\"public.t\" = 3\n", "3:14", "must be a table"),
            ("version = 1\n[tables.\"public.t\"]\ndecision = \"drop\"\n", "3:12", "decision for public.t"),
            ("version = 1\n[tables.\"public.t\"]\ndecisoin = \"keep\"\n", "3:1", "unknown key `decisoin`"),
            ("version = 1\n[tables.\"public.t\"]\nemail = \"email\"\n", "3:1", "column rules go under"),
            ("version = 1\n[tables.\"public.t\"]\ncolumns = 1\n", "3:11", "must be a table"),
            (
                "version = 1\n[tables.\"public.t\"]\ndecision = \"keep\"\ncolumns = { a = \"keep\" }\n",
                "4:1",
                "takes no column rules",
            ),
            ("a = 3", "3:5", "must be a transformer name"),
            ("a = \"\"", "3:5", "empty transformer name"),
            ("\"\" = \"keep\"", "3:1", "empty column name"),
            ("a = { when = \"x = 1\" }", "3:1", "has no `transformer`"),
            ("a = { transformer = 3 }", "3:21", "`transformer` must be"),
            ("a = { transformer = \"\" }", "3:21", "`transformer` must be"),
            ("a = { transformer = \"x\", when = 1 }", "3:33", "`when` must be"),
            ("a = { transformer = \"x\", domain = \"\" }", "3:35", "`domain` must be"),
            ("a = { transformer = \"x\", on_error = \"skip\" }", "3:37", "`on_error` must be"),
            ("a = { transformer = \"x\", on_error = {} }", "3:37", "`on_error` must be"),
            ("a = { transformer = \"x\", on_error = { fallbak = 1 } }", "3:39", "unknown key `fallbak`"),
            ("a = { transformer = \"x\", on_error = { fallback = [1] } }", "3:50", "fallback must be"),
            ("a = { transformer = \"x\", empty = \"skip\" }", "3:34", "`empty` must be"),
            ("a = { transformer = \"x\", empty = true }", "3:34", "`empty` must be"),
            ("a = { transformer = \"keep\", empty = \"transform\" }", "3:1", "takes no parameters"),
            ("a = { transformer = \"keep\", mode = 1 }", "3:1", "takes no parameters"),
            ("a = { transformer = \"keep\", when = \"b = 1\" }", "3:1", "takes no parameters"),
            // `when` errors point inside the clause when it is written without escapes…
            ("a = { transformer = \"x\", when = \"b = 1 AND lower(c) = 'x'\" }", "3:44", "function call"),
            ("a = { transformer = \"x\", when = 'b = ' }", "3:38", "does not parse"),
            ("a = { transformer = \"x\", when = \"\"\"\nb = 1 AND\n  c + 1 > 2\"\"\" }", "5:3", "operator +"),
            // …and at the string, with the position within the clause, when it has escapes.
            ("a = { transformer = \"x\", when = \"b = \\u0031 AND c::int = 1\" }", "3:33", "(line 1, column 11 of the clause)"),
            ("a = { transformer = \"x\", when = \"\\\"b\\\" = 1 AND f(c)\" }", "3:33", "(line 1, column 13 of the clause)"),
        ];
        let mut wrong = Vec::new();
        for (body, want_at, want_msg) in cases {
            let text = if body.starts_with("version") || body.starts_with('[') {
                body.to_string()
            } else {
                format!("{h}{body}\n")
            };
            match parse(&text) {
                Ok(_) => wrong.push(format!("{body:?}: accepted")),
                Err(e) => {
                    let first = e.diagnostics[0].to_string();
                    let prefix = format!("rules/shop.toml:{want_at}: ");
                    if !first.starts_with(&prefix) || !first.contains(want_msg) {
                        wrong.push(format!("{body:?}: got {first}, want {prefix}…{want_msg}…"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    }

    #[test]
    fn every_error_of_every_file_is_reported() {
        let a = (
            PathBuf::from("rules/a.toml"),
            "version = 1\n[tables.\"public.t\".columns]\nx = 1\ny = { transformer = \"k\", when = \"(\" }\n"
                .to_string(),
        );
        let b = (PathBuf::from("rules/b.toml"), "version = 3\n".to_string());
        let e = RuleSet::parse_sources(&[b, a]).unwrap_err();
        let lines: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert!(lines[0].starts_with("rules/a.toml:3:5:"), "{e}");
        assert!(lines[1].starts_with("rules/a.toml:4:35:"), "{e}");
        assert!(lines[2].starts_with("rules/b.toml:1:11:"), "{e}");
        assert_eq!(e.to_string().lines().count(), 3);
        let as_crate_error: crate::Error = e.into();
        assert!(matches!(as_crate_error, crate::Error::Rules(_)));
        assert_eq!(as_crate_error.exit_code(), 1);
    }

    #[test]
    fn a_table_defined_twice_names_both_places() {
        let a = (
            PathBuf::from("rules/a.toml"),
            "version = 1\n[tables.\"public.t\".columns]\nx = \"keep\"\n".to_string(),
        );
        let b = (
            PathBuf::from("rules/b.toml"),
            "version = 1\n\n[tables.'public.\"t\"']\ndecision = \"skip\"\n".to_string(),
        );
        let e = RuleSet::parse_sources(&[a.clone(), b])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "rules/b.toml:3:9: table public.t is already defined at rules/a.toml:2:9"
            ),
            "{e}"
        );
        // Within one file, TOML itself refuses the second definition.
        let twice = format!("{}[tables.\"public.t\"]\ndecision = \"skip\"\n", a.1);
        assert!(parse(&twice).is_err());
    }

    #[test]
    fn folders_are_read_recursively_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("billing");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            dir.path().join("shop.toml"),
            "version = 1\n[tables.\"public.t\".columns]\nx = \"keep\"\n",
        )
        .unwrap();
        std::fs::write(
            sub.join("invoices.toml"),
            "version = 1\n[tables.\"billing.invoices\"]\ndecision = \"keep\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not rules").unwrap();
        std::fs::write(dir.path().join(".draft.toml"), "not toml at all").unwrap();
        let set = RuleSet::load_dir(dir.path()).unwrap();
        assert_eq!(set.tables().count(), 2);
        assert_eq!(set.files().len(), 2);
        let empty = tempfile::tempdir().unwrap();
        assert!(RuleSet::load_dir(empty.path()).unwrap().is_empty());
        let missing = RuleSet::load_dir(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }

    #[test]
    fn byte_offsets_of_clause_positions() {
        assert_eq!(byte_offset("abc", 1, 1), 0);
        assert_eq!(byte_offset("abc", 1, 3), 2);
        assert_eq!(byte_offset("ab\ncd", 2, 2), 4);
        assert_eq!(byte_offset("é = 1", 1, 3), 3);
        assert_eq!(byte_offset("abc", 9, 9), 3);
    }
}
