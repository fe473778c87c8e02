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

/// A TCP proxy in front of the S3 server that answers the first `throttled` connections with
/// `503 SlowDown` (as S3 does under load) and pipes every later one through untouched.
async fn throttling_proxy(
    upstream: u16,
    throttled: usize,
) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            if counter.load(Ordering::SeqCst) < throttled {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 65536];
                    let _ = client.read(&mut buf).await;
                    let body =
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                                <Message>Please reduce your request rate.</Message></Error>";
                    let reply = format!(
                        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(reply.as_bytes()).await;
                    let _ = client.shutdown().await;
                });
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut server) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (port, refused)
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_requests_are_retried_with_backoff_when_throttled() {
    let srv = server();
    let (port, refused) = throttling_proxy(srv.s3_port, 3).await;
    let mut loc = srv.location(&unique("throttled"));
    loc.endpoint = Some(format!("http://127.0.0.1:{port}"));
    // Opening the store makes requests; the first three are throttled and retried.
    let store = doppel::store::S3Store::connect(loc.clone()).await.unwrap();
    store.put("k", Bytes::from_static(b"v")).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"v"));
    assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Throttled for good: the error says so after the retries, it does not hang.
    let (port, refused) = throttling_proxy(srv.s3_port, usize::MAX).await;
    loc.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let err = doppel::store::S3Store::connect(loc)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("503") || err.contains("SlowDown"), "{err}");
    let attempts = refused.load(std::sync::atomic::Ordering::SeqCst);
    assert!(attempts >= 3, "only {attempts} attempts before giving up");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
