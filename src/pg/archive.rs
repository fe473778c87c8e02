//! pg_dump's custom-format archive, as far as doppel needs to know it: its format version,
//! which says how new a pg_restore must be to read it.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The tools behind a snapshot's schema archive, recorded in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaTools {
    /// The version of the pg_dump that wrote the archive (`18.6`).
    pub pg_dump: String,
    /// The archive's format version (`1.16`).
    pub archive: String,
}

impl SchemaTools {
    /// The oldest pg_restore major that reads this archive.
    pub fn restore_major(&self) -> Option<u32> {
        let (major, minor) = self.archive.split_once('.')?;
        min_restore_major((major.parse().ok()?, minor.parse().ok()?))
            .or_else(|| self.pg_dump.split('.').next()?.parse().ok())
    }
}

/// The format version in an archive's header (`PGDMP`, then major, minor, revision).
pub fn header_version(header: &[u8]) -> Option<(u8, u8)> {
    match header {
        [b'P', b'G', b'D', b'M', b'P', major, minor, ..] => Some((*major, *minor)),
        _ => None,
    }
}

/// The first pg_restore major that reads archives of `version`: pg_restore refuses formats
/// newer than its own. `None` for a format newer than this table.
pub fn min_restore_major(version: (u8, u8)) -> Option<u32> {
    match version {
        (1, minor) if minor <= 14 => Some(12),
        (1, 15) => Some(16),
        (1, 16) => Some(17),
        _ => None,
    }
}

/// The pg_restore major needed for the archive at `path`: from the archive's header, else
/// from what the snapshot's manifest `recorded`, else the source server's major.
pub fn restore_major(
    path: &Path,
    recorded: Option<&SchemaTools>,
    source_major: u32,
) -> Result<u32> {
    let mut header = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(crate::error::io(format!("cannot read {}", path.display())))?;
    let version = header_version(&header).ok_or_else(|| {
        Error::Repository(format!(
            "{} is not a pg_dump archive (it does not start with PGDMP)",
            path.display()
        ))
    })?;
    Ok(min_restore_major(version)
        .or_else(|| recorded.and_then(SchemaTools::restore_major))
        .unwrap_or(source_major))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_and_the_pg_restore_it_needs() {
        assert_eq!(header_version(b"PGDMP\x01\x10\x00rest"), Some((1, 16)));
        assert_eq!(header_version(b"PGDMP\x01"), None);
        assert_eq!(header_version(b"--\n-- PostgreSQL"), None);
        let cases = [
            ((1, 12), Some(12)),
            ((1, 14), Some(12)),
            ((1, 15), Some(16)),
            ((1, 16), Some(17)),
            ((1, 17), None),
        ];
        for (version, want) in cases {
            assert_eq!(min_restore_major(version), want, "{version:?}");
        }
        let tools = |pg_dump: &str, archive: &str| SchemaTools {
            pg_dump: pg_dump.into(),
            archive: archive.into(),
        };
        assert_eq!(tools("18.6", "1.16").restore_major(), Some(17));
        assert_eq!(tools("15.18", "1.14").restore_major(), Some(12));
        assert_eq!(tools("21.1", "1.19").restore_major(), Some(21));
    }
}
