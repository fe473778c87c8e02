//! The repository in an S3 bucket (AWS or any S3-compatible store), through aws-sdk-s3.
//!
//! Credentials come from the standard AWS chain (environment, profile, instance role); the
//! endpoint, region and addressing style from the repository URL or config. Requests are
//! retried with backoff by the SDK (throttling, 5xx, network errors) and capped in number
//! in flight. Objects larger than [`MULTIPART_THRESHOLD`] go up in parts, side by side.
//!
//! `put_new` is a PUT with `If-None-Match: *`. Some S3-compatible stores ignore that header
//! and overwrite silently, which would let two snapshots or two locks clobber each other, so
//! [`S3Store::connect`] probes it and refuses a store that does not honour it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use super::{Store, StoreError};

/// Objects above this size are uploaded in parts (a pack, about 16 MiB, goes in one PUT).
pub const MULTIPART_THRESHOLD: usize = 32 * 1024 * 1024;
/// Size of each part of a multipart upload (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Requests in flight at once per store, whatever the number of workers.
const MAX_IN_FLIGHT: usize = 16;
/// Attempts per request, the first included, before an error is reported.
const MAX_ATTEMPTS: u32 = 6;

/// Where a repository lives in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// Endpoint URL for S3-compatible stores; the AWS default when unset.
    pub endpoint: Option<String>,
    /// Region; from the AWS chain when unset, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need.
    pub path_style: bool,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        if let Some(e) = &self.endpoint {
            write!(f, " at {e}")?;
        }
        Ok(())
    }
}

/// A repository in a bucket.
pub struct S3Store {
    client: Client,
    location: S3Location,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.location)
    }
}

fn backend<E>(op: &'static str, key: &str, e: &SdkError<E>) -> StoreError
where
    E: std::error::Error + 'static,
{
    StoreError::Backend {
        op,
        key: key.to_string(),
        message: DisplayErrorContext(e).to_string(),
    }
}

fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Store {
    /// Connects, checks that the bucket answers and that `If-None-Match: *` is honoured.
    pub async fn connect(location: S3Location) -> Result<S3Store, StoreError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &location.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(location.path_style)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(300))
                    .build(),
            );
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &location.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let store = S3Store {
            client: Client::from_conf(builder.build()),
            location,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        };
        store.check_bucket().await?;
        super::check_conditional_writes(&store).await?;
        Ok(store)
    }

    fn full_key(&self, key: &str) -> String {
        if self.location.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.location.prefix)
        }
    }

    async fn permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        // The semaphore is never closed.
        self.permits.acquire().await.expect("semaphore open")
    }

    async fn check_bucket(&self) -> Result<(), StoreError> {
        let _p = self.permit().await;
        match self
            .client
            .head_bucket()
            .bucket(&self.location.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Err(StoreError::Backend {
                op: "open",
                key: self.location.bucket.clone(),
                message: format!(
                    "bucket '{}' does not exist: create it first (doppel does not create buckets, \
                     so that a mistyped name fails here instead of starting a new repository)",
                    self.location.bucket
                ),
            }),
            Err(e) if matches!(status(&e), Some(401 | 403)) => Err(StoreError::Backend {
                op: "open",
                key: self.location.bucket.clone(),
                message: format!(
                    "access denied to bucket '{}' (HTTP {}): check the credentials in the AWS \
                     chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket policy",
                    self.location.bucket,
                    status(&e).unwrap_or(403)
                ),
            }),
            Err(e) => Err(backend("open", &self.location.bucket, &e)),
        }
    }

    async fn put_multipart(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let full = self.full_key(key);
        let upload = {
            let _p = self.permit().await;
            self.client
                .create_multipart_upload()
                .bucket(&self.location.bucket)
                .key(&full)
                .send()
                .await
                .map_err(|e| backend("write", key, &e))?
        };
        let Some(upload_id) = upload.upload_id().map(str::to_string) else {
            return Err(StoreError::Backend {
                op: "write",
                key: key.to_string(),
                message: "the store started a multipart upload without an id".into(),
            });
        };
        let pieces: Vec<(i32, Bytes)> = (0..data.len().div_ceil(PART_SIZE))
            .map(|i| {
                let end = ((i + 1) * PART_SIZE).min(data.len());
                (i as i32 + 1, data.slice(i * PART_SIZE..end))
            })
            .collect();
        let parts = futures::stream::iter(pieces)
            .map(|(number, body)| {
                let (full, upload_id) = (&full, &upload_id);
                async move {
                    let _p = self.permit().await;
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.location.bucket)
                        .key(full)
                        .upload_id(upload_id)
                        .part_number(number)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .map_err(|e| backend("write", key, &e))?;
                    Ok::<_, StoreError>(
                        CompletedPart::builder()
                            .set_e_tag(out.e_tag().map(str::to_string))
                            .part_number(number)
                            .build(),
                    )
                }
            })
            .buffered(4)
            .try_collect::<Vec<_>>()
            .await;
        let completed = match parts {
            Ok(parts) => {
                let _p = self.permit().await;
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.location.bucket)
                    .key(&full)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| backend("write", key, &e))
            }
            Err(e) => Err(e),
        };
        if completed.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.location.bucket)
                .key(&full)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        completed
    }
}

#[async_trait]
impl Store for S3Store {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.get_range(key, 0, None).await
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Bytes, StoreError> {
        let _p = self.permit().await;
        let mut req = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key));
        match len {
            Some(0) => return Ok(Bytes::new()),
            Some(n) => req = req.range(format!("bytes={start}-{}", start + n - 1)),
            None if start > 0 => req = req.range(format!("bytes={start}-")),
            None => {}
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(StoreError::NotFound(key.to_string()))
            }
            Err(e) if status(&e) == Some(404) => return Err(StoreError::NotFound(key.to_string())),
            Err(e) => return Err(backend("read", key, &e)),
        };
        let body = out.body.collect().await.map_err(|e| StoreError::Backend {
            op: "read",
            key: key.to_string(),
            message: e.to_string(),
        })?;
        let body = body.into_bytes();
        if let Some(n) = len {
            if body.len() as u64 != n {
                return Err(StoreError::Backend {
                    op: "read",
                    key: key.to_string(),
                    message: format!("asked for {n} bytes at {start}, got {}", body.len()),
                });
            }
        }
        Ok(body)
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        if data.len() > MULTIPART_THRESHOLD {
            return self.put_multipart(key, data).await;
        }
        let _p = self.permit().await;
        self.client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .body(ByteStream::from(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("write", key, &e))
    }

    async fn put_new(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let _p = self.permit().await;
        match self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .if_none_match("*")
            .body(ByteStream::from(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // 409: a concurrent conditional write to the same key won the race.
            Err(e) if matches!(status(&e), Some(412 | 409)) => {
                Err(StoreError::AlreadyExists(key.to_string()))
            }
            Err(e) if e.code() == Some("PreconditionFailed") => {
                Err(StoreError::AlreadyExists(key.to_string()))
            }
            Err(e) => Err(backend("write", key, &e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let _p = self.permit().await;
        match self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(backend("stat", key, &e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = self.full_key(prefix);
        let strip = self.full_key("");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = {
            let _p = self.permit().await;
            pages.next().await
        } {
            let page = page.map_err(|e| backend("list", prefix, &e))?;
            for object in page.contents() {
                if let Some(k) = object.key().and_then(|k| k.strip_prefix(&strip)) {
                    out.push(k.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let _p = self.permit().await;
        self.client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("delete", key, &e))
    }

    fn location(&self) -> String {
        self.location.to_string()
    }
}
