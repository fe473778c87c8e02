//! doppel: consistent snapshots of PostgreSQL, stored compressed and deduplicated, restored
//! and verified anywhere. See DESIGN.md for the concepts; `cli` holds one file per command.

pub mod cli;
pub mod config;
pub mod copy;
pub mod error;
pub mod pg;
pub mod repo;
pub mod restore;
pub mod snapshot;
pub mod store;

pub use error::{Error, Result};
