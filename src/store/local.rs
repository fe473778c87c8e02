//! The repository as a folder on local disk.
//!
//! Writes go to a temporary file in `tmp/` that is renamed into place, so a reader never sees
//! half an object; `put_new` hard-links instead of renaming, which fails when the name is
//! taken: an atomic create-if-absent.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Store, StoreError};

/// A repository folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`; the folder is created on first write.
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

fn backend(op: &'static str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        op,
        key: key.to_string(),
        message: e.to_string(),
    }
}

/// Writes `data` to a fresh temporary file under `root/tmp`, flushed to disk.
fn write_temp(root: &Path, key: &str, data: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
    let tmp_dir = root.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| backend("write", key, e))?;
    let mut f = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| backend("write", key, e))?;
    f.write_all(data).map_err(|e| backend("write", key, e))?;
    f.as_file()
        .sync_data()
        .map_err(|e| backend("write", key, e))?;
    Ok(f)
}

fn ensure_parent(path: &Path, key: &str) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| backend("write", key, e))?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| backend("run", "blocking task", e))?
}

#[async_trait]
impl Store for LocalStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = self.path(key);
        let key = key.to_string();
        blocking(move || match std::fs::read(&path) {
            Ok(v) => Ok(Bytes::from(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound(key)),
            Err(e) => Err(backend("read", &key, e)),
        })
        .await
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Bytes, StoreError> {
        let Some(n) = len else {
            let all = self.get(key).await?;
            return super::slice_range(key, all, start, None);
        };
        let path = self.path(key);
        let key = key.to_string();
        blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound(key))
                }
                Err(e) => return Err(backend("read", &key, e)),
            };
            let mut buf = vec![0u8; n as usize];
            f.seek(SeekFrom::Start(start))
                .and_then(|_| f.read_exact(&mut buf))
                .map_err(|e| backend("read", &key, format!("bytes {start}..{}: {e}", start + n)))?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let (root, path, key) = (self.root.clone(), self.path(key), key.to_string());
        blocking(move || {
            let tmp = write_temp(&root, &key, &data)?;
            ensure_parent(&path, &key)?;
            tmp.persist(&path)
                .map_err(|e| backend("write", &key, e.error))?;
            Ok(())
        })
        .await
    }

    async fn put_new(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let (root, path, key) = (self.root.clone(), self.path(key), key.to_string());
        blocking(move || {
            let tmp = write_temp(&root, &key, &data)?;
            ensure_parent(&path, &key)?;
            match std::fs::hard_link(tmp.path(), &path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(StoreError::AlreadyExists(key))
                }
                Err(e) => Err(backend("write", &key, e)),
            }
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let (path, key) = (self.path(key), key.to_string());
        blocking(move || path.try_exists().map_err(|e| backend("stat", &key, e))).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking(move || {
            // Walk only the folder the prefix names; keys are relative, '/'-separated paths.
            let dir_part = prefix.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let mut out = Vec::new();
            let mut stack = vec![root.join(dir_part)];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(backend("list", &prefix, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| backend("list", &prefix, e))?;
                    let path = entry.path();
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    if entry
                        .file_type()
                        .map_err(|e| backend("list", &prefix, e))?
                        .is_dir()
                    {
                        if rel != "tmp" {
                            stack.push(path);
                        }
                    } else if rel.starts_with(&prefix) {
                        out.push(rel);
                    }
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (path, key) = (self.path(key), key.to_string());
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(backend("delete", &key, e)),
        })
        .await
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}
