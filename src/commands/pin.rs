//! `pin` and `unpin`: keep a snapshot whatever retention says, and undo it.

use crate::config::Config;
use crate::error::{Error, Result};

/// Pins snapshot `spec` (full id, unique prefix, or "latest") with an optional reason, and
/// returns its id.
pub async fn pin(config: &Config, spec: &str, reason: Option<&str>) -> Result<String> {
    let repo = super::open_repo(config).await?;
    let m = repo.resolve(spec).await?;
    repo.pin(&m.id, reason).await?;
    Ok(m.id)
}

/// Unpins snapshot `spec` and returns its id; a snapshot that is not pinned is an error.
pub async fn unpin(config: &Config, spec: &str) -> Result<String> {
    let repo = super::open_repo(config).await?;
    let m = repo.resolve(spec).await?;
    if !repo.unpin(&m.id).await? {
        return Err(Error::NotFound(format!("snapshot {} is not pinned", m.id)));
    }
    Ok(m.id)
}
