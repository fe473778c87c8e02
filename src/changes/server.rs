//! What the server says about replication: its settings and the role's privileges, doppel's
//! slot and publication, and which user tables have a replica identity.

use serde::Serialize;
use tokio_postgres::Client;

use crate::catalog::TableName;
use crate::error::{pg, Result};
use crate::pg::ConnInfo;

/// Everything setup, status and teardown read before they act, on one connection.
pub(super) struct Observed {
    pub(super) client: Client,
    pub(super) facts: Facts,
    /// The slot named after the environment, if any.
    pub(super) slot: Option<Slot>,
    /// The publication named after the environment, if any.
    pub(super) publication: Option<Publication>,
    pub(super) tables: Vec<UserTable>,
}

/// Connects to `conn` and reads the server's settings, the slot and the publication called
/// `name`, and the user tables.
pub(super) async fn observe(conn: &ConnInfo, name: &str) -> Result<Observed> {
    let client = crate::pg::connect(conn).await?;
    let facts = facts(&client).await?;
    let slot = slot(&client, name, facts.version_num).await?;
    let publication = publication(&client, name).await?;
    let tables = user_tables(&client).await?;
    Ok(Observed {
        client,
        facts,
        slot,
        publication,
        tables,
    })
}

/// Settings and privileges that decide whether a slot and a publication can be made.
#[derive(Debug, Clone)]
pub(super) struct Facts {
    pub(super) wal_level: String,
    pub(super) max_replication_slots: i32,
    pub(super) used_slots: i64,
    pub(super) max_wal_senders: i32,
    pub(super) superuser: bool,
    pub(super) replication: bool,
    pub(super) may_create_in_database: bool,
    pub(super) user: String,
    pub(super) version_num: i32,
    pub(super) database: String,
}

async fn facts(client: &Client) -> Result<Facts> {
    let row = client
        .query_one(
            "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, \
             (SELECT count(*) FROM pg_replication_slots), \
             current_setting('max_wal_senders')::int, r.rolsuper, r.rolreplication, \
             has_database_privilege(current_database(), 'CREATE'), current_user::text, \
             current_setting('server_version_num')::int, current_database()::text \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(pg("cannot read the server's replication settings"))?;
    Ok(Facts {
        wal_level: row.get(0),
        max_replication_slots: row.get(1),
        used_slots: row.get(2),
        max_wal_senders: row.get(3),
        superuser: row.get(4),
        replication: row.get(5),
        may_create_in_database: row.get(6),
        user: row.get(7),
        version_num: row.get(8),
        database: row.get(9),
    })
}

/// A replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Slot {
    /// Its name.
    pub name: String,
    /// `logical` or `physical`.
    pub slot_type: String,
    /// Output plugin of a logical slot (doppel's use `pgoutput`).
    pub plugin: Option<String>,
    /// The database of a logical slot.
    pub database: Option<String>,
    /// Whether a process is reading from it now.
    pub active: bool,
    /// That process.
    pub active_pid: Option<i32>,
    /// The oldest WAL position the slot still needs: the server keeps WAL from here.
    pub restart_lsn: Option<String>,
    /// Up to where its reader has confirmed receiving changes.
    pub confirmed_flush_lsn: Option<String>,
    /// Bytes of WAL the slot holds back (current WAL position minus `restart_lsn`).
    pub retained_bytes: Option<i64>,
    /// PostgreSQL 13 and later: `reserved`, `extended`, `unreserved` or `lost`.
    pub wal_status: Option<String>,
}

impl Slot {
    /// Why this slot is not the one doppel's setup makes for `database`, if it is not.
    pub(super) fn foreign(&self, database: &str) -> Option<String> {
        if self.slot_type != "logical" {
            return Some(format!("it is a {} slot", self.slot_type));
        }
        if self.plugin.as_deref() != Some(super::PLUGIN) {
            return Some(format!(
                "it uses plugin {}, not {}",
                self.plugin.as_deref().unwrap_or("none"),
                super::PLUGIN
            ));
        }
        match self.database.as_deref() {
            Some(db) if db == database => None,
            other => Some(format!(
                "it belongs to database {}, not {database}",
                other.unwrap_or("none")
            )),
        }
    }
}

pub(super) async fn slot(client: &Client, name: &str, version_num: i32) -> Result<Option<Slot>> {
    let wal_status = if version_num >= 130000 {
        "wal_status"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT slot_name::text, slot_type, plugin::text, database::text, active, active_pid, \
         restart_lsn::text, confirmed_flush_lsn::text, \
         CASE WHEN pg_is_in_recovery() THEN NULL \
              ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END, \
         {wal_status} FROM pg_replication_slots WHERE slot_name = $1"
    );
    let row = client
        .query_opt(&sql, &[&name])
        .await
        .map_err(pg(format!("cannot read replication slot {name}")))?;
    Ok(row.map(|r| Slot {
        name: r.get(0),
        slot_type: r.get(1),
        plugin: r.get(2),
        database: r.get(3),
        active: r.get(4),
        active_pid: r.get(5),
        restart_lsn: r.get(6),
        confirmed_flush_lsn: r.get(7),
        retained_bytes: r.get(8),
        wal_status: r.get(9),
    }))
}

/// A publication: whether it is `FOR ALL TABLES`, and the tables it publishes.
#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    /// `FOR ALL TABLES` (made by hand: setup lists tables).
    pub all_tables: bool,
    /// The tables it publishes, `schema.name`.
    pub tables: Vec<TableName>,
}

pub(super) async fn publication(client: &Client, name: &str) -> Result<Option<Publication>> {
    let context = || pg(format!("cannot read publication {name}"));
    let Some(row) = client
        .query_opt(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1",
            &[&name],
        )
        .await
        .map_err(context())?
    else {
        return Ok(None);
    };
    let tables = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables \
             WHERE pubname = $1 ORDER BY 1, 2",
            &[&name],
        )
        .await
        .map_err(context())?
        .iter()
        .map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    Ok(Some(Publication {
        all_tables: row.get(0),
        tables,
    }))
}

/// A user table that can hold rows in the archive's sense: permanent, a plain table or a
/// partition (a partitioned table's changes are those of its partitions).
#[derive(Debug, Clone)]
pub(super) struct UserTable {
    pub(super) table: TableName,
    /// `default`, `index`, `full` or `nothing`.
    pub(super) replica_identity: String,
    /// Whether its changes identify the row they change (a primary key, an identity index,
    /// or FULL).
    pub(super) identified: bool,
    /// Whether the connected role owns it (only its owner may add it to a publication).
    pub(super) owned: bool,
}

async fn user_tables(client: &Client) -> Result<Vec<UserTable>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
             CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'i' THEN 'index' \
                  WHEN 'f' THEN 'full' ELSE 'nothing' END, \
             CASE c.relreplident \
                  WHEN 'f' THEN true \
                  WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i \
                                        WHERE i.indrelid = c.oid AND i.indisreplident) \
                  WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i \
                                        WHERE i.indrelid = c.oid AND i.indisprimary) \
                  ELSE false END, \
             pg_has_role(c.relowner, 'USAGE') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND c.relpersistence = 'p' \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d \
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                                 AND d.deptype = 'e') \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(pg("cannot list the user tables"))?;
    Ok(rows
        .iter()
        .map(|r| UserTable {
            table: TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            replica_identity: r.get(2),
            identified: r.get(3),
            owned: r.get(4),
        })
        .collect())
}

/// A table whose changes cannot be archived row by row: it is read whole at each snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Unidentified {
    /// The table.
    pub table: TableName,
    /// Its `REPLICA IDENTITY`: `default` without a primary key, `nothing`, or `index` on an
    /// index that no longer exists.
    pub replica_identity: String,
    /// Whether a publication lists it anyway: UPDATE and DELETE on it then fail on the server.
    pub published: bool,
}

/// The tables of `tables` without a usable replica identity, and whether `publication` lists
/// them.
pub(super) fn unidentified(
    tables: &[UserTable],
    publication: Option<&Publication>,
) -> Vec<Unidentified> {
    tables
        .iter()
        .filter(|t| !t.identified)
        .map(|t| Unidentified {
            table: t.table.clone(),
            replica_identity: t.replica_identity.clone(),
            published: publication.is_some_and(|p| p.all_tables || p.tables.contains(&t.table)),
        })
        .collect()
}
