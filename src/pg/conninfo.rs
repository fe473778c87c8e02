//! Connection strings as psql users know them: a `postgresql://` URL or `key=value` pairs,
//! completed from the libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`) and `~/.pgpass`.
//!
//! Written by hand because `tokio_postgres::Config` knows neither the libpq variables nor
//! `.pgpass`, and rejects `sslmode=verify-ca`/`verify-full`, which managed databases ask for.
//! The same parsed value also renders the conninfo handed to `pg_dump`/`pg_restore`, with the
//! password passed through the environment, never on a command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// Plain first, TLS if the server insists (treated as prefer here).
    Allow,
    /// TLS when the server offers it, without verifying the certificate (libpq's default).
    Prefer,
    /// TLS, certificate not verified.
    Require,
    /// TLS, certificate chain verified, host name not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::Connection(format!(
                    "invalid sslmode '{other}': use disable, allow, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A password that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the places that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything needed to reach one database.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Host name, IP address, or (starting with `/`) a Unix socket folder.
    pub host: String,
    /// TCP port (also names the Unix socket file).
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password, from the string, `PGPASSWORD` or `.pgpass`.
    pub password: Option<Secret>,
    /// Database name.
    pub dbname: String,
    /// TLS policy.
    pub sslmode: SslMode,
    /// CA bundle for verify-ca / verify-full.
    pub sslrootcert: Option<PathBuf>,
    /// Seconds to wait for a connection.
    pub connect_timeout: Option<u64>,
    /// Other libpq parameters passed through to `pg_dump`/`pg_restore` (application_name, options).
    pub extra: BTreeMap<String, String>,
}

const PASS_THROUGH: &[&str] = &["application_name", "options", "target_session_attrs"];

impl ConnInfo {
    /// Parses a URL or `key=value` string and fills the gaps from the environment.
    pub fn parse(s: &str) -> Result<ConnInfo> {
        Self::parse_with(s, &|k| std::env::var(k).ok())
    }

    /// [`ConnInfo::parse`] with an explicit variable lookup (for tests).
    pub fn parse_with(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ConnInfo> {
        let s = s.trim();
        let params = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            parse_url(s)?
        } else {
            parse_keywords(s)?
        };
        let mut p = params;
        let mut take = |k: &str, var: &str| {
            p.remove(k)
                .filter(|v| !v.is_empty())
                .or_else(|| env(var).filter(|v| !v.is_empty()))
        };
        let host = take("host", "PGHOST").unwrap_or_else(default_host);
        let port_s = take("port", "PGPORT");
        let user = take("user", "PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        let dbname = take("dbname", "PGDATABASE").unwrap_or_else(|| user.clone());
        let password = take("password", "PGPASSWORD");
        let sslmode = take("sslmode", "PGSSLMODE");
        let sslrootcert = take("sslrootcert", "PGSSLROOTCERT");
        let connect_timeout = take("connect_timeout", "PGCONNECT_TIMEOUT");
        let port = match port_s {
            None => 5432,
            Some(p) => p.parse().map_err(|_| {
                Error::Connection(format!("invalid port '{p}' in connection string"))
            })?,
        };
        let connect_timeout = connect_timeout
            .map(|t| {
                t.parse().map_err(|_| {
                    Error::Connection(format!("invalid connect_timeout '{t}': give whole seconds"))
                })
            })
            .transpose()?;
        let mut extra = BTreeMap::new();
        for (k, v) in p {
            if PASS_THROUGH.contains(&k.as_str()) {
                extra.insert(k, v);
            } else {
                return Err(Error::Connection(format!(
                    "unsupported connection parameter '{k}' (supported: host, port, user, password, dbname, sslmode, sslrootcert, connect_timeout, {})",
                    PASS_THROUGH.join(", ")
                )));
            }
        }
        let mut info = ConnInfo {
            host,
            port,
            user,
            password: password.map(Secret),
            dbname,
            sslmode: SslMode::parse(sslmode.as_deref().unwrap_or("prefer"))?,
            sslrootcert: sslrootcert.map(PathBuf::from),
            connect_timeout,
            extra,
        };
        if info.password.is_none() {
            info.password = pgpass_lookup(&info, env).map(Secret);
        }
        Ok(info)
    }

    /// The same server and credentials, another database.
    pub fn with_dbname(&self, dbname: &str) -> ConnInfo {
        ConnInfo {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }

    /// `user@host:port/db`, safe to print.
    pub fn redacted(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }

    /// A libpq conninfo for child tools; no password in it (see [`ConnInfo::child_env`]).
    pub fn libpq_conninfo(&self) -> String {
        let mut parts = vec![
            kv("host", &self.host),
            kv("port", &self.port.to_string()),
            kv("user", &self.user),
            kv("dbname", &self.dbname),
            kv("sslmode", self.sslmode.as_str()),
        ];
        if let Some(c) = &self.sslrootcert {
            parts.push(kv("sslrootcert", &c.to_string_lossy()));
        }
        if let Some(t) = self.connect_timeout {
            parts.push(kv("connect_timeout", &t.to_string()));
        }
        for (k, v) in &self.extra {
            parts.push(kv(k, v));
        }
        parts.join(" ")
    }

    /// Environment for child tools: the password travels here, not in argv where `ps` shows it.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(p) = &self.password {
            env.push(("PGPASSWORD".to_string(), p.expose().to_string()));
        }
        env
    }

    /// The equivalent `tokio_postgres::Config`.
    pub fn to_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname);
        c.application_name(
            self.extra
                .get("application_name")
                .map(String::as_str)
                .unwrap_or("doppel"),
        );
        if let Some(o) = self.extra.get("options") {
            c.options(o);
        }
        if let Some(p) = &self.password {
            c.password(p.expose());
        }
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(Duration::from_secs(t));
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        c
    }
}

fn kv(k: &str, v: &str) -> String {
    let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
    format!("{k}='{escaped}'")
}

fn default_host() -> String {
    let socket_dir = "/var/run/postgresql";
    if std::path::Path::new(socket_dir).is_dir() {
        socket_dir.into()
    } else {
        "localhost".into()
    }
}

fn parse_url(s: &str) -> Result<BTreeMap<String, String>> {
    let url = url::Url::parse(s).map_err(|e| {
        Error::Connection(format!(
            "invalid connection URL: {e} (expected postgresql://user:password@host:port/dbname)"
        ))
    })?;
    let mut p = BTreeMap::new();
    let decode = |v: &str| {
        url::form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if let Some(h) = url.host_str() {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        p.insert("host".into(), decode(h));
    }
    if let Some(port) = url.port() {
        p.insert("port".into(), port.to_string());
    }
    if !url.username().is_empty() {
        p.insert("user".into(), decode(url.username()));
    }
    if let Some(pw) = url.password() {
        p.insert("password".into(), decode(pw));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() {
        p.insert("dbname".into(), decode(db));
    }
    for (k, v) in url.query_pairs() {
        p.insert(k.into_owned(), v.into_owned());
    }
    Ok(p)
}

fn parse_keywords(s: &str) -> Result<BTreeMap<String, String>> {
    let mut p = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::Connection(format!(
                "invalid connection string: expected '=' after '{key}' (use key=value pairs or a postgresql:// URL)"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::Connection(format!(
                            "invalid connection string: unterminated quote in the value of '{key}'"
                        )))
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    value.extend(chars.next());
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        p.insert(key, value);
    }
    Ok(p)
}

/// Looks the password up in `$PGPASSFILE` or `~/.pgpass` (`host:port:db:user:password`, `*`
/// wildcards, `\:` and `\\` escapes), as libpq does.
fn pgpass_lookup(info: &ConnInfo, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = if info.host.starts_with('/') {
        "localhost".to_string()
    } else {
        info.host.clone()
    };
    let wanted = [
        host,
        info.port.to_string(),
        info.dbname.clone(),
        info.user.clone(),
    ];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(&wanted)
            .all(|(f, w)| f == "*" || f == w)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().unwrap().extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn url_with_everything() {
        let c = ConnInfo::parse_with(
            "postgresql://app%40corp:p%40ss:w@db.example.com:6543/shop?sslmode=verify-full&application_name=x",
            &none,
        )
        .unwrap();
        assert_eq!(c.host, "db.example.com");
        assert_eq!(c.port, 6543);
        assert_eq!(c.user, "app@corp");
        assert_eq!(c.password.as_ref().unwrap().expose(), "p@ss:w");
        assert_eq!(c.dbname, "shop");
        assert_eq!(c.sslmode, SslMode::VerifyFull);
        assert!(!format!("{c:?}").contains("p@ss"));
        assert!(!c.libpq_conninfo().contains("p@ss"));
        assert!(!c.redacted().contains("p@ss"));
    }

    #[test]
    fn keywords_with_quotes_and_env_defaults() {
        let env = |k: &str| match k {
            "PGPORT" => Some("5499".to_string()),
            "PGUSER" => Some("ops".to_string()),
            "PGPASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let c =
            ConnInfo::parse_with("host=127.0.0.1 dbname='my db' sslmode=require", &env).unwrap();
        assert_eq!(
            (c.port, c.user.as_str(), c.dbname.as_str()),
            (5499, "ops", "my db")
        );
        assert_eq!(c.sslmode, SslMode::Require);
        assert_eq!(
            c.child_env(),
            vec![("PGPASSWORD".to_string(), "pw".to_string())]
        );
    }

    #[test]
    fn bad_strings_are_specific_errors() {
        for (s, want) in [
            ("host=x port=abc", "invalid port"),
            ("host=x sslmode=sometimes", "invalid sslmode"),
            ("host=x bogus=1", "unsupported connection parameter 'bogus'"),
            ("host", "expected '='"),
            ("host='x", "unterminated quote"),
        ] {
            let err = ConnInfo::parse_with(s, &none).unwrap_err().to_string();
            assert!(err.contains(want), "{s}: {err}");
        }
    }

    #[test]
    fn pgpass_matches_with_wildcards_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\n127.0.0.1:*:shop:ops:s\\:cret\n",
        )
        .unwrap();
        let f = file.to_string_lossy().to_string();
        let env = move |k: &str| (k == "PGPASSFILE").then(|| f.clone());
        let c = ConnInfo::parse_with("host=127.0.0.1 user=ops dbname=shop", &env).unwrap();
        assert_eq!(c.password.unwrap().expose(), "s:cret");
    }
}
