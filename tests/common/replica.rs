//! Replicas of the real binary on one PostgreSQL database, and the requests the replica and
//! deployment tests send them: edits with the editor token, corrections, reads and tile ETags.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Http, Server, http};

/// Something that answers HTTP on a loopback address: a replica, or nginx in front of them.
pub trait Target {
    /// `127.0.0.1:PORT`.
    fn addr(&self) -> &str;
}

impl Target for Server {
    fn addr(&self) -> &str {
        Server::addr(self)
    }
}

/// The editor token every replica is started with.
pub const TOKEN: &str = "replica-editor-token-0123456789";

pub fn replica(url: &str, extra: &[&str]) -> Server {
    super::start_zoom_8(
        ["--database-url".as_ref(), url.as_ref()],
        extra,
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", TOKEN)],
    )
}

pub fn edit(server: &impl Target, body: &Value) -> Http {
    let auth = format!("Bearer {TOKEN}");
    http(
        server.addr(),
        "POST",
        "/api/admin/edits",
        &[("Authorization", &auth)],
        Some(&body.to_string()),
    )
}

pub fn get(server: &impl Target, path: &str) -> Http {
    http(server.addr(), "GET", path, &[], None)
}

pub fn version(server: &impl Target) -> String {
    get(server, "/health").json()["data_version"]
        .as_str()
        .expect("version")
        .to_owned()
}

/// Wait until `server` serves `want`; how long it took.
pub fn until_version(server: &impl Target, want: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if version(server) == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{} did not serve {want} within {limit:?}",
            server.addr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn submit(server: &impl Target, message: &str) -> Http {
    let body = json!({"la": "E06000010", "kind": "correction", "message": message, "name": "Replica Tester", "email": "replica@example.org", "consent": true});
    http(
        server.addr(),
        "POST",
        "/api/submissions",
        &[],
        Some(&body.to_string()),
    )
}

pub fn tile_etag(server: &impl Target, path: &str) -> String {
    let r = http(
        server.addr(),
        "GET",
        path,
        &[("Accept-Encoding", "gzip")],
        None,
    );
    assert_eq!(r.status, 200, "{path}");
    r.header("etag").expect("etag").to_owned()
}
