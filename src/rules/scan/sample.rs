//! Reading the database for a scan: samples of every column, what tsvector columns and
//! materialized views are built from, and the scan itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio_postgres::Client;

use super::classify::{classify_at, fit, name_guess, today, Fit};
use super::{
    Constraints, Finding, Flag, FlagKind, PiiKind, ScanReport, BIG_TABLE_ROWS, COLUMNS_PER_QUERY,
    MAX_JSON_BYTES, SAMPLED_CHARS,
};
use crate::anonymize::{ColumnType, TypeKind};
use crate::catalog::{qualified, quote_ident};
use crate::catalog::{Catalog, CatalogColumn, CatalogTable};
use crate::catalog::{ColumnId, TableName};
use crate::error::{pg, Result};
use crate::rules::compile::column_type;
use crate::rules::model::{KEEP, NULL};

/// The partitioned table a partition's rules come from (the topmost one in the catalog),
/// or `None` for a table that is not a partition.
pub(super) fn partition_root(catalog: &Catalog, table: &CatalogTable) -> Option<TableName> {
    table.partition_of.as_ref()?;
    catalog
        .partition_ancestors(&table.table_name())
        .into_iter()
        .skip(1)
        .rfind(|t| catalog.table(t).is_some())
}

/// The keys `id` references through foreign keys of its table or its partitioned
/// ancestors, with the constraint names.
pub(super) fn references(catalog: &Catalog, id: &ColumnId) -> Vec<(ColumnId, String)> {
    let mut out = Vec::new();
    for t in catalog.partition_ancestors(&id.table) {
        let Some(ct) = catalog.table(&t) else {
            continue;
        };
        for fk in &ct.foreign_keys {
            for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
                if *c == id.column {
                    out.push((
                        ColumnId::new(fk.ref_schema.as_str(), fk.ref_table.as_str(), r.as_str()),
                        fk.name.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// What the scan reads from `pg_catalog` besides the [`Catalog`].
#[derive(Debug, Default)]
struct Extra {
    /// Estimated rows per table (partitioned tables: the sum over their leaves).
    rows: HashMap<TableName, f64>,
    /// For `tsvector` columns: the columns they are computed from, when known.
    tsvector_sources: HashMap<ColumnId, BTreeSet<String>>,
    /// Materialized views and the table columns they read (through views, too).
    matviews: BTreeMap<TableName, BTreeSet<ColumnId>>,
}

async fn read_extra(client: &Client) -> Result<Extra> {
    let mut extra = Extra::default();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
               CASE WHEN c.relkind = 'p' THEN \
                 (SELECT coalesce(sum(greatest(l.reltuples, 0)), 0)::float8 \
                  FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid \
                  WHERE t.isleaf) \
               WHEN c.reltuples >= 0 THEN c.reltuples::float8 \
               ELSE (pg_relation_size(c.oid) / 100)::float8 END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' \
               AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )
        .await
        .map_err(pg("cannot estimate table sizes for the scan"))?;
    for r in &rows {
        extra.rows.insert(
            TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            r.get(2),
        );
    }
    // A generated column depends on the columns of its expression (recorded on the column
    // itself or on its default's pg_attrdef entry, depending on the version).
    let generated = client
        .query(
            "SELECT n.nspname::text, c.relname::text, g.attname::text, s.attname::text \
             FROM pg_attribute g JOIN pg_class c ON c.oid = g.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid \
               AND d.refobjsubid > 0 AND ( \
                 (d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                  AND d.objsubid = g.attnum) \
                 OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN ( \
                   SELECT ad.oid FROM pg_attrdef ad \
                   WHERE ad.adrelid = c.oid AND ad.adnum = g.attnum))) \
             JOIN pg_attribute s ON s.attrelid = c.oid AND s.attnum = d.refobjsubid \
             WHERE g.atttypid = 'tsvector'::regtype AND g.attgenerated <> '' \
               AND s.attnum <> g.attnum AND NOT g.attisdropped",
            &[],
        )
        .await
        .map_err(pg(
            "cannot read what generated tsvector columns are computed from",
        ))?;
    for r in &generated {
        extra
            .tsvector_sources
            .entry(ColumnId::new(
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
            ))
            .or_default()
            .insert(r.get(3));
    }
    // The built-in trigger functions name their columns in the trigger's arguments:
    // (tsvector column, configuration, source columns...).
    let triggers = client
        .query(
            "SELECT n.nspname::text, c.relname::text, encode(t.tgargs, 'escape') \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND t.tgfoid IN ( \
               'pg_catalog.tsvector_update_trigger'::regproc, \
               'pg_catalog.tsvector_update_trigger_column'::regproc)",
            &[],
        )
        .await
        .map_err(pg("cannot read tsvector triggers for the scan"))?;
    for r in &triggers {
        let args: Vec<String> = r
            .get::<_, String>(2)
            .split("\\000")
            .map(|a| a.replace("\\\\", "\\"))
            .filter(|a| !a.is_empty())
            .collect();
        if let [target, _config, sources @ ..] = args.as_slice() {
            extra
                .tsvector_sources
                .entry(ColumnId::new(
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    target.as_str(),
                ))
                .or_default()
                .extend(sources.iter().cloned());
        }
    }
    // A view's rewrite rule depends on every column it reads; views read by a
    // materialized view are followed down to tables. Column 0 means the whole row.
    let deps = client
        .query(
            "WITH RECURSIVE deps(mv, rel, att) AS ( \
               SELECT m.oid, d.refobjid, d.refobjsubid \
               FROM pg_class m JOIN pg_rewrite r ON r.ev_class = m.oid \
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
                 AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> m.oid \
               WHERE m.relkind = 'm' \
               UNION \
               SELECT deps.mv, d.refobjid, d.refobjsubid \
               FROM deps JOIN pg_class v ON v.oid = deps.rel AND v.relkind IN ('v', 'm') \
               JOIN pg_rewrite r ON r.ev_class = v.oid \
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
                 AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid) \
             SELECT DISTINCT mn.nspname::text, m.relname::text, tn.nspname::text, \
               t.relname::text, a.attname::text \
             FROM deps JOIN pg_class m ON m.oid = deps.mv \
             JOIN pg_namespace mn ON mn.oid = m.relnamespace \
             JOIN pg_class t ON t.oid = deps.rel AND t.relkind IN ('r', 'p') \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 \
               AND NOT a.attisdropped AND (a.attnum = deps.att OR deps.att = 0) \
             WHERE mn.nspname <> 'information_schema' AND mn.nspname NOT LIKE 'pg\\_%' \
             ORDER BY 1, 2, 3, 4, 5",
            &[],
        )
        .await
        .map_err(pg("cannot read what materialized views are built from"))?;
    for r in &deps {
        extra
            .matviews
            .entry(TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
            .or_default()
            .insert(ColumnId::new(
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4),
            ));
    }
    Ok(extra)
}

/// How one column is sampled: `SELECT {expr} FROM table{from_extra} WHERE col IS NOT NULL
/// AND {filter}`.
#[derive(Debug)]
struct Sampling {
    /// The column's index in the table.
    index: usize,
    /// The sampled text.
    expr: String,
    /// A lateral `unnest` for array columns, whose elements are sampled.
    from_extra: String,
    /// A further condition on sampled rows.
    filter: Option<String>,
}

/// How a column is sampled, or `None` when its values are not looked at (numbers,
/// booleans, dates not named like a birth date, arrays of those).
fn sampling(index: usize, col: &CatalogColumn, ty: &ColumnType) -> Option<Sampling> {
    let q = quote_ident(&col.name);
    let plain = |expr: String, filter: Option<String>| Sampling {
        index,
        expr,
        from_extra: String::new(),
        filter,
    };
    match ty.kind() {
        // Blank values carry nothing and every rule keeps them: they are no evidence, and
        // would only dilute the majorities.
        TypeKind::Text => Some(plain(
            format!("left({q}::text, {SAMPLED_CHARS})"),
            Some(format!("btrim({q}::text) <> ''")),
        )),
        TypeKind::Inet | TypeKind::Cidr => Some(plain(format!("{q}::text"), None)),
        TypeKind::Json => Some(plain(
            format!("{q}::text"),
            Some(format!("octet_length({q}::text) <= {MAX_JSON_BYTES}")),
        )),
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => {
            let hinted =
                name_guess(&col.name, "text").is_some_and(|g| g.kind == PiiKind::DateOfBirth);
            hinted.then(|| plain(format!("to_char({q}, 'YYYY-MM-DD')"), None))
        }
        // Arrays of text or addresses: their elements, as many as the sample wants.
        TypeKind::Array
            if ty.element().is_some_and(|e| {
                matches!(e.kind(), TypeKind::Text | TypeKind::Inet | TypeKind::Cidr)
            }) =>
        {
            Some(Sampling {
                index,
                expr: format!("left(doppel_scan_element.v::text, {SAMPLED_CHARS})"),
                from_extra: format!(", unnest({q}) AS doppel_scan_element(v)"),
                filter: Some(
                    "doppel_scan_element.v IS NOT NULL \
                     AND btrim(doppel_scan_element.v::text) <> ''"
                        .into(),
                ),
            })
        }
        _ => None,
    }
}

/// Samples up to `sample` non-null (and, for text, non-blank) values of each of `columns` of
/// `table`: one statement per table (per 200 columns), with a subquery per column so that a
/// mostly-NULL column still gets its values. Big tables are read through `TABLESAMPLE SYSTEM`, which reads a
/// fraction of their pages, the same ones for every column (`REPEATABLE`).
async fn sample_table(
    client: &Client,
    table: &CatalogTable,
    columns: &[Sampling],
    sample: usize,
    estimated_rows: f64,
) -> std::result::Result<HashMap<usize, Vec<String>>, tokio_postgres::Error> {
    let mut out = HashMap::new();
    if columns.is_empty() || sample == 0 {
        return Ok(out);
    }
    // ONLY: an inheritance parent's rows without its children's, which have rules of their
    // own. A partitioned table has no rows of its own: read through it.
    let mut from = format!(
        "{}{}",
        if table.partitioned { "" } else { "ONLY " },
        qualified(&table.schema, &table.name)
    );
    if estimated_rows > BIG_TABLE_ROWS && estimated_rows > 10.0 * sample as f64 {
        // Pages enough for about five times the sample, for NULLs and uneven pages.
        let percent = (500.0 * sample as f64 / estimated_rows).clamp(0.001, 100.0);
        from.push_str(&format!(
            " TABLESAMPLE SYSTEM ({percent:.4}) REPEATABLE (0)"
        ));
    }
    for chunk in columns.chunks(COLUMNS_PER_QUERY) {
        let selects: Vec<String> = chunk
            .iter()
            .map(|c| {
                let col = quote_ident(&table.columns[c.index].name);
                let filter = c
                    .filter
                    .as_ref()
                    .map(|f| format!(" AND {f}"))
                    .unwrap_or_default();
                format!(
                    "ARRAY(SELECT {} FROM {from}{} WHERE {col} IS NOT NULL{filter} LIMIT {sample})",
                    c.expr, c.from_extra
                )
            })
            .collect();
        let row = client
            .query_one(&format!("SELECT {}", selects.join(", ")), &[])
            .await?;
        for (k, c) in chunk.iter().enumerate() {
            let values: Vec<Option<String>> = row.get(k);
            out.insert(c.index, values.into_iter().flatten().collect());
        }
    }
    Ok(out)
}

/// Scans the database `client` is connected to: samples up to `sample` non-blank values of
/// each text-like column of every table of `catalog` (partitions through their partitioned
/// table), classifies each column, and flags `tsvector` columns and materialized views built
/// from personal columns. Only reads. A table that cannot be read (no privilege) is
/// classified by column names alone and flagged.
pub async fn scan(client: &Client, catalog: &Catalog, sample: usize) -> Result<ScanReport> {
    let extra = read_extra(client).await?;
    let today = today();
    let mut report = ScanReport {
        sample,
        ..ScanReport::default()
    };
    for table in &catalog.tables {
        if partition_root(catalog, table).is_some() {
            continue;
        }
        let name = table.table_name();
        let id_of = |col: &CatalogColumn| {
            ColumnId::new(name.schema.as_str(), name.name.as_str(), col.name.as_str())
        };
        // What transformers write (a domain's base type), which is also what is sampled.
        let types: Vec<ColumnType> = table.columns.iter().map(column_type).collect();
        let to_sample: Vec<Sampling> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated)
            .filter_map(|(i, c)| sampling(i, c, &types[i]))
            .collect();
        let estimated = extra.rows.get(&name).copied().unwrap_or(0.0);
        let values = match sample_table(client, table, &to_sample, sample, estimated).await {
            Ok(v) => v,
            // The server refused (no privilege, a lock timeout): names are still evidence.
            Err(e) if e.as_db_error().is_some() => {
                report.flags.push(Flag {
                    kind: FlagKind::NotSampled,
                    subject: name.to_string(),
                    message: format!(
                        "values could not be sampled ({}); its columns were classified by name \
                         only",
                        crate::error::describe_pg(&e)
                    ),
                });
                HashMap::new()
            }
            Err(e) => return Err(pg(format!("cannot sample {name}"))(e)),
        };
        for (i, col) in table.columns.iter().enumerate() {
            report.columns += 1;
            if col.generated || types[i].name == "tsvector" {
                continue;
            }
            let vals = values.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            let keys = Constraints::of(table, col);
            let found = classify_at(
                today,
                &id_of(col),
                &col.type_name,
                Some(&types[i]),
                vals,
                &keys,
            );
            if let Some(mut f) = found {
                // The suggested file gives such a column the rule of the key it references;
                // say so where the column is shown.
                if let Some((target, fk)) = references(catalog, &f.column).into_iter().next() {
                    f.reason.push_str(&format!(
                        "; it references {target} (foreign key {fk}), whose rule it follows"
                    ));
                }
                report.findings.push(f);
            }
        }
        for (i, col) in table.columns.iter().enumerate() {
            if types[i].name == "tsvector" {
                flag_tsvector(
                    &mut report,
                    &id_of(col),
                    col,
                    &types[i],
                    extra.tsvector_sources.get(&id_of(col)),
                    &Constraints::of(table, col),
                );
            }
        }
    }
    let personal: HashMap<ColumnId, PiiKind> = report
        .findings
        .iter()
        .map(|f| (f.column.clone(), f.kind))
        .collect();
    for (view, reads) in &extra.matviews {
        let hits: Vec<String> = reads
            .iter()
            .filter_map(|c| personal.get(c).map(|k| format!("{c} ({k})")))
            .collect();
        if hits.is_empty() {
            continue;
        }
        report.flags.push(Flag {
            kind: FlagKind::MaterializedView,
            subject: view.to_string(),
            message: format!(
                "materialized view {view} is built from personal column{} {}: a restore \
                 refreshes it from the anonymized tables, so it only stays free of personal \
                 data while those columns have rules; check that its definition does not \
                 depend on the original values",
                if hits.len() == 1 { "" } else { "s" },
                hits.join(", ")
            ),
        });
    }
    Ok(report)
}

/// A `tsvector` holds the words of the text it was computed from: anonymizing that text
/// does not change it. Generated ones are recomputed on restore; others are emptied unless
/// everything they are built from was found free of personal data.
fn flag_tsvector(
    report: &mut ScanReport,
    id: &ColumnId,
    col: &CatalogColumn,
    ty: &ColumnType,
    sources: Option<&BTreeSet<String>>,
    keys: &Constraints,
) {
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    if col.generated {
        let from = sources.map_or_else(|| "other columns".to_string(), list);
        report.flags.push(Flag {
            kind: FlagKind::TsVector,
            subject: id.to_string(),
            message: format!(
                "a tsvector generated from {from}: recomputed on restore, so it carries \
                 anonymized words once those columns have rules"
            ),
        });
        return;
    }
    let personal: Vec<String> = sources
        .map(|s| {
            s.iter()
                .filter(|c| {
                    let src = ColumnId {
                        table: id.table.clone(),
                        column: (*c).clone(),
                    };
                    report.findings.iter().any(|f| f.column == src)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let why = match sources {
        Some(s) if personal.is_empty() => {
            report.flags.push(Flag {
                kind: FlagKind::TsVector,
                subject: id.to_string(),
                message: format!(
                    "a tsvector built from {} (by trigger), where no personal data was found: \
                     kept; if they are anonymized later, empty it and recompute it after restore",
                    list(s)
                ),
            });
            return;
        }
        Some(_) => format!(
            "built from personal column{} {}",
            if personal.len() == 1 { "" } else { "s" },
            personal.join(", ")
        ),
        None => "of unknown origin".to_string(),
    };
    let message = format!(
        "a tsvector {why}: it carries the original words whatever their columns' rules say, \
         so it is emptied; recompute it after restore (UPDATE … SET {} = to_tsvector(…))",
        quote_ident(&id.column)
    );
    let mut value = toml::Table::new();
    value.insert("value".into(), toml::Value::String(String::new()));
    let candidates = vec![(NULL, toml::Table::new()), ("constant", value)];
    // NULL first: `null` refuses a NOT NULL column, and then the empty vector stands in.
    let (transformer, params) = match fit(candidates, Some(ty), keys) {
        Fit::Rule {
            transformer,
            params,
            ..
        } => (transformer, params),
        Fit::Mismatch => (KEEP, toml::Table::new()),
    };
    report.flags.push(Flag {
        kind: FlagKind::TsVector,
        subject: id.to_string(),
        message: message.clone(),
    });
    report.findings.push(Finding {
        column: id.clone(),
        type_name: col.type_name.clone(),
        kind: PiiKind::SearchVector,
        transformer,
        params,
        reason: message,
        sampled: 0,
        share: None,
    });
}
