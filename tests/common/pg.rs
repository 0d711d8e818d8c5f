//! PostgreSQL for the tests: the throwaway cluster `scripts/test.sh` starts (its URL in
//! `PARTNERSHIP_MAP_TEST_PG`), a fresh database in it per test, and, for the fault tests that
//! stop and start the server, a private cluster made the same way (`initdb`, `pg_ctl`, a free
//! loopback port, a self-signed certificate so `sslmode=require` works). Tests that need
//! PostgreSQL fail when it cannot start; they are never skipped.
#![allow(dead_code)]

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

/// A private cluster from `scripts/pg-cluster.sh`, stopped and deleted when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

impl Cluster {
    fn script(&self, action: &str) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-cluster.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(self.dir.path().join("cluster"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            out.status.success(),
            "pg-cluster.sh {action} failed (PostgreSQL is Debian's postgresql package, which \
             scripts/test.sh installs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// initdb, a self-signed certificate, and start on a free port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        // The server runs as `postgres` when the tests run as root: it must reach its directory.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod the cluster directory");
        let mut c = Self {
            dir,
            port: 0,
            url: String::new(),
        };
        c.url = c.script("start");
        c.port = c
            .url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("pg-cluster.sh printed {:?}", c.url));
        c
    }

    /// Start again on the same port, after [`Cluster::stop`].
    pub fn start_again(&self) {
        self.script("start");
    }

    /// `pg_ctl stop -m fast`.
    pub fn stop(&self) {
        self.script("stop");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-cluster.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(self.dir.path().join("cluster"))
            .output();
    }
}
