//! `doppel status`: where every environment stands, read from the repository alone.

use crate::config::Config;
use crate::error::Result;
use crate::status::Status;

/// Opens the repository and tells where every configured environment stands; with
/// `databases`, also asks each non-production database for its own stamp.
pub async fn run(config: &Config, databases: bool) -> Result<Status> {
    let repo = super::open_repo(config).await?;
    let mut status = crate::status::status(config, &repo, chrono::Utc::now()).await?;
    if databases {
        crate::status::check_databases(config, &mut status).await;
    }
    Ok(status)
}

/// The status as a web page, as the daemon serves it at `/` (without the daemon's alerts);
/// with `databases`, it shows what each non-production database's own stamp says.
pub async fn page(config: &Config, databases: bool) -> Result<String> {
    let repo = super::open_repo(config).await?;
    crate::status::page_html(config, &repo, Vec::new(), chrono::Utc::now(), databases).await
}
