//! The client address behind reverse proxies, checked against the per-client submission limit:
//! with `--trusted-proxies`, clients behind the proxy have limits of their own; from a peer that
//! is not trusted, forwarded headers change nothing (so nobody escapes the limit by forging them).
//! One test runs over real sockets against the binary, the others through the router.

mod common;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use partnership_map::config::ClientIpHeader;
use partnership_map::dataset::Dataset;
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::store::{Slot, SqliteStore, Store};
use serde_json::json;
use tower::ServiceExt;

fn body() -> String {
    json!({
        "la": "E09000002",
        "kind": "correction",
        "message": "BDSIP now also works with schools in Havering.",
        "name": "Sam Example",
        "email": "sam@example.org",
        "consent": true
    })
    .to_string()
}

fn app(trusted: &[&str], header: ClientIpHeader) -> axum::Router {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    app_on(trusted, header, store, 2)
}

fn app_on(
    trusted: &[&str],
    header: ClientIpHeader,
    store: Arc<dyn Store>,
    per_hour: u32,
) -> axum::Router {
    let config = HttpConfig {
        submissions_per_hour: NonZeroU32::new(per_hour).expect("nz"),
        trusted_proxies: trusted.iter().map(|c| c.parse().expect("cidr")).collect(),
        client_ip_header: header,
        ..HttpConfig::default()
    };
    router(
        AppState::new(
            Dataset::from_inputs(&common::shipped_inputs(), 6).expect("valid"),
            partnership_map::cache::TileCache::new(1 << 20),
            config,
            store,
        )
        .expect("state"),
    )
}

/// Submit through `peer` (the TCP peer) with a forwarded header naming `client`.
async fn submit(app: &axum::Router, peer: [u8; 4], header: (&str, String)) -> u16 {
    let req = Request::post("/api/submissions")
        .header("host", "maps.example.org")
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(Body::from(body()))
        .expect("request");
    let app = app
        .clone()
        .layer(MockConnectInfo(SocketAddr::from((peer, 40000))));
    app.oneshot(req)
        .await
        .expect("infallible")
        .status()
        .as_u16()
}

const PROXY: [u8; 4] = [10, 0, 0, 2];

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let app = app(&["10.0.0.0/8"], ClientIpHeader::XForwardedFor);
    let xff = |client: &str| ("x-forwarded-for", format!("{client}, 10.0.0.9"));
    // Client A, forging an address to the left of the one the proxy appended.
    for _ in 0..2 {
        assert_eq!(
            submit(
                &app,
                PROXY,
                ("x-forwarded-for", "1.1.1.1, 203.0.113.5".into())
            )
            .await,
            201
        );
    }
    assert_eq!(
        submit(
            &app,
            PROXY,
            ("x-forwarded-for", "9.9.9.9, 203.0.113.5".into())
        )
        .await,
        429
    );
    // Client B, through the same proxy: its own limit.
    assert_eq!(submit(&app, PROXY, xff("203.0.113.6")).await, 201);
    assert_eq!(submit(&app, PROXY, xff("203.0.113.6")).await, 201);
    assert_eq!(submit(&app, PROXY, xff("203.0.113.6")).await, 429);
}

#[tokio::test]
async fn from_an_untrusted_peer_forwarded_headers_are_ignored() {
    // Nothing trusted: the peer's address counts, whatever the headers say.
    let app = app(&[], ClientIpHeader::XForwardedFor);
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.5".into())).await,
        201
    );
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.6".into())).await,
        201
    );
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.7".into())).await,
        429
    );
    // Trusted proxies configured, but this peer is not one of them.
    let app2 = app2();
    let peer = [198, 51, 100, 4];
    assert_eq!(
        submit(&app2, peer, ("x-forwarded-for", "203.0.113.5".into())).await,
        201
    );
    assert_eq!(
        submit(&app2, peer, ("x-forwarded-for", "203.0.113.6".into())).await,
        201
    );
    assert_eq!(
        submit(&app2, peer, ("x-forwarded-for", "203.0.113.7".into())).await,
        429
    );
}

fn app2() -> axum::Router {
    app(&["10.0.0.0/8"], ClientIpHeader::XForwardedFor)
}

#[tokio::test]
async fn the_forwarded_header_is_read_when_configured_and_only_then() {
    let app = app(&["10.0.0.0/8"], ClientIpHeader::Forwarded);
    let fwd = |client: &str| {
        (
            "forwarded",
            format!("for=\"{client}\";proto=https, for=10.0.0.9"),
        )
    };
    assert_eq!(submit(&app, PROXY, fwd("[2001:db8::5]:443")).await, 201);
    assert_eq!(submit(&app, PROXY, fwd("[2001:db8::5]:443")).await, 201);
    assert_eq!(submit(&app, PROXY, fwd("[2001:db8::5]:443")).await, 429);
    assert_eq!(submit(&app, PROXY, fwd("2001:db8::6")).await, 201);
    // With Forwarded configured, X-Forwarded-For (which the proxy would pass on untouched) is
    // not believed: every such request counts as the proxy's own, which has 2.
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.50".into())).await,
        201
    );
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.51".into())).await,
        201
    );
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "203.0.113.52".into())).await,
        429
    );
}

async fn post_over_socket(addr: &str, xff: &str) -> u16 {
    let b = body();
    let mut c = common::raw::Conn::connect(addr).await.expect("connect");
    c.send(
        format!(
            "POST /api/submissions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nX-Forwarded-For: {xff}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    match c.response(Duration::from_secs(10)).await {
        common::raw::Outcome::Response(r) => r.status,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_trusted_proxies_from_the_command_line() {
    for (trusted, second_client) in [("127.0.0.0/8", 201), ("10.0.0.0/8", 429)] {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("pm.db");
        let server = common::Server::start(
            &[
                "--max-zoom".as_ref(),
                "6".as_ref(),
                "--no-prerender".as_ref(),
                "--submissions-per-hour".as_ref(),
                "1".as_ref(),
                "--trusted-proxies".as_ref(),
                trusted.as_ref(),
                "--db".as_ref(),
                db.as_os_str(),
            ],
            &[],
        );
        assert_eq!(post_over_socket(server.addr(), "203.0.113.5").await, 201);
        // Behind the loopback "proxy", another client has its own limit; with loopback not
        // trusted, it is the same client as before.
        assert_eq!(
            post_over_socket(server.addr(), "203.0.113.6").await,
            second_client,
            "{trusted}"
        );
    }
}

/// Rows of the submission-slot table, counted in the database file itself.
fn slot_rows(db: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(db).expect("open the database");
    c.query_row("SELECT COUNT(*) FROM submission_slots", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn the_slot_table_stays_bounded_under_a_flood_of_distinct_clients() {
    // The limit lives in the database (one row per submission in the last hour). A flood of
    // distinct clients behind the trusted proxy gets one row each; an hour on, the next
    // submission prunes them all, so the table holds at most an hour's worth of submissions.
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).expect("sqlite"));
    let app = app_on(
        &["10.0.0.0/8"],
        ClientIpHeader::XForwardedFor,
        Arc::clone(&store),
        1,
    );
    const CLIENTS: u32 = 300;
    for i in 0..CLIENTS {
        let client = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        assert_eq!(
            submit(&app, PROXY, ("x-forwarded-for", client.clone())).await,
            201,
            "{client}"
        );
    }
    // Each client's second try is refused, and refusals add no rows.
    assert_eq!(
        submit(&app, PROXY, ("x-forwarded-for", "198.18.0.1".into())).await,
        429
    );
    assert_eq!(slot_rows(&db), i64::from(CLIENTS));
    // An hour and a second later (the store takes the time from its caller), one more
    // client's slot is the only row left.
    let later = chrono::Utc::now().timestamp() + 3601;
    assert_eq!(
        store
            .take_submission_slot("198.18.99.1", 1, 3600, later)
            .await
            .expect("slot"),
        Slot::Granted
    );
    assert_eq!(slot_rows(&db), 1);
    // And the earlier clients may submit again.
    assert_eq!(
        store
            .take_submission_slot("198.18.0.1", 1, 3600, later)
            .await
            .expect("slot"),
        Slot::Granted
    );
    assert_eq!(slot_rows(&db), 2);
}
