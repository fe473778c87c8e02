//! The schema's SQL sent through doppel's own connections instead of pg_restore's.
//!
//! pg_restore sends every setting its own version knows (pg_restore 17 and later send
//! `SET transaction_timeout = 0`), and a server older than the tool rejects the ones it does
//! not have: so a pg_restore newer than the target cannot restore into it. Here pg_restore
//! only turns the archive into SQL text (`--file=-`, which needs no server); doppel splits
//! that text at the headers pg_restore writes before each entry, drops the session settings
//! the target does not know, and runs each entry itself. No crate reads pg_dump's archive
//! format or its script output, hence this small hand-written splitter.

use std::collections::HashSet;

/// One archive entry as pg_restore prints it: its header names the object, its SQL creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `TABLE`, `INDEX`, `FK CONSTRAINT`…: the header's `Type:`.
    pub kind: String,
    /// The object, as errors name it: `INDEX public.orders_pkey` (`Schema:` `-` leaves it out).
    pub label: String,
    /// Session settings in force for this entry (`SET default_tablespace = …` and the like,
    /// which pg_restore prints once, before the first entry that needs them).
    pub state: String,
    /// The entry's statements.
    pub sql: String,
}

impl Entry {
    /// The text to run: the session state, then the statements.
    pub fn text(&self) -> String {
        format!("{}{}", self.state, self.sql)
    }

    /// Whether entries of this kind depend on nothing else post-data creates, so that they
    /// may run side by side: indexes and key or check constraints, on tables that exist.
    pub fn independent(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "INDEX" | "CONSTRAINT" | "CHECK CONSTRAINT"
        )
    }
}

/// A script split into its preamble (session settings) and its entries, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Statements each session runs first: the script's leading `SET`s, less those the
    /// target does not know.
    pub preamble: String,
    /// The entries, in the archive's order.
    pub entries: Vec<Entry>,
    /// Settings left out of the preamble because the target lacks them.
    pub dropped: Vec<String>,
}

/// Statements pg_restore prints between entries to change the session, which later entries
/// rely on: carried to every entry that follows, since entries may run on other sessions.
const STATE_PREFIXES: [&str; 4] = [
    "SET default_tablespace = ",
    "SET default_table_access_method = ",
    "SET default_with_oids = ",
    "SELECT pg_catalog.set_config('search_path', ",
];

/// Splits pg_restore's script output. `known` tells whether the target has a setting: a
/// leading `SET name = …;` whose name it lacks is left out.
pub fn split(text: &str, known: &dyn Fn(&str) -> bool) -> Script {
    let lines: Vec<&str> = text
        .lines()
        // psql meta-commands (`\restrict`, `\unrestrict`) are for psql, not for a server.
        .filter(|l| !l.starts_with('\\'))
        .collect();
    let headers: Vec<usize> = (0..lines.len()).filter(|&i| is_header(&lines, i)).collect();
    let mut script = Script::default();
    let preamble_end = headers.first().copied().unwrap_or(lines.len());
    let (preamble, mut state) = take_state(&lines[..preamble_end]);
    for line in preamble {
        match setting_name(line) {
            Some(name) if !known(name) => script.dropped.push(name.to_string()),
            _ => {
                script.preamble.push_str(line);
                script.preamble.push('\n');
            }
        }
    }
    for (n, &at) in headers.iter().enumerate() {
        let end = headers.get(n + 1).copied().unwrap_or(lines.len());
        let (body, next_state) = take_state(&lines[at + 3..end]);
        let (kind, label) = describe(lines[at + 1]);
        let sql = body.join("\n").trim().to_string();
        if !sql.is_empty() {
            script.entries.push(Entry {
                kind,
                label,
                state: state.clone(),
                sql: format!("{sql}\n"),
            });
        }
        state.push_str(&next_state);
    }
    script
}

/// `--` / `-- Name: …; Type: …; Schema: …` / `--` starting at line `i`.
fn is_header(lines: &[&str], i: usize) -> bool {
    i + 2 < lines.len()
        && lines[i] == "--"
        && lines[i + 2] == "--"
        && lines[i + 1].starts_with("-- ")
        && lines[i + 1].contains("; Type: ")
        && (lines[i + 1].starts_with("-- Name: ") || lines[i + 1].starts_with("-- Data for Name: "))
}

/// Separates the state statements at the end of a chunk (printed before the next header)
/// from the rest; blank lines are dropped from the end.
fn take_state<'a>(chunk: &[&'a str]) -> (Vec<&'a str>, String) {
    let mut end = chunk.len();
    let mut state = Vec::new();
    while end > 0 {
        let line = chunk[end - 1];
        if line.trim().is_empty() {
            end -= 1;
        } else if STATE_PREFIXES.iter().any(|p| line.starts_with(p)) && line.ends_with(';') {
            state.push(line);
            end -= 1;
        } else {
            break;
        }
    }
    state.reverse();
    let text = state.iter().map(|l| format!("{l}\n")).collect();
    (chunk[..end].to_vec(), text)
}

/// `SET name = value;` → `name`.
fn setting_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("SET ")?;
    let name = rest.split([' ', '=']).next()?;
    (!name.is_empty() && line.ends_with(';')).then_some(name)
}

/// `-- Name: orders_pkey; Type: CONSTRAINT; Schema: public; Owner: app` →
/// (`CONSTRAINT`, `CONSTRAINT public.orders_pkey`).
fn describe(header: &str) -> (String, String) {
    let body = header
        .trim_start_matches("-- ")
        .trim_start_matches("Data for ");
    let mut name = "";
    let mut kind = "";
    let mut schema = "-";
    for field in body.split("; ") {
        if let Some(v) = field.strip_prefix("Name: ") {
            name = v;
        } else if let Some(v) = field.strip_prefix("Type: ") {
            kind = v;
        } else if let Some(v) = field.strip_prefix("Schema: ") {
            schema = v;
        }
    }
    let label = if schema == "-" {
        format!("{kind} {name}")
    } else {
        format!("{kind} {schema}.{name}")
    };
    (kind.to_string(), label)
}

/// The names of every setting a server has, for [`split`]'s `known`.
pub async fn settings(client: &tokio_postgres::Client) -> crate::Result<HashSet<String>> {
    Ok(client
        .query("SELECT name FROM pg_settings", &[])
        .await
        .map_err(crate::error::pg("cannot list the target's settings"))?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "--
-- PostgreSQL database dump
--

\\restrict abc

-- Dumped from database version 17.10
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: f(); Type: FUNCTION; Schema: public; Owner: app
--

CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql
    AS $$
--
SELECT 'x'

$$;


ALTER FUNCTION public.f() OWNER TO app;

--
-- Name: t; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.t (id integer);

SET default_tablespace = fast;

--
-- Name: t_id_idx; Type: INDEX; Schema: public; Owner: app
--

CREATE INDEX t_id_idx ON public.t USING btree (id);

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

GRANT ALL ON SCHEMA public TO app;

--
-- PostgreSQL database dump complete
--

\\unrestrict abc
";

    fn known(name: &str) -> bool {
        name != "transaction_timeout"
    }

    #[test]
    fn drops_the_settings_the_target_lacks_and_keeps_the_others() {
        let s = split(SCRIPT, &known);
        assert_eq!(s.dropped, vec!["transaction_timeout"]);
        assert!(s.preamble.contains("SET statement_timeout = 0;\n"));
        assert!(s.preamble.contains("set_config('search_path', '', false);"));
        assert!(!s.preamble.contains("transaction_timeout"));
        assert!(!s.preamble.contains("restrict"));
        assert!(!s.preamble.contains("default_tablespace"));
    }

    #[test]
    fn splits_entries_at_their_headers_and_names_them() {
        let s = split(SCRIPT, &known);
        let labels: Vec<&str> = s.entries.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "FUNCTION public.f()",
                "TABLE public.t",
                "INDEX public.t_id_idx",
                "ACL SCHEMA public",
            ]
        );
        // A function body's own `--` lines and blank lines stay in it.
        assert!(s.entries[0].sql.contains("$$\n--\nSELECT 'x'\n\n$$;"));
        assert!(s.entries[0].sql.ends_with("OWNER TO app;\n"));
        assert!(s.entries.iter().all(|e| !e.sql.contains("restrict")));
    }

    #[test]
    fn carries_session_state_to_every_entry_after_it() {
        let s = split(SCRIPT, &known);
        let base = "SET default_tablespace = '';\nSET default_table_access_method = heap;\n";
        assert_eq!(s.entries[0].state, base);
        assert_eq!(s.entries[1].state, base);
        assert_eq!(
            s.entries[2].state,
            format!("{base}SET default_tablespace = fast;\n")
        );
        assert!(!s.entries[1].sql.contains("default_tablespace"));
        assert!(s.entries[2].text().starts_with(base));
    }

    #[test]
    fn tells_independent_entries() {
        let s = split(SCRIPT, &known);
        let independent: Vec<bool> = s.entries.iter().map(Entry::independent).collect();
        assert_eq!(independent, [false, false, true, false]);
    }

    #[test]
    fn an_empty_script_has_no_entries() {
        assert_eq!(split("", &known), Script::default());
    }
}
