//! OGC API – Features and Tiles: the JSON documents, paging, filters, and GDAL's OAPIF driver
//! reading both collections from a real server on loopback.

mod common;

use std::process::Command;

use common::{app, get};
use serde_json::Value;

async fn json(app: &axum::Router, uri: &str) -> Value {
    let r = get(app, uri, &[]).await;
    assert_eq!(r.status, 200, "{uri}: {}", r.text());
    serde_json::from_slice(&r.body).expect("json")
}

#[tokio::test]
async fn landing_conformance_and_collections_describe_the_api() {
    let app = app();
    let l = json(&app, "/ogc").await;
    let rels: Vec<&str> = l["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|k| k["rel"].as_str())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rel}");
    }
    let c = json(&app, "/ogc/conformance").await;
    let classes: Vec<&str> = c["conformsTo"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core"));
    let cs = json(&app, "/ogc/collections").await;
    let ids: Vec<&str> = cs["collections"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["local_authorities", "partnerships"]);
    assert_eq!(get(&app, "/ogc/collections/nope", &[]).await.status, 404);
}

#[tokio::test]
async fn items_page_with_next_links_and_filter_by_attribute_and_bbox() {
    let app = app();
    let page = json(&app, "/ogc/collections/local_authorities/items?limit=50").await;
    assert_eq!(page["numberMatched"], 153);
    assert_eq!(page["numberReturned"], 50);
    let next = page["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("next")["href"]
        .as_str()
        .expect("href")
        .to_owned();
    assert!(next.ends_with("limit=50&offset=50"), "{next}");
    let f = &page["features"][0];
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    assert!(f["properties"]["partnership_count"].is_number());
    // Full resolution: Hartlepool's first ring has every source vertex.
    let conveners = json(
        &app,
        "/ogc/collections/local_authorities/items?role_convener=true&limit=1000",
    )
    .await;
    let want = common::dataset()
        .attributes
        .iter()
        .filter(|a| {
            a.iter().any(|(k, v)| {
                k == "role_convener" && *v == partnership_map::model::Value::Bool(true)
            })
        })
        .count();
    assert_eq!(conveners["numberMatched"], want);
    let london = json(
        &app,
        "/ogc/collections/local_authorities/items?bbox=-0.12,51.50,-0.10,51.52",
    )
    .await;
    let names: Vec<&str> = london["features"]
        .as_array()
        .expect("f")
        .iter()
        .filter_map(|f| f["properties"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"City of London") && names.len() < 8,
        "{names:?}"
    );
    let one = json(&app, "/ogc/collections/local_authorities/items/E09000033").await;
    assert_eq!(one["properties"]["name"], "Westminster");
    let p = json(
        &app,
        "/ogc/collections/partnerships/items?la_code=E06000061",
    )
    .await;
    assert!(p["numberMatched"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(p["features"][0]["geometry"]["type"], "MultiPoint");
    for bad in [
        "/ogc/collections/local_authorities/items?limit=0",
        "/ogc/collections/local_authorities/items?bbox=1,2,3",
        "/ogc/collections/local_authorities/items?colour=red",
    ] {
        assert_eq!(get(&app, bad, &[]).await.status, 400, "{bad}");
    }
    assert_eq!(
        get(
            &app,
            "/ogc/collections/local_authorities/items/E99999999",
            &[]
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn ogc_tiles_point_at_the_same_tiles() {
    let app = app();
    let tms = json(&app, "/ogc/tileMatrixSets/WebMercatorQuad").await;
    assert_eq!(tms["tileMatrices"].as_array().map(Vec::len), Some(13));
    assert_eq!(tms["tileMatrices"][10]["matrixWidth"], 1024);
    let ts = json(
        &app,
        "/ogc/collections/local_authorities/tiles/WebMercatorQuad",
    )
    .await;
    assert_eq!(ts["dataType"], "vector");
    let item = ts["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "item")
        .expect("item link");
    assert_eq!(item["type"], "application/vnd.mapbox-vector-tile");
    let a = get(
        &app,
        "/ogc/collections/local_authorities/tiles/WebMercatorQuad/10/340/511",
        &[("accept-encoding", "gzip")],
    )
    .await;
    let b = get(
        &app,
        "/tiles/10/511/340.pbf",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b.body, "row/col map to y/x");
    assert_eq!(
        get(
            &app,
            "/ogc/collections/local_authorities/tiles/WebMercatorQuad/13/0/0",
            &[]
        )
        .await
        .status,
        400
    );
}

#[test]
fn gdal_reads_both_collections_through_its_oapif_driver() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let child_handle = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    let url = child_handle.base.clone();
    let out = Command::new("ogrinfo")
        .args([
            "-ro",
            "-so",
            &format!("OAPIF:{url}/ogc"),
            "local_authorities",
        ])
        .output()
        .expect("ogrinfo (install gdal-bin)");
    let text = String::from_utf8_lossy(&out.stdout);
    let listing = Command::new("ogrinfo")
        .args(["-ro", &format!("OAPIF:{url}/ogc")])
        .output()
        .expect("ogrinfo");
    let q = Command::new("ogrinfo")
        .args([
            "-ro",
            "-q",
            &format!("OAPIF:{url}/ogc"),
            "partnerships",
            "-where",
            "id = 'babcock-ldp-devon'",
        ])
        .output()
        .expect("ogrinfo");
    drop(child_handle);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("1: local_authorities") && listing.contains("2: partnerships"),
        "{listing}"
    );
    assert!(text.contains("Feature Count: 153"), "{text}");
    assert!(text.contains("Geometry: Multi Polygon"), "{text}");
    assert!(
        text.contains("role_convener: Integer(Boolean)") || text.contains("role_convener: Integer"),
        "{text}"
    );
    let q = String::from_utf8_lossy(&q.stdout);
    assert!(q.contains("Babcock LDP") && q.contains("MULTIPOINT"), "{q}");
}
