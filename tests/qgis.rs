//! QGIS 3.22 (Debian's qgis + python3-qgis, headless with QT_QPA_PLATFORM=offscreen) adds the
//! tiles as a Vector Tiles layer with `/styles/qgis.json`, renders England, and identifies a
//! feature, and adds `/ogc` as an OGC API – Features source. Checks: fills are drawn, each
//! sampled LA has the web map's colour for its partnership count, no square is left blank where
//! a tile answered 204, QGIS's identify tool decodes the attributes, and both OGC collections
//! load with all their features.

mod common;

use geo::Contains;
use partnership_map::model::Value as Attr;
use serde_json::Value;

/// `(lower bound, colour)` steps of the web map's choropleth, read from `styles/default.json`.
fn web_palette() -> Vec<(u64, String)> {
    let style: Value = serde_json::from_str(partnership_map::style::STYLE_TEMPLATE).expect("style");
    let fill = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["id"] == "la-fill")
        .expect("la-fill");
    let step = fill["paint"]["fill-color"].as_array().expect("step");
    let mut steps = vec![(0, step[2].as_str().expect("base").to_owned())];
    for pair in step[3..].chunks(2) {
        steps.push((
            pair[0].as_u64().expect("stop"),
            pair[1].as_str().expect("colour").to_owned(),
        ));
    }
    steps
}

/// One LA's polygons at full resolution, in EPSG:3857.
fn la_polygons(ds: &partnership_map::dataset::Dataset, i: usize) -> Vec<geo::Polygon> {
    let ring = |r: &Vec<[f64; 2]>| {
        geo::LineString::from(r.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>())
    };
    ds.geometry
        .zoom_parts(i, ds.max_zoom())
        .iter()
        .filter(|part| !part.is_empty())
        .map(|part| geo::Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect()))
        .collect()
}

/// Points of the rendered view (EPSG:3857) at least 15 km from every LA: open sea, clear of
/// any outline or label.
fn sea_points(ds: &partnership_map::dataset::Dataset) -> Vec<[f64; 2]> {
    use geo::{BoundingRect, Distance, Euclidean};
    let polys: Vec<(geo::Rect, geo::Polygon)> = (0..ds.las.len())
        .flat_map(|i| la_polygons(ds, i))
        .filter_map(|p| p.bounding_rect().map(|r| (r, p)))
        .collect();
    let far = 15_000.0;
    let mut out = Vec::new();
    for gx in 0..23 {
        for gy in 0..28 {
            let p = [
                -700_000.0 + 40_000.0 * f64::from(gx),
                6_420_000.0 + 40_000.0 * f64::from(gy),
            ];
            let pt = geo::Point::new(p[0], p[1]);
            let clear = polys.iter().all(|(r, poly)| {
                let (lo, hi) = (r.min(), r.max());
                p[0] < lo.x - far
                    || p[0] > hi.x + far
                    || p[1] < lo.y - far
                    || p[1] > hi.y + far
                    || Euclidean.distance(&pt, poly) > far
            });
            if clear {
                out.push(p);
            }
        }
    }
    out
}

fn rgb(hex: &str) -> [f64; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex");
    [
        f64::from((v >> 16) & 255),
        f64::from((v >> 8) & 255),
        f64::from(v & 255),
    ]
}

#[test]
fn qgis_renders_the_layer_in_the_web_maps_colours_and_identifies_features() {
    let ds = common::dataset();
    let steps = web_palette();
    // Big LAs, sampled 20 px (at ~1.5 km/px) below their label point (clear of the label text),
    // where that point is inside the polygon.
    let mut samples = Vec::new();
    let mut expected = std::collections::BTreeMap::new();
    for code in [
        "E06000052",
        "E10000008",
        "E06000065",
        "E10000019",
        "E10000020",
        "E10000029",
        "E10000016",
        "E10000012",
        "E06000063",
        "E06000057",
        "E06000066",
        "E06000054",
    ] {
        let i = ds.las.iter().position(|l| l.code == code).expect("LA");
        let p = [
            ds.geometry.labels[i][0],
            ds.geometry.labels[i][1] - 30_000.0,
        ];
        let inside = la_polygons(&ds, i)
            .iter()
            .any(|poly| poly.contains(&geo::Point::new(p[0], p[1])));
        if !inside {
            continue;
        }
        let get = |k: &str| {
            ds.attributes[i]
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let count = match get("partnership_count") {
            Some(Attr::Uint(n)) => n,
            _ => 0,
        };
        assert_eq!(get("has_data"), Some(Attr::Bool(true)), "{code}");
        let colour = steps
            .iter()
            .rev()
            .find(|(lo, _)| count >= *lo)
            .expect("step")
            .1
            .clone();
        expected.insert(code.to_owned(), colour);
        samples.push(serde_json::json!([code, p[0], p[1]]));
    }
    assert!(samples.len() >= 8, "enough LAs sampled ({})", samples.len());

    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let server_handle = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    let base = server_handle.base.clone();
    let artifacts = common::repo().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("mkdir");
    let png = artifacts.join("qgis-england.png");
    let samples = serde_json::Value::from(samples).to_string();
    let sea = serde_json::to_string(&sea_points(&ds)).expect("JSON");
    let facts = common::pyqgis(
        "render.py",
        &[
            base.as_ref(),
            png.as_os_str(),
            samples.as_ref(),
            sea.as_ref(),
        ],
    );
    drop(server_handle);
    assert_eq!(facts["valid"], true);
    assert_eq!(
        facts["style_loaded"], true,
        "QGIS converted /styles/qgis.json"
    );
    let share = facts["drawn_share"].as_f64().expect("share");
    println!("QGIS drew {:.0}% of the image", share * 100.0);
    assert!(share > 0.2, "LA fills drawn: {share}");
    // QGIS paints a style's `background` layer tile by tile, and only in tiles that have data:
    // a tile that answered 204 was left as a blank square. The QGIS style has no background,
    // so the open sea is the map canvas in every tile, and each 204 tile's square (labels off)
    // is drawn exactly as the sea inside tiles with LAs.
    let canvas = facts["canvas"].as_str().expect("canvas colour").to_owned();
    let tiles = facts["tiles"].as_object().expect("tiles QGIS fetched");
    let status = |want: u64| tiles.values().filter(|s| s.as_u64() == Some(want)).count();
    let (ok, empty) = (status(200), status(204));
    assert_eq!(ok + empty, tiles.len(), "statuses: {tiles:?}");
    assert!(
        ok > 0 && empty > 0,
        "QGIS fetched {ok} tiles with LAs and {empty} empty ones"
    );
    let sea: Vec<&str> = facts["sea"]
        .as_array()
        .expect("sea samples")
        .iter()
        .filter(|s| s["status"] == 200)
        .map(|s| s["colour"].as_str().expect("colour"))
        .collect();
    assert!(
        sea.len() >= 3,
        "sea points in tiles with LAs: {}",
        facts["sea"]
    );
    let sea_colour = sea[0];
    assert!(sea.iter().all(|c| c == &sea_colour), "sea colours: {sea:?}");
    let mut pixels = 0;
    for (tile, colours) in facts["empty_tiles"].as_object().expect("empty tiles") {
        let colours = colours.as_object().expect("colour counts");
        assert!(
            colours.keys().all(|c| c == sea_colour),
            "{tile} answered 204 and QGIS left a blank square: {colours:?}, where the sea in \
             tiles with LAs is {sea_colour}"
        );
        pixels += colours.values().filter_map(Value::as_u64).sum::<u64>();
    }
    println!(
        "QGIS fetched {} tiles: {ok} with LAs, {empty} empty (204); {pixels} pixels of empty \
         squares and {} sea points all drawn as the sea ({sea_colour})",
        tiles.len(),
        sea.len()
    );
    assert!(pixels > 1000, "empty squares in view: {pixels} pixels");
    assert_eq!(
        sea_colour, canvas,
        "the style paints no background of its own"
    );

    // Each sampled LA shows the web map's colour at 0.9 opacity over the canvas.
    let bgc = rgb(&canvas);
    for (code, want) in &expected {
        let got = facts["samples"][code]
            .as_str()
            .unwrap_or_else(|| panic!("{code} not sampled"));
        let w = rgb(want);
        let blended = [
            0.9 * w[0] + 0.1 * bgc[0],
            0.9 * w[1] + 0.1 * bgc[1],
            0.9 * w[2] + 0.1 * bgc[2],
        ];
        let g = rgb(got);
        let off = (0..3)
            .map(|k| (g[k] - blended[k]).abs())
            .fold(0.0, f64::max);
        assert!(
            off <= 8.0,
            "{code}: QGIS drew {got}, the web map's {want} would be {blended:?}"
        );
    }
    // The identify tool decodes the attributes.
    let ident = facts["identify"].as_array().expect("identify results");
    let westminster = ident
        .iter()
        .find(|f| f["code"] == "E09000033")
        .expect("Westminster identified");
    assert_eq!(westminster["name"], "Westminster");
    assert!(
        westminster["partnership_count"]
            .as_str()
            .is_some_and(|n| n.parse::<u64>().is_ok())
    );
    assert!(
        westminster.get("role_convener").is_some() && westminster.get("stat_neighbours").is_some()
    );
}
