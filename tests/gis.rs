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
    assert!(stdout.contains("using driver `MVT' successful"), "{stdout}");
    assert!(stdout.contains("Layer name: local_authorities"), "{stdout}");
    assert!(stdout.contains("Layer name: la_labels"), "{stdout}");
    assert!(stdout.contains("Geometry: Multi Polygon"), "{stdout}");
    assert!(
        stdout.contains("EPSG\",3857"),
        "georeferenced as Web Mercator: {stdout}"
    );
    for field in [
        "code: String",
        "name: String",
        "partnership_count: Integer",
        "role_convener: Integer(Boolean)",
        "fsm_primary_pct: Real",
        "stat_neighbours: String",
    ] {
        assert!(stdout.contains(field), "{field} missing: {stdout}");
    }
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
    for field in [
        "code: String",
        "partnership_count: Integer",
        "role_convener: Integer(Boolean)",
        "fsm_primary_pct: Real",
        "verified: Integer(Boolean)",
    ] {
        assert!(stdout.contains(field), "{field} missing: {stdout}");
    }
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
