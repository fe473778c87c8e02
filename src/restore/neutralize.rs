//! After a restore into a non-production environment: the copy must never talk to
//! production's peers. Subscriptions are disabled and detached from their slots, then the
//! environment's own `after_restore` SQL files run, in order.

use std::path::PathBuf;

use tokio_postgres::Client;

use crate::catalog::quote_ident;
use crate::error::{describe_pg, pg, Error, Result};

/// Disables every subscription of the database and detaches it from its replication slot
/// (which belongs to production's publisher); returns their names.
pub async fn subscriptions(client: &Client) -> Result<Vec<String>> {
    let names: Vec<String> = client
        .query(
            "SELECT subname::text FROM pg_subscription \
             WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY 1",
            &[],
        )
        .await
        .map_err(pg("cannot list subscriptions"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in &names {
        let sub = quote_ident(name);
        client
            .batch_execute(&format!(
                "ALTER SUBSCRIPTION {sub} DISABLE; ALTER SUBSCRIPTION {sub} SET (slot_name = NONE)"
            ))
            .await
            .map_err(pg(format!("cannot disable subscription {name}")))?;
    }
    Ok(names)
}

/// Runs each file in one transaction of its own; an error names the file and, when the
/// server gives a position, its line.
pub async fn run_files(client: &Client, files: &[PathBuf]) -> Result<()> {
    for file in files {
        let sql = std::fs::read_to_string(file).map_err(|e| {
            Error::Config(format!(
                "cannot read after_restore file {}: {e}",
                file.display()
            ))
        })?;
        let wrapped = format!("BEGIN;\n{sql}\n;COMMIT;");
        if let Err(e) = client.batch_execute(&wrapped).await {
            let _ = client.batch_execute("ROLLBACK").await;
            // The position counts characters of the wrapped text, whose first line is "BEGIN;".
            let line = crate::error::pg_error_line(&e, &wrapped)
                .map(|l| l - 1)
                .filter(|&l| l >= 1)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            return Err(Error::Postgres(format!(
                "after_restore {}{line}: {}",
                file.display(),
                describe_pg(&e)
            )));
        }
    }
    Ok(())
}
