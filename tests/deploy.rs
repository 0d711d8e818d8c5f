//! The deployment recipe, run without containers: Debian's nginx-light with `deploy/nginx.conf`
//! (only its addresses, port and cache path replaced) in front of two replicas of the real binary
//! on the throwaway PostgreSQL. Tiles are cached by nginx, submissions and edits reach the shared
//! database through it, an edit shows through the cache within its documented 5 s, and one
//! replica dying does not fail requests.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::{fresh_database, shared_url};
use common::replica::{TOKEN, Target, edit, get, replica, submit};
use common::{Http, http};
use serde_json::json;

/// How long nginx may serve a cached tile before revalidating (`proxy_cache_valid` in the recipe).
const CACHE_FRESH: Duration = Duration::from_secs(5);
/// What the recipe documents: nginx counts freshness in whole seconds, so an entry stored just
/// after a second began may live up to 1 s longer; propagation between replicas adds milliseconds.
const VISIBLE_WITHIN: Duration = Duration::from_secs(6);

/// nginx with the recipe's config, stopped when dropped.
struct Nginx {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Target for Nginx {
    fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its worker and cache processes too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `deploy/nginx.conf` pointed at `replicas`, listening on a free port.
fn nginx(replicas: [&str; 2]) -> Nginx {
    let dir = tempfile::tempdir().expect("tmp");
    // nginx's workers run as `nobody` when it is started as root; they write the cache.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let recipe = std::fs::read_to_string(common::repo().join("deploy/nginx.conf"))
        .expect("deploy/nginx.conf");
    let port = free_port();
    let cache = dir.path().join("cache");
    let site = recipe
        .replace("127.0.0.1:8081", replicas[0])
        .replace("127.0.0.1:8082", replicas[1])
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
        .replace(
            "/var/cache/nginx/partnership-map",
            &cache.display().to_string(),
        );
    for (from, what) in [
        ("127.0.0.1:8081", "first replica"),
        ("127.0.0.1:8082", "second replica"),
        ("listen 8080;", "listen address"),
        ("/var/cache/nginx/partnership-map", "cache path"),
    ] {
        assert!(
            recipe.contains(from),
            "the recipe no longer has its {what} ({from})"
        );
    }
    let d = dir.path().display();
    std::fs::write(dir.path().join("site.conf"), site).expect("write site");
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf;\n}}\n"
        ),
    )
    .expect("write nginx.conf");
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start /usr/sbin/nginx (Debian's nginx-light; scripts/test.sh installs it)");
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nginx did not listen on {addr}: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx {
        child,
        addr,
        _dir: dir,
    }
}

fn gzip_get(target: &impl Target, path: &str) -> Http {
    http(
        target.addr(),
        "GET",
        path,
        &[("Accept-Encoding", "gzip")],
        None,
    )
}

fn cache_status(r: &Http) -> &str {
    r.header("x-cache-status").unwrap_or("(none)")
}

#[test]
fn nginx_in_front_of_two_replicas_caches_tiles_shares_writes_and_survives_a_dead_replica() {
    let url = fresh_database(&shared_url());
    let a = replica(&url, &[]);
    let mut b = replica(&url, &[]);
    let proxy = nginx([a.addr(), b.addr()]);

    // 1. A tile through nginx: the second request is answered from its cache.
    let tile = "/tiles/6/31/20.pbf";
    let first = gzip_get(&proxy, tile);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(cache_status(&first), "MISS");
    let second = gzip_get(&proxy, tile);
    assert_eq!(second.status, 200);
    assert_eq!(cache_status(&second), "HIT");
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(second.header("content-encoding"), Some("gzip"));
    assert_eq!(
        second.body, first.body,
        "the cached bytes are the replica's"
    );
    // Identity is a cache entry of its own, never gzip bytes to a client that did not ask.
    let plain = get(&proxy, tile);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(cache_status(&plain), "MISS");
    assert_eq!(cache_status(&get(&proxy, tile)), "HIT");

    // Each replica serves /metrics on its own port to this host; the proxy never passes it on
    // (a replica would answer nginx, itself on loopback, were it asked).
    assert_eq!(get(&a, "/metrics").status, 200);
    let metrics = get(&proxy, "/metrics");
    assert_eq!(metrics.status, 404, "{}", metrics.body);
    assert!(
        !metrics.body.contains("tile_cache_bytes"),
        "{}",
        metrics.body
    );

    // 2. A correction through nginx is listed by both replicas: one database.
    let s = submit(&proxy, "Sent through nginx to whichever replica.");
    assert_eq!(s.status, 201, "{}", s.body);
    let reference = s.json()["id"].as_str().expect("reference").to_owned();
    let auth = format!("Bearer {TOKEN}");
    for replica in [&a, &b] {
        let r = http(
            replica.addr(),
            "GET",
            &format!("/api/admin/submissions/{reference}"),
            &[("Authorization", &auth)],
            None,
        );
        assert_eq!(r.status, 200, "{}: {}", replica.base, r.body);
        assert_eq!(
            r.json()["message"],
            "Sent through nginx to whichever replica."
        );
    }

    // 3. An edit through nginx shows through nginx within the cache's revalidation time.
    let hull_tile = "/tiles/8/127/82.pbf";
    let before = gzip_get(&proxy, hull_tile);
    assert_eq!(before.status, 200);
    let etag_before = before.header("etag").expect("etag").to_owned();
    let e = edit(
        &proxy,
        &json!({"kind": "partnership.create", "reason": "deploy test", "partnership": {
            "id": "hull-through-nginx", "name": "Hull Through Nginx Network", "la_codes": ["E06000010"],
            "form": "school_led_network", "phases": ["primary"], "focus": ["literacy"],
            "la_involvement": "member", "legal_form": "unknown",
            "source_urls": ["https://www.example.org/p"], "evidence_date": "2025"}}),
    );
    assert_eq!(e.status, 201, "{}", e.body);
    let published = Instant::now();
    let mut revalidated = false;
    let seen = loop {
        let r = gzip_get(&proxy, hull_tile);
        assert_eq!(r.status, 200);
        revalidated |= matches!(cache_status(&r), "REVALIDATED" | "EXPIRED");
        if r.header("etag") != Some(etag_before.as_str()) {
            break published.elapsed();
        }
        assert!(
            published.elapsed() < VISIBLE_WITHIN + Duration::from_millis(500),
            "the edit was not visible through nginx after {:?}",
            published.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "edit visible through nginx after {:.2} s (cache freshness {} s, documented bound {} s)",
        seen.as_secs_f64(),
        CACHE_FRESH.as_secs(),
        VISIBLE_WITHIN.as_secs()
    );
    assert!(
        revalidated || seen < CACHE_FRESH,
        "the stale entry was refetched, not kept"
    );
    let panel = get(&proxy, "/api/las/E06000010").json();
    assert!(
        panel["partnerships"]
            .as_array()
            .expect("partnerships")
            .iter()
            .any(|p| p["id"] == "hull-through-nginx"),
        "{panel}"
    );

    // 4. One replica killed: every request still succeeds through the other.
    let _ = b.child.kill();
    let _ = b.child.wait();
    for i in 0..30u32 {
        for path in [
            format!("/tiles/7/{}/41.pbf", 60 + i % 6),
            "/api/las/E06000026".to_owned(),
            "/health".to_owned(),
            "/".to_owned(),
        ] {
            let r = get(&proxy, &path);
            // 204 is an empty tile: a success too.
            assert!(
                r.status == 200 || r.status == 204,
                "{path} with one replica dead: {} {}",
                r.status,
                r.body
            );
        }
    }
    let s = submit(&proxy, "Sent through nginx after a replica died.");
    assert_eq!(s.status, 201, "{}", s.body);
}
