//! A store wrapper that breaks on purpose: it fails writes after a budget, truncates or flips
//! a byte in what it stores. The fault tests run real snapshots and restores through it to
//! show that every failure is reported and none leaves data that looks complete.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Store, StoreError};

/// What goes wrong, and on which keys (by prefix).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Writes (put and put_new) allowed before every further write fails; `None`: no limit.
    pub writes_before_failure: Option<i64>,
    /// Objects whose keys start with this prefix are stored cut to half their length.
    pub truncate_prefix: Option<String>,
    /// Objects whose keys start with this prefix are stored with their middle byte flipped.
    pub flip_prefix: Option<String>,
}

/// `inner`, with [`Faults`] applied to writes.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Faults,
    writes_left: AtomicI64,
    damaged: Mutex<Vec<String>>,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, faults: Faults) -> FaultyStore {
        FaultyStore {
            inner,
            writes_left: AtomicI64::new(faults.writes_before_failure.unwrap_or(i64::MAX)),
            faults,
            damaged: Mutex::new(Vec::new()),
        }
    }

    /// Keys of the objects stored damaged so far.
    pub fn damaged(&self) -> Vec<String> {
        self.damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn before_write(&self, key: &str, data: Bytes) -> Result<Bytes, StoreError> {
        if self.writes_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(StoreError::Backend {
                op: "write",
                key: key.to_string(),
                message: "injected failure".into(),
            });
        }
        let hit = |p: &Option<String>| p.as_deref().is_some_and(|p| key.starts_with(p));
        let out = if hit(&self.faults.truncate_prefix) && !data.is_empty() {
            data.slice(..data.len() / 2)
        } else if hit(&self.faults.flip_prefix) && !data.is_empty() {
            let mut v = data.to_vec();
            let mid = v.len() / 2;
            v[mid] ^= 0x01;
            Bytes::from(v)
        } else {
            return Ok(data);
        };
        self.damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(key.to_string());
        Ok(out)
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.inner.get(key).await
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Bytes, StoreError> {
        self.inner.get_range(key, start, len).await
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let data = self.before_write(key, data)?;
        self.inner.put(key, data).await
    }

    async fn put_new(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let data = self.before_write(key, data)?;
        self.inner.put_new(key, data).await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}
