//! Primary key and unique constraints built in two steps, so that they overlap a table's
//! other index builds.
//!
//! `ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY` takes an exclusive lock on its table for
//! the whole index build, so pg_restore runs it alone, after or before every other index of
//! that table; on a large table the cores idle through the single-threaded tail of each
//! build. `CREATE UNIQUE INDEX` takes a lock that other index builds share, and `ADD
//! CONSTRAINT … USING INDEX` then turns the finished index into the constraint, catalog only.
//! The result is the same constraint on the same index, under the same name.
//!
//! Only the plain forms are split: a column list and nothing else. A constraint with
//! `INCLUDE`, storage options, `DEFERRABLE`, `NULLS NOT DISTINCT` or an exclusion is left
//! to pg_restore as it is.

/// A key constraint as pg_restore would create it, split into its index build and the step
/// that makes the index the constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitKey {
    /// The session settings pg_restore sends before the statement (search path, default
    /// tablespace…), which the index build needs too.
    preamble: String,
    /// The qualified, quoted table name, as pg_dump wrote it.
    table: String,
    /// The quoted constraint name, which the index takes.
    name: String,
    /// `PRIMARY KEY` or `UNIQUE`.
    kind: &'static str,
    /// The quoted column list, without parentheses.
    columns: String,
}

impl SplitKey {
    /// Reads pg_restore's SQL for one `CONSTRAINT` entry; `None` when it is not a plain
    /// primary key or unique constraint.
    pub fn parse(sql: &str) -> Option<SplitKey> {
        let mut preamble = String::new();
        let mut statement = String::new();
        for line in sql.lines() {
            // `\restrict` and other psql meta-commands are for psql, not the server.
            if line.starts_with('\\') || line.starts_with("--") || line.trim().is_empty() {
                continue;
            }
            if statement.is_empty() && (line.starts_with("SET ") || line.starts_with("SELECT ")) {
                preamble.push_str(line);
                preamble.push('\n');
            } else {
                statement.push_str(line);
                statement.push('\n');
            }
        }
        let rest = statement.strip_prefix("ALTER TABLE ONLY ")?;
        let (table, rest) = rest.split_once("\n    ADD CONSTRAINT ")?;
        let (name, rest) = identifier(rest)?;
        let (kind, rest) = if let Some(r) = rest.strip_prefix(" PRIMARY KEY (") {
            ("PRIMARY KEY", r)
        } else {
            ("UNIQUE", rest.strip_prefix(" UNIQUE (")?)
        };
        let columns = rest.strip_suffix(");\n")?;
        let mut cols = columns;
        loop {
            let (_, after) = identifier(cols)?;
            if after.is_empty() {
                break;
            }
            cols = after.strip_prefix(", ")?;
        }
        if table.contains('\n') || identifier_path(table).is_none() {
            return None;
        }
        Some(SplitKey {
            preamble,
            table: table.to_string(),
            name: name.to_string(),
            kind,
            columns: columns.to_string(),
        })
    }

    /// The quoted constraint name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Builds the constraint's index; it shares its table with other index builds.
    pub fn build_index(&self) -> String {
        format!(
            "{}CREATE UNIQUE INDEX {} ON {} USING btree ({});",
            self.preamble, self.name, self.table, self.columns
        )
    }

    /// Makes the built index the constraint: a catalog change, with no scan (pg_dump declares
    /// primary key columns NOT NULL with the table).
    pub fn attach(&self) -> String {
        format!(
            "{}ALTER TABLE ONLY {} ADD CONSTRAINT {} {} USING INDEX {};",
            self.preamble, self.table, self.name, self.kind, self.name
        )
    }
}

/// Splits a leading SQL identifier as pg_dump quotes it (`"…"` with `""` inside, or a bare
/// lower-case word) from the text after it.
fn identifier(s: &str) -> Option<(&str, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut i = 0;
        let bytes = body.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return Some(s.split_at(i + 2));
            }
            i += 1;
        }
        None
    } else {
        let end = s
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        (end > 0).then(|| s.split_at(end))
    }
}

/// `schema.table`, each part an identifier.
fn identifier_path(s: &str) -> Option<()> {
    let (_, rest) = identifier(s)?;
    let (_, rest) = identifier(rest.strip_prefix('.')?)?;
    rest.is_empty().then_some(())
}

#[cfg(test)]
mod tests {
    use super::SplitKey;

    const PREAMBLE: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\n\
        SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\
        SET default_tablespace = '';\n\n--\n-- Name: people people_pkey; Type: CONSTRAINT\n--\n\n";

    fn entry(statement: &str) -> String {
        format!("{PREAMBLE}{statement}\n\n\n--\n-- dump complete\n--\n\n\\unrestrict abc\n")
    }

    #[test]
    fn splits_a_plain_primary_key() {
        let key = SplitKey::parse(&entry(
            "ALTER TABLE ONLY public.people\n    ADD CONSTRAINT people_pkey PRIMARY KEY (id);",
        ))
        .expect("plain primary key");
        let settings = "SET statement_timeout = 0;\n\
            SELECT pg_catalog.set_config('search_path', '', false);\n\
            SET default_tablespace = '';\n";
        assert_eq!(
            key.build_index(),
            format!("{settings}CREATE UNIQUE INDEX people_pkey ON public.people USING btree (id);")
        );
        assert_eq!(
            key.attach(),
            format!(
                "{settings}ALTER TABLE ONLY public.people ADD CONSTRAINT people_pkey \
                 PRIMARY KEY USING INDEX people_pkey;"
            )
        );
    }

    #[test]
    fn splits_a_unique_constraint_with_quoted_names() {
        let key = SplitKey::parse(&entry(
            "ALTER TABLE ONLY \"Sales\".\"Order \"\"x\"\"\"\n    ADD CONSTRAINT \"Uniq, it\" UNIQUE (\"a) b\", c);",
        ))
        .expect("unique with quoted names");
        assert!(key.build_index().ends_with(
            "CREATE UNIQUE INDEX \"Uniq, it\" ON \"Sales\".\"Order \"\"x\"\"\" USING btree (\"a) b\", c);"
        ));
        assert!(key
            .attach()
            .ends_with("ADD CONSTRAINT \"Uniq, it\" UNIQUE USING INDEX \"Uniq, it\";"));
    }

    #[test]
    fn leaves_every_other_form_to_pg_restore() {
        for statement in [
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id) INCLUDE (v);",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id) WITH (fillfactor='50');",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_u UNIQUE (v) DEFERRABLE INITIALLY DEFERRED;",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_u UNIQUE NULLS NOT DISTINCT (v);",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_x EXCLUDE USING btree (v WITH =);",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_c CHECK ((v > 0)) NOT VALID;",
            "ALTER TABLE public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\nCOMMENT ON x;",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (\"unterminated);",
            "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY ();",
        ] {
            assert_eq!(SplitKey::parse(&entry(statement)), None, "{statement}");
        }
    }
}
