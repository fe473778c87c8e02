//! Roles named by a schema archive (owners and grantees) and how to restore without the ones
//! the target lacks: ownership falls to the restoring user and grants to missing roles are
//! skipped, while every statement that names only existing roles is replayed.

use std::collections::BTreeSet;

/// Owner and privilege statements pulled out of the archive's SQL (`pg_restore -f -`).
#[derive(Debug, Default, Clone)]
pub struct RoleStatements {
    /// `ALTER … OWNER TO role;` with the role.
    pub owners: Vec<(String, String)>,
    /// `GRANT`/`REVOKE`/`ALTER DEFAULT PRIVILEGES` statements with every role they name.
    pub privileges: Vec<(String, Vec<String>)>,
}

impl RoleStatements {
    /// Scans pg_dump's SQL, where each of these statements stands on one line of its own.
    pub fn scan(sql: &str) -> RoleStatements {
        let mut out = RoleStatements::default();
        for line in sql.lines() {
            let line = line.trim_end();
            if !line.ends_with(';') {
                continue;
            }
            if line.starts_with("ALTER ")
                && line.contains(" OWNER TO ")
                && !line.starts_with("ALTER DEFAULT")
            {
                if let Some(role) = line.rsplit(" OWNER TO ").next() {
                    out.owners
                        .push((line.to_string(), unquote(role.trim_end_matches(';'))));
                }
            } else if line.starts_with("GRANT ")
                || line.starts_with("REVOKE ")
                || line.starts_with("ALTER DEFAULT PRIVILEGES ")
            {
                out.privileges
                    .push((line.to_string(), privilege_roles(line)));
            }
        }
        out
    }

    /// Every role named, PUBLIC excluded.
    pub fn roles(&self) -> BTreeSet<String> {
        self.owners
            .iter()
            .map(|(_, r)| r.clone())
            .chain(
                self.privileges
                    .iter()
                    .flat_map(|(_, rs)| rs.iter().cloned()),
            )
            .filter(|r| r != "PUBLIC")
            .collect()
    }

    /// The statements to replay when the target lacks `missing`, in their original order.
    pub fn replayable(&self, missing: &BTreeSet<String>) -> Vec<String> {
        let owners = self
            .owners
            .iter()
            .filter(|(_, r)| !missing.contains(r))
            .map(|(s, _)| s.clone());
        let privileges = self
            .privileges
            .iter()
            .filter(|(_, rs)| rs.iter().all(|r| !missing.contains(r)))
            .map(|(s, _)| s.clone());
        owners.chain(privileges).collect()
    }

    /// How many privilege statements name a missing role.
    pub fn skipped_privileges(&self, missing: &BTreeSet<String>) -> usize {
        self.privileges
            .iter()
            .filter(|(_, rs)| rs.iter().any(|r| missing.contains(r)))
            .count()
    }
}

/// Roles in `GRANT … TO r`, `REVOKE … FROM r`, `FOR ROLE r`.
fn privilege_roles(line: &str) -> Vec<String> {
    let body = line.trim_end_matches(';');
    let body = body.strip_suffix(" WITH GRANT OPTION").unwrap_or(body);
    let mut roles = Vec::new();
    if let Some(rest) = body.split(" FOR ROLE ").nth(1) {
        if let Some(r) = rest
            .split(" IN SCHEMA ")
            .next()
            .and_then(|r| r.split(' ').next())
        {
            roles.push(unquote(r));
        }
    }
    let grantee = body
        .rsplit_once(" TO ")
        .filter(|_| body.contains("GRANT "))
        .or_else(|| body.rsplit_once(" FROM "))
        .map(|(_, r)| r);
    if let Some(list) = grantee {
        roles.extend(list.split(", ").map(unquote));
    }
    roles
}

fn unquote(ident: &str) -> String {
    let ident = ident.trim();
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = r#"
CREATE TABLE public.t (id integer);
ALTER TABLE public.t OWNER TO postgres;
ALTER SCHEMA billing OWNER TO "Billing Owner";
REVOKE ALL ON SCHEMA billing FROM PUBLIC;
GRANT USAGE ON SCHEMA billing TO reader;
GRANT SELECT ON TABLE public.t TO "odd""name" WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE admin IN SCHEMA billing GRANT SELECT ON TABLES TO reader;
CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;
"#;

    #[test]
    fn finds_owners_and_grantees() {
        let s = RoleStatements::scan(SQL);
        let roles: Vec<_> = s.roles().into_iter().collect();
        assert_eq!(
            roles,
            vec!["Billing Owner", "admin", "odd\"name", "postgres", "reader"]
        );
    }

    #[test]
    fn replays_only_statements_whose_roles_exist() {
        let s = RoleStatements::scan(SQL);
        let missing: BTreeSet<String> = ["reader".to_string(), "Billing Owner".to_string()].into();
        let replay = s.replayable(&missing);
        assert_eq!(
            replay,
            vec![
                "ALTER TABLE public.t OWNER TO postgres;",
                "REVOKE ALL ON SCHEMA billing FROM PUBLIC;",
                "GRANT SELECT ON TABLE public.t TO \"odd\"\"name\" WITH GRANT OPTION;",
            ]
        );
        assert_eq!(s.skipped_privileges(&missing), 2);
    }
}
