//! QGIS 3.22 (Debian's qgis + python3-qgis, headless with QT_QPA_PLATFORM=offscreen) adds the
//! tiles as a Vector Tiles layer with `/styles/qgis.json`, renders England, and identifies a
//! feature, and adds `/ogc` as an OGC API – Features source. Checks: fills are drawn, each
//! sampled LA has the web map's colour for its partnership count, QGIS's identify tool decodes
//! the attributes, and both OGC collections load with all their features.

mod common;

use std::process::Command;

use geo::Contains;
use partnership_map::model::Value as Attr;
use serde_json::Value;

/// `(lower bound, colour)` steps of the web map's choropleth, read from `styles/default.json`.
fn web_palette() -> (String, Vec<(u64, String)>) {
    let style: Value =
        serde_json::from_str(partnership_map::http::meta::STYLE_TEMPLATE).expect("style");
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
    let bg = style["layers"][0]["paint"]["background-color"]
        .as_str()
        .expect("bg")
        .to_owned();
    (bg, steps)
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
    let python = "/usr/bin/python3";
    let has_qgis = Command::new(python)
        .args(["-c", "import qgis.core"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_qgis,
        "python3-qgis is missing: scripts/test.sh installs qgis and python3-qgis"
    );
    let ds = common::dataset();
    let (bg, steps) = web_palette();
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
        let inside = ds.geometry.zooms[ds.geometry.zooms.len() - 1][i]
            .iter()
            .filter(|part| !part.is_empty())
            .any(|part| {
                let ring = |r: &Vec<[f64; 2]>| {
                    geo::LineString::from(r.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>())
                };
                geo::Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect())
                    .contains(&geo::Point::new(p[0], p[1]))
            });
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
    let out = Command::new(python)
        .arg(common::repo().join("tests/qgis/render.py"))
        .arg(&base)
        .arg(&png)
        .arg(serde_json::Value::from(samples).to_string())
        .env("QT_QPA_PLATFORM", "offscreen")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .expect("run PyQGIS");
    drop(server_handle);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyQGIS failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("facts JSON");
    assert_eq!(facts["valid"], true);
    assert_eq!(
        facts["style_loaded"], true,
        "QGIS converted /styles/qgis.json"
    );
    let share = facts["drawn_share"].as_f64().expect("share");
    println!("QGIS drew {:.0}% of the image", share * 100.0);
    assert!(share > 0.2, "LA fills drawn: {share}");
    // Each sampled LA shows the web map's colour at 0.9 opacity over the background.
    let bgc = rgb(&bg);
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
