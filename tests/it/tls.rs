//! TLS as managed databases demand it: a server that accepts only TLS connections, reached
//! with `sslmode=require` and `sslmode=verify-full` (by the snapshot's own connections and by
//! pg_dump), and a certificate that cannot be verified refused.

use crate::common::*;
use doppel::pg::cluster::{Cluster, ClusterOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A self-signed certificate for 127.0.0.1, readable by the server's user.
fn make_certificate(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        status.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("cert.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    // The server refuses a key it does not own; as root it runs as the service user.
    let uid = Command::new("id")
        .args(["-u", doppel::pg::cluster::SERVICE_USER])
        .output()
        .unwrap();
    if is_root() && uid.status.success() {
        let uid: u32 = String::from_utf8_lossy(&uid.stdout).trim().parse().unwrap();
        std::os::unix::fs::chown(dir.join("key.pem"), Some(uid), None).unwrap();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

#[test]
fn snapshots_over_tls_only_connections() {
    // The service user must exist before we hand it the key: starting any cluster creates it.
    source();
    let certs = tempfile::Builder::new()
        .prefix("doppel-tls")
        .tempdir_in("/tmp")
        .unwrap();
    make_certificate(certs.path());
    let cert = certs.path().join("cert.pem");
    let cluster = Cluster::start(ClusterOptions {
        extra_conf: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), cert.display().to_string()),
            (
                "ssl_key_file".into(),
                certs.path().join("key.pem").display().to_string(),
            ),
        ],
        ..Default::default()
    })
    .expect("start a TLS cluster");
    cluster.create_database("tls_src").unwrap();
    cluster
        .psql(
            "tls_src",
            "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g",
        )
        .unwrap();
    // Only TLS from now on.
    std::fs::write(
        cluster.data_dir().join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    cluster.psql("postgres", "SELECT pg_reload_conf()").unwrap();

    let mut ws = Workspace::with_source("unused");
    let base = format!(
        "postgresql://postgres:{}@127.0.0.1:{}/tls_src",
        cluster.password(),
        cluster.port()
    );

    ws.set("PROD_URL", &format!("{base}?sslmode=disable"));
    let err = ws.fails(&["snapshot"]);
    assert!(
        err.contains("no pg_hba.conf entry") || err.contains("cannot connect"),
        "{err}"
    );

    ws.set("PROD_URL", &format!("{base}?sslmode=require"));
    ws.snapshot();

    ws.set(
        "PROD_URL",
        &format!("{base}?sslmode=verify-full&sslrootcert={}", cert.display()),
    );
    let id = ws.snapshot();
    assert_eq!(ws.manifest(&id)["tables"][0]["rows"], 1000);

    ws.set("PROD_URL", &format!("{base}?sslmode=verify-full"));
    let out = ws.run(&["snapshot"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot connect"),
        "an unverifiable certificate was accepted: {err}"
    );
    for s in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(s).contains(cluster.password()));
    }
}
