//! PostgreSQL for the tests: the throwaway cluster `scripts/test.sh` starts (its URL in
//! `PARTNERSHIP_MAP_TEST_PG`), a fresh database in it per test, and, for the fault tests that
//! stop and start the server, a private cluster made the same way (`initdb`, `pg_ctl`, a free
//! loopback port, a self-signed certificate so `sslmode=require` works). Tests that need
//! PostgreSQL fail when it cannot start; they are never skipped.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The shared cluster's admin URL.
pub fn shared_url() -> String {
    std::env::var("PARTNERSHIP_MAP_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "PARTNERSHIP_MAP_TEST_PG is not set: scripts/test.sh starts a throwaway PostgreSQL \
             cluster and sets it (postgres://postgres@127.0.0.1:PORT/postgres); run the suite \
             with `bash scripts/test.sh`"
        )
    })
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// Run `f` on a runtime of its own (callable from sync and async tests alike).
fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    })
    .join()
    .expect("thread")
}

/// A new, empty database on the cluster at `admin_url`; its URL.
pub fn fresh_database(admin_url: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "pm_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let admin = admin_url.to_owned();
    let sql = format!("CREATE DATABASE {name}");
    block_on(async move {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("create database");
    });
    with_database(admin_url, &name)
}

/// Whether this process runs as root (then PostgreSQL's tools run as `postgres`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory of PostgreSQL's server programs.
fn bin_dir() -> PathBuf {
    if let Some(b) = std::env::var_os("PARTNERSHIP_MAP_TEST_PG_BIN") {
        return PathBuf::from(b);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (Debian package postgresql; scripts/test.sh installs it)",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("no /usr/lib/postgresql/*/bin/pg_ctl")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A private cluster, stopped and deleted when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let path = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// initdb, a self-signed certificate, and start on a free port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let c = Self {
            bin: bin_dir(),
            port: free_port(),
            url: String::new(),
            dir,
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(c.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster directory to postgres");
        }
        let out = c.run(
            "initdb",
            &["-D", &c.data(), "--auth=trust", "-U", "postgres"],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (key, crt) = (
            format!("{}/server.key", c.data()),
            format!("{}/server.crt", c.data()),
        );
        let out = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-nodes",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-keyout", &key, "-out", &crt])
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod key");
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &key, &crt])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the certificate to postgres");
        }
        let mut c = c;
        c.url = format!("postgres://postgres@127.0.0.1:{}/postgres", c.port);
        c.start_again();
        c
    }

    /// `pg_ctl start` (again, after [`Cluster::stop`]).
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = format!("{}/log", self.dir.path().display());
        let out = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `pg_ctl stop -m fast`.
    pub fn stop(&self) {
        let out = self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}
