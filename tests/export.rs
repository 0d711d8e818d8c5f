//! Static export: the PMTiles and MBTiles archives hold exactly the tiles the server serves,
//! with the metadata clients need; GDAL's MBTiles driver reads the archive.

mod common;

use partnership_map::export::{Format, export};
use partnership_map::tile::pyramid;

const SAMPLE: &[(u8, u32, u32)] = &[
    (0, 0, 0),
    (4, 7, 5),
    (6, 31, 20),
    (8, 127, 83),
    (8, 129, 81),
    (10, 511, 340),
];

async fn served(app: &axum::Router, z: u8, x: u32, y: u32) -> Option<bytes::Bytes> {
    let r = common::get(
        app,
        &format!("/tiles/{z}/{x}/{y}.pbf"),
        &[("accept-encoding", "gzip")],
    )
    .await;
    match r.status.as_u16() {
        200 => Some(r.body),
        204 => None,
        s => panic!("{z}/{x}/{y}: {s}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pmtiles_archive_returns_byte_for_byte_the_served_tiles() {
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 10)
        .expect("valid");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pm.pmtiles");
    let summary = export(&ds, Format::Pmtiles, &path, 0, 10, false).expect("export");
    assert_eq!(summary.examined, pyramid(ds.geometry.bounds, 0, 10).len());
    assert!(
        summary.tiles > 400 && summary.tiles < summary.examined,
        "{summary:?}"
    );

    let reader = pmtiles::AsyncPmTilesReader::try_from_source(
        pmtiles::MmapBackend::try_from(&path).await.expect("open"),
    )
    .await
    .expect("read");
    let h = reader.get_header();
    assert_eq!((h.min_zoom, h.max_zoom), (0, 10));
    assert_eq!(h.tile_type, pmtiles::TileType::Mvt);
    assert_eq!(h.tile_compression, pmtiles::Compression::Gzip);
    let meta: serde_json::Value =
        serde_json::from_str(&reader.get_metadata().await.expect("metadata")).expect("json");
    assert_eq!(meta["vector_layers"][0]["id"], "local_authorities");
    // Field values are type names (as MBTiles 1.3 requires), so GDAL types the columns.
    assert_eq!(
        meta["vector_layers"][0]["fields"]["partnership_count"],
        "Number"
    );
    assert_eq!(
        meta["vector_layers"][0]["fields"]["role_convener"],
        "Boolean"
    );
    assert_eq!(meta["vector_layers"][0]["fields"]["name"], "String");
    assert!(
        meta["attribution"]
            .as_str()
            .is_some_and(|a| a.contains("Open Government Licence"))
    );

    let app = partnership_map::http::router(common::state_with(ds, 16 << 20));
    for &(z, x, y) in SAMPLE.iter().chain([(6, 33, 19)].iter()) {
        let archived = reader
            .get_tile(pmtiles::TileCoord::new(z, x, y).expect("coord"))
            .await
            .expect("get");
        assert_eq!(archived, served(&app, z, x, y).await, "{z}/{x}/{y}");
    }
}

#[tokio::test]
async fn the_mbtiles_archive_returns_byte_for_byte_the_served_tiles_and_gdal_reads_it() {
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 10)
        .expect("valid");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pm.mbtiles");
    let summary = export(&ds, Format::Mbtiles, &path, 0, 10, false).expect("export");
    let db = rusqlite::Connection::open(&path).expect("open");
    let count: i64 = db
        .query_row("SELECT COUNT(*) FROM tiles", [], |r| r.get(0))
        .expect("count");
    assert_eq!(usize::try_from(count).expect("n"), summary.tiles);
    let meta = |k: &str| {
        db.query_row("SELECT value FROM metadata WHERE name = ?1", [k], |r| {
            r.get::<_, String>(0)
        })
        .expect(k)
    };
    assert_eq!(meta("format"), "pbf");
    assert_eq!(
        (meta("minzoom"), meta("maxzoom")),
        ("0".to_owned(), "10".to_owned())
    );
    assert!(meta("json").contains("\"local_authorities\""));
    assert!(meta("attribution").contains("mySociety"));
    let app = partnership_map::http::router(common::state_with(ds, 16 << 20));
    for &(z, x, y) in SAMPLE {
        let row = (1u32 << z) - 1 - y;
        let archived: Option<Vec<u8>> = db
            .query_row("SELECT tile_data FROM tiles WHERE zoom_level=?1 AND tile_column=?2 AND tile_row=?3", rusqlite::params![z, x, row], |r| r.get(0))
            .ok();
        assert_eq!(
            archived.map(bytes::Bytes::from),
            served(&app, z, x, y).await,
            "{z}/{x}/{y}"
        );
    }
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&path)
        .output()
        .expect("ogrinfo (install gdal-bin)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("using driver `MBTiles' successful"), "{text}");
    // tilestats gives GDAL the geometry type.
    assert!(text.contains("local_authorities (Multi Polygon)"), "{text}");
    assert!(
        text.contains("local_authorities") && text.contains("la_labels"),
        "{text}"
    );
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-q", "-oo", "ZOOM_LEVEL=6"])
        .arg(&path)
        .args(["local_authorities", "-where", "code = 'E09000033'"])
        .output()
        .expect("ogrinfo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Westminster"),
        "GDAL decodes features and attributes: {text}"
    );
    // The metadata types the columns (MBTiles 1.3: "Number", "Boolean", "String"), so GDAL
    // gives numbers and booleans, not text.
    for field in [
        "partnership_count (Real) = 1",
        "role_convener (Integer(Boolean)) = 0",
        "fsm_primary_pct (Real) = ",
        "region (String) = London",
    ] {
        assert!(text.contains(field), "{field} missing: {text}");
    }

    // GDAL reads every feature of every zoom level without a decoding error.
    for z in 0..=10 {
        let out = std::process::Command::new("ogrinfo")
            .args(["-ro", "-q", "-oo", &format!("ZOOM_LEVEL={z}")])
            .arg(&path)
            .arg("local_authorities")
            .output()
            .expect("ogrinfo");
        let text = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("ERROR"),
            "z{z}: GDAL reported {stderr}"
        );
        let codes: std::collections::BTreeSet<_> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("code (String) = "))
            .collect();
        let polygons = text.matches("MULTIPOLYGON (((").count();
        println!(
            "z{z}: GDAL read {polygons} LA polygons, {} distinct LAs",
            codes.len()
        );
        assert!(
            polygons >= codes.len() && codes.len() > 100,
            "z{z}: {} LAs",
            codes.len()
        );
        if z >= 4 {
            assert_eq!(codes.len(), 153, "z{z}: every LA is in the archive");
        }
    }
}

#[test]
fn a_zoom_range_beyond_the_prepared_data_is_refused() {
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 4)
        .expect("valid");
    let err = export(
        &ds,
        Format::Pmtiles,
        std::path::Path::new("/tmp/never.pmtiles"),
        0,
        6,
        false,
    )
    .expect_err("refused");
    assert!(err.to_string().contains("not within 0..=4"), "{err}");
}
