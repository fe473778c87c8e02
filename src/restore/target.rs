//! The target database's life cycle: guards, creation (or replacement), and the marks that
//! say whether what it holds is complete.

use tokio_postgres::Client;

use crate::catalog::{quote_ident, quote_literal};
use crate::error::{describe_pg, pg, Error, Result};
use crate::pg::{connect, ConnInfo};
use crate::repo::Manifest;

/// A connection to the target server's maintenance database.
pub async fn admin(target: &ConnInfo) -> Result<Client> {
    match connect(&target.with_dbname("postgres")).await {
        Ok(c) => Ok(c),
        Err(first) => connect(&target.with_dbname("template1"))
            .await
            .map_err(|_| first),
    }
}

/// Refuses a target that is the snapshot's own source database (same cluster identity and
/// name): restoring there would overwrite production.
pub async fn identity_guard(admin: &Client, target: &ConnInfo, m: &Manifest) -> Result<()> {
    // A role that may not read pg_control_system() cannot be compared; the name check and
    // the environment's role still apply.
    let sysid: Option<String> = admin
        .query_one(
            "SELECT system_identifier::text FROM pg_control_system()",
            &[],
        )
        .await
        .ok()
        .map(|r| r.get(0));
    if sysid.is_some() && sysid == m.source.system_identifier && target.dbname == m.source.database
    {
        return Err(Error::Refused(format!(
            "refusing to restore into {}: it is the database snapshot {} was taken from (same cluster system_identifier {} and name); pass --allow-production if you really mean to overwrite it",
            target.redacted(),
            m.id,
            sysid.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Whether a database exists, and if so whether it holds any user object.
pub async fn state(admin: &Client, target: &ConnInfo) -> Result<Option<bool>> {
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&target.dbname],
        )
        .await
        .map_err(pg("cannot list databases"))?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let db = connect(target).await?;
    let n: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%') \
                  + (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%') \
                  + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                     WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%') \
                  + (SELECT count(*) FROM pg_largeobject_metadata)",
            &[],
        )
        .await
        .map_err(pg("cannot inspect the target database"))?
        .get(0);
    Ok(Some(n > 0))
}

/// Drops the subscriptions of the database `conn` points at, when it exists: PostgreSQL
/// refuses to drop a database that has one, even a disabled one. Each is disabled and
/// detached from its slot first, so that the publisher (production's peer) is not contacted.
pub async fn drop_subscriptions(conn: &ConnInfo) -> Result<()> {
    let client = connect(conn).await?;
    for name in super::neutralize::subscriptions(&client).await? {
        client
            .batch_execute(&format!("DROP SUBSCRIPTION {}", quote_ident(&name)))
            .await
            .map_err(pg(format!(
                "cannot drop subscription {name} of {}",
                conn.dbname
            )))?;
    }
    Ok(())
}

/// Drops a database, disconnecting its sessions.
pub async fn drop_database(admin: &Client, name: &str) -> Result<()> {
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .await
        .map_err(pg(format!("cannot drop database {name}")))
}

/// Creates the database like the source: template0, its encoding, and its locale when the
/// target has it (else the server default, with a warning).
pub async fn create_database(
    admin: &Client,
    name: &str,
    m: &Manifest,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let base = format!(
        "CREATE DATABASE {} TEMPLATE template0 ENCODING {}",
        quote_ident(name),
        quote_literal(&m.source.encoding)
    );
    let with_locale = format!(
        "{base} LC_COLLATE {} LC_CTYPE {}",
        quote_literal(&m.source.collate),
        quote_literal(&m.source.ctype)
    );
    match admin.batch_execute(&with_locale).await {
        Ok(()) => Ok(()),
        Err(e) if describe_pg(&e).contains("locale") || describe_pg(&e).contains("collation") => {
            warnings.push(format!(
                "the target server lacks the source's locale ({} / {}): created {name} with the server's default",
                m.source.collate, m.source.ctype
            ));
            admin
                .batch_execute(&base)
                .await
                .map_err(pg(format!("cannot create database {name}")))
        }
        Err(e) => Err(Error::Postgres(format!(
            "cannot create database {name}: {}",
            describe_pg(&e)
        ))),
    }
}

/// How the stamp of a complete restore begins.
pub const STAMP: &str = "doppel: snapshot ";

/// What `doppel reset` appends to the stamp, before the time of the reset.
pub const RESET: &str = " (reset to this state ";

/// The comment of database `name` (where stamps live): `None` when no such database exists,
/// `Some(None)` when it has no comment.
pub async fn comment(client: &Client, name: &str) -> Result<Option<Option<String>>> {
    Ok(client
        .query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .map_err(pg(format!("cannot read the comment of database {name}")))?
        .map(|r| r.get(0)))
}

/// Stamps the database with what it holds. The first stamp says "incomplete", so that a
/// restore killed half-way never leaves a database that looks finished.
pub async fn stamp(admin: &Client, name: &str, text: &str) -> Result<()> {
    admin
        .batch_execute(&format!(
            "COMMENT ON DATABASE {} IS {}",
            quote_ident(name),
            quote_literal(text)
        ))
        .await
        .map_err(pg(format!("cannot mark database {name}")))
}

/// Stamps the database `conn` names with `text` and the [`marker`](super::marker) of its
/// statistics, the last step of anything that leaves it in a known state; returns the whole
/// stamp. With `written = Some(rows)`, sessions of the caller wrote to it (`rows` of which it
/// loaded), so the statistics are read once settled; with `None`, nothing wrote to it since it
/// was created (a reset's copy), and one read is enough. A marker that cannot be read only
/// leaves the stamp without one (status then cannot tell changes by hand): the data is in
/// place.
pub async fn seal(
    admin: &Client,
    conn: &ConnInfo,
    text: &str,
    written: Option<u64>,
) -> Result<String> {
    let started = std::time::Instant::now();
    let marker = async {
        let client = connect(conn).await?;
        match written {
            Some(rows) => super::marker::settled(&client, rows).await,
            None => super::marker::read(&client).await,
        }
    };
    let sealed = match marker.await {
        Ok(Some(m)) => format!("{text}{}", m.render()),
        Ok(None) => text.to_string(),
        Err(e) => {
            tracing::warn!("the database is stamped without a marker, so `doppel status` cannot tell changes made to it later: {e}");
            text.to_string()
        }
    };
    stamp(admin, &conn.dbname, &sealed).await?;
    tracing::debug!(
        took_ms = started.elapsed().as_millis() as u64,
        "stamped with the statistics' marker"
    );
    Ok(sealed)
}

/// Appends `addition` to the stamp of the database `conn` names (when it carries one) and
/// seals it anew: doppel's own writes after a restore (`rows` synthetic rows) are part of the
/// state it records, not changes by hand. Returns the new stamp, `None` when there was no
/// stamp.
pub async fn reseal(
    admin: &Client,
    conn: &ConnInfo,
    addition: &str,
    rows: u64,
) -> Result<Option<String>> {
    let comment = comment(admin, &conn.dbname).await?.flatten();
    let Some(comment) = comment.filter(|c| c.starts_with(STAMP)) else {
        return Ok(None);
    };
    let (text, before) = super::marker::Marker::split(&comment);
    // The counts reach what the stamp had plus the rows written since.
    let written = before.map_or(0, |m| u64::try_from(m.writes).unwrap_or(0)) + rows;
    Ok(Some(
        seal(admin, conn, &format!("{text}{addition}"), Some(written)).await?,
    ))
}

/// Marks a failed restore and renames the database out of the way so that nothing connects
/// to half-loaded data by its usual name. Returns the new name when the rename worked.
pub async fn mark_failed(
    admin: &Client,
    name: &str,
    snapshot: &str,
    reason: &str,
) -> Option<String> {
    let short: String = reason.chars().take(500).collect();
    let _ = stamp(
        admin,
        name,
        &format!("doppel: FAILED restore of snapshot {snapshot}: {short}"),
    )
    .await;
    let mut failed: String = name.chars().take(50).collect();
    failed.push_str("_doppel_failed");
    let _ = drop_database(admin, &failed).await;
    let _ = admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
            quote_literal(name)
        ))
        .await;
    let rename = format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(name),
        quote_ident(&failed)
    );
    admin.batch_execute(&rename).await.ok().map(|_| failed)
}
