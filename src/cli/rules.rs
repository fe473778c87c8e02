//! `doppel rules …`: check rules against a database or a snapshot, preview what they do,
//! and list the transformers.

use std::path::PathBuf;

use serde::Serialize;

use doppel::anonymize::{self, ParamInfo};
use doppel::commands::rules::{self, CheckOptions, Preview, PreviewOptions, ScanOptions};
use doppel::config::Config;
use doppel::error::Result;

/// `doppel rules` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the rules against an environment's database or a snapshot's catalog: unknown
    /// tables and columns, transformers that cannot fit, and (strict) uncovered columns.
    Check(CheckArgs),
    /// Classify every column from its name and sampled values, and suggest rules.
    Scan(ScanArgs),
    /// Show rows of one table as they are and as the rules make them.
    Preview(PreviewArgs),
    /// List the transformers with their parameters.
    ListTransformers(ListArgs),
}

/// Arguments of `doppel rules check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Environment whose database to check against (default: the one with role production).
    #[arg(long, conflicts_with = "snapshot")]
    pub env: Option<String>,
    /// Check against the catalog recorded in this snapshot instead.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Rules folder (default: anonymization.rules in the config).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Report uncovered columns as warnings, not errors.
    #[arg(long)]
    pub lenient: bool,
}

/// Arguments of `doppel rules scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Environment to scan (default: the one with role production).
    pub env: Option<String>,
    /// Write a complete suggested rules file here (every column covered, a reason per
    /// column; sampled values are never written).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// Values sampled per column.
    #[arg(long, default_value_t = doppel::rules::scan::DEFAULT_SAMPLE)]
    pub sample: usize,
}

/// Arguments of `doppel rules preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// Environment to read from (default: the one with role production).
    pub env: Option<String>,
    /// The table, as schema.table.
    #[arg(long)]
    pub table: String,
    /// Rows to show.
    #[arg(long, default_value_t = 5)]
    pub limit: u32,
    /// Rules folder (default: anonymization.rules in the config).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

/// Arguments of `doppel rules list-transformers`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `rules` subcommand.
pub async fn run(config: &Config, command: Command) -> Result<()> {
    match command {
        Command::Check(a) => check_rules(config, a).await,
        Command::Scan(a) => scan(config, a).await,
        Command::Preview(a) => preview(config, a).await,
        Command::ListTransformers(a) => {
            list_transformers(a);
            Ok(())
        }
    }
}

async fn check_rules(config: &Config, args: CheckArgs) -> Result<()> {
    let opts = CheckOptions {
        env: args.env,
        snapshot: args.snapshot,
        rules: args.rules,
        lenient: args.lenient,
    };
    let checked = rules::check(config, &opts).await?;
    if !checked.warnings_text.is_empty() {
        eprint!("{}", checked.warnings_text);
    }
    let subset = checked.subset()?;
    crate::say!(
        "rules OK against {}: {} tables, {} columns transformed, {} warnings",
        checked.against,
        checked.tables,
        checked.transformed,
        checked.warnings
    );
    if let Some(spec) = &subset {
        crate::say!(
            "subset OK ({}): {} targets, {} followed relations, {} virtual foreign keys",
            spec.file.display(),
            spec.targets.len(),
            spec.follow.len(),
            spec.virtual_fks.len()
        );
    }
    Ok(())
}

async fn scan(config: &Config, args: ScanArgs) -> Result<()> {
    let opts = ScanOptions {
        env: args.env,
        write: args.write,
        force: args.force,
        sample: args.sample,
    };
    let scanned = rules::scan(config, &opts).await?;
    crate::say!("scan of environment {}:", scanned.environment);
    crate::say!("{}", scanned.report.to_string().trim_end());
    if let Some(path) = scanned.write()? {
        crate::say!(
            "wrote {}: review every rule, then `doppel rules check --rules {}`",
            path.display(),
            path.parent()
                .map(|p| p.display().to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".into())
        );
    }
    Ok(())
}

async fn preview(config: &Config, args: PreviewArgs) -> Result<()> {
    let opts = PreviewOptions {
        env: args.env,
        table: args.table,
        limit: args.limit,
        rules: args.rules,
    };
    let (table, columns, rows) = match rules::preview(config, &opts).await? {
        Preview::Withheld { table } => {
            crate::say!("{table}: no rows leave production (its decision reads no rows)");
            return Ok(());
        }
        Preview::Rows {
            table,
            columns,
            rows,
        } => (table, columns, rows),
    };
    let width = columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (n, row) in rows.iter().enumerate() {
        crate::say!("── {table} row {} ──", n + 1);
        for (i, column) in columns.iter().enumerate() {
            let old = display(row.before[i].as_deref());
            let new = display(row.after[i].as_deref());
            let mark = if old == new { " " } else { "→" };
            crate::say!("  {column:width$}  {old:<32} {mark} {new}");
        }
    }
    if rows.is_empty() {
        crate::say!("{table} has no rows");
    }
    Ok(())
}

/// A value cut to 40 characters for a terminal.
fn display(value: Option<&str>) -> String {
    match value {
        None => "NULL".into(),
        Some(s) => {
            let mut out: String = s.chars().take(40).collect();
            if s.chars().count() > 40 {
                out.push('…');
            }
            out
        }
    }
}

/// One transformer, as `list-transformers --json` prints it.
#[derive(Debug, Serialize)]
struct TransformerJson {
    name: &'static str,
    summary: &'static str,
    types: &'static str,
    preserves_uniqueness: String,
    params: Vec<ParamJson>,
}

#[derive(Debug, Serialize)]
struct ParamJson {
    name: &'static str,
    kind: String,
    default: Option<&'static str>,
    doc: &'static str,
}

fn params_json(params: &[ParamInfo]) -> Vec<ParamJson> {
    params
        .iter()
        .map(|p| ParamJson {
            name: p.name,
            kind: p.kind.to_string(),
            default: p.default,
            doc: p.doc,
        })
        .collect()
}

fn list_transformers(args: ListArgs) {
    let all: Vec<TransformerJson> = anonymize::catalog()
        .into_iter()
        .map(|t| TransformerJson {
            name: t.name,
            summary: t.summary,
            types: t.types,
            preserves_uniqueness: t.preserves_uniqueness.to_string(),
            params: params_json(t.params),
        })
        .collect();
    if args.json {
        super::print_json(&all);
        return;
    }
    for t in &all {
        crate::say!("{}  — {}", t.name, t.summary);
        crate::say!("    writes: {}", t.types);
        crate::say!(
            "    keeps distinct values distinct: {}",
            t.preserves_uniqueness
        );
        for p in &t.params {
            let default = p.default.map(|d| format!(" = {d}")).unwrap_or_default();
            crate::say!("    {} ({}{default}): {}", p.name, p.kind, p.doc);
        }
    }
    crate::say!(
        "\nEvery rule also takes: {}",
        anonymize::COMMON_PARAMS
            .iter()
            .map(|p| format!("{} ({})", p.name, p.doc))
            .collect::<Vec<_>>()
            .join("; ")
    );
}
