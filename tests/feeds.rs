//! The Atom feeds of changes meet RFC 4287 and read as Atom 1.0 in feedparser, the library
//! most feed readers build on (`tests/atom/check_feed.py`, run with the test venv's Python that
//! `scripts/test.sh` makes).

mod common;

use std::process::Command;

use common::steward::{Backend, app, call, edit};
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
