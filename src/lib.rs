//! doppel: consistent snapshots of PostgreSQL, stored compressed and deduplicated, restored
//! and verified anywhere. See DESIGN.md for the concepts.
//!
//! The crate reads from the top down: `commands` holds the verbs (one file each, options in,
//! report out, every safety guard inside), which the command line (the binary's `cli`
//! module, arguments and printing only), the scheduler daemon (`schedule`) and tests all
//! call; they drive the engines (`snapshot`, `restore`, `derive`, `drill`, `verify`,
//! `prune`, `transfer`, `reseed`, `synth`, `changes`), which rest on the concepts (`repo`,
//! `store`, `pg`, `rules`, `anonymize`, `retention`, `as_of`, `config`) and the shared
//! types (`catalog`, `copytext`, `error`). `ARCHITECTURE.md` has the map; `layers.rs`
//! tests it.

pub mod anonymize;
pub mod as_of;
pub mod catalog;
pub mod changes;
pub mod commands;
pub mod config;
pub mod copytext;
pub mod derive;
pub mod drill;
pub mod error;
pub mod pg;
pub mod prune;
pub mod repo;
pub mod reseed;
pub mod restore;
pub mod retention;
pub mod rules;
pub mod schedule;
pub mod snapshot;
pub mod source_subset;
pub mod status;
pub mod store;
pub mod synth;
pub mod transfer;
pub mod verify;

pub use error::{Error, Result};

#[cfg(test)]
mod layers;
