//! The COPY statements that read and write a table's rows, built in one place so that a
//! snapshot, a restore, a reseed and synthetic data quote and list columns alike.

use super::{qualified, quote_ident};

/// `"a", "b"`: a column list, quoted.
fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `COPY (SELECT columns FROM ONLY table WHERE condition) TO STDOUT`: the rows of the table
/// itself (never its inheritance children) that meet `condition` (a page range, a subset).
pub fn copy_where(schema: &str, name: &str, columns: &[String], condition: &str) -> String {
    let cols = column_list(columns);
    format!(
        "COPY (SELECT {cols} FROM ONLY {} WHERE {condition}) TO STDOUT",
        qualified(schema, name)
    )
}

/// `COPY "s"."t" ("a", "b") direction`; a table without columns is copied without a list.
pub fn copy_statement(schema: &str, name: &str, columns: &[String], direction: &str) -> String {
    let cols = if columns.is_empty() {
        String::new()
    } else {
        format!(" ({})", column_list(columns))
    };
    format!("COPY {}{cols} {direction}", qualified(schema, name))
}

/// `COPY (SELECT columns FROM table LIMIT limit) TO STDOUT`: a few rows of the table, its
/// partitions or inheritance children included, for a preview.
pub fn copy_sample(schema: &str, name: &str, columns: &[String], limit: u64) -> String {
    format!(
        "COPY (SELECT {} FROM {} LIMIT {limit}) TO STDOUT",
        column_list(columns),
        qualified(schema, name)
    )
}
