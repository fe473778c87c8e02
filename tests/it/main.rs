//! Integration tests against real PostgreSQL clusters, one binary of modules.

mod anonymize;
mod changes;
mod cli;
mod common;
mod consistency;
mod dedup;
mod drill;
mod environments;
mod errors;
mod faults;
mod fidelity;
mod interrupt;
mod matrix;
mod parts;
mod prune;
mod remote;
mod reseed;
mod roles;
mod scan;
mod schedule;
mod seaweed;
mod store;
mod subset;
mod synthetic;
mod tls;
mod verify;
