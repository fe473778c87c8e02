//! The cluster's postgresql.conf: doppel's own settings and the caller's extra ones, quoted
//! and validated so that nothing can break out of its line or move the server elsewhere.

use super::{Cluster, ClusterError, HOST};

/// Settings that `extra_conf` may not override: [`Cluster::host`], [`Cluster::port`] and the
/// socket directory must stay true.
const RESERVED_SETTINGS: [&str; 3] = ["listen_addresses", "port", "unix_socket_directories"];

/// Quotes a postgresql.conf value: single quotes, with `'` and `\` escaped.
fn conf_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\'' => quoted.push_str("''"),
            '\\' => quoted.push_str("\\\\"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// Refuses an `extra_conf` setting that could break out of its line in postgresql.conf or
/// move the server off the address, port or socket the cluster reports.
pub(super) fn validate_setting(name: &str, value: &str) -> Result<(), ClusterError> {
    let invalid = |reason: &str| ClusterError::InvalidSetting {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(invalid(
            "a setting name has only ASCII letters, digits, '_' and '.'",
        ));
    }
    if RESERVED_SETTINGS
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
    {
        return Err(invalid(
            "the cluster sets it itself: it listens only on 127.0.0.1, on a port it picks, \
             with its socket in the data dir",
        ));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(invalid("the value contains a line break or NUL"));
    }
    Ok(())
}

impl Cluster {
    /// Makes postgresql.conf include doppel.conf, which [`Cluster::write_conf`] rewrites for
    /// each start attempt; being last, it overrides initdb's values.
    pub(super) fn prepare_conf(&self) -> Result<(), ClusterError> {
        self.write_file(
            &self.data_dir.join("postgresql.conf"),
            "\n# doppel: settings of a throwaway cluster\ninclude 'doppel.conf'\n",
            true,
        )
    }

    /// Writes doppel.conf for a start attempt on `port`: doppel's settings, then `extra`.
    pub(super) fn write_conf(
        &self,
        port: u16,
        extra: &[(String, String)],
    ) -> Result<(), ClusterError> {
        let socket_dir = self.data_dir.to_string_lossy();
        let mut conf = format!(
            "listen_addresses = '{HOST}'\n\
             port = {port}\n\
             unix_socket_directories = {}\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 100\n\
             wal_level = minimal\n\
             max_wal_senders = 0\n",
            conf_quote(&socket_dir),
        );
        for (name, value) in extra {
            conf.push_str(&format!("{name} = {}\n", conf_quote(value)));
        }
        self.write_file(&self.data_dir.join("doppel.conf"), &conf, false)
    }
}
