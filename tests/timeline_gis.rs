//! GIS clients read the map of a day after a reorganisation the way their users would: from
//! that day's TileJSON. GDAL (Debian's `ogrinfo`, MVT driver) reads a whole zoom level from
//! the tile URL the TileJSON gives, and QGIS (Debian's PyQGIS, `tests/qgis/vintage.py`) adds
//! it as a vector tile layer and identifies the LAs under points. Both must see the LAs the
//! API lists for that day, and not the LA they replaced. The day and the codes come from the
//! shipped reorganisation table, through the dataset. Missing tools fail the test.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// The first reorganisation of the shipped table: (vesting day, abolished code, new codes).
fn reorganisation() -> (String, String, Vec<String>) {
    let ds = common::dataset();
    let old = common::first_abolished(&ds);
    (
        old.valid_to.clone().expect("an end"),
        old.code.clone(),
        old.replaced_by.clone(),
    )
}

fn common_day_before(day: &str) -> String {
    partnership_map::clock::day_before(day).expect("a date")
}

fn get_json(server: &common::Server, path: &str) -> Value {
    let r = common::http(server.addr(), "GET", path, &[], None);
    assert_eq!(r.status, 200, "{path}");
    r.json()
}

#[test]
fn gdal_reads_the_map_of_vesting_day_through_its_tilejson() {
    let (day, old, new) = reorganisation();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let mut server = common::Server::start(
        &[
            "--db".as_ref(),
            db.as_os_str(),
            "--max-zoom".as_ref(),
            "8".as_ref(),
        ],
        &[],
    );
    let tilejson = get_json(&server, &format!("/tiles.json?date={day}"));
    let template = tilejson["tiles"][0].as_str().expect("tiles").to_owned();
    // GDAL's MVT driver takes the tileset's URL and a zoom level, and finds metadata.json
    // beside the zoom levels.
    let tileset = template
        .strip_suffix("/{z}/{x}/{y}.pbf")
        .expect("a {z}/{x}/{y}.pbf template");
    assert!(tileset.ends_with(&format!("/tiles/{day}")), "{tileset}");
    let api = get_json(&server, &format!("/api/las?date={day}"));
    let want: BTreeSet<String> = api["local_authorities"]
        .as_array()
        .expect("LAs")
        .iter()
        .map(|l| l["code"].as_str().expect("code").to_owned())
        .collect();
    assert_eq!(api["count"].as_u64(), Some(want.len() as u64));
    // OGR SQL: the distinct codes over every tile of zoom 8, then the distinct start days.
    let ogr_sql = |sql: &str| {
        Command::new("ogrinfo")
            .args(["-ro", "-q", &format!("MVT:{tileset}/8"), "-sql", sql])
            .output()
            .expect("ogrinfo (Debian gdal-bin; scripts/test.sh installs it)")
    };
    let out = ogr_sql("SELECT DISTINCT code FROM local_authorities");
    let starts = ogr_sql("SELECT DISTINCT valid_from FROM local_authorities");
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log = server.log();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("code (String) = "))
        .map(str::to_owned)
        .collect();
    assert_eq!(codes, want, "GDAL sees exactly the LAs of {day}");
    assert!(!codes.contains(&old));
    for code in &new {
        assert!(codes.contains(code), "{code} missing");
    }
    let starts = String::from_utf8_lossy(&starts.stdout);
    assert!(
        starts.contains(&format!("valid_from (String) = {day}")),
        "the new LAs start on {day}: {starts}"
    );
    assert!(
        log.contains(&format!("path=\"/tiles/{day}/metadata.json\" status=200")),
        "GDAL read the day's metadata: {log}"
    );
}

#[test]
fn qgis_reads_the_map_of_vesting_day_through_its_tilejson() {
    let (day, old, new) = reorganisation();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let mut server = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    // A point inside each new LA: its label point from the API of that day.
    let api = get_json(&server, &format!("/api/las?date={day}"));
    let samples: Vec<Value> = api["local_authorities"]
        .as_array()
        .expect("LAs")
        .iter()
        .filter(|l| new.iter().any(|c| l["code"] == c.as_str()))
        .map(|l| serde_json::json!([l["code"], l["label"][0], l["label"][1]]))
        .collect();
    assert_eq!(samples.len(), new.len());
    let samples = Value::Array(samples).to_string();
    let facts = |date: &str| {
        let url = format!("{}/tiles.json?date={date}", server.base);
        common::pyqgis("vintage.py", &[url.as_ref(), samples.as_ref()])
    };
    let after = facts(&day);
    let eve = facts(&common_day_before(&day));
    let _ = server.child.kill();
    let _ = server.child.wait();
    let _ = server.log();
    assert_eq!(after["valid"], true, "{after}");
    assert!(
        after["template"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("/tiles/{day}/"))),
        "{after}"
    );
    for code in &new {
        // On vesting day QGIS finds the new LA under its own label point (its polygon, with
        // the day it starts, and its label point), and nothing else.
        let found = after["identified"][code.as_str()]
            .as_array()
            .expect("found");
        assert!(
            !found.is_empty() && found.iter().all(|f| f["code"] == code.as_str()),
            "{after}"
        );
        assert!(
            found.iter().any(|f| f["valid_from"] == day.as_str()),
            "{after}"
        );
        // The day before, the same point is still in the LA it replaces.
        let before = &eve["identified"][code.as_str()];
        let before = before.as_array().expect("found");
        assert!(
            !before.is_empty() && before.iter().all(|f| f["code"] == old.as_str()),
            "{eve}"
        );
    }
}
