//! `inspect`: one snapshot's manifest.

use crate::config::Config;
use crate::error::Result;
use crate::repo::Manifest;

/// The manifest of snapshot `spec`: full id, unique prefix, or "latest".
pub async fn run(config: &Config, spec: &str) -> Result<Manifest> {
    super::open_repo(config).await?.resolve(spec).await
}
