//! Everything that talks to PostgreSQL: connection strings, connections, catalog queries,
//! the client tools (`pg_dump`, `pg_restore`) and throwaway local clusters.

pub mod archive;
pub mod catalog;
pub mod cluster;
pub mod connect;
pub mod conninfo;
pub mod scratch;
pub mod tools;

pub use connect::connect;
pub use conninfo::ConnInfo;
