//! The HTTP contract, through the router without a socket: status codes, caching headers,
//! gzip negotiation, ETags, CORS, TileJSON and the style.

mod common;

use std::io::Read;

use common::{app, get};
use partnership_map::schema;

const LONDON: &str = "/tiles/10/511/340.pbf";

#[tokio::test]
async fn tiles_past_the_edge_of_the_matrix_are_404_naming_the_limit() {
    let app = app();
    for (uri, want) in [
        (
            "/tiles/2/4/0.pbf",
            "no such tile: x=4 is outside 0..=3 at zoom 2",
        ),
        (
            "/tiles/2/0/4.pbf",
            "no such tile: y=4 is outside 0..=3 at zoom 2",
        ),
        ("/tiles/0/0/1.mvt", "y=1 is outside 0..=0 at zoom 0"),
        (
            "/tiles/3/99999999999999999999/0.pbf",
            "outside 0..=7 at zoom 3",
        ),
        (
            "/ogc/collections/local_authorities/tiles/WebMercatorQuad/1/2/0",
            "y=2 is outside 0..=1 at zoom 1",
        ),
    ] {
        let r = get(&app, uri, &[]).await;
        assert_eq!(r.status, 404, "{uri}: {}", r.text());
        assert!(r.text().contains(want), "{uri}: {}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn tile_addresses_that_name_no_tile_get_404_and_a_too_high_zoom_400_with_a_plain_reason() {
    let app = app();
    let cases = [
        (
            "/tiles/13/0/0.pbf",
            400,
            "above this server's maximum zoom 12",
        ),
        (
            "/tiles/99999999999999999999/0/0.pbf",
            400,
            "above this server's maximum zoom",
        ),
        ("/tiles/3/-1/0.pbf", 404, "x \"-1\" is not a whole number"),
        ("/tiles/a/0/0.pbf", 404, "z \"a\" is not a whole number"),
        ("/tiles/3/0/1e3.pbf", 404, "y \"1e3\" is not a whole number"),
        ("/tiles/3/0/0.png", 404, "unknown tile format \".png\""),
        ("/tiles/3/0/0", 404, "unknown tile format"),
        // TileJSON's template taken literally (as a client following it as a link would).
        (
            "/tiles/%7Bz%7D/%7Bx%7D/%7By%7D.pbf",
            404,
            "z \"{z}\" is not a whole number",
        ),
        ("/tiles/3/8/0.pbf", 404, "outside 0..=7 at zoom 3"),
    ];
    for (uri, status, want) in cases {
        let r = get(&app, uri, &[]).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.text().contains(want), "{uri}: {}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")),
            "{uri}"
        );
    }
    // A path that is not UTF-8 once decoded is refused before it reaches the handler.
    let r = get(&app, "/tiles/3/0/%FF.pbf", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn unknown_paths_are_404_and_tiles_mvt_is_an_alias() {
    let app = app();
    for uri in [
        "/nope",
        "/tiles",
        "/tiles/1/0",
        "/tiles/1/0/0/0.pbf",
        "/styles/other.json",
    ] {
        let r = get(&app, uri, &[]).await;
        assert_eq!(r.status, 404, "{uri}");
    }
    let pbf = get(&app, "/tiles/6/31/20.pbf", &[]).await;
    let mvt = get(&app, "/tiles/6/31/20.mvt", &[]).await;
    assert_eq!(pbf.status, 200);
    assert_eq!(pbf.body, mvt.body);
}

#[tokio::test]
async fn empty_tiles_are_204_and_still_cacheable() {
    let app = app();
    let r = get(&app, "/tiles/6/33/19.pbf", &[("accept-encoding", "gzip")]).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

#[tokio::test]
async fn gzip_is_sent_when_accepted_and_identity_otherwise_with_the_same_tile() {
    let app = app();
    let gz = get(&app, LONDON, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gz.header("content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    assert!(
        gz.headers
            .get_all("vary")
            .iter()
            .any(|v| v == "Accept-Encoding")
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut unzipped)
        .expect("gzip body");

    for ae in [None, Some("identity"), Some("gzip;q=0"), Some("br")] {
        let headers: Vec<(&str, &str)> = ae.map(|v| ("accept-encoding", v)).into_iter().collect();
        let plain = get(&app, LONDON, &headers).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None, "{ae:?}");
        assert!(
            plain
                .headers
                .get_all("vary")
                .iter()
                .any(|v| v == "Accept-Encoding")
        );
        assert_eq!(
            plain.body.as_ref(),
            unzipped.as_slice(),
            "{ae:?}: same tile either way"
        );
        assert_ne!(
            plain.header("etag"),
            gz.header("etag"),
            "ETag differs per encoding"
        );
    }
    let layers = common::mvt::decode(&unzipped);
    assert!(
        layers["local_authorities"]
            .features
            .iter()
            .any(|f| f.str("name") == "Westminster")
    );
}

#[tokio::test]
async fn etag_is_strong_stable_and_answers_if_none_match_with_304() {
    let app = app();
    let first = get(&app, LONDON, &[("accept-encoding", "gzip")]).await;
    let etag = first.header("etag").expect("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    assert_eq!(
        etag,
        partnership_map::cache::etag(&first.body),
        "ETag is the hash of the bytes sent"
    );
    let again = get(&app, LONDON, &[("accept-encoding", "gzip")]).await;
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.body, first.body);

    let nm = get(
        &app,
        LONDON,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    assert_eq!(nm.header("etag"), Some(etag.as_str()));
    assert_eq!(nm.header("cache-control"), Some("public, max-age=3600"));
    let list = format!("\"other\", W/{etag}");
    assert_eq!(
        get(
            &app,
            LONDON,
            &[("accept-encoding", "gzip"), ("if-none-match", &list)]
        )
        .await
        .status,
        304
    );
    // The gzip ETag does not validate the identity representation.
    assert_eq!(
        get(&app, LONDON, &[("if-none-match", &etag)]).await.status,
        200
    );
    assert_eq!(
        get(
            &app,
            LONDON,
            &[("accept-encoding", "gzip"), ("if-none-match", "\"stale\"")]
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn cors_allows_any_origin_on_public_resources() {
    let app = app();
    for uri in [LONDON, "/tiles.json", "/styles/default.json"] {
        let r = get(&app, uri, &[("origin", "https://school.example")]).await;
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{uri}");
    }
}

#[tokio::test]
async fn tilejson_describes_the_tiles_and_every_field() {
    let app = app();
    let r = get(&app, "/tiles.json", &[]).await;
    assert_eq!(r.status, 200);
    let tj: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        tj["tiles"][0],
        format!(
            "http://127.0.0.1:8080/tiles/{}/{{z}}/{{x}}/{{y}}.pbf",
            today()
        )
    );
    assert_eq!(tj["minzoom"], 0);
    assert_eq!(tj["maxzoom"], 12);
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .map(|v| v.as_f64().expect("num"))
        .collect();
    assert!(
        b[0] < -6.3
            && b[0] > -6.5
            && b[2] > 1.7
            && b[2] < 1.8
            && b[1] > 49.8
            && b[3] > 55.8
            && b[3] < 55.82,
        "{b:?}"
    );
    assert!(
        tj["attribution"]
            .as_str()
            .expect("attribution")
            .contains("Open Government Licence v.3.0")
    );
    assert!(
        tj["attribution"]
            .as_str()
            .expect("attribution")
            .contains("mySociety")
    );
    let layers = tj["vector_layers"].as_array().expect("layers");
    assert_eq!(layers[0]["id"], schema::LA_LAYER);
    assert_eq!(layers[1]["id"], schema::LABEL_LAYER);
    for f in schema::la_fields() {
        let d = layers[0]["fields"][&f.name]
            .as_str()
            .unwrap_or_else(|| panic!("{} missing", f.name));
        assert!(d.contains(&f.description), "{}", f.name);
    }
    assert_eq!(
        layers[0]["fields"].as_object().expect("fields").len(),
        schema::la_fields().len()
    );
    // The public URL comes from Host, or X-Forwarded-Proto for TLS-terminating proxies.
    let r = get(&app, "/tiles.json", &[("x-forwarded-proto", "https")]).await;
    let tj: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert!(
        tj["tiles"][0]
            .as_str()
            .expect("url")
            .starts_with("https://127.0.0.1:8080/")
    );
}

#[tokio::test]
async fn a_configured_public_url_overrides_host() {
    let cfg = partnership_map::http::HttpConfig {
        cache_control: "public, max-age=60".parse().expect("hv"),
        public_url: Some("https://maps.example.org/pm".to_owned()),
        ..Default::default()
    };
    let state = partnership_map::http::AppState::new(
        partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 8)
            .expect("valid"),
        partnership_map::cache::TileCache::new(1 << 20),
        cfg,
        common::memory_store(),
    )
    .expect("state");
    let app = partnership_map::http::router(state);
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&app, "/tiles.json", &[]).await.body).expect("json");
    assert_eq!(
        tj["tiles"][0],
        format!(
            "https://maps.example.org/pm/tiles/{}/{{z}}/{{x}}/{{y}}.pbf",
            today()
        )
    );
    assert_eq!(tj["maxzoom"], 8);
    let r = get(&app, "/tiles/9/0/0.pbf", &[]).await;
    assert_eq!(r.status, 400, "max zoom is configurable");
    assert_eq!(
        get(&app, "/tiles/8/127/83.pbf", &[])
            .await
            .header("cache-control"),
        Some("public, max-age=60")
    );
}

#[tokio::test]
async fn the_style_points_at_this_server_and_nowhere_else() {
    let app = app();
    let r = get(&app, "/styles/default.json", &[]).await;
    assert_eq!(r.status, 200);
    let style: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(style["version"], 8);
    let src = &style["sources"]["partnership-map"];
    assert_eq!(
        src["tiles"][0],
        format!(
            "http://127.0.0.1:8080/tiles/{}/{{z}}/{{x}}/{{y}}.pbf",
            today()
        )
    );
    assert_eq!(src["maxzoom"], 12);
    // No external URL anywhere: every URL-looking string is on this server.
    let text = r.text();
    for (i, _) in text.match_indices("://") {
        let start = text[..i].rfind('"').map_or(0, |s| s + 1);
        assert!(
            text[start..].starts_with("http://127.0.0.1:8080/"),
            "external URL in style: {}",
            &text[start..i + 40]
        );
    }
    assert_eq!(
        style["glyphs"],
        "http://127.0.0.1:8080/fonts/{fontstack}/{range}.pbf"
    );
    assert!(style.get("sprite").is_none());
    let ids: Vec<&str> = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    assert!(
        ids.contains(&"la-fill") && ids.contains(&"la-fill-no-data") && ids.contains(&"la-outline")
    );
}

#[tokio::test]
async fn a_malformed_host_is_a_client_error() {
    let app = app();
    let r = get(&app, "/tiles.json", &[("host", "evil\"host")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn health_reports_the_data_and_is_never_cached() {
    let app = app();
    let r = get(&app, "/health", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let h: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(h["status"], "ok");
    let c = common::coverage();
    assert_eq!(h["local_authorities"], c.las);
    assert_eq!(h["partnerships"], c.partnerships);
}

#[tokio::test]
async fn head_requests_get_headers_without_a_body() {
    let app = app();
    let req = axum::http::Request::head(LONDON)
        .header("host", "x")
        .body(axum::body::Body::empty())
        .expect("req");
    let res = tower::ServiceExt::oneshot(app, req)
        .await
        .expect("infallible");
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("etag"));
}

#[tokio::test]
async fn the_json_api_lists_las_details_and_partnerships_with_stable_fields() {
    let app = app();
    let r = get(&app, "/api/las", &[]).await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["count"], 153);
    let las = v["local_authorities"].as_array().expect("list");
    let hull = las.iter().find(|l| l["code"] == "E06000010").expect("Hull");
    assert_eq!(hull["name"], "Kingston upon Hull, City of");
    assert_eq!(hull["stat_neighbours"].as_array().map(Vec::len), Some(10));
    assert_eq!(hull["bbox"].as_array().map(Vec::len), Some(4));
    for f in schema::la_fields().iter().filter(|f| !f.optional) {
        assert!(
            hull.get(&f.name).is_some(),
            "{} missing from /api/las",
            f.name
        );
    }
    let etag = r.header("etag").expect("etag").to_owned();
    assert_eq!(
        get(&app, "/api/las", &[("if-none-match", &etag)])
            .await
            .status,
        304
    );

    let d: serde_json::Value =
        serde_json::from_slice(&get(&app, "/api/las/E09000002", &[]).await.body).expect("json");
    assert_eq!(d["local_authority"]["name"], "Barking and Dagenham");
    assert_eq!(d["role"]["convener"], true);
    assert!(
        d["role"]["source_urls"]
            .as_array()
            .is_some_and(|u| !u.is_empty())
    );
    assert!(d["partnerships"].as_array().is_some_and(|p| {
        p.iter()
            .any(|p| p["id"] == "barking-and-dagenham-school-improvement-partnership")
    }));
    assert_eq!(d["neighbours"][0]["rank"], 1);

    let missing = get(&app, "/api/las/E99999999", &[]).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert!(
        serde_json::from_slice::<serde_json::Value>(&missing.body).expect("json")["error"]
            .as_str()
            .is_some_and(|e| e.contains("E99999999"))
    );

    let p: serde_json::Value =
        serde_json::from_slice(&get(&app, "/api/partnerships?la=E06000061", &[]).await.body)
            .expect("json");
    assert!(
        p["partnerships"].as_array().is_some_and(|ps| ps
            .iter()
            .any(|x| x["la_codes"].as_array().is_some_and(|c| c.len() == 2))),
        "Educating Northants spans two LAs"
    );
    let all: serde_json::Value =
        serde_json::from_slice(&get(&app, "/api/partnerships", &[]).await.body).expect("json");
    assert_eq!(all["count"], common::coverage().partnerships);
    assert_eq!(
        get(&app, "/api/partnerships?la=nope", &[]).await.status,
        404
    );
}

#[tokio::test]
async fn glyphs_are_served_for_the_shipped_fonts_only() {
    let app = app();
    let r = get(&app, "/fonts/Open%20Sans%20Semibold/0-255.pbf", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("*"),
        "fonts are embeddable too"
    );
    assert!(r.body.len() > 10_000, "{} bytes", r.body.len());
    // A fallback stack picks the first font served here.
    assert_eq!(
        get(
            &app,
            "/fonts/Noto%20Sans%20Regular,Open%20Sans%20Regular/256-511.pbf",
            &[]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(&app, "/fonts/Arial%20Regular/0-255.pbf", &[])
            .await
            .status,
        404
    );
    for bad in [
        "1-256.pbf",
        "0-255",
        "0-511.pbf",
        "65536-65791.pbf",
        "a-b.pbf",
    ] {
        assert_eq!(
            get(&app, &format!("/fonts/Open%20Sans%20Regular/{bad}"), &[])
                .await
                .status,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_map_page_and_vendored_maplibre_are_served_locally_with_a_strict_csp() {
    let app = app();
    let r = get(&app, "/", &[]).await;
    assert_eq!(r.status, 200);
    let page = r.text();
    assert!(page.contains("<script type=\"module\" src=\"/static/map.js\">"));
    assert!(
        !page.contains("https://") || !page.contains("<script src=\"http"),
        "no external script"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let csp = r.header("content-security-policy").expect("csp");
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && csp.contains("frame-ancestors 'none'")
    );
    let js = get(&app, "/vendor/maplibre-gl/maplibre-gl.mjs", &[]).await;
    assert_eq!(js.status, 200);
    assert!(js.body.len() > 500_000);
    assert_eq!(
        get(&app, "/vendor/maplibre-gl/maplibre-gl-worker.mjs", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        get(&app, "/vendor/maplibre-gl/nope.js", &[]).await.status,
        404
    );
    // The embed may be framed by any site, under an otherwise equally strict policy.
    let embed = get(&app, "/embed", &[]).await;
    assert_eq!(embed.header("x-frame-options"), None);
    let ecsp = embed.header("content-security-policy").unwrap_or_default();
    assert_eq!(
        ecsp.replace("frame-ancestors *", "frame-ancestors 'none'"),
        csp,
        "{ecsp}"
    );
    assert!(ecsp.ends_with("; frame-ancestors *") && !ecsp.contains("unsafe-"));
}

#[tokio::test]
async fn downloads_are_versioned_cacheable_and_licensed() {
    let app = app();
    let page = get(&app, "/downloads", &[]).await;
    assert_eq!(page.status, 200);
    let version = common::dataset().version.clone();
    let text = page.text();
    for f in ["local_authorities", "partnerships"] {
        assert!(text.contains(&format!("/downloads/{f}-{version}.")), "{f}");
    }
    assert!(text.contains("Open Government Licence v3.0") && text.contains("CC BY 4.0"));
    let plain = get(&app, "/downloads/partnerships.csv", &[]).await;
    assert_eq!(plain.status, 303);
    assert_eq!(
        plain.header("location"),
        Some(format!("/downloads/partnerships-{version}.csv").as_str())
    );
    let csv_r = get(&app, &format!("/downloads/partnerships-{version}.csv"), &[]).await;
    assert_eq!(csv_r.status, 200);
    assert!(
        csv_r
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable"))
    );
    assert!(
        csv_r
            .header("link")
            .is_some_and(|l| l.contains("rel=\"license\""))
    );
    let mut rdr = csv::Reader::from_reader(&csv_r.body[..]);
    assert_eq!(rdr.records().count(), common::coverage().partnerships);
    let gj: serde_json::Value = serde_json::from_slice(
        &get(
            &app,
            &format!("/downloads/local_authorities-{version}.geojson"),
            &[],
        )
        .await
        .body,
    )
    .expect("json");
    assert_eq!(gj["features"].as_array().map(Vec::len), Some(153));
    assert!(
        gj["licence"]
            .as_str()
            .is_some_and(|l| l.contains("mySociety"))
    );
    let hartlepool = gj["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["id"] == "E06000001")
        .expect("Hartlepool");
    assert!(hartlepool["properties"]["stat_neighbours"].is_string());
    let js: serde_json::Value = serde_json::from_slice(
        &get(
            &app,
            &format!("/downloads/partnerships-{version}.json"),
            &[],
        )
        .await
        .body,
    )
    .expect("json");
    assert_eq!(
        js["partnerships"].as_array().map(Vec::len),
        Some(common::coverage().partnerships)
    );
    assert_eq!(
        get(&app, "/downloads/partnerships-0000000000000000.csv", &[])
            .await
            .status,
        404
    );
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// JSON, GeoJSON downloads and MapLibre's script are gzipped for clients that accept it, with a
/// weak ETag that answers 304 for either encoding; tiles are never gzipped twice; tiny
/// responses are left alone.
#[tokio::test]
async fn other_responses_are_gzipped_on_request_with_weak_etags() {
    let app = app();
    let version = common::dataset().version.clone();
    let download = format!("/downloads/local_authorities-{version}.geojson");
    for uri in [
        "/api/las",
        "/ogc/collections/local_authorities/items?limit=5",
        download.as_str(),
        "/vendor/maplibre-gl/maplibre-gl-worker.mjs",
    ] {
        let plain = get(&app, uri, &[]).await;
        let gz = get(&app, uri, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(
            (plain.status.as_u16(), gz.status.as_u16()),
            (200, 200),
            "{uri}"
        );
        assert_eq!(plain.header("content-encoding"), None, "{uri}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{uri}");
        assert!(
            gz.headers.get_all("vary").iter().any(|v| v
                .to_str()
                .is_ok_and(|v| v.eq_ignore_ascii_case("accept-encoding"))),
            "{uri}: Vary"
        );
        let unzipped = gunzip(&gz.body);
        if uri.starts_with("/ogc/") {
            // OGC item pages carry the time they were made (`timeStamp`, to the second): two
            // requests may fall in different seconds, so compare them without it.
            let without_time = |b: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(b).expect("JSON");
                assert!(v["timeStamp"].is_string(), "{uri}: timeStamp");
                v["timeStamp"].take();
                v
            };
            assert_eq!(
                without_time(&unzipped),
                without_time(&plain.body),
                "{uri}: same content"
            );
        } else {
            assert_eq!(unzipped, plain.body.as_ref(), "{uri}: same content");
        }
        assert!(
            gz.body.len() * 3 < plain.body.len(),
            "{uri}: {} -> {} bytes",
            plain.body.len(),
            gz.body.len()
        );
        if let Some(tag) = plain.header("etag") {
            assert!(tag.starts_with("W/\""), "{uri}: weak ETag {tag}");
            assert_eq!(gz.header("etag"), Some(tag), "{uri}");
            let nm = get(
                &app,
                uri,
                &[("accept-encoding", "gzip"), ("if-none-match", tag)],
            )
            .await;
            assert_eq!(nm.status, 304, "{uri}");
        }
    }
    // Tiny responses are not worth a gzip header.
    let h = get(&app, "/health", &[("accept-encoding", "gzip")]).await;
    assert_eq!(h.header("content-encoding"), None);
    // A gzip tile is the stored gzip, decoded once into a valid tile.
    let t = get(&app, "/tiles/6/31/20.pbf", &[("accept-encoding", "gzip")]).await;
    assert_eq!(t.header("content-encoding"), Some("gzip"));
    let layers = common::mvt::decode(&gunzip(&t.body));
    assert!(layers.contains_key("local_authorities"));
}

/// Today in England: TileJSON and the style point at today's dated tile URL.
fn today() -> String {
    partnership_map::clock::Clock::system()
        .today()
        .format("%Y-%m-%d")
        .to_string()
}
