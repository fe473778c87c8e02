//! Integration tests against real PostgreSQL clusters, one binary of modules.

mod cli;
mod common;
mod consistency;
mod dedup;
mod errors;
mod fidelity;
mod interrupt;
mod roles;
mod tls;
