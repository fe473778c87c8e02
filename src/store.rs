//! Where repository objects live, behind one small trait: the local folder (the embedded
//! default), an S3 bucket, and an in-memory store for tests; wrappers (encryption, fault
//! injection) implement the same trait. Keys are `/`-separated relative paths such as
//! `packs/ab/abcdef…` or `snapshots/<id>.json`.

pub mod faulty;
pub mod local;
pub mod location;
pub mod memory;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;

pub use local::LocalStore;
pub use location::RepoLocation;
pub use memory::MemoryStore;
pub use s3::{S3Location, S3Store};

/// Failures of a store operation, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("object {0} not found")]
    NotFound(String),
    /// `put_new` found the key taken.
    #[error("object {0} already exists")]
    AlreadyExists(String),
    /// The backend failed.
    #[error("{op} {key}: {message}")]
    Backend {
        /// What we were doing (read, write, list, delete).
        op: &'static str,
        /// The object or prefix.
        key: String,
        /// The backend's own words.
        message: String,
    },
}

/// A flat key → bytes store with one atomic create-if-absent, the repository's commit point.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Reads a whole object.
    async fn get(&self, key: &str) -> Result<Bytes, StoreError>;
    /// Reads `len` bytes from `start` (to the end when `len` is `None`); reading past the end
    /// is an error, so that a truncated object is never taken for a whole one.
    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Bytes, StoreError> {
        let all = self.get(key).await?;
        slice_range(key, all, start, len)
    }
    /// Writes an object atomically, replacing any previous one (readers see old or new, whole).
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError>;
    /// Writes an object atomically only if the key is free; otherwise `AlreadyExists`.
    async fn put_new(&self, key: &str, data: Bytes) -> Result<(), StoreError>;
    /// Whether an object exists.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Every key starting with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Removes an object; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Where this store is, for messages.
    fn location(&self) -> String;
}

/// `start..start+len` of a whole object, or an error naming the object when it is shorter.
pub fn slice_range(
    key: &str,
    all: Bytes,
    start: u64,
    len: Option<u64>,
) -> Result<Bytes, StoreError> {
    let size = all.len() as u64;
    let end = match len {
        Some(n) => start.saturating_add(n),
        None => size.max(start),
    };
    if end > size {
        return Err(StoreError::Backend {
            op: "read",
            key: key.to_string(),
            message: format!("asked for bytes {start}..{end} of an object of {size} bytes"),
        });
    }
    Ok(all.slice(start as usize..end as usize))
}

/// Writes a probe object twice with `put_new`; the second write must be refused. A store that
/// overwrites instead (an S3-compatible server ignoring `If-None-Match: *`) would let two
/// writers clobber each other's snapshots and locks, so it is refused with that reason.
pub async fn check_conditional_writes(store: &dyn Store) -> Result<(), StoreError> {
    let key = format!("probe/{}", hex::encode(rand::random::<[u8; 8]>()));
    store.put_new(&key, Bytes::from_static(b"first")).await?;
    let second = store.put_new(&key, Bytes::from_static(b"second")).await;
    let _ = store.delete(&key).await;
    match second {
        Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
        Ok(()) => Err(StoreError::Backend {
            op: "open",
            key: store.location(),
            message: "this store ignores `If-None-Match: *` (a conditional PUT overwrote an \
                      existing object), so two writers could overwrite each other's snapshots \
                      and locks: use a store that supports conditional writes"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose `put_new` overwrites, like a server that ignores the condition.
    #[derive(Debug, Default)]
    struct Careless(MemoryStore);

    #[async_trait]
    impl Store for Careless {
        async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
            self.0.get(key).await
        }
        async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
            self.0.put(key, data).await
        }
        async fn put_new(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
            self.0.put(key, data).await
        }
        async fn exists(&self, key: &str) -> Result<bool, StoreError> {
            self.0.exists(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.0.list(prefix).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.0.delete(key).await
        }
        fn location(&self) -> String {
            "careless".into()
        }
    }

    #[tokio::test]
    async fn a_store_ignoring_conditional_writes_is_refused() {
        check_conditional_writes(&MemoryStore::new()).await.unwrap();
        let err = check_conditional_writes(&Careless::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("ignores `If-None-Match: *`"), "{err}");
        // The probe leaves nothing behind.
        let honest = MemoryStore::new();
        check_conditional_writes(&honest).await.unwrap();
        assert!(honest.list("").await.unwrap().is_empty());
    }
}
