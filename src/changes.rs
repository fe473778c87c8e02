//! The server side of the continuous change archive: the publication and the logical
//! replication slot (`pgoutput`) through which an environment's changes are read between
//! snapshots. [`setup::setup`] checks the server and creates them, [`status::status`] reports
//! on them, [`teardown::teardown`] drops them.
//!
//! [`run::run`] keeps the archive: a base snapshot exported while the slot exists, then the
//! slot's changes stored as segments ([`segment`]) before the slot is advanced past them.
//! [`replay`] brings a restored base forward to any time the archive covers.
//!
//! Both are named [`object_name`] of the environment, so that doppel only ever touches its own.
//! A slot holds back WAL on the server from the moment it exists until a reader confirms
//! what it has read: one left behind fills production's disk, which is why status shows the WAL
//! it retains against `changes_max_lag` and teardown exists.

pub mod incremental;
pub mod pgoutput;
pub mod replay;
mod rewrite;
pub mod run;
pub mod segment;
mod server;
pub mod setup;
pub mod status;
pub mod teardown;
pub mod visibility;

pub use server::{Publication, Slot, Unidentified};

/// A base snapshot's tables and their columns as pgoutput sends them (generated columns
/// left out), from the catalog the snapshot recorded; empty when it recorded none. Changes
/// of another shape are never applied onto it.
pub fn base_columns(
    m: &crate::repo::Manifest,
) -> std::collections::HashMap<crate::catalog::TableName, Vec<String>> {
    m.catalog
        .as_ref()
        .map(|c| {
            c.tables
                .iter()
                .map(|t| {
                    (
                        crate::catalog::TableName::new(t.schema.clone(), t.name.clone()),
                        t.columns
                            .iter()
                            .filter(|c| !c.generated)
                            .map(|c| c.name.clone())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The output plugin of doppel's slots: the one built into PostgreSQL since version 10.
pub const PLUGIN: &str = "pgoutput";

/// The name of environment `env`'s slot and publication: `doppel_<env>`, with every character
/// a slot name may not hold (anything but `a-z`, `0-9` and `_`) replaced by `_`, and cut to the
/// 63 bytes of a PostgreSQL name.
pub fn object_name(env: &str) -> String {
    let mut name: String = format!("doppel_{env}")
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_valid_slot_names() {
        assert_eq!(object_name("production"), "doppel_production");
        assert_eq!(object_name("Prod-EU.1"), "doppel_prod_eu_1");
        assert_eq!(object_name("prodé"), "doppel_prod_");
        assert_eq!(object_name(&"x".repeat(100)).len(), 63);
    }
}
