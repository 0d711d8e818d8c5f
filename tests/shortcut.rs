//! The cached-tile shortcut (answered ahead of the router) must answer exactly as the router
//! does: same status, same headers (CORS included), same bytes; and it must leave everything
//! else (misses, bad addresses, other methods, other paths) to the router.

mod common;

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Uri};
use http_body_util::BodyExt;
use partnership_map::http::router;
use partnership_map::http::server::Shortcut;
use partnership_map::http::tiles::{CachedTiles, TILE_ROUTE};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut req = Request::builder();
    for (k, v) in pairs {
        req = req.header(*k, *v);
    }
    req.body(()).expect("request").headers().clone()
}

/// Every header as `name: value`, sorted (the order of different names does not matter on the
/// wire; the order of one name's values does, and sorting keeps equal lists equal).
/// `Content-Length` is left out: hyper writes it from the body's exact size on the wire either
/// way (some layers set it early, which changes nothing sent); [`checked_length`] checks it.
fn header_lines(h: &HeaderMap) -> Vec<String> {
    let mut v: Vec<String> = h
        .iter()
        .filter(|(k, _)| *k != "content-length")
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("<binary>")))
        .collect();
    v.sort();
    v
}

/// A `Content-Length` set before hyper, if any, must be the body's length.
fn checked_length(h: &HeaderMap, body: &[u8]) {
    if let Some(v) = h.get("content-length") {
        assert_eq!(v.to_str().ok(), Some(body.len().to_string().as_str()));
    }
}

async fn via_shortcut(
    s: &CachedTiles,
    method: &Method,
    path: &str,
    h: &HeaderMap,
) -> Option<(u16, Vec<String>, bytes::Bytes)> {
    let uri: Uri = path.parse().expect("uri");
    let (res, route) = s.answer(method, &uri, h)?;
    assert_eq!(route, TILE_ROUTE);
    let status = res.status().as_u16();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    checked_length(&parts.headers, &body);
    Some((status, header_lines(&parts.headers), body))
}

async fn via_router(
    app: &axum::Router,
    method: &Method,
    path: &str,
    h: &HeaderMap,
) -> (u16, Vec<String>, bytes::Bytes) {
    use tower::ServiceExt;
    let mut req = Request::builder().method(method.clone()).uri(path);
    for (k, v) in h {
        req = req.header(k, v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status().as_u16();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    checked_length(&parts.headers, &body);
    (status, header_lines(&parts.headers), body)
}

#[tokio::test]
async fn a_cached_tile_is_answered_exactly_as_the_router_answers_it() {
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 12)
        .expect("shipped data is valid");
    let state = common::state_with(ds, 64 << 20);
    let app = router(state.clone());
    let shortcut = CachedTiles(state);

    // A tile with LAs in it (Hull) and one with none (open Atlantic).
    let hull = "/tiles/10/511/330.pbf";
    let sea = "/tiles/10/0/0.pbf";
    let get = Method::GET;
    let none = headers(&[]);

    // Not rendered yet, below z12: the shortcut leaves it to the router (which renders and
    // caches it). No LA near the sea tile: known empty without rendering, so answered at once.
    assert!(via_shortcut(&shortcut, &get, hull, &none).await.is_none());
    let first = via_router(&app, &get, hull, &headers(&[("accept-encoding", "gzip")])).await;
    assert_eq!(first.0, 200);
    let etag_gzip = first
        .1
        .iter()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .to_owned();
    assert_eq!(via_router(&app, &get, sea, &none).await.0, 204);

    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (hull, vec![]),
        (hull, vec![("accept-encoding", "gzip, deflate, br")]),
        (hull, vec![("accept-encoding", "br")]),
        (hull, vec![("accept-encoding", "gzip;q=0, identity")]),
        (
            hull,
            vec![
                ("accept-encoding", "gzip"),
                ("origin", "https://elsewhere.example"),
            ],
        ),
        (
            hull,
            vec![("accept-encoding", "gzip"), ("if-none-match", &etag_gzip)],
        ),
        (hull, vec![("if-none-match", &etag_gzip)]),
        (
            hull,
            vec![("accept-encoding", "gzip"), ("if-none-match", "\"other\"")],
        ),
        (
            "/tiles/10/511/330.mvt?v=3",
            vec![("accept-encoding", "gzip")],
        ),
        (sea, vec![("accept-encoding", "gzip")]),
        (sea, vec![("origin", "https://elsewhere.example")]),
        // z12, not cached: rendered by the shortcut on the spot.
        ("/tiles/12/2044/1319.pbf", vec![("accept-encoding", "gzip")]),
    ];
    let mut statuses = Vec::new();
    for (path, pairs) in &cases {
        let h = headers(pairs);
        let fast = via_shortcut(&shortcut, &get, path, &h)
            .await
            .unwrap_or_else(|| panic!("{path} {pairs:?}: cached, so the shortcut answers"));
        let slow = via_router(&app, &get, path, &h).await;
        assert_eq!(fast.0, slow.0, "{path} {pairs:?}: status");
        assert_eq!(fast.1, slow.1, "{path} {pairs:?}: headers");
        assert_eq!(fast.2, slow.2, "{path} {pairs:?}: body");
        statuses.push(fast.0);
        if fast.0 == 200 {
            // What it sent is the Hull tile, in the encoding it said.
            let gz = fast.1.iter().any(|l| l == "content-encoding: gzip");
            let raw = if gz {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&fast.2[..])
                    .read_to_end(&mut out)
                    .expect("gzip");
                out
            } else {
                fast.2.to_vec()
            };
            let layers = common::mvt::decode(&raw);
            let las = &layers["local_authorities"];
            assert!(
                las.features.iter().any(|f| f.str("code") == "E06000010"),
                "{path} {pairs:?}: Hull is in its tile"
            );
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 304, 200, 200, 200, 204, 204, 200],
        "the cases cover 200 in both encodings, 304 and 204"
    );

    // Left to the router: other methods, bad addresses, other paths, uncached tiles.
    for (method, path) in [
        (Method::HEAD, hull),
        (Method::OPTIONS, hull),
        (Method::POST, hull),
        (Method::GET, "/tiles/13/0/0.pbf"),
        (Method::GET, "/tiles/10/511/330.png"),
        (Method::GET, "/tiles/10/511/330.pbf/more"),
        (Method::GET, "/tiles/10/x/332.pbf"),
        (Method::GET, "/tiles/10/511/331.pbf"),
        (
            Method::GET,
            "/ogc/collections/local_authorities/tiles/WebMercatorQuad/10/330/511",
        ),
        (Method::GET, "/tiles.json"),
    ] {
        assert!(
            via_shortcut(&shortcut, &method, path, &none)
                .await
                .is_none(),
            "{method} {path} goes to the router"
        );
    }
}
