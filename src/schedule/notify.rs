//! Alerts as webhooks: one JSON POST per alert to `[notify] webhook`, sent in the background so
//! that a slow receiver never delays a snapshot, and retried with backoff (five attempts over
//! about fifteen seconds). The body is an [`Alert`]; connection strings in its message have
//! their passwords replaced, and the webhook's own URL (which often carries a token) is never
//! logged.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::NotifyConfig;

/// Attempts per alert.
const ATTEMPTS: u32 = 5;
/// Pause after the first failed attempt; doubled after each next one.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A scheduled snapshot failed.
    SnapshotFailed,
    /// Slots passed without a snapshot: the one before outran them.
    SlotsMissed,
    /// Retention could not be applied.
    PruneFailed,
    /// A change archive stopped (its slot dropped past `changes_max_lag`, the server gone…).
    ArchiveStopped,
    /// A running change archive has fallen behind: restores at recent times wait for it.
    ArchiveLagging,
    /// A recovery drill failed a check.
    DrillFailed,
    /// `doppel verify` found a snapshot that cannot be read back.
    VerifyFailed,
}

/// The JSON body of a webhook call.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Always "doppel".
    pub source: &'static str,
    /// What happened.
    pub kind: AlertKind,
    /// The environment concerned, when there is one.
    pub environment: Option<String>,
    /// What happened, for people; passwords in connection strings replaced by `***`.
    pub message: String,
    /// When it was raised.
    pub at: DateTime<Utc>,
    /// The machine doppel runs on.
    pub host: String,
    /// doppel's version.
    pub version: &'static str,
}

impl Alert {
    /// An alert of `kind` about `environment`, raised now.
    pub fn new(kind: AlertKind, environment: Option<&str>, message: &str) -> Alert {
        Alert {
            source: "doppel",
            kind,
            environment: environment.map(String::from),
            message: crate::error::redact(message),
            at: Utc::now(),
            host: crate::repo::lock::hostname(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Sends alerts to the configured webhook; does nothing without one.
#[derive(Clone, Default)]
pub struct Notifier {
    url: Option<Arc<String>>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("webhook", &self.url.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl Notifier {
    /// The notifier `[notify]` describes.
    pub fn new(config: &NotifyConfig) -> Notifier {
        Notifier {
            url: config.webhook.clone().map(Arc::new),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Whether alerts go anywhere.
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// Sends `alert` in the background (from inside a tokio runtime).
    pub fn send(&self, alert: Alert) {
        if self.url.is_none() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.deliver(&alert).await;
        });
    }

    /// Sends `alert` and waits until it is delivered or every attempt failed (logged).
    pub async fn deliver(&self, alert: &Alert) -> bool {
        let Some(url) = &self.url else {
            return false;
        };
        let body = serde_json::to_vec(alert).expect("an alert serializes");
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .client
                .post(url.as_str())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let why = match sent {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => format!("the receiver answered {}", r.status()),
                // Without the URL: it may carry the webhook's token.
                Err(e) => e.without_url().to_string(),
            };
            if attempt == ATTEMPTS {
                tracing::error!(kind = ?alert.kind, "alert not delivered after {ATTEMPTS} attempts: {why}");
                return false;
            }
            tracing::warn!(kind = ?alert.kind, attempt, "alert not delivered ({why}); trying again");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::error::redact;

    #[test]
    fn passwords_in_connection_strings_are_replaced() {
        assert_eq!(
            redact(
                "cannot connect to postgresql://app:s3cr:et@db:5432/shop?sslmode=require: refused"
            ),
            "cannot connect to postgresql://app:***@db:5432/shop?sslmode=require: refused"
        );
        assert_eq!(
            redact("a://u@h/x and s3://key:secret@bucket and plain text"),
            "a://u@h/x and s3://key:***@bucket and plain text"
        );
        assert_eq!(redact("no url: here"), "no url: here");
    }

    #[test]
    fn an_alert_is_the_documented_json() {
        let alert = Alert::new(
            AlertKind::SnapshotFailed,
            Some("production"),
            "postgresql://u:pw@h/db is down",
        );
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["source"], "doppel");
        assert_eq!(json["kind"], "snapshot_failed");
        assert_eq!(json["environment"], "production");
        assert_eq!(json["message"], "postgresql://u:***@h/db is down");
        assert!(json["at"].is_string() && json["host"].is_string() && json["version"].is_string());
    }
}
