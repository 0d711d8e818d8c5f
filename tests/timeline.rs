//! Councils over time: the reorganisation table's new LAs cover the LAs they replace exactly,
//! every surface serves the map of `?date=`, the default switches at the midnight of a vesting
//! day with no restart (a fake clock), and a past day replays the change log only up to then.
//! Expected sets come from `data/reorganisations.csv`, never from a hard-coded count.

mod common;

use std::collections::BTreeSet;

use partnership_map::dataset::dissolve::{dissolve, same_rings};
use serde_json::{Value, json};

/// `(vesting date, abolished codes, new codes)` of each vesting date in the shipped table.
fn vesting_days() -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let mut days: Vec<(String, BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    for row in common::csv_rows("reorganisations.csv") {
        let date = row["vesting_date"].clone();
        if !days.iter().any(|d| d.0 == date) {
            days.push((date.clone(), BTreeSet::new(), BTreeSet::new()));
        }
        let d = days.iter_mut().find(|d| d.0 == date).expect("day");
        d.1.extend(common::split(&row["abolished_codes"]));
        d.2.insert(row["new_code"].clone());
    }
    days.sort();
    days
}

fn codes(body: &Value) -> BTreeSet<String> {
    body["local_authorities"]
        .as_array()
        .expect("list")
        .iter()
        .map(|l| l["code"].as_str().expect("code").to_owned())
        .collect()
}

#[test]
fn new_councils_cover_the_ones_they_replace_exactly_at_full_resolution_and_every_zoom() {
    let ds = common::dataset();
    let days = vesting_days();
    assert!(!days.is_empty(), "the shipped table has a reorganisation");
    for (date, old, new) in days {
        let k = ds.timeline().vintage_of(&date).expect("a vintage");
        let before = ds.on_vintage(k - 1);
        let after = ds.on_vintage(k);
        // The set changes by exactly the table's rows.
        let set = |d: &partnership_map::dataset::Dataset| -> BTreeSet<String> {
            d.las.iter().map(|l| l.code.clone()).collect()
        };
        let want: BTreeSet<String> = set(&before)
            .difference(&old)
            .cloned()
            .chain(new.iter().cloned())
            .collect();
        assert_eq!(set(&after), want, "{date}");
        // Full resolution: the new LAs' union is the old LAs' union, vertex for vertex.
        let shape = |c: &String| &ds.shapes.lonlat[c];
        let new_union = dissolve(&new.iter().map(shape).collect::<Vec<_>>());
        let old_union = dissolve(&old.iter().map(shape).collect::<Vec<_>>());
        assert!(same_rings(&new_union, &old_union), "{date}: gap or overlap");
        // Areas agree within 0.01 %.
        let area = |d: &partnership_map::dataset::Dataset, cs: &BTreeSet<String>| -> f64 {
            cs.iter()
                .map(|c| d.geometry.areas[d.la_index(c).expect("in force")])
                .sum()
        };
        let (a_new, a_old) = (area(&after, &new), area(&before, &old));
        assert!(
            ((a_new - a_old) / a_old).abs() < 1e-4,
            "{date}: {a_new} km² vs {a_old} km²"
        );
        // Every zoom: the polygons tiles are cut from still meet edge for edge (no gap, no
        // overlap): cancelling the new LAs' shared edges leaves rings of the summed area.
        for z in 0..=after.max_zoom() {
            let merc = |c: &String| -> Vec<Vec<Vec<[f64; 2]>>> {
                let i = after.la_index(c).expect("in force");
                after
                    .geometry
                    .zoom_parts(i, z)
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        p.into_iter()
                            .map(|mut r| {
                                r.push(r[0]);
                                r
                            })
                            .collect()
                    })
                    .collect()
            };
            let pieces: Vec<_> = new.iter().map(merc).collect();
            let refs: Vec<&Vec<Vec<Vec<[f64; 2]>>>> = pieces.iter().collect();
            let union = dissolve(&refs);
            let signed = |la: &Vec<Vec<Vec<[f64; 2]>>>| -> f64 {
                la.iter()
                    .flatten()
                    .map(|r| {
                        r.windows(2)
                            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
                            .sum::<f64>()
                    })
                    .sum()
            };
            let sum: f64 = refs.iter().map(|p| signed(p).abs()).sum();
            let shared_edges_cancelled = union.iter().flatten().map(Vec::len).sum::<usize>()
                < refs
                    .iter()
                    .map(|p| p.iter().flatten().map(Vec::len).sum::<usize>())
                    .sum();
            assert!(
                shared_edges_cancelled,
                "{date} z{z}: the new LAs share no edge"
            );
            assert!(
                ((signed(&union) - sum) / sum).abs() < 1e-9,
                "{date} z{z}: union {} vs sum {sum}",
                signed(&union)
            );
        }
    }
}

#[tokio::test]
async fn every_surface_serves_the_map_of_the_date_asked_for() {
    let app = common::app();
    let (date, old, new) = vesting_days().remove(0);
    let today = common::get(&app, "/api/las", &[]).await;
    let today_codes = codes(&serde_json::from_slice(&today.body).expect("json"));
    assert!(old.is_subset(&today_codes) && new.is_disjoint(&today_codes));
    let r = common::get(&app, &format!("/api/las?date={date}"), &[]).await;
    assert_eq!(r.status, 200);
    let body: Value = serde_json::from_slice(&r.body).expect("json");
    let then = codes(&body);
    let want: BTreeSet<String> = today_codes
        .difference(&old)
        .cloned()
        .chain(new.iter().cloned())
        .collect();
    assert_eq!(then, want);
    assert_eq!(body["count"].as_u64(), Some(want.len() as u64));
    // New LAs: inherited data marked, figures not copied.
    for l in body["local_authorities"].as_array().expect("list") {
        if new.contains(l["code"].as_str().expect("code")) {
            assert!(l["inherited_from"].as_str().is_some(), "{l}");
            assert!(
                l.get("pupils").is_none() && l.get("fsm_primary_pct").is_none(),
                "{l}"
            );
            assert_eq!(l["valid_from"], json!(date));
        }
    }
    let one = new.iter().next().expect("a new LA");
    let detail: Value = serde_json::from_slice(
        &common::get(&app, &format!("/api/las/{one}?date={date}"), &[])
            .await
            .body,
    )
    .expect("json");
    assert_eq!(detail["in_force"], true);
    assert_eq!(detail["neighbours_status"], "not_yet_published");
    assert_eq!(detail["figures_status"], "not_yet_published");
    assert_eq!(detail["role"]["confirmed"], false);
    assert!(
        detail["partnerships"]
            .as_array()
            .expect("list")
            .iter()
            .all(|p| p["confirmed"] == false)
    );
    // The old LA says what replaced it, with links.
    let gone = old.iter().next().expect("an abolished LA");
    let old_detail: Value = serde_json::from_slice(
        &common::get(&app, &format!("/api/las/{gone}?date={date}"), &[])
            .await
            .body,
    )
    .expect("json");
    assert_eq!(old_detail["in_force"], false);
    let replaced: BTreeSet<String> = old_detail["history"]["replaced_by"]
        .as_array()
        .expect("list")
        .iter()
        .map(|l| l["code"].as_str().expect("code").to_owned())
        .collect();
    assert_eq!(&replaced, &new);
    // TileJSON points at a dated URL; the tile there has the new LAs, not the old.
    let tj: Value = serde_json::from_slice(
        &common::get(&app, &format!("/tiles.json?date={date}"), &[])
            .await
            .body,
    )
    .expect("json");
    let url = tj["tiles"][0].as_str().expect("url");
    assert!(url.contains(&format!("/tiles/{date}/")), "{url}");
    let (lon, lat) = {
        let b = &body["local_authorities"]
            .as_array()
            .expect("list")
            .iter()
            .find(|l| l["code"] == json!(one))
            .expect("new LA")["label"];
        (b[0].as_f64().expect("lon"), b[1].as_f64().expect("lat"))
    };
    let z = 7u32;
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let lat_r = lat.to_radians();
    let y =
        ((1.0 - (lat_r.tan() + 1.0 / lat_r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    let path = format!("/tiles/{date}/{z}/{x}/{y}.pbf");
    let tile = common::get(&app, &path, &[]).await;
    assert_eq!(tile.status, 200, "{path}");
    let layers = common::mvt::decode(&tile.body);
    let in_tile: BTreeSet<String> = layers["local_authorities"]
        .features
        .iter()
        .filter_map(|f| match f.props.get("code") {
            Some(common::mvt::Val::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(
        in_tile.contains(one) && old.is_disjoint(&in_tile),
        "{in_tile:?}"
    );
    let undated = common::get(&app, &format!("/tiles/{z}/{x}/{y}.pbf"), &[]).await;
    assert_ne!(
        undated.header("etag"),
        tile.header("etag"),
        "vintages share an ETag"
    );
    // OGC items, compare and render agree.
    let items: Value = serde_json::from_slice(
        &common::get(
            &app,
            &format!("/ogc/collections/local_authorities/items?date={date}&limit=1000"),
            &[],
        )
        .await
        .body,
    )
    .expect("json");
    assert_eq!(items["numberMatched"].as_u64(), Some(want.len() as u64));
    let cmp = common::get(&app, &format!("/api/compare?la={one}&date={date}"), &[]).await;
    assert_eq!(cmp.status, 200, "{}", cmp.text());
    let gone_cmp = common::get(&app, &format!("/api/compare?la={gone}&date={date}"), &[]).await;
    assert_eq!(gone_cmp.status, 404, "{}", gone_cmp.text());
    let png = common::get(&app, &format!("/render/la/{one}.png?date={date}"), &[]).await;
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type"), Some("image/png"));
    // The API's links and the comparison page stay on that day's map.
    let cmp_json: Value = serde_json::from_slice(&cmp.body).expect("json");
    for link in ["html", "csv", "picture"] {
        let l = cmp_json["links"][link].as_str().expect("link");
        assert!(
            l.ends_with(&format!("date={date}")) || l.contains(&format!("date={date}&")),
            "{link}: {l}"
        );
        let followed = common::get(&app, l, &[]).await;
        assert_eq!(followed.status, 200, "{l}: {}", followed.text());
    }
    let page = common::get(&app, &format!("/compare?la={one}&date={date}"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains(&format!("On the map of <strong>{date}</strong>")),
        "no dated note"
    );
    assert!(
        html.contains(&format!(
            "<input type=\"hidden\" name=\"date\" value=\"{date}\">"
        )),
        "the form drops the date"
    );
    assert!(
        html.contains(&format!(
            "/api/compare?la={one}&amp;date={date}&amp;format=csv"
        )),
        "the CSV link drops the date"
    );
    assert!(
        html.contains(&format!("&amp;date={date}\" width=\"800\"")),
        "the picture drops the date"
    );
    for l in &old {
        assert!(
            !html.contains(&format!("value=\"{l}\"")),
            "{l} is offered on a day it is abolished"
        );
    }
    let gone_page = common::get(&app, &format!("/compare?la={gone}&date={date}"), &[]).await;
    assert_eq!(gone_page.status, 404);
    assert!(gone_page.text().contains("This comparison cannot be shown"));
    for (q, status) in [("2020-01-01", 404), ("2027-02-30", 400), ("tomorrow", 400)] {
        let r = common::get(&app, &format!("/compare?la={one}&date={q}"), &[]).await;
        assert_eq!(r.status, status, "/compare date={q}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.text().contains("This comparison cannot be shown"), "{q}");
        // Tile documents, downloads and pictures answer a bad day in plain text, like their
        // other mistakes.
        for doc in [
            "/tiles.json?",
            "/styles/default.json?",
            "/downloads/partnerships.csv?",
        ] {
            for query in [format!("date={q}"), format!("date={q}&date={q}")] {
                let r = common::get(&app, &format!("{doc}{query}"), &[]).await;
                let want = if query.contains('&') { 400 } else { status };
                assert_eq!(r.status, want, "{doc}{query}: {}", r.text());
                assert_eq!(
                    r.header("content-type"),
                    Some("text/plain; charset=utf-8"),
                    "{doc}{query}"
                );
            }
        }
        let p = common::get(&app, &format!("/render/england.svg?date={q}"), &[]).await;
        assert_eq!(p.status, status, "/render date={q}: {}", p.text());
        assert_eq!(p.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(p.text().contains(q), "{}", p.text());
    }
    // Client mistakes are named.
    for (q, status) in [
        ("2020-01-01", 404),
        ("2027-02-30", 400),
        ("", 400),
        ("tomorrow", 400),
    ] {
        let r = common::get(&app, &format!("/api/las?date={q}"), &[]).await;
        assert_eq!(r.status, status, "{q}: {}", r.text());
        let e: Value = serde_json::from_slice(&r.body).expect("json error");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

/// The release server with its clock started 20 seconds before the first vesting midnight in
/// England: before it, the old LAs; after it, the new ones and new tile ETags, no restart.
#[test]
fn the_default_map_switches_at_the_vesting_midnight_without_a_restart() {
    let (date, old, new) = vesting_days().remove(0);
    let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").expect("date");
    let midnight = partnership_map::clock::london_midnight(day);
    let start = chrono::DateTime::from_timestamp(midnight - 20, 0).expect("time");
    let (server, _dir) = common::start_small(
        &["--now", &start.to_rfc3339(), "--metrics-bind", "off"],
        &[],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let las = |addr: &str| codes(&common::http(addr, "GET", "/api/las", &[], None).json());
    let tile = "/tiles/6/31/21.pbf";
    let before = las(&addr);
    let etag_before = common::http(&addr, "GET", tile, &[], None)
        .header("etag")
        .map(str::to_owned);
    assert!(
        old.is_subset(&before) && new.is_disjoint(&before),
        "{before:?}"
    );
    let waited = std::time::Instant::now();
    let after = loop {
        let now = las(&addr);
        if !new.is_disjoint(&now) || waited.elapsed() > std::time::Duration::from_secs(60) {
            break now;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(
        new.is_subset(&after) && old.is_disjoint(&after),
        "{after:?}"
    );
    assert!(
        waited.elapsed() >= std::time::Duration::from_secs(5),
        "switched early"
    );
    let etag_after = common::http(&addr, "GET", tile, &[], None)
        .header("etag")
        .map(str::to_owned);
    assert!(etag_before.is_some() && etag_after.is_some());
    assert_ne!(etag_before, etag_after);
    // TileJSON now points at the new day's tiles.
    let tj = common::http(&addr, "GET", "/tiles.json", &[], None).json();
    assert!(
        tj["tiles"][0]
            .as_str()
            .expect("url")
            .contains(&format!("/tiles/{date}/"))
    );
}

#[tokio::test]
async fn a_past_day_shows_the_data_as_published_then_with_that_days_version() {
    use common::steward::{app, call, edit, json, version};
    let (app, state) = app(common::memory_store()).await;
    let v0 = version(&app).await;
    let r = edit(
        &app,
        &json!({"kind": "la.verify", "la": "E06000026", "verified": true, "date": "2026-11-28", "reason": "Plymouth's officer checked the summary."}),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text());
    let v1 = version(&app).await;
    assert_ne!(v0, v1);
    let today = state.today();
    let yesterday = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d")
        .expect("today")
        .pred_opt()
        .expect("yesterday")
        .to_string();
    let then = json(
        &call(
            &app,
            "GET",
            &format!("/api/las/E06000026?date={yesterday}"),
            None,
            None,
        )
        .await,
    );
    assert_eq!(then["data_version"], json!(v0), "the version of that day");
    assert_eq!(
        then["local_authority"]["verified"], false,
        "the edit came later"
    );
    let now = json(&call(&app, "GET", "/api/las/E06000026", None, None).await);
    assert_eq!(now["data_version"], json!(v1));
    assert_eq!(now["local_authority"]["verified"], true);
    // Reproducible: asked again, the same picture; and its tiles are pinned and immutable.
    let again = json(
        &call(
            &app,
            "GET",
            &format!("/api/las/E06000026?date={yesterday}"),
            None,
            None,
        )
        .await,
    );
    assert_eq!(again, then);
    let tj = json(
        &call(
            &app,
            "GET",
            &format!("/tiles.json?date={yesterday}"),
            None,
            None,
        )
        .await,
    );
    let url = tj["tiles"][0].as_str().expect("url");
    assert!(url.ends_with(&format!("?v={v0}")), "{url}");
    let path = url
        .trim_start_matches("http://127.0.0.1:8080")
        .replace("{z}/{x}/{y}", "6/31/21");
    let t = call(&app, "GET", &path, None, None).await;
    assert_eq!(t.status, 200);
    assert!(
        t.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("immutable")),
        "{:?}",
        t.headers
    );
}
