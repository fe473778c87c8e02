//! One behaviour suite for every store: local folder, memory, S3 (a real SeaweedFS), and the
//! fault-injecting wrapper with no faults set. What the repository relies on is asserted
//! here once, so that a new backend is proven by adding one line.

use std::sync::Arc;

use bytes::Bytes;
use doppel::store::faulty::{Faults, FaultyStore};
use doppel::store::{LocalStore, MemoryStore, Store, StoreError};
use futures::StreamExt;

use crate::common::unique;
use crate::seaweed::server;

async fn behaves(store: &dyn Store) {
    let name = store.location();
    assert!(
        matches!(store.get("a/x").await, Err(StoreError::NotFound(_))),
        "{name}: missing object"
    );
    assert!(matches!(
        store.get_range("a/x", 0, Some(1)).await,
        Err(StoreError::NotFound(_))
    ));
    store.put("a/x", Bytes::from_static(b"1")).await.unwrap();
    store.put("a/x", Bytes::from_static(b"2")).await.unwrap();
    assert_eq!(
        store.get("a/x").await.unwrap(),
        Bytes::from_static(b"2"),
        "{name}: overwrite"
    );
    store
        .put_new("b/y", Bytes::from_static(b"y"))
        .await
        .unwrap();
    assert!(
        matches!(
            store.put_new("b/y", Bytes::from_static(b"z")).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "{name}: put_new must refuse a taken key"
    );
    assert_eq!(store.get("b/y").await.unwrap(), Bytes::from_static(b"y"));
    store.put("a/sub/z", Bytes::new()).await.unwrap();
    assert_eq!(
        store.get("a/sub/z").await.unwrap(),
        Bytes::new(),
        "{name}: empty object"
    );
    assert_eq!(store.list("a/").await.unwrap(), vec!["a/sub/z", "a/x"]);
    assert!(store.exists("a/x").await.unwrap());
    store.delete("a/x").await.unwrap();
    store.delete("a/x").await.unwrap();
    assert!(!store.exists("a/x").await.unwrap());
    assert_eq!(store.list("").await.unwrap(), vec!["a/sub/z", "b/y"]);

    // Ranged reads, and a read past the end is an error, not a short answer.
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    store.put("r/obj", Bytes::from(body.clone())).await.unwrap();
    assert_eq!(
        store.get_range("r/obj", 1000, Some(300)).await.unwrap(),
        Bytes::from(body[1000..1300].to_vec()),
        "{name}: range"
    );
    assert_eq!(
        store.get_range("r/obj", 99_000, None).await.unwrap().len(),
        1000,
        "{name}: open range"
    );
    assert!(
        store.get_range("r/obj", 99_990, Some(20)).await.is_err(),
        "{name}: a range past the end must fail"
    );

    // Larger than one request can carry in S3 (multipart), byte for byte.
    let big: Vec<u8> = (0..34 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    store
        .put("big/one", Bytes::from(big.clone()))
        .await
        .unwrap();
    assert!(
        store.get("big/one").await.unwrap() == big,
        "{name}: large object"
    );

    // Listing beyond one page (S3 returns 1000 keys a page).
    let keys: Vec<String> = (0..1100).map(|i| format!("many/{i:05}")).collect();
    futures::stream::iter(keys.iter())
        .for_each_concurrent(32, |k| async move {
            store.put(k, Bytes::from_static(b".")).await.unwrap();
        })
        .await;
    assert_eq!(
        store.list("many/").await.unwrap(),
        keys,
        "{name}: paginated list"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_store_behaves_alike() {
    let dir = tempfile::tempdir().unwrap();
    behaves(&LocalStore::new(dir.path().join("repo"))).await;
    behaves(&MemoryStore::new()).await;
    let s3 = server().store(&unique("behaves")).await.unwrap();
    behaves(&s3).await;
    let wrapped = FaultyStore::new(Arc::new(MemoryStore::new()), Faults::default());
    behaves(&wrapped).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_refuses_a_missing_bucket_and_wrong_credentials_clearly() {
    let srv = server();
    let mut loc = srv.location("x");
    loc.bucket = "no-such-bucket-here".into();
    let err = doppel::store::S3Store::connect(loc)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-bucket-here") && err.contains("does not exist"),
        "{err}"
    );
}
