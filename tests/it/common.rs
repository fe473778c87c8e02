//! Shared test harness: two throwaway clusters per test binary (a "production" source and a
//! "staging" target with another identity), a fresh database per test, a workspace with its
//! own config and repository, and the `doppel` binary run the way a user runs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use doppel::pg::cluster::{Cluster, ClusterOptions};

static SOURCE: OnceLock<Cluster> = OnceLock::new();
static TARGET: OnceLock<Cluster> = OnceLock::new();
static LOGICAL: OnceLock<Cluster> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn start() -> Cluster {
    start_with(ClusterOptions::default())
}

fn start_with(options: ClusterOptions) -> Cluster {
    Cluster::start(options).unwrap_or_else(|e| {
        panic!("cannot start a PostgreSQL test cluster: {e}\nInstall the server (apt-get install postgresql) or set DOPPEL_PG_BIN to its bin folder.")
    })
}

/// The source cluster ("production").
pub fn source() -> &'static Cluster {
    SOURCE.get_or_init(start)
}

/// The target cluster ("staging"): another server, another system_identifier.
pub fn target() -> &'static Cluster {
    TARGET.get_or_init(start)
}

/// A "production" cluster that can hold a change archive: `wal_level = logical`, with WAL
/// senders, replication slots and prepared transactions to spare.
pub fn logical() -> &'static Cluster {
    LOGICAL.get_or_init(|| {
        let setting = |name: &str, value: &str| (name.to_string(), value.to_string());
        start_with(ClusterOptions {
            extra_conf: vec![
                setting("wal_level", "logical"),
                setting("max_wal_senders", "4"),
                setting("max_replication_slots", "8"),
                // Two-phase commits are archived when they commit.
                setting("max_prepared_transactions", "4"),
            ],
            ..ClusterOptions::default()
        })
    })
}

/// GET `path` from `addr` over plain HTTP/1.1: the status line, headers and body; `None`
/// while nothing listens there.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Runs the scheduler `config` describes, as `doppel schedule run` builds it, on a simulated
/// clock from `from` to `until`; returns its metrics.
pub async fn simulated_daemon(
    config: &doppel::config::Config,
    from: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> std::sync::Arc<doppel::schedule::Metrics> {
    use doppel::schedule::run as schedule;
    use std::sync::Arc;
    let repo = Arc::new(config.repo.open_or_init().await.unwrap());
    let metrics = Arc::new(doppel::schedule::Metrics::new(from));
    let daemon = schedule::daemon(
        config,
        schedule::plan(config, Some(1)).unwrap(),
        repo,
        Arc::new(doppel::schedule::SimulatedClock::new(from)),
        metrics.clone(),
    );
    daemon
        .run(std::future::pending(), Some(until))
        .await
        .unwrap();
    metrics
}

/// The server's clock now, in UTC, as RFC 3339 with microseconds (what `--at` takes).
pub fn server_clock(pg: &Cluster, db: &str) -> String {
    psql(
        pg,
        db,
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .trim()
    .to_string()
}

/// A unique database name for this test.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a fresh database on `cluster` and returns its name.
pub fn fresh_db(cluster: &Cluster, prefix: &str) -> String {
    let name = unique(prefix);
    cluster
        .create_database(&name)
        .expect("create test database");
    name
}

/// Runs SQL with psql, panicking with the error.
pub fn psql(cluster: &Cluster, db: &str, sql: &str) -> String {
    cluster
        .psql(db, sql)
        .unwrap_or_else(|e| panic!("psql failed: {e}\nSQL: {sql}"))
}

/// Loads a SQL file with psql (ON_ERROR_STOP).
pub fn load_file(cluster: &Cluster, db: &str, file: &Path) {
    let out = cluster
        .client_command("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file)
        .env("PGDATABASE", db)
        .stdin(Stdio::null())
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "loading {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Our fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The shared datasets folder: `$DOPPEL_DATASETS`, else `../shared/datasets`. Missing is a
/// failure, never a skip.
pub fn datasets() -> PathBuf {
    let dir = match std::env::var_os("DOPPEL_DATASETS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"),
    };
    assert!(
        dir.is_dir(),
        "datasets folder {} is missing: set DOPPEL_DATASETS to the shared datasets folder",
        dir.display()
    );
    dir
}

/// Rows and digest of every table of a manifest, by `schema.name`.
pub fn table_digests(manifest: &serde_json::Value) -> BTreeMap<String, (u64, String)> {
    manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                format!(
                    "{}.{}",
                    t["schema"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ),
                (
                    t["rows"].as_u64().unwrap(),
                    t["digest"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Loads a third-party sample database from `$DOPPEL_DATASETS` into a fresh database.
pub fn load_dataset(name: &str) -> String {
    load_dataset_on(source(), name, source().bin_dir())
}

/// Loads a sample database into a fresh database on `cluster`, with the client programs
/// (psql) of `client_bin` first on the PATH.
pub fn load_dataset_on(cluster: &Cluster, name: &str, client_bin: &Path) -> String {
    let dir = datasets().join(name);
    assert!(
        dir.join("load.sh").is_file(),
        "dataset {name} is missing from {}",
        dir.display()
    );
    let db = unique(name);
    let out = std::process::Command::new("sh")
        .arg(dir.join("load.sh"))
        .arg(&db)
        .envs(cluster.libpq_env())
        .env(
            "PATH",
            format!(
                "{}:{}",
                client_bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run load.sh");
    assert!(
        out.status.success(),
        "loading {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// A folder with a doppel.toml and a repository; URLs reach the config through variables.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub vars: BTreeMap<String, String>,
    /// The client tools doppel is given (`DOPPEL_PG_BIN`); the source cluster's by default.
    pub pg_bin: Option<PathBuf>,
}

/// A workspace whose production environment `env` is `url` with `settings` (TOML lines)
/// added to its section. Slot names are the server's, not the database's: each test that
/// archives changes has its own `env`.
pub fn production_workspace(env: &str, url: &str, settings: &str) -> Workspace {
    let mut ws = Workspace::new(&[(env, "production", "PROD_URL")]);
    ws.set("PROD_URL", url);
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{settings}")).unwrap();
    ws
}

/// Environment `name` in the JSON of `doppel status --json`.
pub fn env_of(status: &serde_json::Value, name: &str) -> serde_json::Value {
    status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .clone()
}

impl Workspace {
    /// What `doppel status --json` says environment `name`'s database says of itself.
    pub fn status_database(&self, name: &str) -> serde_json::Value {
        let status: serde_json::Value =
            serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        env_of(&status, name)["database"].clone()
    }

    /// `doppel changes run` with `extra` arguments, started in the background, its output
    /// discarded.
    pub fn archiver(&self, extra: &[&str]) -> std::process::Child {
        let mut args = vec!["changes", "run"];
        args.extend_from_slice(extra);
        self.command(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start changes run")
    }

    /// A workspace whose config names `envs` (name, role, variable holding the URL).
    pub fn new(envs: &[(&str, &str, &str)]) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut toml = String::from("[repository]\npath = \"repo\"\n");
        for (name, role, var) in envs {
            toml.push_str(&format!(
                "\n[environments.{name}]\nrole = \"{role}\"\nurl = \"${{{var}}}\"\n"
            ));
        }
        std::fs::write(dir.path().join("doppel.toml"), toml).expect("write config");
        Workspace {
            dir,
            vars: BTreeMap::new(),
            pg_bin: None,
        }
    }

    /// A workspace with `prod` (production) pointing at `db` on the source cluster.
    pub fn with_source(db: &str) -> Workspace {
        let mut ws = Workspace::new(&[
            ("prod", "production", "PROD_URL"),
            ("staging", "staging", "STAGING_URL"),
        ]);
        ws.set("PROD_URL", &source().url(db));
        ws
    }

    /// A workspace with `prod` (production) at `prod_db` on the source cluster and `qa` (role
    /// qa) at `qa_db` on the target cluster, whose section also holds `qa_settings` (TOML
    /// lines such as `data = "raw"`).
    pub fn with_qa(prod_db: &str, qa_db: &str, qa_settings: &str) -> Workspace {
        let mut ws = Workspace::new(&[("prod", "production", "PROD_URL"), ("qa", "qa", "QA_URL")]);
        ws.set("PROD_URL", &source().url(prod_db));
        ws.set("QA_URL", &target().url(qa_db));
        let config = ws.dir.path().join("doppel.toml");
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "url = \"${QA_URL}\"\n",
            &format!("url = \"${{QA_URL}}\"\n{qa_settings}"),
        );
        std::fs::write(&config, text).unwrap();
        ws
    }

    /// Replaces the `[repository]` section's body (the default is a local `repo` folder).
    pub fn use_repository(&self, body: &str) {
        let config = self.dir.path().join("doppel.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replacen(
            "[repository]\npath = \"repo\"\n",
            &format!("[repository]\n{body}\n"),
            1,
        );
        std::fs::write(&config, text).unwrap();
    }

    pub fn set(&mut self, var: &str, value: &str) {
        self.vars.insert(var.into(), value.into());
    }

    /// The workspace's config as the library reads it, its variables resolved from
    /// [`Workspace::set`]: for tests that call the commands without the command line.
    pub fn config(&self) -> doppel::config::Config {
        let path = self.dir.path().join("doppel.toml");
        let text = std::fs::read_to_string(&path).expect("read config");
        doppel::config::Config::parse(&path, &text, &|var| self.vars.get(var).cloned())
            .expect("config")
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Runs doppel; every output is checked for the clusters' passwords (invariant 2).
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        let out = cmd.output().expect("run doppel");
        assert_no_secrets(&out);
        out
    }

    /// The prepared command, for tests that manage the process themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_doppel"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("DOPPEL_CONFIG", self.dir.path().join("doppel.toml"))
            .env(
                "DOPPEL_PG_BIN",
                self.pg_bin
                    .clone()
                    .unwrap_or_else(|| source().bin_dir().to_path_buf()),
            )
            .envs(&self.vars)
            .stdin(Stdio::null());
        for k in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
            "PGSSLMODE",
        ] {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Runs doppel and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "doppel {} failed ({}):\nstdout: {}\nstderr: {}",
            redacted(args),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs doppel and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "doppel {} should have failed:\nstdout: {}",
            redacted(args),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Takes a snapshot of `prod` and returns its id.
    pub fn snapshot(&self) -> String {
        let out = self.ok(&["snapshot", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("snapshot json");
        v["id"].as_str().expect("id").to_string()
    }

    /// Restores snapshot `id` into a new database on the target cluster, verified in full;
    /// returns the database's name.
    pub fn restore_verified(&self, id: &str, prefix: &str) -> String {
        let restored = unique(prefix);
        self.ok(&[
            "restore",
            id,
            "--target-url",
            &target().url(&restored),
            "--verify",
            "full",
        ]);
        restored
    }

    /// The manifest of a snapshot, as JSON.
    pub fn manifest(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", id, "--json"]);
        serde_json::from_str(&out).expect("manifest json")
    }

    /// Where a chunk is stored in this (unencrypted) repository, from the pack indexes:
    /// the pack file, the blob's offset and its length.
    pub fn chunk_place(&self, id: &str) -> (PathBuf, u64, u64) {
        for f in self.repo_files("index") {
            let index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            for b in index["blobs"].as_array().unwrap() {
                if b["id"] == id {
                    let pack = index["pack"].as_str().unwrap();
                    return (
                        self.repo().join("packs").join(&pack[..2]).join(pack),
                        b["offset"].as_u64().unwrap(),
                        b["length"].as_u64().unwrap(),
                    );
                }
            }
        }
        panic!("chunk {id} is in no pack index");
    }

    /// Removes a chunk from its pack's index, as if it had never been stored.
    pub fn forget_chunk(&self, id: &str) {
        for f in self.repo_files("index") {
            let mut index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            let blobs = index["blobs"].as_array_mut().unwrap();
            let before = blobs.len();
            blobs.retain(|b| b["id"] != id);
            if blobs.len() != before {
                std::fs::write(&f, index.to_string()).unwrap();
                return;
            }
        }
        panic!("chunk {id} is in no pack index");
    }

    /// Flips one byte in the middle of a chunk's stored blob; returns the pack file.
    pub fn flip_chunk_byte(&self, id: &str) -> PathBuf {
        let (pack, offset, len) = self.chunk_place(id);
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[(offset + len / 2) as usize] ^= 0x40;
        std::fs::write(&pack, &bytes).unwrap();
        pack
    }

    /// Files under the repository folder with the given prefix.
    pub fn repo_files(&self, sub: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.repo().join(sub)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }
}

/// Passwords of the clusters tests started besides the source and the target.
static OTHER_PASSWORDS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Makes [`assert_no_secrets`] and [`redacted`] watch for another cluster's password.
pub fn watch_password(password: &str) {
    OTHER_PASSWORDS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(password.to_string());
}

/// Every password tests know of.
fn passwords() -> Vec<String> {
    let mut all: Vec<String> = [SOURCE.get(), TARGET.get(), LOGICAL.get()]
        .into_iter()
        .flatten()
        .map(|c| c.password().to_string())
        .collect();
    all.extend(
        OTHER_PASSWORDS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned(),
    );
    all
}

/// The arguments as a test failure may print them: cluster passwords (in URLs) masked.
fn redacted(args: &[&str]) -> String {
    let mut text = format!("{args:?}");
    for p in passwords() {
        text = text.replace(&p, "***");
    }
    text
}

/// Fails when a cluster password appears in doppel's output.
pub fn assert_no_secrets(out: &Output) {
    for p in passwords() {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(&p),
                "a password leaked into doppel's output"
            );
        }
    }
}

/// What a user compares after a restore: per-table content digests (FROM ONLY, columns by
/// name, rows sorted by their text), sequence values, matview population, large objects.
/// Written independently of doppel's own digest code.
pub fn database_state(cluster: &Cluster, db: &str) -> BTreeMap<String, String> {
    let tables = psql(
        cluster,
        db,
        "SELECT format('%I.%I', n.nspname, c.relname) || '|' || \
           coalesce(string_agg(format('%I', a.attname), ',' ORDER BY a.attname), '') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
         GROUP BY n.nspname, c.relname ORDER BY 1",
    );
    let mut state = BTreeMap::new();
    for line in tables.lines().filter(|l| !l.is_empty()) {
        let (table, cols) = line.split_once('|').expect("table|cols");
        let populated = psql(
            cluster,
            db,
            &format!("SELECT relispopulated FROM pg_class WHERE oid = '{table}'::regclass"),
        );
        if populated != "t" {
            state.insert(table.to_string(), "unpopulated".into());
            continue;
        }
        let q = format!(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(x, E'\\n' ORDER BY x)), '-') FROM (SELECT ROW({cols})::text AS x FROM ONLY {table}) s"
        );
        state.insert(table.to_string(), psql(cluster, db, &q));
    }
    let seqs = psql(
        cluster,
        db,
        "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1",
    );
    for s in seqs.lines().filter(|l| !l.is_empty()) {
        state.insert(
            format!("sequence {s}"),
            psql(
                cluster,
                db,
                &format!("SELECT last_value || ' ' || is_called FROM {s}"),
            ),
        );
    }
    state.insert(
        "large objects".into(),
        psql(cluster, db, "SELECT coalesce(string_agg(oid || ':' || md5(lo_get(oid)) || ':' || pg_get_userbyid(lomowner) || ':' || coalesce(lomacl::text, '') || ':' || coalesce(obj_description(oid, 'pg_largeobject'), ''), ',' ORDER BY oid), '') FROM pg_largeobject_metadata"),
    );
    state
}

/// `pg_dump --schema-only` text without `\restrict` lines, comments and blank lines.
pub fn schema_text(cluster: &Cluster, db: &str) -> String {
    schema_text_with(cluster, db, None)
}

/// [`schema_text`] with the given pg_dump (else the cluster's own, or the PATH's).
pub fn schema_text_with(cluster: &Cluster, db: &str, pg_dump: Option<&Path>) -> String {
    let mut cmd = cluster.client_command("pg_dump");
    if let Some(pg_dump) = pg_dump {
        let mut own = Command::new(pg_dump);
        own.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(cluster.libpq_env());
        cmd = own;
    }
    let out = cmd
        .args(["--schema-only", "--no-sync"])
        .env("PGDATABASE", db)
        .stdin(Stdio::null())
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
                && !l.starts_with("--")
                && !l.trim().is_empty()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts two databases hold the same schema, data, sequences and large objects.
pub fn assert_same_database(a: (&Cluster, &str), b: (&Cluster, &str)) {
    assert_same_database_with(a, b, None)
}

/// Asserts two databases hold the same data, sequences and large objects.
pub fn assert_same_data(a: (&Cluster, &str), b: (&Cluster, &str)) {
    let (sa, sb) = (database_state(a.0, a.1), database_state(b.0, b.1));
    assert!(!sa.is_empty(), "source has nothing to compare");
    for (k, v) in &sa {
        assert_eq!(
            Some(v),
            sb.get(k),
            "{k} differs between source and restored database"
        );
    }
    assert_eq!(
        sa.len(),
        sb.len(),
        "the restored database has other tables: {:?}",
        sb.keys().collect::<Vec<_>>()
    );
}

/// [`assert_same_database`], the schemas compared with the given pg_dump.
pub fn assert_same_database_with(a: (&Cluster, &str), b: (&Cluster, &str), pg_dump: Option<&Path>) {
    assert_same_data(a, b);
    let (ta, tb) = (
        schema_text_with(a.0, a.1, pg_dump),
        schema_text_with(b.0, b.1, pg_dump),
    );
    if ta != tb {
        let diff: Vec<String> = ta
            .lines()
            .zip(tb.lines())
            .filter(|(x, y)| x != y)
            .take(10)
            .map(|(x, y)| format!("- {x}\n+ {y}"))
            .collect();
        panic!("pg_dump --schema-only differs:\n{}", diff.join("\n"));
    }
}
