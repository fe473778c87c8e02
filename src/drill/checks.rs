//! What a drill checks once the data is in and matches the manifest: the database works as
//! a database, and as the application expects.

use tokio_postgres::Client;

use super::CheckResult;
use crate::catalog::qualified;
use crate::error::describe_pg;
use crate::repo::Manifest;

/// Runs every check; each one's failure is in its result, never an early return.
pub async fn run(client: &Client, m: &Manifest, smoke: &[String]) -> Vec<CheckResult> {
    let mut out = vec![
        constraints(client).await,
        sequences(client).await,
        matviews(client, m).await,
    ];
    for (i, sql) in smoke.iter().enumerate() {
        out.push(smoke_check(client, i + 1, sql).await);
    }
    out
}

fn result(name: &str, outcome: Result<String, String>) -> CheckResult {
    match outcome {
        Ok(detail) => CheckResult {
            name: name.into(),
            passed: true,
            detail,
        },
        Err(detail) => CheckResult {
            name: name.into(),
            passed: false,
            detail,
        },
    }
}

/// Every index usable and every constraint validated. PostgreSQL validates a constraint when
/// the restore creates it, so what remains is what the source itself left NOT VALID (reported)
/// and indexes whose build failed (a failure).
async fn constraints(client: &Client) -> CheckResult {
    let outcome = async {
        let invalid_indexes: Vec<String> = client
            .query(
                "SELECT x.indexrelid::regclass::text FROM pg_index x \
                 JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT (x.indisvalid AND x.indisready) AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| describe_pg(&e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let counts = client
            .query_one(
                "SELECT count(*) FILTER (WHERE convalidated), \
                        string_agg(conrelid::regclass::text || '.' || conname, ', ' ORDER BY conname) \
                          FILTER (WHERE NOT convalidated) \
                 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE contype IN ('c', 'f', 'p', 'u', 'x') AND n.nspname NOT LIKE 'pg\\_%' \
                   AND n.nspname <> 'information_schema'",
                &[],
            )
            .await
            .map_err(|e| describe_pg(&e))?;
        let (valid, not_valid): (i64, Option<String>) = (counts.get(0), counts.get(1));
        if !invalid_indexes.is_empty() {
            return Err(format!(
                "invalid indexes: {}",
                invalid_indexes.join(", ")
            ));
        }
        Ok(match not_valid {
            None => format!("{valid} constraints validated, every index valid"),
            Some(list) => format!(
                "{valid} constraints validated, every index valid; left NOT VALID as in the \
                 source: {list}"
            ),
        })
    }
    .await;
    result("constraints and indexes", outcome)
}

/// Every ascending sequence that feeds a column is at or past the column's largest value, so
/// the recovered database takes new rows without duplicate keys.
async fn sequences(client: &Client) -> CheckResult {
    let outcome = async {
        let rows = client
            .query(
                "SELECT s.seqrelid::regclass::text, d.refobjid::regclass::text, a.attname::text, \
                        pg_sequence_last_value(s.seqrelid) \
                 FROM pg_sequence s \
                 JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid \
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                 WHERE s.seqincrement > 0 ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| describe_pg(&e))?;
        let mut behind = Vec::new();
        for r in &rows {
            let (seq, table, column, last): (String, String, String, Option<i64>) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let max: Option<i64> = client
                .query_one(
                    &format!(
                        "SELECT max({})::bigint FROM {table}",
                        crate::catalog::quote_ident(&column)
                    ),
                    &[],
                )
                .await
                .map_err(|e| describe_pg(&e))?
                .get(0);
            if let Some(max) = max {
                if last.is_none_or(|l| l < max) {
                    behind.push(format!(
                        "{seq} is at {} but {table}.{column} holds {max}",
                        last.map(|l| l.to_string())
                            .unwrap_or_else(|| "its start".into())
                    ));
                }
            }
        }
        if behind.is_empty() {
            Ok(format!(
                "{} sequences at or past the values they feed",
                rows.len()
            ))
        } else {
            Err(behind.join("; "))
        }
    }
    .await;
    result("sequences", outcome)
}

/// The materialized views that were populated refresh from the recovered data.
async fn matviews(client: &Client, m: &Manifest) -> CheckResult {
    let outcome = async {
        let populated: Vec<&crate::repo::manifest::MatviewEntry> =
            m.matviews.iter().filter(|v| v.populated).collect();
        for v in &populated {
            let name = qualified(&v.schema, &v.name);
            client
                .batch_execute(&format!("REFRESH MATERIALIZED VIEW {name}"))
                .await
                .map_err(|e| format!("{name}: {}", describe_pg(&e)))?;
        }
        Ok(format!(
            "{} populated materialized views refresh",
            populated.len()
        ))
    }
    .await;
    result("materialized views", outcome)
}

/// One of the user's queries: it must return one row with one `true`.
async fn smoke_check(client: &Client, n: usize, sql: &str) -> CheckResult {
    let outcome = match client.simple_query(sql).await {
        Err(e) => Err(describe_pg(&e)),
        Ok(messages) => {
            let values: Vec<Option<String>> = messages
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).map(str::to_string))
                    }
                    _ => None,
                })
                .collect();
            match values.as_slice() {
                [Some(v)] if v == "t" => Ok("returned true".to_string()),
                [Some(v)] => Err(format!("returned {v}, not true")),
                [None] => Err("returned NULL, not true".to_string()),
                rows => Err(format!(
                    "returned {} rows; a check returns one true",
                    rows.len()
                )),
            }
        }
    };
    result(&format!("smoke check {n}: {}", one_line(sql)), outcome)
}

fn one_line(sql: &str) -> String {
    let s: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}
