//! `doppel init`: a commented config to start from.

use std::path::Path;

use doppel::config::{Config, TEMPLATE};
use doppel::error::{Error, Result};

/// Arguments of `doppel init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite an existing config file.
    #[arg(long)]
    pub force: bool,
}

/// Writes the config template and an empty rules/ folder beside it.
pub fn run(config: Option<&Path>, args: Args) -> Result<()> {
    let path = Config::locate(config);
    if path.exists() && !args.force {
        return Err(Error::Config(format!(
            "{} already exists: edit it, or pass --force to overwrite it",
            path.display()
        )));
    }
    let write_err = doppel::error::io(format!("cannot write {}", path.display()));
    std::fs::write(&path, TEMPLATE).map_err(&write_err)?;
    let rules = path.parent().unwrap_or(Path::new(".")).join("rules");
    std::fs::create_dir_all(&rules).map_err(&write_err)?;
    crate::say!(
        "wrote {} and {}/: set DATABASE_URL (and STAGING_DATABASE_URL), then run `doppel snapshot`",
        path.display(),
        rules.display()
    );
    Ok(())
}
