//! `doppel rules …`: check rules against a database or a snapshot, preview what they do,
//! and list the transformers.

use std::path::PathBuf;

use serde::Serialize;

use crate::anonymize::{self, ParamInfo};
use crate::config::Config;
use crate::copytext::FieldSplitter;
use crate::error::{pg, Error, Result};
use crate::rules::{
    read_catalog, Catalog, CompiledRules, Rewriter, RuleSet, TableAction, TableName,
};

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
    #[arg(long, default_value_t = crate::rules::scan::DEFAULT_SAMPLE)]
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
    let dir = args.rules.unwrap_or_else(|| config.rules_path.clone());
    let rules = RuleSet::load_dir(&dir)?;
    let (catalog, against) = match &args.snapshot {
        Some(spec) => {
            let repo = crate::commands::open_repo(config).await?;
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
            let (name, conn) = crate::commands::environment_conn(config, args.env.as_deref())?;
            let client = crate::pg::connect(&conn).await?;
            (read_catalog(&client).await?, format!("environment {name}"))
        }
    };
    let (report, _) = CompiledRules::check_and_build(&rules, &catalog, !args.lenient);
    let text = report.to_string();
    if !report.is_ok() {
        return Err(Error::Config(format!(
            "rules in {} do not fit {against}:\n{}",
            dir.display(),
            text.trim_end()
        )));
    }
    if !text.is_empty() {
        eprint!("{text}");
    }
    // The [subset] is checked too, so that a mistake there is not first met by a snapshot.
    let subset = crate::source_subset::SubsetSpec::find(rules.files())?;
    if let Some(spec) = &subset {
        spec.check(&catalog)?;
    }
    let transformed = crate::rules::effective_rules(&rules, &catalog)
        .map(|e| e.columns().filter(|(_, r)| !r.rule.is_keep()).count())
        .unwrap_or(0);
    crate::say!(
        "rules OK against {against}: {} tables, {transformed} columns transformed, {} warnings",
        catalog.tables.len(),
        report.warnings.len()
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
    if let Some(path) = &args.write {
        if path.exists() && !args.force {
            return Err(Error::Config(format!(
                "{} already exists: pass --force to replace it, or write elsewhere",
                path.display()
            )));
        }
    }
    let (name, conn) = crate::commands::environment_conn(config, args.env.as_deref())?;
    let client = crate::pg::connect(&conn).await?;
    let catalog = read_catalog(&client).await?;
    let report = crate::rules::scan(&client, &catalog, args.sample.max(1)).await?;
    crate::say!("scan of environment {name}:");
    crate::say!("{}", report.to_string().trim_end());
    if let Some(path) = &args.write {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(path, report.to_rules_file(&catalog))
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
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
    let table = TableName::parse(&args.table)
        .map_err(|e| Error::Config(format!("--table {}: {e}; write schema.table", args.table)))?;
    let dir = args.rules.unwrap_or_else(|| config.rules_path.clone());
    let rules = RuleSet::load_dir(&dir)?;
    let key = anonymize::Key::from_env(&config.anonymization.key_env)
        .map_err(|e| Error::Config(e.to_string()))?;
    let (_, conn) = crate::commands::environment_conn(config, args.env.as_deref())?;
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
        TableAction::SchemaOnly | TableAction::Skip => {
            crate::say!("{table}: no rows leave production (its decision reads no rows)");
            return Ok(());
        }
    };
    let query = format!(
        "COPY (SELECT {} FROM {} LIMIT {}) TO STDOUT",
        columns
            .iter()
            .map(|c| crate::pg::quote_ident(c))
            .collect::<Vec<_>>()
            .join(", "),
        crate::pg::qualified(&table.schema, &table.name),
        args.limit
    );
    let mut data = Vec::new();
    let stream = client
        .copy_out(query.as_str())
        .await
        .map_err(pg(format!("cannot read {table}")))?;
    futures::pin_mut!(stream);
    while let Some(piece) = futures::StreamExt::next(&mut stream).await {
        data.extend_from_slice(&piece.map_err(pg(format!("cannot read {table}")))?);
    }
    let mut rewriter = transform.map(|t| Rewriter::new(t, std::sync::Arc::new(key)));
    let width = columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut shown = 0;
    for (n, row) in crate::copytext::rows(&data).enumerate() {
        let mut rewritten = Vec::new();
        match &mut rewriter {
            Some(r) => r.rewrite(row, &mut rewritten)?,
            None => {
                rewritten.extend_from_slice(row);
                rewritten.push(b'\n');
            }
        }
        let (mut a, mut b) = (FieldSplitter::new(), FieldSplitter::new());
        let before = a.split(row);
        let after = b.split(rewritten.strip_suffix(b"\n").unwrap_or(&rewritten));
        crate::say!("── {table} row {} ──", n + 1);
        for (i, column) in columns.iter().enumerate() {
            let old = display(before.decode(i).ok().flatten().as_deref());
            let new = display(after.decode(i).ok().flatten().as_deref());
            let mark = if old == new { " " } else { "→" };
            crate::say!("  {column:width$}  {old:<32} {mark} {new}");
        }
        shown += 1;
    }
    if shown == 0 {
        crate::say!("{table} has no rows");
    }
    Ok(())
}

fn display(value: Option<&[u8]>) -> String {
    match value {
        None => "NULL".into(),
        Some(v) => {
            let s = String::from_utf8_lossy(v);
            let mut out: String = s.chars().take(40).collect();
            if s.chars().count() > 40 {
                out.push('…');
            }
            out
        }
    }
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
