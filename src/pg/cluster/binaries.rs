//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ClusterError;

/// Environment variable naming the directory of the PostgreSQL server binaries to use
/// (the one holding `initdb`, `pg_ctl` and `postgres`); it wins over every other lookup.
pub const BIN_DIR_ENV: &str = "DOPPEL_PG_BIN";

/// Where distributions (Debian, Ubuntu) install one `<version>/bin` per server version.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// Finds the PostgreSQL server binaries: `$DOPPEL_PG_BIN` if set (it must hold initdb,
/// pg_ctl and postgres), else the highest-version `/usr/lib/postgresql/*/bin` that has
/// `initdb`, else `pg_config --bindir`. The error says how to install PostgreSQL.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        check_bin_dir(&dir, "$DOPPEL_PG_BIN")?;
        return Ok(dir);
    }
    let mut searched = vec![
        format!("${BIN_DIR_ENV} (unset)"),
        format!("{VERSIONED_ROOT}/*/bin/initdb"),
    ];
    if let Some(dir) = highest_versioned_bin(Path::new(VERSIONED_ROOT)) {
        return Ok(dir);
    }
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(OsStr::from_bytes(out.stdout.trim_ascii_end()));
            if dir.join("initdb").is_file() {
                return Ok(dir);
            }
            searched.push(format!(
                "`pg_config --bindir` = {} (no initdb)",
                dir.display()
            ));
        }
        Ok(_) => searched.push("`pg_config --bindir` (failed)".into()),
        Err(_) => searched.push("`pg_config --bindir` (no pg_config on PATH)".into()),
    }
    Err(ClusterError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// The `<version>/bin` under `root` with the highest version that has an `initdb`.
fn highest_versioned_bin(root: &Path) -> Option<PathBuf> {
    let entries = fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = parse_version(name.to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; compared numerically so that 10 sorts above 9.6.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Checks that a bin directory someone named (`origin`) holds the programs a cluster runs.
pub(super) fn check_bin_dir(dir: &Path, origin: &str) -> Result<(), ClusterError> {
    for program in ["initdb", "pg_ctl", "postgres"] {
        if !dir.join(program).is_file() {
            return Err(ClusterError::IncompleteBinDir {
                dir: dir.to_path_buf(),
                origin: origin.to_string(),
                missing: program.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_postgres_or_says_how_to_install_it() {
        let dir = find_bin_dir().unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.join("initdb").is_file(), "{}", dir.display());
        let msg = ClusterError::BinariesNotFound {
            searched: "x".into(),
        }
        .to_string();
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
    }

    #[test]
    fn picks_the_highest_versioned_bin_dir() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "15", "16", "10", "notaversion", "17"] {
            let bin = root.path().join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            // 17 has no initdb (a client-only install), so it must be passed over.
            if version != "17" {
                fs::write(bin.join("initdb"), "").unwrap();
            }
        }
        assert_eq!(
            highest_versioned_bin(root.path()),
            Some(root.path().join("16/bin"))
        );
        assert_eq!(highest_versioned_bin(&root.path().join("nope")), None);
    }
}
