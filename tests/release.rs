//! Spot checks of the current data release, read the way a user reads it: an LA's panel through
//! `/api/las/{code}` and its tiles. Expected values come from the shipped CSV files.

mod common;

use common::{app, csv_rows, get, split};
use serde_json::Value;

const HULL: (&str, &str) = ("E06000010", "Kingston upon Hull, City of");
const SCILLY: (&str, &str) = ("E06000053", "Isles of Scilly");
const ROTHERHAM: (&str, &str) = ("E08000018", "Rotherham");

/// `(id, source_urls)` of the partnerships whose `la_names` include `name`, in file order.
fn partnerships_of(name: &str) -> Vec<(String, Vec<String>)> {
    csv_rows("partnerships.csv")
        .into_iter()
        .filter(|r| split(&r["la_names"]).iter().any(|n| n == name))
        .map(|r| (r["id"].clone(), split(&r["source_urls"])))
        .collect()
}

fn role_of(name: &str) -> std::collections::BTreeMap<String, String> {
    csv_rows("la_school_improvement.csv")
        .into_iter()
        .find(|r| r["la_name"] == name)
        .unwrap_or_else(|| panic!("no role row for {name}"))
}

async fn panel(app: &axum::Router, code: &str) -> Value {
    let r = get(app, &format!("/api/las/{code}"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).expect("json")
}

#[tokio::test]
async fn hulls_panel_lists_its_partnerships_with_their_sources() {
    let app = app();
    let p = panel(&app, HULL.0).await;
    assert_eq!(p["local_authority"]["name"], HULL.1);
    let want = partnerships_of(HULL.1);
    let got: Vec<(String, Vec<String>)> = p["partnerships"]
        .as_array()
        .expect("partnerships")
        .iter()
        .map(|x| {
            (
                x["id"].as_str().expect("id").to_owned(),
                x["source_urls"]
                    .as_array()
                    .expect("sources")
                    .iter()
                    .map(|u| u.as_str().expect("url").to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // The release brought Hull its first two rows; both are there, each with a source.
    for id in [
        "hull-learning-partnership",
        "hull-association-of-primary-headteachers",
    ] {
        assert!(
            got.iter().any(|(i, s)| i == id && !s.is_empty()),
            "{id} in {got:?}"
        );
    }
    assert_eq!(p["local_authority"]["partnership_count"], want.len());
}

#[tokio::test]
async fn the_isles_of_scilly_have_an_la_role_summary() {
    let app = app();
    let p = panel(&app, SCILLY.0).await;
    let row = role_of(SCILLY.1);
    assert!(!row["summary"].is_empty());
    assert_eq!(p["role"]["summary"], row["summary"].as_str());
    assert_eq!(p["local_authority"]["has_role_entry"], true);
    assert_eq!(p["local_authority"]["has_data"], true);
}

#[tokio::test]
async fn rotherhams_panel_shows_the_rewritten_role_summary_and_its_newer_sources() {
    let app = app();
    let p = panel(&app, ROTHERHAM.0).await;
    let row = role_of(ROTHERHAM.1);
    assert_eq!(p["role"]["summary"], row["summary"].as_str());
    // The rewrite carries the 2018 strategic partnership the old 2011/2012 row lacked.
    assert!(
        p["role"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Rotherham Education Strategic Partnership")),
        "{}",
        p["role"]
    );
    let urls: Vec<&str> = p["role"]["source_urls"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(urls, split(&row["source_urls"]));
    assert_eq!(p["role"]["evidence_date"], row["evidence_date"].as_str());
    let newest_year: u32 = row["evidence_date"]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|y| y.parse().ok())
        .max()
        .expect("a year");
    assert!(
        newest_year > 2012,
        "evidence newer than the old 2011/2012 row: {}",
        row["evidence_date"]
    );
}

#[tokio::test]
async fn hulls_tiles_count_its_partnerships_at_z6_and_z10() {
    use partnership_map::tile::{TileCoord, lonlat_to_merc};
    let ds = common::dataset();
    let want = partnerships_of(HULL.1).len() as u64;
    let i = ds.las.iter().position(|l| l.code == HULL.0).expect("Hull");
    let [lon, lat] = ds.label_lonlat(i);
    for z in [6u8, 10] {
        let t = TileCoord::containing(lonlat_to_merc(lon, lat), z);
        let r = get(
            &app(),
            &format!("/tiles/{z}/{}/{}.pbf", t.x, t.y),
            &[("accept-encoding", "identity")],
        )
        .await;
        assert_eq!(r.status, 200, "z{z}");
        let layers = common::mvt::decode(&r.body);
        let f = layers["local_authorities"]
            .features
            .iter()
            .find(|f| f.str("code") == HULL.0)
            .expect("Hull in its tile");
        assert_eq!(
            f.props["partnership_count"],
            common::mvt::Val::Uint(want),
            "z{z}"
        );
    }
}
