//! Creates an environment's publication, after checking everything the server must offer for
//! it and for its replication slot; run again, it reports what exists and changes nothing.
//!
//! Setup never creates the slot: a slot holds back WAL on the server from the moment it exists
//! until a reader confirms what it read, so it is created only when archiving starts, together
//! with the base snapshot read inside it (gapless, non-overlapping). Until then setup costs the
//! server nothing.

use serde::Serialize;

use super::server::{self, Facts, Observed, Publication, Slot, UserTable};
use super::{object_name, Unidentified};
use crate::catalog::{qualified, quote_ident, TableName};
use crate::error::{pg, Error, Result};
use crate::pg::ConnInfo;

/// What setup found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The slot's and the publication's name.
    pub name: String,
    /// The slot, when archiving has started (setup never creates it).
    pub slot: Option<Slot>,
    /// Whether the publication was created now (else it existed).
    pub publication_created: bool,
    /// Tables added to the publication now: all of them when it was created, else the ones
    /// created since it was.
    pub tables_added: Vec<TableName>,
    /// The publication's tables, now.
    pub published: Vec<TableName>,
    /// Tables left out: without a replica identity their changes cannot be archived row by
    /// row, and publishing them would make UPDATE and DELETE on them fail on the server.
    pub unidentified: Vec<Unidentified>,
}

/// Creates the publication of environment `env` in the database of `conn`, after checking
/// that its slot can be created when archiving starts.
/// Everything the server lacks is reported at once, before anything is created.
///
/// The publication lists the tables that have a replica identity rather than being `FOR ALL
/// TABLES`, even for a superuser: a table in a publication of updates and deletes that has
/// none makes every UPDATE and DELETE on it fail, and `FOR ALL TABLES` would take in each
/// table created later, with or without a primary key. Tables created later are added by
/// running setup again.
pub async fn setup(conn: &ConnInfo, env: &str) -> Result<Report> {
    let name = object_name(env);
    let Observed {
        client,
        facts,
        slot,
        publication,
        tables,
    } = server::observe(conn, &name).await?;
    let to_add = missing(&tables, publication.as_ref());
    let not_owned: Vec<&TableName> = tables
        .iter()
        .filter(|t| !t.owned && !facts.superuser && to_add.contains(&t.table))
        .map(|t| &t.table)
        .collect();
    let lacks = lacks(
        &facts,
        &name,
        slot.as_ref(),
        publication.is_none(),
        &not_owned,
    );
    if !lacks.is_empty() {
        return Err(Error::Refused(format!(
            "{} cannot hold doppel's change archive yet; nothing was created. It needs:\n  - {}",
            conn.redacted(),
            lacks.join("\n  - ")
        )));
    }
    // The publication before the slot: pgoutput reads publications as of each change it
    // decodes, so one created after the slot would be missing for the changes in between.
    let list = to_add
        .iter()
        .map(|t| qualified(&t.schema, &t.name))
        .collect::<Vec<_>>()
        .join(", ");
    let ident = quote_ident(&name);
    let sql = match (&publication, to_add.is_empty()) {
        (None, true) => Some(format!("CREATE PUBLICATION {ident}")),
        (None, false) => Some(format!("CREATE PUBLICATION {ident} FOR TABLE {list}")),
        (Some(_), false) => Some(format!("ALTER PUBLICATION {ident} ADD TABLE {list}")),
        (Some(_), true) => None,
    };
    if let Some(sql) = sql {
        client
            .batch_execute(&sql)
            .await
            .map_err(pg(format!("cannot create publication {name}")))?;
    }
    let now = server::publication(&client, &name).await?;
    Ok(Report {
        name,
        slot,
        publication_created: publication.is_none(),
        tables_added: to_add,
        unidentified: server::unidentified(&tables, now.as_ref()),
        published: now.map(|p| p.tables).unwrap_or_default(),
    })
}

/// The tables with a replica identity that the publication does not list yet.
fn missing(tables: &[UserTable], publication: Option<&Publication>) -> Vec<TableName> {
    if publication.is_some_and(|p| p.all_tables) {
        return Vec::new();
    }
    tables
        .iter()
        .filter(|t| t.identified)
        .filter(|t| publication.is_none_or(|p| !p.tables.contains(&t.table)))
        .map(|t| t.table.clone())
        .collect()
}

/// Everything the server or the role lacks, each with what to run.
fn lacks(
    facts: &Facts,
    name: &str,
    slot: Option<&Slot>,
    new_publication: bool,
    not_owned: &[&TableName],
) -> Vec<String> {
    let user = quote_ident(&facts.user);
    let mut lacks = Vec::new();
    if facts.version_num < 100000 {
        lacks.push("PostgreSQL 10 or later (for publications and pgoutput)".to_string());
    }
    if facts.wal_level != "logical" {
        lacks.push(format!(
            "wal_level = logical (it is {}): run `ALTER SYSTEM SET wal_level = logical` as a \
             superuser, then restart the server",
            facts.wal_level
        ));
    }
    if !facts.superuser && !facts.replication {
        lacks.push(format!(
            "a role that may create replication slots: run `ALTER ROLE {user} WITH REPLICATION` \
             as a superuser"
        ));
    }
    if facts.max_wal_senders < 1 {
        lacks.push(
            "max_wal_senders > 0 (it is 0; changes are streamed through a WAL sender): run \
             `ALTER SYSTEM SET max_wal_senders = 10`, then restart the server"
                .to_string(),
        );
    }
    match slot {
        None if i64::from(facts.max_replication_slots) - facts.used_slots < 1 => {
            lacks.push(format!(
                "a free replication slot (max_replication_slots = {}, {} in use): run `ALTER \
                 SYSTEM SET max_replication_slots = {}`, then restart the server",
                facts.max_replication_slots,
                facts.used_slots,
                facts.used_slots + 1
            ))
        }
        Some(s) => {
            if let Some(why) = s.foreign(&facts.database) {
                lacks.push(format!(
                    "the slot name {name}, taken by a slot that is not this environment's ({why}): \
                     drop that slot or rename the environment"
                ));
            }
        }
        None => {}
    }
    if new_publication && !facts.superuser && !facts.may_create_in_database {
        lacks.push(format!(
            "the right to create a publication: run `GRANT CREATE ON DATABASE {} TO {user}`",
            quote_ident(&facts.database)
        ));
    }
    if !not_owned.is_empty() {
        let names: Vec<String> = not_owned.iter().map(|t| t.to_string()).collect();
        lacks.push(format!(
            "tables the role owns: only a table's owner or a superuser may publish it, and role              {user} does not own {}: run setup as their owner or a superuser",
            names.join(", ")
        ));
    }
    lacks
}
