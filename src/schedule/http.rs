//! `/` (the status page), `/healthz` and `/metrics`, served with axum on the configured
//! address.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use chrono::TimeDelta;

use super::{healthy, Clock, Metrics};
use crate::error::{Error, Result};

/// What the handlers read.
#[derive(Clone)]
pub struct HealthState {
    /// The daemon's figures.
    pub metrics: Arc<Metrics>,
    /// The daemon's clock.
    pub clock: Arc<dyn Clock>,
    /// Finest spacing.
    pub spacing: TimeDelta,
    /// Spacings without success before `/healthz` fails.
    pub max_missed: u32,
    /// What `/` shows the status of; without it `/` is not served.
    pub page: Option<PageSource>,
}

/// The config and repository the status page is read from.
#[derive(Clone)]
pub struct PageSource {
    /// The config (its environments and tiers).
    pub config: crate::config::Config,
    /// The repository.
    pub repo: Arc<crate::repo::Repository>,
}

/// Binds `addr` and serves until the returned task is aborted; returns the bound address.
pub async fn serve(
    addr: &str,
    state: HealthState,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::Config(format!(
            "cannot listen on {addr} for /healthz and /metrics: {e} (set schedule.listen)"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("cannot read the bound address: {e}")))?;
    let health = state.clone();
    let metrics = state.metrics.clone();
    let app = Router::new()
        .route(
            "/healthz",
            get(move || async move {
                match healthy(
                    &health.metrics,
                    health.clock.now(),
                    health.spacing,
                    health.max_missed,
                ) {
                    Ok(msg) => (StatusCode::OK, msg),
                    Err(msg) => (StatusCode::SERVICE_UNAVAILABLE, msg),
                }
            }),
        )
        .route("/metrics", get(move || async move { metrics.render() }));
    let app = match state.page.clone() {
        Some(source) => app.route(
            "/",
            get(move || {
                let (source, state) = (source.clone(), state.clone());
                async move { status_page(&source, &state).await }
            }),
        ),
        None => app,
    };
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("health server stopped: {e}");
        }
    });
    Ok((bound, task))
}

/// `/`: the status page, with the daemon's own alerts (failing health, stopped archives) first.
async fn status_page(
    source: &PageSource,
    state: &HealthState,
) -> (StatusCode, axum::response::Html<String>) {
    let now = state.clock.now();
    let mut alerts = Vec::new();
    if let Err(msg) = healthy(&state.metrics, now, state.spacing, state.max_missed) {
        alerts.extend(msg.lines().map(String::from));
    }
    match crate::status::page_html(
        &source.config,
        &source.repo,
        alerts,
        chrono::Utc::now(),
        true,
    )
    .await
    {
        Ok(html) => (StatusCode::OK, axum::response::Html(html)),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::response::Html(format!(
                "<!doctype html><title>doppel status</title><p>cannot read the status: {}</p>",
                crate::status::page::escape(&e.to_string())
            )),
        ),
    }
}
