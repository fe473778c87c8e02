//! `rules check`, `rules scan` and `rules preview`: anonymization rules against an
//! environment's database or a snapshot's catalog, suggested from a scan, and tried on a few
//! rows of one table.

use std::path::PathBuf;
use std::sync::Arc;

use crate::anonymize::Key;
use crate::catalog::{read_catalog, Catalog, TableName};
use crate::config::Config;
use crate::copytext::FieldSplitter;
use crate::error::{pg, Error, Result};
use crate::rules::scan::ScanReport;
use crate::rules::{CompiledRules, Rewriter, RuleSet, TableAction};
use crate::source_subset::SubsetSpec;

/// Options of `rules check`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Environment whose database to check against (default: the one with role production).
    pub env: Option<String>,
    /// Check against the catalog recorded in this snapshot instead.
    pub snapshot: Option<String>,
    /// Rules folder (default: anonymization.rules in the config).
    pub rules: Option<PathBuf>,
    /// Uncovered columns are warnings, not errors.
    pub lenient: bool,
}

/// Rules that fit: what they were checked against and what they do.
#[derive(Debug)]
pub struct Checked {
    /// `environment NAME` or `snapshot ID`.
    pub against: String,
    /// The warnings, as text to show (empty when none).
    pub warnings_text: String,
    /// How many warnings.
    pub warnings: usize,
    /// Tables of the catalog.
    pub tables: usize,
    /// Columns the rules transform.
    pub transformed: usize,
    rules: RuleSet,
    catalog: Catalog,
}

impl Checked {
    /// The rules' `[subset]`, if any, checked against the same catalog, so that a mistake
    /// there is not first met by a snapshot.
    pub fn subset(&self) -> Result<Option<SubsetSpec>> {
        let subset = SubsetSpec::find(self.rules.files())?;
        if let Some(spec) = &subset {
            spec.check(&self.catalog)?;
        }
        Ok(subset)
    }
}

/// Checks the rules against a snapshot's catalog or an environment's database; rules that do
/// not fit are an error listing every problem.
pub async fn check(config: &Config, opts: &CheckOptions) -> Result<Checked> {
    let dir = opts
        .rules
        .clone()
        .unwrap_or_else(|| config.rules_path.clone());
    let rules = RuleSet::load_dir(&dir)?;
    let (catalog, against) = match &opts.snapshot {
        Some(spec) => {
            let repo = super::open_repo(config).await?;
            let m = repo.resolve(spec).await?;
            let catalog = m.catalog.ok_or_else(|| {
                Error::NotFound(format!(
                    "snapshot {} does not record its catalog (taken by an older doppel); check \
                     against the environment with --env",
                    m.id
                ))
            })?;
            (catalog, format!("snapshot {}", m.id))
        }
        None => {
            let (name, conn) = super::environment_conn(config, opts.env.as_deref())?;
            let client = crate::pg::connect(&conn).await?;
            (read_catalog(&client).await?, format!("environment {name}"))
        }
    };
    let (report, _) = CompiledRules::check_and_build(&rules, &catalog, !opts.lenient);
    let text = report.to_string();
    if !report.is_ok() {
        return Err(Error::Config(format!(
            "rules in {} do not fit {against}:\n{}",
            dir.display(),
            text.trim_end()
        )));
    }
    let transformed = crate::rules::effective_rules(&rules, &catalog)
        .map(|e| e.columns().filter(|(_, r)| !r.rule.is_keep()).count())
        .unwrap_or(0);
    Ok(Checked {
        against,
        warnings_text: text,
        warnings: report.warnings.len(),
        tables: catalog.tables.len(),
        transformed,
        rules,
        catalog,
    })
}

/// Options of `rules scan`.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Environment to scan (default: the one with role production).
    pub env: Option<String>,
    /// Where [`Scanned::write`] writes the suggested rules file.
    pub write: Option<PathBuf>,
    /// Replace that file if it exists.
    pub force: bool,
    /// Values sampled per column (at least 1).
    pub sample: usize,
}

/// What a scan found.
#[derive(Debug)]
pub struct Scanned {
    /// The environment scanned.
    pub environment: String,
    /// The columns that look personal, and the flags.
    pub report: ScanReport,
    catalog: Catalog,
    write: Option<PathBuf>,
}

impl Scanned {
    /// Writes the suggested rules file where the options asked (creating its folder), and
    /// returns its path; `None` when none was asked for.
    pub fn write(&self) -> Result<Option<&PathBuf>> {
        let Some(path) = &self.write else {
            return Ok(None);
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(crate::error::io(format!("cannot create {}", dir.display())))?;
        }
        std::fs::write(path, self.report.to_rules_file(&self.catalog))
            .map_err(crate::error::io(format!("cannot write {}", path.display())))?;
        Ok(Some(path))
    }
}

/// Scans an environment's columns; an existing file to write is refused without `force`
/// before anything is read.
pub async fn scan(config: &Config, opts: &ScanOptions) -> Result<Scanned> {
    if let Some(path) = &opts.write {
        if path.exists() && !opts.force {
            return Err(Error::Config(format!(
                "{} already exists: pass --force to replace it, or write elsewhere",
                path.display()
            )));
        }
    }
    let (name, conn) = super::environment_conn(config, opts.env.as_deref())?;
    let client = crate::pg::connect(&conn).await?;
    let catalog = read_catalog(&client).await?;
    let report = crate::rules::scan(&client, &catalog, opts.sample.max(1)).await?;
    Ok(Scanned {
        environment: name,
        report,
        catalog,
        write: opts.write.clone(),
    })
}

/// Options of `rules preview`.
#[derive(Debug, Clone, Default)]
pub struct PreviewOptions {
    /// Environment to read from (default: the one with role production).
    pub env: Option<String>,
    /// The table, as schema.table.
    pub table: String,
    /// Rows to show.
    pub limit: u32,
    /// Rules folder (default: anonymization.rules in the config).
    pub rules: Option<PathBuf>,
}

/// One row as it is and as the rules make it, column by column (`None`: NULL).
#[derive(Debug)]
pub struct PreviewRow {
    /// The values read.
    pub before: Vec<Option<String>>,
    /// The values the rules write.
    pub after: Vec<Option<String>>,
}

/// What a preview shows.
#[derive(Debug)]
pub enum Preview {
    /// The table's decision reads no rows (schema only, or skipped).
    Withheld {
        /// The table.
        table: TableName,
    },
    /// Rows before and after the rules.
    Rows {
        /// The table.
        table: TableName,
        /// Its stored columns, in order.
        columns: Vec<String>,
        /// The rows read, at most `limit`.
        rows: Vec<PreviewRow>,
    },
}

/// Reads a few rows of one table and rewrites them with the rules and the key.
pub async fn preview(config: &Config, opts: &PreviewOptions) -> Result<Preview> {
    let table = TableName::parse(&opts.table)
        .map_err(|e| Error::Config(format!("--table {}: {e}; write schema.table", opts.table)))?;
    let dir = opts
        .rules
        .clone()
        .unwrap_or_else(|| config.rules_path.clone());
    let rules = RuleSet::load_dir(&dir)?;
    let key =
        Key::from_env(&config.anonymization.key_env).map_err(|e| Error::Config(e.to_string()))?;
    let (_, conn) = super::environment_conn(config, opts.env.as_deref())?;
    let client = crate::pg::connect(&conn).await?;
    let catalog = read_catalog(&client).await?;
    let columns = copy_columns(&catalog, &table)?;
    // Not strict: a preview of one table should work while other tables still lack rules.
    let (report, compiled) = CompiledRules::check_and_build(&rules, &catalog, false);
    let Some(compiled) = compiled else {
        return Err(Error::Config(report.to_string().trim_end().to_string()));
    };
    let transform = match compiled.bind(&table, &columns)? {
        TableAction::Transform(t) => Some(t),
        TableAction::Copy => None,
        TableAction::SchemaOnly | TableAction::Skip => return Ok(Preview::Withheld { table }),
    };
    let query =
        crate::catalog::copy_sample(&table.schema, &table.name, &columns, opts.limit.into());
    let mut data = Vec::new();
    let stream = client
        .copy_out(query.as_str())
        .await
        .map_err(pg(format!("cannot read {table}")))?;
    futures::pin_mut!(stream);
    while let Some(piece) = futures::StreamExt::next(&mut stream).await {
        data.extend_from_slice(&piece.map_err(pg(format!("cannot read {table}")))?);
    }
    let mut rewriter = transform.map(|t| Rewriter::new(t, Arc::new(key)));
    let mut rows = Vec::new();
    for row in crate::copytext::rows(&data) {
        let mut rewritten = Vec::new();
        match &mut rewriter {
            Some(r) => r.rewrite(row, &mut rewritten)?,
            None => {
                rewritten.extend_from_slice(row);
                rewritten.push(b'\n');
            }
        }
        let after = rewritten.strip_suffix(b"\n").unwrap_or(&rewritten);
        rows.push(PreviewRow {
            before: values(row, columns.len()),
            after: values(after, columns.len()),
        });
    }
    Ok(Preview::Rows {
        table,
        columns,
        rows,
    })
}

/// The first `n` values of a COPY text row; one that cannot be read shows as NULL.
fn values(row: &[u8], n: usize) -> Vec<Option<String>> {
    let mut splitter = FieldSplitter::new();
    let fields = splitter.split(row);
    (0..n)
        .map(|i| {
            let v = fields.decode(i).ok().flatten();
            v.map(|v| String::from_utf8_lossy(&v).into_owned())
        })
        .collect()
}

/// The columns a COPY of `table` carries: every stored column, generated ones left out.
fn copy_columns(catalog: &Catalog, table: &TableName) -> Result<Vec<String>> {
    let t = catalog.table(table).ok_or_else(|| {
        Error::NotFound(format!(
            "table {table} does not exist (names are case-sensitive: quote parts that need it, \
             as in schema.\"Table\")"
        ))
    })?;
    if t.partitioned {
        return Err(Error::Config(format!(
            "{table} is partitioned: its rows are in its partitions; preview one of them"
        )));
    }
    Ok(t.columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| c.name.clone())
        .collect())
}
