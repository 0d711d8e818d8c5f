//! The web map's "Map as of" date control reads its vesting dates from `GET /api/reorganisations`:
//! it must say exactly what `data/reorganisations.csv` says (dates, abolished and new councils,
//! status, sources), agree with the dated `/api/las`, and the map page must serve the day its
//! `date=` asks for (and fall back to today, without failing, for a day with no map).
//! Expected values come from the shipped CSV and the API, never from a hard-coded count.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::Value;

fn json(r: &common::Resp) -> Value {
    serde_json::from_slice(&r.body).expect("json")
}

fn codes(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|x| x["code"].as_str().expect("code").to_owned())
        .collect()
}

#[tokio::test]
async fn the_reorganisations_endpoint_says_what_the_table_says() {
    let app = common::app();
    let r = common::get(&app, "/api/reorganisations", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let body = json(&r);
    let today = json(&common::get(&app, "/api/las", &[]).await)["date"]
        .as_str()
        .expect("today")
        .to_owned();
    assert_eq!(body["today"], Value::String(today.clone()));
    assert_eq!(
        body["record_start"],
        partnership_map::dataset::timeline::RECORD_START
    );

    // The table, grouped by vesting date.
    let rows = common::csv_rows("reorganisations.csv");
    assert!(!rows.is_empty(), "the shipped table has rows");
    let mut by_date: BTreeMap<String, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for row in &rows {
        by_date
            .entry(row["vesting_date"].clone())
            .or_default()
            .push(row);
    }
    let listed = body["vesting_dates"].as_array().expect("vesting_dates");
    let dates: Vec<&str> = listed
        .iter()
        .map(|v| v["date"].as_str().expect("date"))
        .collect();
    assert_eq!(
        dates,
        by_date.keys().map(String::as_str).collect::<Vec<_>>(),
        "every vesting date of the table, earliest first"
    );
    for v in listed {
        let date = v["date"].as_str().expect("date");
        let table = &by_date[date];
        assert_eq!(v["reached"], Value::Bool(date <= today.as_str()), "{date}");
        let abolished: BTreeSet<String> = table
            .iter()
            .flat_map(|r| common::split(&r["abolished_codes"]))
            .collect();
        assert_eq!(codes(&v["abolished"]), abolished, "{date}: abolished");
        let new = v["new"].as_array().expect("new");
        assert_eq!(new.len(), table.len(), "{date}: one new council per row");
        for (n, row) in new.iter().zip(table) {
            assert_eq!(n["code"], row["new_code"].as_str(), "{date}");
            assert_eq!(n["name"], row["new_name"].as_str(), "{date}");
            assert_eq!(n["la_type"], row["new_la_type"].as_str(), "{date}");
            assert_eq!(n["status"], row["status"].as_str(), "{date}");
            assert_eq!(n["made_of"], row["made_of"].as_str(), "{date}");
            assert_eq!(
                n["provisional_code"],
                Value::Bool(row["code_status"] == "provisional"),
                "{date}"
            );
            let sources: Vec<String> = n["source_urls"]
                .as_array()
                .expect("sources")
                .iter()
                .map(|s| s.as_str().expect("url").to_owned())
                .collect();
            assert_eq!(sources, common::split(&row["source_urls"]), "{date}");
            let replaces: Vec<(String, String)> = n["replaces"]
                .as_array()
                .expect("replaces")
                .iter()
                .map(|a| {
                    (
                        a["code"].as_str().expect("code").to_owned(),
                        a["name"].as_str().expect("name").to_owned(),
                    )
                })
                .collect();
            let want: Vec<(String, String)> = common::split(&row["abolished_codes"])
                .into_iter()
                .zip(common::split(&row["abolished_names"]))
                .collect();
            assert_eq!(replaces, want, "{date}: what {} replaces", row["new_name"]);
        }
        // The dated map agrees: on the date the new councils are in force and the abolished
        // ones are not; the day before, the other way round.
        let on = codes(
            &json(&common::get(&app, &format!("/api/las?date={date}"), &[]).await)["local_authorities"],
        );
        let new_codes = codes(&v["new"]);
        assert!(new_codes.is_subset(&on), "{date}: new councils in force");
        assert!(abolished.is_disjoint(&on), "{date}: abolished ones gone");
        let day_before = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .expect("day")
            .pred_opt()
            .expect("day before")
            .format("%Y-%m-%d")
            .to_string();
        let before = codes(
            &json(&common::get(&app, &format!("/api/las?date={day_before}"), &[]).await)["local_authorities"],
        );
        assert!(
            abolished.is_subset(&before),
            "{day_before}: abolished ones in force"
        );
        assert!(
            new_codes.is_disjoint(&before),
            "{day_before}: new ones not yet"
        );
        // The public change history of a council of another day is readable (empty is fine).
        for code in abolished.iter().chain(&new_codes) {
            let c = common::get(&app, &format!("/api/changes?la={code}"), &[]).await;
            assert_eq!(
                c.status,
                StatusCode::OK,
                "/api/changes?la={code}: {}",
                c.text()
            );
        }
    }

    // Revalidation: the same body, the same ETag, 304 when it matches.
    let etag = r.header("etag").expect("etag").to_owned();
    let again = common::get(&app, "/api/reorganisations", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // An unknown LA is still unknown to the change history.
    let unknown = common::get(&app, "/api/changes?la=E99999999", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// `data-date` of the map page's body: the day the server serves it for ("" for today's map).
fn page_date(html: &str) -> String {
    let at = html.find("data-date=\"").expect("data-date") + "data-date=\"".len();
    html[at..at + html[at..].find('"').expect("end")].to_owned()
}

#[tokio::test]
async fn the_map_page_serves_the_day_of_its_date_and_ignores_a_day_with_no_map() {
    let app = common::app();
    let body = json(&common::get(&app, "/api/reorganisations", &[]).await);
    let vesting = body["vesting_dates"][0]["date"]
        .as_str()
        .expect("a vesting date")
        .to_owned();
    let new_code = body["vesting_dates"][0]["new"][0]["code"]
        .as_str()
        .expect("a new council")
        .to_owned();
    let new_name = body["vesting_dates"][0]["new"][0]["name"]
        .as_str()
        .expect("its name")
        .to_owned();
    let today = body["today"].as_str().expect("today").to_owned();

    let page = common::get(&app, &format!("/?date={vesting}&la={new_code}"), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert_eq!(page_date(&html), vesting);
    assert!(html.contains(&format!("data-today=\"{today}\"")), "today");
    assert!(
        html.contains(&format!("value=\"{vesting}\"")),
        "the date control shows the day"
    );
    // The "similar to" choices are the councils of that day.
    assert!(
        html.contains(&format!("<option value=\"{new_code}\">{new_name}</option>")),
        "{new_name} is a choice on {vesting}"
    );
    assert!(
        html.contains(&format!("date={vesting}")),
        "print picture of the day"
    );

    let undated = common::get(&app, "/", &[]).await.text();
    assert_eq!(page_date(&undated), "");
    assert!(!undated.contains(&format!("<option value=\"{new_code}\">")));

    // A malformed day, or one before the records start: today's map, and the page still loads.
    for q in ["junk", "2027-02-30", "2020-01-01"] {
        let r = common::get(&app, &format!("/?date={q}"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
        assert_eq!(page_date(&r.text()), "", "{q}");
    }
    let embed = common::get(&app, &format!("/embed?date={vesting}"), &[]).await;
    assert_eq!(page_date(&embed.text()), vesting);
}
