//! Names of tables and columns as `pg_catalog` spells them, and how to quote them in SQL.

use std::fmt;

/// Quotes an identifier the way PostgreSQL's `quote_ident` would, always.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quotes a string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A table, schema-qualified, with names exactly as in `pg_catalog` (case-sensitive).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TableName {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
}

impl TableName {
    /// A table name from its two parts.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> TableName {
        TableName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// Reads a rules-file table key: `schema.table`, where either part may be written in
    /// double quotes (needed only when it contains a dot or a double quote; `""` inside
    /// quotes is one `"`). Names are taken literally: no case folding.
    pub fn parse(key: &str) -> Result<TableName, String> {
        let mut parts = Vec::new();
        let mut chars = key.chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                        None => {
                            return Err(format!("table name `{key}` has an unclosed double quote"))
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some('.')) {
                    return Err(format!(
                        "table name `{key}`: a quoted part must be followed by `.` or the end"
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    part.push(c);
                    chars.next();
                }
            }
            parts.push(part);
            // What follows a part is a dot or the end (checked above for quoted parts).
            if chars.next().is_none() {
                break;
            }
        }
        match parts.as_slice() {
            [schema, name] if !schema.is_empty() && !name.is_empty() => {
                Ok(TableName::new(schema.as_str(), name.as_str()))
            }
            [name] if !name.is_empty() => Err(format!(
                "table name `{key}` must be schema-qualified, e.g. \"public.{name}\""
            )),
            _ => Err(format!(
                "table name `{key}` must be `schema.table` (double-quote a part that contains \
                 a dot, e.g. 'public.\"a.b\"')"
            )),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A column of a table: the key of the effective rules, shown as `schema.table.column`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnId {
    /// The table.
    pub table: TableName,
    /// The column name, exactly as in `pg_catalog`.
    pub column: String,
}

impl ColumnId {
    /// A column id from its parts.
    pub fn new(
        schema: impl Into<String>,
        table: impl Into<String>,
        column: impl Into<String>,
    ) -> ColumnId {
        ColumnId {
            table: TableName::new(schema, table),
            column: column.into(),
        }
    }
}

impl fmt::Display for ColumnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}
