//! `doppel demo`.
use crate::error::Result;
/// Arguments of `doppel demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}
/// Runs the demo.
pub async fn run(_a: Args) -> Result<()> { Ok(()) }
