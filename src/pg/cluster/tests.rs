use std::process::{Output, Stdio};
use std::thread;

use super::server::START_ATTEMPTS;
use super::*;

fn start() -> Cluster {
    Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| {
        panic!("cannot start a throwaway PostgreSQL cluster: {e}");
    })
}

fn psql_raw(cluster: &Cluster, sql: &str, password: Option<&str>) -> Output {
    let mut cmd = cluster.client_command("psql");
    cmd.args(["-X", "-w", "-tAc", sql]).stdin(Stdio::null());
    match password {
        Some(pw) => cmd.env("PGPASSWORD", pw),
        None => cmd.env_remove("PGPASSWORD"),
    };
    cmd.output().expect("run psql")
}

#[test]
fn starts_and_answers_psql_over_tcp() {
    let cluster = start();
    let out = psql_raw(&cluster, "select 1", Some(cluster.password()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    assert_eq!(cluster.host(), "127.0.0.1");
    assert_eq!(cluster.superuser(), "postgres");
    assert_ne!(cluster.port(), 5432);
    assert_eq!(
        cluster.psql("postgres", "show server_encoding").unwrap(),
        "UTF8"
    );
    assert_eq!(
        cluster
            .psql(
                "template1",
                "select pg_encoding_to_char(encoding) from pg_database where datname = 'template0'"
            )
            .unwrap(),
        "UTF8"
    );
    assert_eq!(
        cluster.psql("postgres", "show listen_addresses").unwrap(),
        "127.0.0.1"
    );
    assert_eq!(cluster.psql("postgres", "show fsync").unwrap(), "off");
    assert_eq!(
        cluster.psql("postgres", "show wal_level").unwrap(),
        "minimal"
    );
    assert_eq!(
        cluster
            .psql("postgres", "show unix_socket_directories")
            .unwrap(),
        cluster.data_dir().to_string_lossy()
    );

    cluster.create_database("per test \"db\"").unwrap();
    assert_eq!(
        cluster
            .psql("per test \"db\"", "select current_database()")
            .unwrap(),
        "per test \"db\""
    );
    assert!(cluster
        .url("a b")
        .ends_with(&format!("@127.0.0.1:{}/a%20b", cluster.port())));
    assert_eq!(
        cluster.url("postgres"),
        format!(
            "postgresql://postgres:{}@127.0.0.1:{}/postgres",
            cluster.password(),
            cluster.port()
        )
    );
    let env = cluster.libpq_env();
    for key in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] {
        assert!(env.iter().any(|(k, _)| k == key), "{key} missing");
    }
}

#[test]
fn password_is_enforced_over_tcp() {
    let cluster = start();
    let wrong = psql_raw(&cluster, "select 1", Some("not-the-password"));
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );

    let none = psql_raw(&cluster, "select 1", None);
    assert!(!none.status.success());
}

#[test]
fn two_clusters_run_at_once_with_different_identities() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(start);
        let b = s.spawn(start);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    let id = |c: &Cluster| {
        c.psql(
            "postgres",
            "select system_identifier from pg_control_system()",
        )
        .unwrap()
    };
    let (ida, idb) = (id(&a), id(&b));
    assert!(!ida.is_empty() && ida.parse::<u64>().is_ok(), "{ida:?}");
    assert_ne!(ida, idb);
    // Each password works only on its own cluster.
    assert!(!psql_raw(&a, "select 1", Some(b.password()))
        .status
        .success());
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn stop_removes_the_data_dir_and_frees_the_port() {
    let cluster = start();
    let data = cluster.data_dir().to_path_buf();
    let root = data.parent().unwrap().to_path_buf();
    let port = cluster.port();
    assert!(data.join("PG_VERSION").is_file());
    cluster.stop().unwrap();
    assert!(!data.exists());
    assert!(!root.exists());
    assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}

#[test]
fn drop_removes_the_data_dir() {
    let cluster = start();
    let root = cluster.data_dir().parent().unwrap().to_path_buf();
    drop(cluster);
    assert!(!root.exists());
}

#[test]
fn debug_and_errors_never_show_the_password() {
    let cluster = start();
    let debug = format!("{cluster:?}");
    assert!(!debug.contains(cluster.password()), "{debug}");
    assert!(debug.contains(&cluster.port().to_string()));
    assert_eq!(cluster.password().len(), PASSWORD_LEN);

    let bad = cluster.psql("postgres", &format!("select '{}'::int", cluster.password()));
    let msg = bad.unwrap_err().to_string();
    assert!(!msg.contains(cluster.password()), "{msg}");
}

#[test]
fn extra_conf_is_applied_and_validated() {
    let cluster = Cluster::start(ClusterOptions {
        extra_conf: vec![
            ("work_mem".into(), "7MB".into()),
            ("cluster_name".into(), "it's \\ quoted".into()),
        ],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.psql("postgres", "show work_mem").unwrap(), "7MB");
    assert_eq!(
        cluster.psql("postgres", "show cluster_name").unwrap(),
        "it's \\ quoted"
    );

    for (name, value) in [
        ("work_mem = 1\nfsync", "on"),
        ("Port", "5432"),
        ("work_mem", "1\n"),
    ] {
        let err = Cluster::start(ClusterOptions {
            extra_conf: vec![(name.into(), value.into())],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ClusterError::InvalidSetting { .. }), "{err}");
    }
}

#[test]
fn retries_on_a_new_port_when_the_port_is_taken() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let mut handed_out = Vec::new();
    let mut picker = || {
        let port = if handed_out.is_empty() {
            taken_port
        } else {
            free_port()?
        };
        handed_out.push(port);
        Ok(port)
    };
    let cluster = Cluster::start_with_ports(ClusterOptions::default(), &mut picker)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handed_out.len(), 2, "{handed_out:?}");
    assert_eq!(cluster.port(), handed_out[1]);
    assert_eq!(cluster.psql("postgres", "select 1").unwrap(), "1");
    drop(taken);
}

#[test]
fn gives_up_after_a_few_taken_ports_with_the_log() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Cluster::start_with_ports(ClusterOptions::default(), &mut || Ok(port)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ClusterError::Start {
                attempts: START_ATTEMPTS,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("Address already in use"), "{msg}");
}

#[test]
fn an_incomplete_bin_dir_is_refused_with_install_advice() {
    let empty = tempfile::tempdir().unwrap();
    let err = Cluster::start(ClusterOptions {
        bin_dir: Some(empty.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, ClusterError::IncompleteBinDir { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("apt-get install postgresql"),
        "{err}"
    );
}

#[test]
fn a_bad_setting_fails_start_with_the_server_log() {
    let err = Cluster::start(ClusterOptions {
        extra_conf: vec![("no_such_setting_xyz".into(), "1".into())],
        ..Default::default()
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ClusterError::Start { .. }), "{msg}");
    assert!(msg.contains("no_such_setting_xyz"), "{msg}");
}

#[test]
fn cluster_can_live_in_a_static() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cluster>();
}
