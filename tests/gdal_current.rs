//! A current GDAL reads the server through its OGCAPI driver (OGC API – Tiles) and an exported
//! archive through its PMTiles driver. Debian bookworm's GDAL 3.6.2 cannot: its OGCAPI driver
//! was built without its vector-tile code (GDAL PR #7993, fixed in 3.7.1) and it has no
//! PMTiles driver. So this runs GDAL 3.12 as bundled in pyogrio's wheel from PyPI, in the venv
//! `scripts/test.sh` makes (`target/gdal-venv`, pinned by `tests/gdal/requirements.txt`).

mod common;

use std::process::Command;

use partnership_map::export::{Format, export};
use partnership_map::model::Value as Attr;
use serde_json::Value;

#[test]
fn current_gdal_reads_the_ogc_api_tiles_and_the_pmtiles_archive() {
    let python = common::venv_python();
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 10)
        .expect("valid");
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("pm.pmtiles");
    export(&ds, Format::Pmtiles, &archive, 0, 10, false).expect("export");
    let db = dir.path().join("pm.db");
    let server = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    let out = Command::new(&python)
        .arg(common::repo().join("tests/gdal/read.py"))
        .arg(&server.base)
        .arg(&archive)
        .output()
        .expect("run tests/gdal/read.py");
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "GDAL read failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON");
    println!("GDAL {}", facts["gdal"]);
    let version: Vec<u32> = facts["gdal"]
        .as_str()
        .expect("version")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(version >= vec![3, 7, 1], "a GDAL with vector OGCAPI tiles");
    assert_eq!(facts["drivers"]["OGCAPI"], "r");
    assert!(facts["drivers"]["PMTiles"].is_string());

    // What the dataset says about Westminster, for comparing with what GDAL decoded.
    let i = ds
        .las
        .iter()
        .position(|la| la.code == "E09000033")
        .expect("Westminster");
    let attr = |k: &str| {
        ds.attributes[i]
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let Some(Attr::Uint(count)) = attr("partnership_count") else {
        panic!("Westminster's partnership_count")
    };
    let Some(Attr::Bool(convener)) = attr("role_convener") else {
        panic!("Westminster's role_convener")
    };

    // OGC API – Tiles: the driver found the WebMercatorQuad tileset, offers every zoom the
    // server serves, and decodes every LA with its attributes.
    let ogc = &facts["ogcapi"];
    assert_eq!(ogc["layer0_crs"], "EPSG:3857");
    let offered: Vec<u64> = ogc["offered_zooms"]
        .as_array()
        .expect("zooms")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(
        offered,
        (0..=12).collect::<Vec<_>>(),
        "zoom levels GDAL offers"
    );
    for z in ["6", "10"] {
        let l = &ogc["zooms"][z];
        println!(
            "OGCAPI zoom {z}: {} features, {} LAs",
            l["features"],
            l["codes"].as_array().map_or(0, Vec::len)
        );
        assert_eq!(l["crs"], "EPSG:3857", "z{z}");
        assert_eq!(
            l["codes"].as_array().map(Vec::len),
            Some(153),
            "z{z}: every LA"
        );
        assert_eq!(l["empty_geometries"], 0, "z{z}");
        let w = &l["westminster"];
        assert_eq!(w["name"], "Westminster", "z{z}");
        assert_eq!(w["region"], "London", "z{z}");
        assert_eq!(w["partnership_count"].as_u64(), Some(count), "z{z}");
        assert_eq!(w["role_convener"].as_bool(), Some(convener), "z{z}");
    }

    // PMTiles: GDAL's own driver reads the archive `export` wrote, with typed columns.
    let pm = &facts["pmtiles"];
    for z in ["4", "8"] {
        let l = &pm[z];
        println!("PMTiles zoom {z}: {} features", l["features"]);
        assert_eq!(
            l["codes"].as_array().map(Vec::len),
            Some(153),
            "z{z}: every LA"
        );
        let w = &l["westminster"];
        assert_eq!(w["name"], "Westminster");
        assert!(
            w["partnership_count"]
                .as_f64()
                .is_some_and(
                    |n| (n - f64::from(u32::try_from(count).expect("small"))).abs() < 1e-9
                ),
            "z{z}: a number, from the archive's typed metadata: {w}"
        );
    }
}
