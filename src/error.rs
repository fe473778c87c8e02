//! The library's error type: every variant carries a message that says what failed, where,
//! and what to do about it. Messages never contain passwords or keys.

/// Errors from doppel's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `doppel.toml` or a command-line argument is wrong.
    #[error("{0}")]
    Config(String),
    /// A connection string cannot be used.
    #[error("{0}")]
    Connection(String),
    /// PostgreSQL refused or failed a request.
    #[error("{0}")]
    Postgres(String),
    /// `pg_dump`/`pg_restore` is missing, too old, or failed.
    #[error("{0}")]
    Tool(String),
    /// The repository cannot be read or written, or what it holds is damaged.
    #[error("{0}")]
    Repository(String),
    /// No snapshot matches what the user asked for.
    #[error("{0}")]
    NotFound(String),
    /// A safety check refused the operation.
    #[error("{0}")]
    Refused(String),
    /// A restore loaded something other than what the snapshot recorded.
    #[error("{0}")]
    Verification(String),
    /// A rule could not be applied to the data (a value its transformer cannot handle, a
    /// unique key that would collide): named by table, column and row position, never by
    /// value.
    #[error("anonymization stopped: {0}")]
    Anonymization(String),
    /// The user interrupted the operation.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a PostgreSQL client error with the server's message, detail and hint, which
/// `tokio_postgres::Error`'s own `Display` leaves out.
pub fn describe_pg(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" (detail: {d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" (hint: {h})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

/// Wraps a PostgreSQL error with what we were doing.
pub fn pg(context: impl std::fmt::Display) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |e| Error::Postgres(format!("{context}: {}", describe_pg(&e)))
}

/// The 1-based line of `sql` where the server says a statement failed, when it gives a
/// position (syntax errors, unknown names).
pub fn pg_error_line(e: &tokio_postgres::Error, sql: &str) -> Option<usize> {
    let position = match e.as_db_error()?.position()? {
        tokio_postgres::error::ErrorPosition::Original(p) => *p as usize,
        tokio_postgres::error::ErrorPosition::Internal { .. } => return None,
    };
    Some(
        sql.chars()
            .take(position.saturating_sub(1))
            .filter(|&c| c == '\n')
            .count()
            + 1,
    )
}
