//! `/metrics` parsed by a Prometheus text parser, counters that move with the traffic, where
//! `/metrics` is served and to whom (`--metrics-bind`: by default on the main port for clients
//! on the host only, so two servers start side by side with default flags), and
//! `--log-format json`.

mod common;

use std::time::Duration;

use common::{histogram, raw, sample, scrape};
use partnership_map::config::MetricsBind;
use serde_json::{Value, json};

/// The tile route as a metric label (`:param`, brace-free) and as logged (axum's pattern).
const TILE_ROUTE: &str = "/tiles/:z/:x/:y";
const TILE_PATTERN: &str = "/tiles/{z}/{x}/{y}";

async fn post_json(addr: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut c = raw::Conn::connect(addr).await.expect("connect");
    c.send(
        format!(
            "POST /api/submissions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    match c.response(Duration::from_secs(10)).await {
        raw::Outcome::Response(r) => r.status,
        other => panic!("{other:?}"),
    }
}

/// The pre-render fills the cache in the background; wait for it to finish.
async fn prerendered(metrics: &str) -> prometheus_parse::Scrape {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = scrape(metrics).await;
        if sample(&m, "tile_prerender_duration_seconds", &[]).is_some_and(|s| s > 0.0) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pre-render never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_valid_prometheus_text_and_the_counters_move_with_traffic() {
    let (server, _dir) = common::start_small(&[], &[]);
    let addr = server.addr().to_owned();
    let metrics = server.metrics_url();
    let before = prerendered(&metrics).await;

    // The state gauges: the cache holds the pyramid, the data version is the served one.
    let health: Value =
        serde_json::from_slice(&raw::get(&addr, "/health").await.body).expect("health json");
    let version = health["data_version"].as_str().expect("version");
    assert_eq!(
        sample(&before, "data_version_info", &[("version", version)]),
        Some(1.0)
    );
    assert!(sample(&before, "data_age_seconds", &[]).is_some_and(|a| (0.0..600.0).contains(&a)));
    assert!(sample(&before, "data_published_timestamp_seconds", &[]) > Some(1.7e9));
    let entries = sample(&before, "tile_cache_entries", &[]).expect("entries");
    let bytes = sample(&before, "tile_cache_bytes", &[]).expect("bytes");
    let renders = sample(&before, "tile_renders_total", &[]).expect("renders");
    // Zooms 0-8 over England: about a hundred tiles, empty ones included.
    assert!(
        entries >= 50.0 && bytes > 1e5,
        "{entries} entries, {bytes} bytes"
    );
    assert!(
        renders >= entries,
        "{renders} renders for {entries} entries"
    );
    let rendered = histogram(&before, "tile_render_duration_seconds", &[]).expect("histogram");
    assert_eq!(
        rendered.last().map(|b| b.1),
        Some(renders),
        "+Inf bucket counts every render"
    );

    // Traffic: 10 cached tiles, 3 empty ones, 2 bad addresses, 1 unknown path, 2 submissions.
    let tile_200 = sample(
        &before,
        "http_requests_total",
        &[("route", TILE_ROUTE), ("status", "200")],
    )
    .unwrap_or(0.0);
    let lookups = |m: &prometheus_parse::Scrape| {
        sample(m, "tile_cache_hits_total", &[]).unwrap_or(0.0)
            + sample(m, "tile_cache_misses_total", &[]).unwrap_or(0.0)
    };
    let (hits, looked_up) = (
        sample(&before, "tile_cache_hits_total", &[]).unwrap_or(0.0),
        lookups(&before),
    );
    for _ in 0..10 {
        assert_eq!(raw::get(&addr, "/tiles/8/127/83.pbf").await.status, 200);
    }
    for _ in 0..3 {
        assert_eq!(raw::get(&addr, "/tiles/8/130/80.pbf").await.status, 204);
    }
    assert_eq!(raw::get(&addr, "/tiles/9/0/0.pbf").await.status, 400);
    assert_eq!(raw::get(&addr, "/tiles/a/0/0.pbf").await.status, 404);
    assert_eq!(raw::get(&addr, "/no/such/thing").await.status, 404);
    let good = json!({
        "la": "E06000001", "kind": "correction", "message": "The partnership list is out of date.",
        "name": "A Tester", "email": "tester@example.org", "consent": true
    });
    assert_eq!(post_json(&addr, &good).await, 201);
    assert_eq!(post_json(&addr, &json!({"la": "nowhere"})).await, 400);
    // The request log and its metrics are written off the request path, in batches: allow
    // them a moment. Records arrive in order, so once the last request (the refused
    // submission) is counted, every earlier one is.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let m = scrape(&metrics).await;
        let last = sample(
            &m,
            "http_requests_total",
            &[("route", "/api/submissions"), ("status", "400")],
        );
        if last >= Some(1.0) || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = |s: &str| {
        sample(
            &after,
            "http_requests_total",
            &[("route", TILE_ROUTE), ("status", s)],
        )
    };
    assert_eq!(count("200"), Some(tile_200 + 10.0));
    assert!(count("204") >= Some(3.0));
    assert!(count("400") >= Some(1.0));
    assert!(count("404") >= Some(1.0));
    assert!(
        sample(
            &after,
            "http_requests_total",
            &[("route", "(unmatched)"), ("status", "404")]
        ) >= Some(1.0)
    );
    // 13 tile lookups (the bad addresses never reach the cache); the pre-rendered tile hits.
    assert_eq!(lookups(&after), looked_up + 13.0);
    assert!(sample(&after, "tile_cache_hits_total", &[]) >= Some(hits + 10.0));
    assert_eq!(
        sample(&after, "submissions_total", &[("outcome", "accepted")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "submissions_total", &[("outcome", "invalid")]),
        Some(1.0)
    );
    // Latency by route, with buckets below a millisecond, counting every tile request.
    let h = histogram(
        &after,
        "http_request_duration_seconds",
        &[("route", TILE_ROUTE)],
    )
    .expect("tile latency");
    assert!(
        h.iter().filter(|b| b.0 < 0.001).count() >= 4,
        "sub-ms buckets: {h:?}"
    );
    let total_tiles: f64 = ["200", "204", "400", "404"]
        .iter()
        .filter_map(|s| count(s))
        .sum();
    assert_eq!(h.last().map(|b| b.1), Some(total_tiles));
    assert!(
        sample(&after, "http_connections_total", &[])
            > sample(&before, "http_connections_total", &[])
    );
    assert!(
        sample(&after, "http_connections_open", &[]) >= Some(1.0),
        "the scrape's own connection"
    );
    assert!(sample(&after, "process_resident_memory_bytes", &[]) > Some(1e6));

    // By default on the main port, for this (loopback) client.
    assert_eq!(metrics, format!("http://{addr}/metrics"));
}

/// A port that was free a moment ago (the tests below need fixed ports: port 0 would also
/// have given the old default metrics listener a free port, and hidden the clash).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `/health` requests counted in `/metrics`, once the log writer has caught up with `want`.
async fn health_count(metrics: &str, want: f64) -> Option<f64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = scrape(metrics).await;
        let n = sample(
            &m,
            "http_requests_total",
            &[("route", "/health"), ("status", "200")],
        );
        if n >= Some(want) || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_start_on_one_host_with_default_flags_and_each_serves_its_own_metrics() {
    // Each needs its own main port and database, and nothing else: no metrics flag.
    let dirs = [
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    ];
    let servers: Vec<common::Server> = dirs
        .iter()
        .map(|dir| {
            let db = dir.path().join("pm.db");
            common::Server::start_on(
                &format!("127.0.0.1:{}", free_port()),
                &[
                    "--db".as_ref(),
                    db.as_os_str(),
                    "--max-zoom".as_ref(),
                    "6".as_ref(),
                    "--no-prerender".as_ref(),
                ],
                &[],
            )
        })
        .collect();
    let [a, b] = [&servers[0], &servers[1]];
    assert_ne!(a.addr(), b.addr());
    for s in [a, b] {
        assert_eq!(raw::get(s.addr(), "/health").await.status, 200);
        assert_eq!(s.metrics_url(), format!("http://{}/metrics", s.addr()));
    }
    // Three more requests to the first only: its metrics count them, the second's do not, so
    // each port serves its own process's metrics.
    for _ in 0..3 {
        assert_eq!(raw::get(a.addr(), "/health").await.status, 200);
    }
    assert_eq!(health_count(&a.metrics_url(), 4.0).await, Some(4.0));
    assert_eq!(health_count(&b.metrics_url(), 1.0).await, Some(1.0));
    let m = scrape(&b.metrics_url()).await;
    assert!(sample(&m, "process_resident_memory_bytes", &[]) > Some(1e6));
}

/// `GET /metrics` with an `X-Forwarded-For` header, over a real socket from loopback.
async fn metrics_forwarded_for(addr: &str, client: &str) -> (u16, String) {
    let mut c = raw::Conn::connect(addr).await.expect("connect");
    c.send(
        format!(
            "GET /metrics HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    match c.response(Duration::from_secs(10)).await {
        raw::Outcome::Response(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_metrics_answer_only_clients_on_the_host_also_behind_a_trusted_proxy() {
    // A loopback proxy that forwards the client's address: the forwarded client decides.
    let (server, _dir) =
        common::start_small(&["--trusted-proxies", "127.0.0.1", "--no-prerender"], &[]);
    let (status, body) = metrics_forwarded_for(server.addr(), "127.0.0.1").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("# TYPE tile_cache_bytes gauge"), "{body}");
    let (status, body) = metrics_forwarded_for(server.addr(), "203.0.113.9").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("only clients on the server's own host"),
        "{body}"
    );
    assert!(body.contains("--metrics-bind"), "{body}");
    // A forged hop to the left of the real client does not help.
    let (status, _) = metrics_forwarded_for(server.addr(), "127.0.0.1, 203.0.113.9").await;
    assert_eq!(status, 403);
    drop(server);
    // Without trusted proxies the header is the client's own word and is ignored: the peer is
    // loopback, so it is answered.
    let (server, _dir) = common::start_small(&["--no-prerender"], &[]);
    let (status, _) = metrics_forwarded_for(server.addr(), "203.0.113.9").await;
    assert_eq!(status, 200);
}

/// `GET /metrics` through the router as if from TCP peer `peer`.
async fn metrics_from(bind: MetricsBind, peer: [u8; 4]) -> (u16, String) {
    use axum::extract::connect_info::MockConnectInfo;
    let config = partnership_map::http::HttpConfig {
        metrics: bind,
        ..Default::default()
    };
    let state = partnership_map::http::AppState::new(
        partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 6)
            .expect("valid"),
        partnership_map::cache::TileCache::new(1 << 20),
        config,
        common::memory_store(),
    )
    .expect("state");
    let app = partnership_map::http::router(state)
        .layer(MockConnectInfo(std::net::SocketAddr::from((peer, 40000))));
    let r = common::get(&app, "/metrics", &[]).await;
    (r.status.as_u16(), r.text())
}

#[tokio::test]
async fn a_peer_off_the_host_is_refused_unless_metrics_are_made_public() {
    let (status, body) = metrics_from(MetricsBind::Local, [127, 0, 0, 1]).await;
    assert_eq!(status, 200);
    let parsed = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    assert!(
        parsed
            .samples
            .iter()
            .any(|s| s.metric == "tile_cache_bytes")
    );
    for peer in [[192, 0, 2, 2], [10, 0, 0, 5], [203, 0, 113, 9]] {
        let (status, body) = metrics_from(MetricsBind::Local, peer).await;
        assert_eq!(status, 403, "{peer:?}: {body}");
        assert!(!body.contains("tile_cache_bytes"), "{body}");
    }
    // `--metrics-bind main`: every client; `off` or a listener of its own: not on this router.
    assert_eq!(
        metrics_from(MetricsBind::Main, [203, 0, 113, 9]).await.0,
        200
    );
    assert_eq!(metrics_from(MetricsBind::Off, [127, 0, 0, 1]).await.0, 404);
    let own = MetricsBind::Addr("127.0.0.1:0".parse().expect("addr"));
    assert_eq!(metrics_from(own, [127, 0, 0, 1]).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_served_on_a_port_of_their_own_on_the_main_port_or_not_at_all() {
    let (server, _dir) =
        common::start_small(&["--metrics-bind", "127.0.0.1:0", "--no-prerender"], &[]);
    let own = server.metrics_url();
    assert_ne!(own, format!("http://{}/metrics", server.addr()));
    let m = scrape(&own).await;
    assert!(sample(&m, "tile_cache_bytes", &[]).is_some());
    assert_eq!(raw::get(server.addr(), "/metrics").await.status, 404);
    drop(server);
    let (server, _dir) = common::start_small(&["--metrics-bind", "main", "--no-prerender"], &[]);
    let r = raw::get(server.addr(), "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("# TYPE tile_cache_bytes gauge"));
    drop(server);
    let (server, _dir) = common::start_small(&["--metrics-bind", "off", "--no-prerender"], &[]);
    assert_eq!(raw::get(server.addr(), "/metrics").await.status, 404);
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_fields() {
    let (mut server, _dir) = common::start_small(&["--log-format", "json", "--no-prerender"], &[]);
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        assert_eq!(
            raw::get(server.addr(), "/tiles/4/7/5.pbf").await.status,
            200
        );
    });
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let _ = server.child.wait();
    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request")
        .expect("a request line");
    assert_eq!(request["target"], "partnership_map::request");
    assert_eq!(request["fields"]["method"], "GET");
    assert_eq!(request["fields"]["route"], TILE_PATTERN);
    assert_eq!(request["fields"]["path"], "/tiles/4/7/5.pbf");
    assert_eq!(request["fields"]["status"], 200);
    assert!(request["fields"]["latency_us"].is_u64());
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shut down cleanly"))),
        "{log}"
    );
}

async fn post_edit(addr: &str, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut c = raw::Conn::connect(addr).await.expect("connect");
    c.send(
        format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {EDITOR_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    match c.response(Duration::from_secs(30)).await {
        raw::Outcome::Response(r) => r.status,
        other => panic!("{other:?}"),
    }
}

const EDITOR_TOKEN: &str = "metrics-editor-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_refused_submissions_are_counted_and_a_published_edit_is_prerendered() {
    let (server, _dir) = common::start_small(
        &["--submissions-per-hour", "1"],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", EDITOR_TOKEN)],
    );
    let addr = server.addr().to_owned();
    let metrics = server.metrics_url();
    let before = prerendered(&metrics).await;
    let pyramid = sample(&before, "tile_prerender_tiles", &[]).expect("pre-rendered tiles");
    assert!(pyramid >= 50.0, "{pyramid}");

    // Submissions: one accepted, then the same client is over its limit of 1 an hour.
    let good = json!({
        "la": "E06000001", "kind": "correction", "message": "The partnership list is out of date.",
        "name": "A Tester", "email": "tester@example.org", "consent": true
    });
    assert_eq!(post_json(&addr, &good).await, 201);
    assert_eq!(post_json(&addr, &good).await, 429);

    // Edits: a preview, a rejected one (unknown LA), a malformed one, and one published.
    let role = json!({"kind": "la_role.set", "la": "E08000021", "fields": {"convener": true, "summary": "The council convenes a city-wide education partnership.", "source_urls": ["https://www.newcastle.gov.uk/education"], "evidence_date": "2025"}, "reason": "New evidence."});
    assert_eq!(
        post_edit(&addr, "/api/admin/edits?dry_run=true", &role).await,
        200
    );
    let mut unknown = role.clone();
    unknown["la"] = json!("E99999999");
    assert_eq!(post_edit(&addr, "/api/admin/edits", &unknown).await, 422);
    assert_eq!(
        post_edit(&addr, "/api/admin/edits", &json!({"kind": "no.such.kind"})).await,
        422
    );
    assert_eq!(post_edit(&addr, "/api/admin/edits", &role).await, 201);

    let health: Value =
        serde_json::from_slice(&raw::get(&addr, "/health").await.body).expect("health json");
    let version = health["data_version"].as_str().expect("version").to_owned();
    // The new version's pyramid is rendered in the background, as at start.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let after = loop {
        let m = scrape(&metrics).await;
        let current = sample(&m, "data_version_info", &[("version", &version)]) == Some(1.0);
        if current && sample(&m, "tile_prerender_tiles", &[]) >= Some(pyramid) {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the published version was never pre-rendered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every tile of the pyramid that an LA comes near is held (those no part comes near are
    // known empty from the index and take no entry); the server runs with --max-zoom 8.
    let ds = common::dataset();
    let near = partnership_map::tile::pyramid(ds.geometry.bounds, 0, 8)
        .into_iter()
        .filter(|&c| !partnership_map::pipeline::select::nothing_near(&ds, c))
        .count() as f64;
    assert!(near < pyramid, "{near} of {pyramid} tiles have an LA near");
    assert!(sample(&after, "tile_cache_entries", &[]) >= Some(near));
    assert_eq!(
        sample(&after, "submissions_total", &[("outcome", "accepted")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "submissions_total", &[("outcome", "rate_limited")]),
        Some(1.0)
    );
    let edits = |outcome: &str| {
        sample(
            &after,
            "edits_total",
            &[("kind", "edit"), ("outcome", outcome)],
        )
    };
    assert_eq!(edits("previewed"), Some(1.0));
    assert_eq!(edits("rejected"), Some(2.0));
    assert_eq!(edits("published"), Some(1.0));
    // A tile of the new version is a cache hit: no render waited on.
    let misses = sample(&after, "tile_cache_misses_total", &[]).unwrap_or(0.0);
    assert_eq!(raw::get(&addr, "/tiles/8/127/83.pbf").await.status, 200);
    let last = scrape(&metrics).await;
    assert_eq!(
        sample(&last, "tile_cache_misses_total", &[]).unwrap_or(0.0),
        misses
    );
}
