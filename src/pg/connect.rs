//! Opening client connections with the TLS policy that `sslmode` asks for.

use tokio_postgres::Client;

use crate::error::{describe_pg, Error, Result};
use crate::pg::conninfo::{ConnInfo, SslMode};

/// Session settings that make COPY text identical on both ends of a snapshot and a restore,
/// whatever the server's or role's defaults are: digests are computed over this text.
pub const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'; \
SET client_min_messages = 'warning'; SET statement_timeout = 0; SET lock_timeout = 0; \
SET idle_in_transaction_session_timeout = 0;";

/// Connects and applies [`SESSION_SETTINGS`]. The connection task runs on the runtime.
pub async fn connect(info: &ConnInfo) -> Result<Client> {
    let config = info.to_config();
    let client = match info.sslmode {
        SslMode::Disable => {
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| connect_error(info, &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
        mode => {
            let mut builder = native_tls::TlsConnector::builder();
            match mode {
                SslMode::VerifyFull => {}
                SslMode::VerifyCa => {
                    builder.danger_accept_invalid_hostnames(true);
                }
                _ => {
                    // libpq's prefer/require encrypt without checking who answers.
                    builder
                        .danger_accept_invalid_certs(true)
                        .danger_accept_invalid_hostnames(true);
                }
            }
            if let Some(path) = &info.sslrootcert {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::Connection(format!("cannot read sslrootcert {}: {e}", path.display()))
                })?;
                let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                    Error::Connection(format!(
                        "sslrootcert {} is not a PEM certificate: {e}",
                        path.display()
                    ))
                })?;
                builder.add_root_certificate(cert);
            }
            let tls = builder
                .build()
                .map_err(|e| Error::Connection(format!("cannot set up TLS: {e}")))?;
            let (client, conn) = config
                .connect(postgres_native_tls::MakeTlsConnector::new(tls))
                .await
                .map_err(|e| connect_error(info, &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
    };
    client.batch_execute(SESSION_SETTINGS).await.map_err(|e| {
        Error::Postgres(format!(
            "cannot set up session on {}: {}",
            info.redacted(),
            describe_pg(&e)
        ))
    })?;
    Ok(client)
}

fn connect_error(info: &ConnInfo, e: &tokio_postgres::Error) -> Error {
    let msg = describe_pg(e);
    let hint = if msg.contains("password authentication failed") {
        "check the user and password (PGPASSWORD, ~/.pgpass or the URL)"
    } else if msg.contains("does not exist") {
        "check the database name and that the role may connect"
    } else {
        "check that the server is running and reachable, and the host and port"
    };
    Error::Connection(format!(
        "cannot connect to {}: {msg}; {hint}",
        info.redacted()
    ))
}
