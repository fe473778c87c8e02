//! Seed fixtures: the accounts, flags and records QA relies on, applied after the data of
//! every restore into an environment, in the order given, all in one transaction: either
//! every file applies or none does. `.sql` files run as they are; `.csv` files load into the
//! table their name gives (`schema.table.csv`, or `table.csv` on the search path), the first
//! line naming the columns. An error names the file and its line.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::SinkExt;
use tokio_postgres::Client;

use crate::catalog::{qualified, quote_ident};
use crate::error::{describe_pg, Error, Result};

/// Applies `files` in one transaction.
pub async fn apply(client: &Client, files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    client.batch_execute("BEGIN").await.map_err(|e| {
        Error::Postgres(format!(
            "cannot start the seed transaction: {}",
            describe_pg(&e)
        ))
    })?;
    for file in files {
        if let Err(e) = apply_one(client, file).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    }
    client.batch_execute("COMMIT").await.map_err(|e| {
        Error::Postgres(format!(
            "cannot commit the seed fixtures: {}",
            describe_pg(&e)
        ))
    })?;
    // Seeds may insert explicit keys: move owned sequences past them.
    client
        .batch_execute(super::load::SEQUENCES_PAST_KEYS)
        .await
        .map_err(|e| {
            Error::Postgres(format!(
                "cannot move sequences past the seeded keys: {}",
                describe_pg(&e)
            ))
        })
}

async fn apply_one(client: &Client, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Config(format!("cannot read seed file {}: {e}", file.display())))?;
    match file.extension().and_then(|e| e.to_str()) {
        Some("sql") => client.batch_execute(&text).await.map_err(|e| {
            let line = crate::error::pg_error_line(&e, &text)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            Error::Postgres(format!(
                "seed {}{line}: {}",
                file.display(),
                describe_pg(&e)
            ))
        }),
        Some("csv") => load_csv(client, file, text).await,
        _ => Err(Error::Config(format!(
            "seed file {}: use .sql (statements) or .csv (rows of the table the name gives)",
            file.display()
        ))),
    }
}

/// The table a CSV file loads into, from its name.
fn csv_table(file: &Path) -> Result<String> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let parts: Vec<&str> = stem.splitn(2, '.').collect();
    match parts.as_slice() {
        [table] if !table.is_empty() => Ok(quote_ident(table)),
        [schema, table] if !schema.is_empty() && !table.is_empty() => Ok(qualified(schema, table)),
        _ => Err(Error::Config(format!(
            "seed file {}: name it after its table, like public.feature_flags.csv",
            file.display()
        ))),
    }
}

/// The column names of a CSV header line (double-quoted names may hold commas).
fn header_columns(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

async fn load_csv(client: &Client, file: &Path, text: String) -> Result<()> {
    let table = csv_table(file)?;
    let header = text.lines().next().unwrap_or_default();
    let columns = header_columns(header);
    if columns.iter().any(String::is_empty) {
        return Err(Error::Config(format!(
            "seed {}:1: the first line must name the columns, like id,name,enabled",
            file.display()
        )));
    }
    let list = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let statement = format!("COPY {table} ({list}) FROM STDIN WITH (FORMAT csv, HEADER true)");
    let located = |e: tokio_postgres::Error| {
        // COPY reports "COPY t, line N[, column c]": N counts the header as line 1.
        let line = e
            .as_db_error()
            .and_then(|d| d.where_())
            .and_then(|w| w.split(", line ").nth(1))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .map(|n| format!(":{n}"))
            .unwrap_or_default();
        Error::Postgres(format!(
            "seed {}{line}: {}",
            file.display(),
            describe_pg(&e)
        ))
    };
    let sink = client
        .copy_in::<_, Bytes>(statement.as_str())
        .await
        .map_err(located)?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from(text)).await.map_err(located)?;
    sink.as_mut().finish().await.map_err(located)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_names_give_tables_and_headers_give_columns() {
        assert_eq!(
            csv_table(Path::new("s/public.flags.csv")).unwrap(),
            "\"public\".\"flags\""
        );
        assert_eq!(csv_table(Path::new("flags.csv")).unwrap(), "\"flags\"");
        assert_eq!(
            csv_table(Path::new("s/App.Mixed Case.csv")).unwrap(),
            "\"App\".\"Mixed Case\""
        );
        assert!(csv_table(Path::new(".csv")).is_err());
        assert_eq!(
            header_columns("id, name ,\"a,b\",\"q\"\"x\""),
            vec!["id", "name", "a,b", "q\"x"]
        );
    }
}
