//! `doppel reset ENV`: the database back to the state of its last restore, from the pristine
//! copy kept on the same server; the repository is not read.

use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel reset`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (it needs pristine = true in the config).
    pub env: String,
}

/// Resets an environment's database.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let r = doppel::commands::reset::run(config, &args.env).await?;
    crate::say!(
        "reset {} to its pristine copy in {:.1}s: {}",
        r.target,
        r.duration_s,
        r.note
    );
    Ok(())
}
