//! The library's error type: every variant's message says what failed, where, and what to do
//! about it, whole (callers print `Display` alone). Where an error wraps another (a server
//! error, an I/O error, the store's, a rules file's), the wrapped error is kept as the
//! [`std::error::Error::source`], so that a caller can look at it (a SQLSTATE, an
//! `io::ErrorKind`) instead of parsing text. Messages never contain passwords or keys.

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
    /// PostgreSQL refused or failed a request; the client error is the source.
    #[error("{context}: {}", describe_pg(.source))]
    Database {
        /// What we were doing.
        context: String,
        /// The client's error (the server's message, code, detail and hint).
        #[source]
        source: tokio_postgres::Error,
    },
    /// A file or process could not be read or written; the I/O error is the source.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, with the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The repository's store failed; the store's error (a `store::StoreError`) is the
    /// source. Boxed, as below, because this type sits under the modules whose errors it
    /// carries.
    #[error("repository {location}: {source}")]
    Store {
        /// The repository, as the user named it (no credentials).
        location: String,
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A rules file is wrong (every diagnostic with file:line:col and what to do); the
    /// `rules::RulesError` is the source.
    #[error(transparent)]
    Rules(Box<dyn std::error::Error + Send + Sync>),
    /// An error, with what we were doing when it happened; the error is the source and
    /// decides the kind (and the exit code).
    #[error("{context}: {source}")]
    Context {
        /// What we were doing.
        context: String,
        /// The error.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps `self` with what we were doing; the kind stays that of `self`.
    pub fn context(self, context: impl std::fmt::Display) -> Error {
        Error::Context {
            context: context.to_string(),
            source: Box::new(self),
        }
    }

    /// The innermost error that is not a [`Error::Context`]: it says what kind of failure
    /// this is.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }

    /// The process exit code this error ends the command line with, as documented in the
    /// README: 130 interrupted, 3 refused by a safety check, 4 verification failed, else 1.
    pub fn exit_code(&self) -> u8 {
        match self.root() {
            Error::Interrupted(_) => 130,
            Error::Refused(_) => 3,
            Error::Verification(_) => 4,
            _ => 1,
        }
    }
}

/// Wraps an I/O error with what we were doing: `.map_err(io("cannot write x"))`.
pub fn io(context: impl std::fmt::Display) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io {
        context: context.to_string(),
        source,
    }
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
    move |source| Error::Database {
        context: context.to_string(),
        source,
    }
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

/// 1-based line and column of a byte offset in a text: where an error in a config or
/// rules file is.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// `text` with the password of every `scheme://user:password@host` replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or space.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{line_col, Error};

    #[test]
    fn context_keeps_the_kind_and_the_source() {
        let refused = Error::Refused("no".into()).context("restoring into staging");
        assert_eq!(refused.to_string(), "restoring into staging: no");
        assert_eq!(refused.exit_code(), 3);
        let source = std::error::Error::source(&refused).expect("source kept");
        assert_eq!(source.to_string(), "no");
        let io = super::io("cannot write x")(std::io::Error::other("disk full"));
        assert_eq!(io.exit_code(), 1);
        assert_eq!(io.to_string(), "cannot write x: disk full");
        let inner = std::error::Error::source(&io).expect("io source");
        assert!(inner.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(
            Error::Interrupted("x".into())
                .context("a")
                .context("b")
                .exit_code(),
            130
        );
        assert_eq!(Error::Verification("x".into()).exit_code(), 4);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3), "past the end: the end");
    }
}
