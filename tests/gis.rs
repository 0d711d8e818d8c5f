//! External consumers: GDAL (MVT tiles as QGIS reads them, the GeoJSON download) and the
//! MapLibre style validator.
//! Both tools are installed by `scripts/test.sh`; missing tools fail the test, never skip it.

mod common;

use std::process::Command;

fn tool(path: &str, hint: &str) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {path}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found || std::path::Path::new(path).exists(),
        "{path} not found: {hint}"
    );
    path.to_owned()
}

/// Every `needle` is in `ogrinfo`'s output.
fn assert_has_all(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n} missing: {text}");
    }
}

#[tokio::test]
async fn gdal_opens_a_served_tile_and_reads_both_layers_with_their_fields() {
    let ogrinfo = tool("ogrinfo", "install Debian gdal-bin (scripts/test.sh does)");
    let app = common::app();
    let r = common::get(&app, "/tiles/10/511/340.pbf", &[]).await;
    assert_eq!(r.status, 200);
    let dir = tempfile::tempdir().expect("tmp");
    // GDAL reads z/x/y from the path to georeference a lone tile.
    let tile = dir.path().join("10/511/340.pbf");
    std::fs::create_dir_all(tile.parent().expect("parent")).expect("mkdir");
    std::fs::write(&tile, &r.body).expect("write");
    let out = Command::new(&ogrinfo)
        .args(["-ro", "-al", "-so"])
        .arg(&tile)
        .output()
        .expect("run ogrinfo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ogrinfo failed: {stderr}");
    assert_has_all(
        &stdout,
        &[
            "using driver `MVT' successful",
            "Layer name: local_authorities",
            "Layer name: la_labels",
            "Geometry: Multi Polygon",
            "EPSG\",3857",
        ],
    );
    assert_has_all(
        &stdout,
        &[
            "code: String",
            "name: String",
            "partnership_count: Integer",
            "role_convener: Integer(Boolean)",
            "fsm_primary_pct: Real",
            "stat_neighbours: String",
        ],
    );
    // Read every feature: the boroughs come through with their attributes.
    let out = Command::new(&ogrinfo)
        .args(["-ro", "-q", "-where", "name = 'Westminster'", "-al"])
        .arg(&tile)
        .output()
        .expect("run ogrinfo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("code (String) = E09000033"), "{stdout}");
    assert!(stdout.contains("MULTIPOLYGON ((("), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("ERROR"), "GDAL reported errors: {stderr}");
}

#[tokio::test]
async fn the_style_passes_maplibre_gl_style_validate() {
    let validator = common::repo().join("web/node_modules/.bin/gl-style-validate");
    let validator = tool(
        validator.to_str().expect("utf8"),
        "run `npm ci --prefix web` (scripts/test.sh does)",
    );
    let app = common::app();
    let r = common::get(&app, "/styles/default.json", &[]).await;
    assert_eq!(r.status, 200);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("style.json");
    std::fs::write(&file, &r.body).expect("write");
    let out = Command::new(&validator)
        .arg(&file)
        .output()
        .expect("run validator");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && all.trim().is_empty(),
        "style has errors:\n{all}"
    );
    // And the validator does catch a broken style, so silence above means something.
    std::fs::write(&file, r.text().replace("\"fill-color\"", "\"fill-colour\"")).expect("write");
    let out = Command::new(&validator)
        .arg(&file)
        .output()
        .expect("run validator");
    assert!(!out.status.success(), "validator accepted a broken style");
}

#[tokio::test]
async fn gdal_opens_the_geojson_download_with_valid_polygons_and_typed_columns() {
    let ogrinfo = tool("ogrinfo", "install Debian gdal-bin (scripts/test.sh does)");
    let app = common::app();
    let version = common::dataset().version.clone();
    let r = common::get(
        &app,
        &format!("/downloads/local_authorities-{version}.geojson"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("local_authorities.geojson");
    std::fs::write(&file, &r.body).expect("write");
    let out = Command::new(&ogrinfo)
        .args(["-ro", "-so"])
        .arg(&file)
        .arg("local_authorities")
        .output()
        .expect("run ogrinfo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Geometry: Multi Polygon"), "{stdout}");
    assert!(stdout.contains("Feature Count: 153"), "{stdout}");
    assert!(stdout.contains("\"WGS 84\""), "{stdout}");
    assert_has_all(
        &stdout,
        &[
            "code: String",
            "partnership_count: Integer",
            "role_convener: Integer(Boolean)",
            "fsm_primary_pct: Real",
            "verified: Integer(Boolean)",
        ],
    );
    // GEOS (through GDAL's SQLite dialect) finds every full-resolution polygon valid.
    let out = Command::new(&ogrinfo)
        .args(["-ro", "-q"])
        .arg(&file)
        .args([
            "-dialect",
            "SQLite",
            "-sql",
            "SELECT COUNT(*) AS n, SUM(ST_IsValid(geometry)) AS valid FROM local_authorities",
        ])
        .output()
        .expect("run ogrinfo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("n (Integer) = 153"), "{stdout}");
    assert!(stdout.contains("valid (Integer) = 153"), "{stdout}");
}

/// `ogrinfo MVT:http://HOST/tiles/8` (Debian's GDAL 3.6) reads a whole zoom level straight from
/// the server: it finds `/tiles/metadata.json`, so columns are typed and polygons are polygons.
#[test]
fn gdal_reads_a_whole_zoom_level_from_the_tile_url_with_typed_columns() {
    let ogrinfo = tool("ogrinfo", "install Debian gdal-bin (scripts/test.sh does)");
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let mut server = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    let url = format!("MVT:{}/tiles/8", server.base);
    let summary = Command::new(&ogrinfo)
        .args(["-ro", "-so", &url, "local_authorities"])
        .output()
        .expect("run ogrinfo");
    let westminster = Command::new(&ogrinfo)
        .args([
            "-ro",
            "-q",
            &url,
            "local_authorities",
            "-where",
            "code = 'E09000033'",
        ])
        .output()
        .expect("run ogrinfo");
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log = server.log();
    let text = String::from_utf8_lossy(&summary.stdout);
    let stderr = String::from_utf8_lossy(&summary.stderr);
    assert!(
        summary.status.success() && !stderr.contains("ERROR"),
        "{stderr}"
    );
    assert!(text.contains("Geometry: Multi Polygon"), "{text}");
    assert_has_all(
        &text,
        &[
            "code: String",
            "partnership_count: Real",
            "role_convener: Integer(Boolean)",
            "fsm_primary_pct: Real",
        ],
    );
    let w = String::from_utf8_lossy(&westminster.stdout);
    assert_has_all(
        &w,
        &[
            "name (String) = Westminster",
            "region (String) = London",
            "MULTIPOLYGON (((",
        ],
    );
    assert!(
        log.contains("path=\"/tiles/metadata.json\" status=200"),
        "GDAL found the metadata: {log}"
    );
    assert!(
        log.contains("path=\"/tiles/8/") && !log.contains("status=500"),
        "GDAL fetched zoom 8 tiles"
    );
}
