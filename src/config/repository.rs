//! Checks and resolves a repository section into a [`RepoSpec`].

use std::path::Path;

use super::spans::{substitute, Spans};
use super::{parse_size, RepoSpec, RepositoryConfig};
use crate::error::{Error, Result};

/// Checks and resolves one repository section (`[repository]` or `[repositories.NAME]`,
/// `section_keys`).
pub(super) fn resolve_repo(
    section: &mut RepositoryConfig,
    section_keys: &[&str],
    spans: &Spans<'_>,
    base: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<RepoSpec> {
    let name = section_keys.join(".");
    let keys = |key: &[&'static str]| {
        let mut all = section_keys.to_vec();
        all.extend_from_slice(key);
        all
    };
    let at = |key: &[&'static str]| spans.at(&keys(key));
    let subst = |key: &[&'static str], s: &str| {
        substitute(s, lookup).map_err(|var| spans.missing_var(&keys(key), &var))
    };
    let spec = match (&section.path, &section.url) {
        (Some(p), None) => subst(&["path"], p)?,
        (None, Some(u)) => subst(&["url"], u)?,
        (Some(_), Some(_)) => {
            return Err(Error::Config(format!(
                "{}: {name} sets both `path` and `url`: keep one",
                at(&["url"])
            )))
        }
        (None, None) => {
            return Err(Error::Config(format!(
                "{}: {name} needs `path = \"folder\"` or `url = \"s3://bucket/prefix\"`",
                at(&[])
            )))
        }
    };
    if !(1..=19).contains(&section.compression_level) {
        return Err(Error::Config(format!(
            "{}: {name}.compression_level = {} is out of range: use 1 to 19",
            at(&["compression_level"]),
            section.compression_level
        )));
    }
    let mut location = crate::store::RepoLocation::parse(&spec, base).map_err(|e| {
        Error::Config(format!(
            "{}: {name}: {e}",
            at(&[if section.url.is_some() { "url" } else { "path" }])
        ))
    })?;
    let s3_only = [
        ("endpoint", section.endpoint.is_some()),
        ("region", section.region.is_some()),
        ("path_style", section.path_style.is_some()),
    ];
    match &mut location {
        crate::store::RepoLocation::S3(l) => {
            if let Some(e) = &section.endpoint {
                l.endpoint = Some(subst(&["endpoint"], e)?);
            }
            if let Some(r) = &section.region {
                l.region = Some(subst(&["region"], r)?);
            }
            if let Some(p) = section.path_style {
                l.path_style = p;
            }
        }
        crate::store::RepoLocation::Local(_) => {
            if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
                return Err(Error::Config(format!(
                    "{}: {name}.{key} applies only to an s3:// repository",
                    at(&[*key])
                )));
            }
        }
    }
    let key = match &section.encryption {
        None => None,
        Some(enc) => Some(match (&enc.key_env, &enc.key_file) {
            (Some(var), None) => {
                if var.is_empty() || var.contains(['$', '=', ' ']) {
                    return Err(Error::Config(format!(
                        "{}: {name}.encryption.key_env must be the NAME of an environment \
                         variable (like \"DOPPEL_REPO_KEY\"), not its value: keep the secret \
                         itself out of files",
                        at(&["encryption", "key_env"])
                    )));
                }
                crate::repo::crypto::KeySource::Env(var.clone())
            }
            (None, Some(file)) => crate::repo::crypto::KeySource::File(
                base.join(subst(&["encryption", "key_file"], file)?),
            ),
            _ => {
                return Err(Error::Config(format!(
                    "{}: {name}.encryption needs exactly one of key_env or key_file",
                    at(&["encryption"])
                )))
            }
        }),
    };
    let pack_size = match &section.pack_size {
        None => None,
        Some(size) => Some(parse_size(size).map_err(|e| {
            Error::Config(format!("{}: {name}.pack_size: {e}", at(&["pack_size"])))
        })?),
    };
    Ok(RepoSpec {
        location,
        options: crate::repo::RepoOptions {
            level: Some(section.compression_level),
            key,
            pack_size,
        },
    })
}
