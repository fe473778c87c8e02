//! The command line: one file per command under `cli/`.

pub mod changes;
pub mod copy;
pub mod demo;
pub mod derive;
pub mod drill;
pub mod init;
pub mod inspect;
pub mod list;
pub mod manual;
pub mod progress;
pub mod prune;
pub mod reseed;
pub mod reset;
pub mod restore;
pub mod retention;
pub mod rules;
pub mod schedule;
pub mod schedule_plan;
pub mod seed;
pub mod snapshot;
pub mod status;
pub mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use doppel::config::Config;
use doppel::error::Result;

/// Consistent, deduplicated, verifiable snapshots of PostgreSQL, restorable anywhere.
#[derive(Debug, Parser)]
#[command(name = "doppel", version, about)]
pub struct Cli {
    /// Config file (default: $DOPPEL_CONFIG, else ./doppel.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log lines for humans, or JSON lines for log collectors.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Plain text.
    Human,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented doppel.toml and a rules/ folder.
    Init(init::Args),
    /// Take a snapshot of an environment (default: the one with role production).
    Snapshot(snapshot::Args),
    /// Where every environment stands: what it holds and since when, how far behind, its
    /// last drill; production's snapshots and change archive.
    Status(status::Args),
    /// List snapshots.
    List(list::Args),
    /// Show one snapshot's manifest.
    Inspect(inspect::Args),
    /// Make an anonymized snapshot from a stored raw one (the source is not contacted).
    Derive(derive::Args),
    /// Anonymization rules: check, scan, preview, list transformers.
    #[command(subcommand)]
    Rules(rules::Command),
    /// Restore a snapshot, or production as of a time, into an environment or a database URL.
    Restore(restore::Args),
    /// Rehearse recovery: restore a snapshot somewhere safe, check it, measure RTO and RPO.
    Drill(drill::Args),
    /// Prove that snapshots can be read back: every chunk present, and with --read-data
    /// re-hashed and every table re-counted.
    Verify(verify::Args),
    /// The change archive's publication and replication slot on the server: setup, status,
    /// teardown.
    #[command(subcommand)]
    Changes(changes::Command),
    /// Copy snapshots into another repository (e.g. offsite on S3); only missing chunks travel.
    Copy(copy::Args),
    /// Drop and recreate a non-production environment from a snapshot, apply its seed
    /// fixtures, check it and report its content digests.
    Reseed(reseed::Args),
    /// Synthetic data: rows generated from the schema and the rules.
    #[command(subcommand)]
    Seed(seed::Command),
    /// Bring an environment back to the state of its last restore (pristine = true).
    Reset(reset::Args),
    /// Apply retention: delete what the tiers do not keep, then unreferenced chunks.
    Prune(prune::Args),
    /// Keep a snapshot whatever retention says.
    Pin(prune::PinArgs),
    /// Undo `pin`.
    Unpin(prune::UnpinArgs),
    /// The scheduler daemon and its plan.
    #[command(subcommand)]
    Schedule(schedule::Command),
    /// Explore the retention policy.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Run the whole cycle on a throwaway local cluster.
    Demo(demo::Args),
    /// Print the completion script for a shell.
    Completions(manual::CompletionsArgs),
    /// Print the manual page, or write every page (one per command) into a folder.
    Man(manual::ManArgs),
}

/// `doppel retention …`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Run the configured policy on a simulated clock and report what it keeps.
    Simulate(retention::SimulateArgs),
}

impl Command {
    /// Whether the command stops cleanly on SIGINT/SIGTERM by itself (the daemon); every
    /// other command is abandoned at once, which leaves nothing listed.
    pub fn handles_signals(&self) -> bool {
        matches!(self, Command::Schedule(schedule::Command::Run(_)))
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Init(a) => init::run(config, a),
        Command::Snapshot(a) => snapshot::run(&load_config(config)?, a).await,
        Command::Status(a) => status::run(&load_config(config)?, a).await,
        Command::List(a) => list::run(&load_config(config)?, a).await,
        Command::Inspect(a) => inspect::run(&load_config(config)?, a).await,
        Command::Derive(a) => derive::run(&load_config(config)?, a).await,
        Command::Rules(c) => rules::run(&load_config(config)?, c).await,
        Command::Restore(a) => restore::run(&load_config(config)?, a).await,
        Command::Drill(a) => drill::run(&load_config(config)?, a).await,
        Command::Verify(a) => verify::run(&load_config(config)?, a).await,
        Command::Changes(c) => changes::run(&load_config(config)?, c).await,
        Command::Copy(a) => copy::run(&load_config(config)?, a).await,
        Command::Reseed(a) => reseed::run(&load_config(config)?, a).await,
        Command::Seed(c) => seed::run(&load_config(config)?, c).await,
        Command::Reset(a) => reset::run(&load_config(config)?, a).await,
        Command::Prune(a) => prune::run(&load_config(config)?, a).await,
        Command::Pin(a) => prune::pin(&load_config(config)?, a).await,
        Command::Unpin(a) => prune::unpin(&load_config(config)?, a).await,
        Command::Schedule(c) => schedule::run(&load_config(config)?, c).await,
        Command::Retention(RetentionCommand::Simulate(a)) => {
            retention::simulate(&load_config(config)?.retention, a)
        }
        Command::Demo(a) => demo::run(a).await,
        Command::Completions(a) => manual::completions(a),
        Command::Man(a) => manual::man(a),
    }
}

fn load_config(explicit: Option<&std::path::Path>) -> Result<Config> {
    Config::load(&Config::locate(explicit))
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
pub async fn signal_name() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let name = signal_name().await;
    tracing::warn!("{name} received: stopping");
}

/// Sends an alert to `[notify] webhook`, if the config has one, and waits for its delivery
/// (a command's failure is worth the seconds of retrying).
pub async fn alert(
    config: &Config,
    kind: doppel::schedule::notify::AlertKind,
    environment: Option<&str>,
    message: &str,
) {
    let notifier = doppel::schedule::notify::Notifier::new(&config.notify);
    if notifier.enabled() {
        let alert = doppel::schedule::notify::Alert::new(kind, environment, message);
        notifier.deliver(&alert).await;
    }
}

pub use doppel::status::human_bytes;

/// Prints a line on stdout. A closed pipe (`doppel list | head`) ends the program quietly
/// instead of panicking, as `println!` would.
pub fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{args}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `println!` for command output, through [`print_line`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::print_line(format_args!($($arg)*)) };
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) {
    print_line(format_args!(
        "{}",
        serde_json::to_string_pretty(v).expect("serializable")
    ));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command path, `doppel rules scan` style, leaves only (a command with
    /// subcommands is listed through them).
    fn command_paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        let path = format!("{prefix} {}", cmd.get_name());
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push(path.trim().to_string());
        }
        for sub in subs {
            command_paths(sub, &path, out);
        }
    }

    /// A command line from a deploy file, checked against the CLI: it must run the daemon.
    fn runs_the_daemon(argv: &[String], from: &str) {
        use clap::Parser;
        assert!(argv[0].ends_with("/doppel"), "{from}: {argv:?}");
        let cli = super::Cli::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{from}: `{}` does not parse: {e}", argv.join(" ")));
        assert!(
            matches!(
                cli.command,
                super::Command::Schedule(super::schedule::Command::Run(_))
            ),
            "{from}: {argv:?}"
        );
    }

    #[test]
    fn the_deploy_files_run_the_daemon() {
        let unit = include_str!("../deploy/doppel.service");
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("the unit has ExecStart");
        let argv: Vec<String> = exec.split_whitespace().map(String::from).collect();
        runs_the_daemon(&argv, "deploy/doppel.service");

        let image = include_str!("../deploy/Containerfile");
        let exec_form = |key: &str| -> Vec<String> {
            let line = image
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("the Containerfile has {key}"));
            serde_json::from_str(line.trim()).expect("exec form")
        };
        let mut argv = exec_form("ENTRYPOINT ");
        argv.extend(exec_form("CMD "));
        runs_the_daemon(&argv, "deploy/Containerfile");
    }

    #[test]
    fn the_readme_shows_every_command() {
        let readme = include_str!("../README.md");
        let mut paths = Vec::new();
        command_paths(&super::Cli::command(), "", &mut paths);
        assert!(paths.len() > 20, "{paths:?}");
        let missing: Vec<_> = paths
            .iter()
            .filter(|p| !readme.contains(p.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "README.md does not show these commands: {missing:?}"
        );
    }
}
