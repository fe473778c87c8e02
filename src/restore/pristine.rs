//! The reset button: a template copy of what a restore left, on the same server, so that
//! `doppel reset` brings the database back in seconds, without the repository.

use tokio_postgres::Client;

use super::target;
use crate::catalog::{quote_ident, quote_literal};
use crate::error::{pg, Error, Result};
use crate::pg::ConnInfo;

/// The template copy's name for database `name`.
pub fn template_name(name: &str) -> String {
    // Database names are at most 63 bytes: cut the base on a character boundary.
    let suffix = "_doppel_pristine";
    let mut base = name.to_string();
    while base.len() + suffix.len() > 63 {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// Whether database `name` exists.
async fn exists(admin: &Client, name: &str) -> Result<bool> {
    Ok(admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(pg("cannot list databases"))?
        .is_some())
}

/// Ends the other sessions on database `name`: a database is copied only when nobody uses it.
async fn disconnect(admin: &Client, name: &str) -> Result<()> {
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .map_err(pg(format!("cannot disconnect the sessions on {name}")))?;
    Ok(())
}

/// Saves the database `conn` names as its template copy, replacing an older one; `note`
/// goes in the copy's comment.
pub async fn save(admin: &Client, conn: &ConnInfo, note: &str) -> Result<String> {
    let template = template_name(&conn.dbname);
    if exists(admin, &template).await? {
        target::drop_subscriptions(&conn.with_dbname(&template)).await?;
        target::drop_database(admin, &template).await?;
    }
    disconnect(admin, &conn.dbname).await?;
    let t = quote_ident(&template);
    for sql in [
        format!(
            "CREATE DATABASE {t} TEMPLATE {} STRATEGY FILE_COPY",
            quote_ident(&conn.dbname)
        ),
        format!("COMMENT ON DATABASE {t} IS {}", quote_literal(note)),
    ] {
        admin.batch_execute(&sql).await.map_err(pg(format!(
            "cannot save the pristine copy of {}",
            conn.dbname
        )))?;
    }
    Ok(template)
}

/// Replaces the database `conn` names with a fresh copy of its template: its sessions are
/// ended, changes since the restore are gone. Returns the template's comment (what it holds).
pub async fn reset(admin: &Client, conn: &ConnInfo) -> Result<String> {
    let name = &conn.dbname;
    let template = template_name(name);
    let Some(note) = target::comment(admin, &template).await? else {
        return Err(Error::NotFound(format!(
            "no pristine copy of {name} ({template} does not exist): restore into the \
             environment with pristine = true first"
        )));
    };
    if exists(admin, name).await? {
        target::drop_subscriptions(conn).await?;
        target::drop_database(admin, name).await?;
    }
    disconnect(admin, &template).await?;
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
            quote_ident(name),
            quote_ident(&template)
        ))
        .await
        .map_err(pg(format!("cannot reset {name} from {template}")))?;
    Ok(note.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_fit_postgres_limit() {
        assert_eq!(template_name("copy"), "copy_doppel_pristine");
        let long = "é".repeat(40);
        let t = template_name(&long);
        assert!(t.len() <= 63 && t.ends_with("_doppel_pristine"), "{t}");
    }
}
