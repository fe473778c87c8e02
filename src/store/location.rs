//! Where a repository is, as the user writes it: a folder, `file:///folder`, or
//! `s3://bucket/prefix` with optional `?endpoint=…&region=…&path_style=true`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{LocalStore, S3Location, S3Store, Store, StoreError};

/// A repository's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// A folder on this machine.
    Local(PathBuf),
    /// A bucket and prefix.
    S3(S3Location),
}

impl std::fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepoLocation::Local(p) => write!(f, "{}", p.display()),
            RepoLocation::S3(l) => write!(f, "{l}"),
        }
    }
}

impl RepoLocation {
    /// Parses `spec`; relative folders are taken from `base`. The error says what is wrong.
    pub fn parse(spec: &str, base: &Path) -> Result<RepoLocation, String> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "'{spec}' names no bucket: write s3://BUCKET/PREFIX"
                ));
            }
            let mut loc = S3Location {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                endpoint: None,
                region: None,
                path_style: false,
            };
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                match k {
                    "endpoint" => loc.endpoint = Some(v),
                    "region" => loc.region = Some(v),
                    "path_style" => {
                        loc.path_style = match v.as_str() {
                            "true" | "1" | "" => true,
                            "false" | "0" => false,
                            _ => {
                                return Err(format!(
                                    "path_style={v} in '{spec}': use true or false"
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(format!(
                            "unknown option '{k}' in '{spec}': use endpoint, region or path_style"
                        ))
                    }
                }
            }
            return Ok(RepoLocation::S3(loc));
        }
        if let Some((scheme, _)) = spec.split_once("://") {
            if scheme != "file" {
                return Err(format!(
                    "'{spec}': unsupported scheme '{scheme}://' (use a folder, file:///folder or s3://bucket/prefix)"
                ));
            }
        }
        let path = spec.strip_prefix("file://").unwrap_or(spec);
        if path.is_empty() {
            return Err("the repository location is empty".into());
        }
        Ok(RepoLocation::Local(base.join(path)))
    }

    /// Opens the store (for S3: connects and probes conditional writes).
    pub async fn connect(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            RepoLocation::Local(p) => Arc::new(LocalStore::new(p)),
            RepoLocation::S3(l) => Arc::new(S3Store::connect(l.clone()).await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let base = Path::new("/etc/doppel");
        assert_eq!(
            RepoLocation::parse("repo", base).unwrap(),
            RepoLocation::Local("/etc/doppel/repo".into())
        );
        assert_eq!(
            RepoLocation::parse("file:///var/r", base).unwrap(),
            RepoLocation::Local("/var/r".into())
        );
        assert_eq!(
            RepoLocation::parse(
                "s3://b/p/q/?endpoint=http%3A%2F%2F127.0.0.1%3A8333&region=eu-west-1&path_style=true",
                base
            )
            .unwrap(),
            RepoLocation::S3(S3Location {
                bucket: "b".into(),
                prefix: "p/q".into(),
                endpoint: Some("http://127.0.0.1:8333".into()),
                region: Some("eu-west-1".into()),
                path_style: true,
            })
        );
        for (bad, says) in [
            ("s3:///p", "no bucket"),
            ("s3://b?colour=red", "unknown option 'colour'"),
            ("s3://b?path_style=maybe", "true or false"),
            ("gs://b", "unsupported scheme"),
            ("", "empty"),
        ] {
            let err = RepoLocation::parse(bad, base).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
