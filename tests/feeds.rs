//! The Atom feeds of changes meet RFC 4287 and read as Atom 1.0 in feedparser, the library
//! most feed readers build on (`tests/atom/check_feed.py`, run with the test venv's Python that
//! `scripts/test.sh` makes).

mod common;

use std::process::Command;

use common::steward::{Backend, app, app_with, call, edit};
use serde_json::{Value, json};

/// Check one feed document; its parsed summary.
fn check(xml: &str) -> Value {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, xml).expect("write");
    let out = Command::new(common::venv_python())
        .arg(common::repo().join("tests/atom/check_feed.py"))
        .arg(&file)
        .output()
        .expect("run check_feed.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "not valid Atom: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("summary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feeds_are_valid_atom_with_one_entry_per_change() {
    let b = Backend::sqlite();
    let (app, _) = app(b.store().await).await;
    // No change yet: still a valid, empty feed.
    let empty = call(&app, "GET", "/changes.atom", None, None).await;
    assert_eq!(check(&empty.text())["entries"], 0);

    let mut summaries = Vec::new();
    for body in [
        json!({"kind": "la.verify", "la": "E06000026", "verified": true, "date": "2026-11-28", "reason": "Confirmed by the LA."}),
        json!({"kind": "la_role.set", "la": "E08000018", "fields": {"funder": true}, "reason": "Budget papers <2025> & minutes."}),
        json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"notes": "Notes with \"quotes\" & <angle brackets>."}, "reason": "Newer report."}),
    ] {
        let r = edit(&app, &body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        summaries.push(
            serde_json::from_slice::<Value>(&r.body).expect("json")["summary"]
                .as_str()
                .expect("summary")
                .to_owned(),
        );
    }
    let all = check(&call(&app, "GET", "/changes.atom", None, None).await.text());
    assert_eq!(all["entries"], 3);
    // Newest first, titled by the change's summary, linking to the LA on the map.
    let titles: Vec<String> = all["titles"]
        .as_array()
        .expect("titles")
        .iter()
        .map(|t| t.as_str().expect("title").to_owned())
        .collect();
    summaries.reverse();
    assert_eq!(titles, summaries);
    assert_eq!(all["links"][2], "http://127.0.0.1:8080/?la=E06000026");
    let one = check(
        &call(&app, "GET", "/changes.atom?la=E08000018", None, None)
            .await
            .text(),
    );
    assert_eq!(one["entries"], 1);
    assert!(
        one["feed_title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Rotherham"))
    );
}

/// The feed of the app whose clock reads `now` (RFC 3339), for `uri`.
async fn feed_on(now: &str, uri: &str) -> Value {
    let b = Backend::sqlite();
    let start = chrono::DateTime::parse_from_rfc3339(now)
        .expect("time")
        .with_timezone(&chrono::Utc);
    let (app, _) = app_with(b.store().await, |c| {
        c.clock = std::sync::Arc::new(partnership_map::clock::Clock::starting_at(start));
    })
    .await;
    let r = call(&app, "GET", uri, None, None).await;
    assert_eq!(r.status, 200, "{uri}: {}", r.text());
    check(&r.text())
}

/// The reorganisation of the shipped table's first abolished LA: its code and name, the
/// vesting day, and the codes and names of the LAs that replace it (read from
/// data/reorganisations.csv through the loaded dataset, never written here).
fn first_reorganisation() -> (String, String, String, Vec<(String, String)>) {
    let ds = common::dataset();
    let old = common::first_abolished(&ds);
    let new = old
        .replaced_by
        .iter()
        .map(|c| (c.clone(), ds.name_of(c).expect("named").to_owned()))
        .collect();
    (
        old.code.clone(),
        old.name.clone(),
        old.valid_to.clone().expect("an end"),
        new,
    )
}

/// The feeds of an abolished council and of its successors say who replaced whom and when,
/// and link to each other: before vesting day as a plan, from that day as a dated entry. The
/// abolished council's feed stays readable after it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeds_of_a_reorganised_council_link_old_and_new() {
    let (old, old_name, day, new) = first_reorganisation();
    let names: Vec<&str> = new.iter().map(|(_, n)| n.as_str()).collect();

    // Before: a plan in the subtitle, links to the future councils' feeds, no entry yet.
    let before = feed_on("2026-12-07T12:00:00Z", &format!("/changes.atom?la={old}")).await;
    let subtitle = before["subtitle"].as_str().expect("subtitle");
    assert!(subtitle.starts_with("To be replaced by "), "{subtitle}");
    for n in &names {
        assert!(subtitle.contains(n), "{subtitle}");
    }
    let related: Vec<&str> = before["related"]
        .as_array()
        .expect("related")
        .iter()
        .map(|l| l["href"].as_str().expect("href"))
        .collect();
    let want: Vec<String> = new
        .iter()
        .map(|(c, _)| format!("http://127.0.0.1:8080/changes.atom?la={c}"))
        .collect();
    assert_eq!(related, want);
    assert_eq!(before["entries"], 0);

    // From vesting day (the morning after its midnight in England): the abolished council's
    // feed still answers, with one entry dated at that midnight that links to its successors.
    let after = feed_on("2027-04-01T09:00:00Z", &format!("/changes.atom?la={old}")).await;
    let subtitle = after["subtitle"].as_str().expect("subtitle");
    assert!(subtitle.starts_with("Replaced by "), "{subtitle}");
    assert_eq!(after["entries"], 1);
    let title = after["titles"][0].as_str().expect("title");
    assert_eq!(
        title,
        format!("{old_name} replaced by {}", names.join(" and "))
    );
    assert_eq!(
        after["categories"][0],
        serde_json::json!(["la.reorganised"])
    );
    // Midnight in England on 1 April is 23:00 UTC the day before (British Summer Time).
    let updated = chrono::DateTime::parse_from_rfc3339(after["updated"][0].as_str().expect("t"))
        .expect("RFC 3339");
    let midnight = partnership_map::clock::london_midnight(
        partnership_map::clock::parse_day(&day).expect("day"),
    );
    assert_eq!(updated.timestamp(), midnight);
    let entry_related: Vec<&str> = after["entry_related"][0]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l.as_str().expect("href"))
        .collect();
    let want: Vec<String> = new
        .iter()
        .map(|(c, _)| format!("http://127.0.0.1:8080/api/las/{c}?date={day}"))
        .collect();
    assert_eq!(entry_related, want);
    // Its page link opens the map on its last day.
    let last = partnership_map::clock::day_before(&day).expect("day before");
    assert_eq!(
        after["feed_link"],
        format!("http://127.0.0.1:8080/?la={old}&date={last}")
    );

    // A successor's feed names the council it replaces, links back, and has the same entry.
    let (first, _) = &new[0];
    let succ = feed_on("2027-04-01T09:00:00Z", &format!("/changes.atom?la={first}")).await;
    let subtitle = succ["subtitle"].as_str().expect("subtitle");
    assert!(
        subtitle.starts_with(&format!("Replaced {old_name} on ")),
        "{subtitle}"
    );
    assert_eq!(
        succ["related"][0]["href"],
        format!("http://127.0.0.1:8080/changes.atom?la={old}")
    );
    assert_eq!(succ["titles"], after["titles"]);

    // The feed of every change has the entry too, once in force, and not before.
    let all = feed_on("2027-04-01T09:00:00Z", "/changes.atom").await;
    assert_eq!(all["titles"], after["titles"]);
    let none = feed_on("2027-03-31T22:59:59Z", "/changes.atom").await;
    assert_eq!(none["entries"], 0);
}
