//! Live reload: bad data keeps the old data and reports every problem; good data swaps in with
//! a new version, new ETags and new tile content; no request fails while reloads happen; the
//! change log is replayed over new files, and a change the files no longer fit is reported,
//! kept in the log, and applied again once the files fit it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use partnership_map::dataset::Dataset;
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::stewardship::DataSource;
use serde_json::Value;

const TOKEN: &str = "reload-token-0123456789";

struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    state: AppState,
    app: axum::Router,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let boundaries = dir.path().join("boundaries");
    copy_dir(&common::repo().join("data"), &data);
    copy_dir(&common::repo().join("boundaries"), &boundaries);
    let config = HttpConfig {
        editors: partnership_map::editors::Editors::single("admin", TOKEN).expect("editor"),
        data_source: Some(DataSource {
            boundaries: boundaries.clone(),
            data: data.clone(),
            max_zoom: 8,
        }),
        ..HttpConfig::default()
    };
    let ds = Dataset::load(&boundaries, &data, 8).expect("valid");
    let state = AppState::new(
        ds,
        partnership_map::cache::TileCache::new(8 << 20),
        config,
        common::memory_store(),
    )
    .expect("state");
    Fixture {
        app: router(state.clone()),
        _dir: dir,
        data,
        state,
    }
}

const SCILLY_ROW: &str = "isles-of-scilly-test-partnership,Scilly Schools Test Partnership,Isles of Scilly,school_led_network,all,school_improvement,member,unknown,the islands' school,,,https://www.example.org/scilly,2025,A row added by the reload test.\n";

async fn post_reload(app: &axum::Router) -> (u16, Value) {
    use tower::ServiceExt;
    let req = axum::http::Request::post("/admin/reload")
        .header("host", "x")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(axum::body::Body::empty())
        .expect("req");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The z7 tile holding the Isles of Scilly.
const SCILLY_TILE: &str = "/tiles/7/61/43.pbf";

fn scilly_count(body: &[u8]) -> u64 {
    let layers = common::mvt::decode(body);
    let f = layers["local_authorities"]
        .features
        .iter()
        .find(|f| f.str("code") == "E06000053")
        .expect("Scilly in tile");
    match f.props["partnership_count"] {
        common::mvt::Val::Uint(n) => n,
        ref other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reloading_bad_data_keeps_serving_the_old_data_and_lists_every_problem() {
    let fx = fixture();
    let before = fx.state.dataset().version.clone();
    let p = fx.data.join("partnerships.csv");
    let text = std::fs::read_to_string(&p).expect("read");
    std::fs::write(
        &p,
        text.replacen(",school_led_network,", ",schoolled_network,", 1)
            .replacen(",Devon,", ",Devonshire,", 1),
    )
    .expect("write");
    let (status, body) = post_reload(&fx.app).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["data_version"], before.as_str());
    let problems: Vec<&str> = body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains(
        "partnerships.csv:2: column \"la_names\": no local authority is named \"Devonshire\""
    )));
    assert_eq!(fx.state.dataset().version, before, "old data still served");
    let r = common::get(&fx.app, "/health", &[]).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).expect("json")["data_version"],
        before.as_str()
    );
}

#[tokio::test]
async fn reloading_good_data_changes_version_etags_and_tile_content() {
    let fx = fixture();
    let before = common::get(&fx.app, SCILLY_TILE, &[("accept-encoding", "identity")]).await;
    assert_eq!(before.status, 200);
    let count_before = scilly_count(&before.body);
    let etag = before.header("etag").expect("etag").to_owned();

    let p = fx.data.join("partnerships.csv");
    let mut text = std::fs::read_to_string(&p).expect("read");
    text.push_str(SCILLY_ROW);
    std::fs::write(&p, text).expect("write");
    let (status, body) = post_reload(&fx.app).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["data_version"], body["previous_version"]);
    assert_eq!(body["partnerships"], common::coverage().partnerships + 1);
    assert!(body["data_as_of"].as_str().is_some_and(|d| d.len() == 10));

    let after = common::get(
        &fx.app,
        SCILLY_TILE,
        &[("accept-encoding", "identity"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(after.status, 200, "the old ETag no longer matches");
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(
        scilly_count(&after.body),
        count_before + 1,
        "the new partnership is in the tile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_while_the_data_is_reloaded_repeatedly() {
    let fx = fixture();
    let p = fx.data.join("partnerships.csv");
    let original = std::fs::read_to_string(&p).expect("read");
    let changed = format!("{original}{SCILLY_ROW}");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let uris = [
        "/tiles/7/61/43.pbf",
        "/tiles/6/31/20.pbf",
        "/tiles/5/15/10.pbf",
        "/tiles.json",
        "/styles/default.json",
        "/health",
        "/contribute?la=E06000053",
    ];
    let mut workers = Vec::new();
    for w in 0..4 {
        let (app, stop, ok, failed) = (fx.app.clone(), stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let r =
                    common::get(&app, uris[i % uris.len()], &[("accept-encoding", "gzip")]).await;
                if r.status.is_success() {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
                i += 1;
            }
        }));
    }
    let mut versions = std::collections::BTreeSet::new();
    for round in 0..6 {
        std::fs::write(&p, if round % 2 == 0 { &changed } else { &original }).expect("write");
        let (status, body) = post_reload(&fx.app).await;
        assert_eq!(status, 200, "{body}");
        versions.insert(body["data_version"].as_str().expect("v").to_owned());
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("join");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("{ok} requests succeeded, {failed} failed, across 6 reloads");
    assert_eq!(failed, 0);
    assert!(ok > 50, "the load actually ran ({ok})");
    assert_eq!(versions.len(), 2, "the two datasets alternate");
}

async fn admin(app: &axum::Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let r = common::steward::call(app, method, uri, Some(TOKEN), body.as_ref()).await;
    (
        r.status.as_u16(),
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_logged_change_the_new_files_do_not_fit_is_reported_and_kept() {
    let fx = fixture();
    let (s, v) = admin(
        &fx.app,
        "POST",
        "/api/admin/edits",
        Some(serde_json::json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"notes": "Edited in the product."}, "reason": "r"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let p = fx.data.join("partnerships.csv");
    let original = std::fs::read_to_string(&p).expect("read");
    let without: String = original
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("hull-learning-partnership,"))
        .collect();
    assert_ne!(without, original);
    std::fs::write(&p, &without).expect("write");
    // The files no longer have the partnership: the server keeps serving the new files and
    // says plainly which change does not apply, and why.
    let (s, report) = post_reload(&fx.app).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["changes"]["applied"], 0);
    let conflicts = report["changes"]["conflicts"]
        .as_array()
        .expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{report}");
    assert_eq!(conflicts[0]["change"], 1);
    assert!(
        conflicts[0]["problems"]["id"]
            .as_str()
            .is_some_and(|m| m.contains("no partnership"))
    );
    let (_, listed) = admin(&fx.app, "GET", "/api/admin/conflicts", None).await;
    assert_eq!(listed["count"], 1);
    let health = common::steward::json(&common::get(&fx.app, "/health", &[]).await);
    assert_eq!(health["change_conflicts"], 1);
    assert!(
        fx.state
            .dataset()
            .partnerships
            .iter()
            .all(|p| p.id != "hull-learning-partnership")
    );
    // The change is still in the log: with the row back, it applies again.
    std::fs::write(&p, &original).expect("write");
    let (s, report) = post_reload(&fx.app).await;
    assert_eq!(s, 200);
    assert_eq!(report["changes"]["applied"], 1);
    assert_eq!(
        report["changes"]["conflicts"].as_array().map(Vec::len),
        Some(0)
    );
    let ds = fx.state.dataset();
    let p = ds
        .partnerships
        .iter()
        .find(|p| p.id == "hull-learning-partnership")
        .expect("back");
    assert_eq!(p.notes, "Edited in the product.");
}
