//! Where repository objects live, behind one small trait: the local folder (the embedded
//! default) and an in-memory store for tests. Keys are `/`-separated relative paths such as
//! `chunks/ab/abcdef…` or `snapshots/<id>.json`.

pub mod local;
pub mod memory;

use async_trait::async_trait;
use bytes::Bytes;

pub use local::LocalStore;
pub use memory::MemoryStore;

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
