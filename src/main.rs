//! The `doppel` binary: parse, run, report errors with exit codes.

// The command line lives in the binary, not the library: a change to how arguments are read
// or reports printed rebuilds only this small crate.
mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::Cli;
use doppel::Error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DOPPEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("doppel={level}")));
    // Colours only for a person at a terminal, never in files or log collectors.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        cli::LogFormat::Human => logs.init(),
        cli::LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        if cli.command.handles_signals() {
            return cli::run(cli).await;
        }
        tokio::select! {
            r = cli::run(cli) => r,
            sig = cli::signal_name() => Err(Error::Interrupted(format!(
                "{sig}: stopped; nothing was recorded for the unfinished operation (a snapshot without its manifest does not exist; its chunks are left for `doppel prune`)"
            ))),
        }
    });
    // Dropping the runtime aborts in-flight tasks and kills child processes (kill_on_drop).
    drop(runtime);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
