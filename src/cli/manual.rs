//! `doppel completions SHELL` and `doppel man`: shell completions and manual pages, generated
//! from the command line's own definition so that they never drift from it.

use std::path::PathBuf;

use clap::CommandFactory;

use doppel::error::{io, Result};

/// Arguments of `doppel completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Install the output where the shell
    /// looks for completions, e.g. `doppel completions bash >
    /// /usr/share/bash-completion/completions/doppel`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `doppel man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write doppel.1 and a page per subcommand (doppel-restore.1, doppel-changes-run.1 …)
    /// into DIR; without it, doppel.1 is printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs) -> Result<()> {
    let mut cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "doppel", &mut out);
    write_stdout(&out)
}

/// Prints doppel(1), or writes every page into `args.out`.
pub fn man(args: ManArgs) -> Result<()> {
    let cmd = crate::cli::Cli::command();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(io(format!("cannot create {}", dir.display())))?;
            clap_mangen::generate_to(cmd, &dir).map_err(io(format!(
                "cannot write manual pages into {}",
                dir.display()
            )))?;
            crate::say!("wrote the manual pages into {}", dir.display());
            Ok(())
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(io("cannot render the manual page"))?;
            write_stdout(&out)
        }
    }
}

/// Writes to stdout; a closed pipe (`doppel man | head`) ends quietly.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(io("cannot write to stdout")),
    }
}
