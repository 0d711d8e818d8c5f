//! The review queue: token auth (none configured, wrong, right), listing with status and
//! paging, review decisions (with the reviewer's name), CSV export, framing, retention.

mod common;

use std::sync::Arc;

use partnership_map::dataset::Dataset;
use partnership_map::editors::Editors;
use partnership_map::http::{HttpConfig, router};
use partnership_map::store::sqlite::SCHEMA_VERSION;
use partnership_map::store::{SqliteStore, Store};
use partnership_map::submission::NewSubmission;
use serde_json::{Value, json};

const TOKEN: &str = "test-token-0123456789";

fn app(token: Option<&str>) -> (axum::Router, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let config = HttpConfig {
        editors: token.map_or_else(Editors::none, |t| {
            Editors::single("Test Editor", t).expect("editor")
        }),
        ..HttpConfig::default()
    };
    let state = partnership_map::http::AppState::new(
        Dataset::from_inputs(&common::shipped_inputs(), 4).expect("valid"),
        partnership_map::cache::TileCache::new(1 << 20),
        config,
        store.clone() as Arc<dyn Store>,
    )
    .expect("state");
    (router(state), store)
}

fn new(la: &str, kind: &str, msg: &str) -> NewSubmission {
    NewSubmission {
        la_code: la.to_owned(),
        partnership_id: None,
        kind: kind.to_owned(),
        message: msg.to_owned(),
        name: "Ada Reviewer".to_owned(),
        organisation: "Hartlepool Borough Council".to_owned(),
        email: "ada@example.org".to_owned(),
        data_version: "v".to_owned(),
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, common::Resp) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "x");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(v.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let res = app
        .clone()
        .oneshot(req.body(body).expect("req"))
        .await
        .expect("infallible");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        common::Resp {
            status: axum::http::StatusCode::from_u16(status).expect("status"),
            headers,
            body,
        },
    )
}

#[tokio::test]
async fn without_a_configured_token_the_admin_api_is_off() {
    let (app, _) = app(None);
    for uri in [
        "/api/admin/submissions",
        "/api/admin/submissions.csv",
        "/api/admin/submissions/1",
    ] {
        let (s, r) = call(&app, "GET", uri, Some("anything-at-all-123"), None).await;
        assert_eq!(s, 404, "{uri}");
        assert!(r.text().contains("admin API is off"));
    }
    let (s, _) = call(&app, "POST", "/admin/reload", Some("x"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_missing_or_wrong_token_gets_401_and_the_right_one_gets_in() {
    let (app, store) = app(Some(TOKEN));
    store
        .insert_submission(
            &new("E06000001", "correction", "first message here"),
            "2026-01-01T00:00:00Z",
        )
        .await
        .expect("insert");
    for token in [
        None,
        Some("wrong-token-0123456789"),
        Some("test-token-012345678"),
        Some(""),
    ] {
        let (s, r) = call(&app, "GET", "/api/admin/submissions", token, None).await;
        assert_eq!(s, 401, "{token:?}");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer"))
        );
        assert!(!r.text().contains("ada@example.org"));
    }
    let (s, r) = call(&app, "GET", "/api/admin/submissions", Some(TOKEN), None).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["total"], 1);
    assert_eq!(
        v["items"][0]["email"], "ada@example.org",
        "reviewers see the contact details"
    );
}

#[tokio::test]
async fn the_queue_filters_by_status_pages_and_records_reviews() {
    let (app, store) = app(Some(TOKEN));
    for i in 0..7 {
        store
            .insert_submission(
                &new("E06000001", "correction", &format!("message number {i}")),
                "2026-01-01T00:00:00Z",
            )
            .await
            .expect("insert");
    }
    let (s, r) = call(
        &app,
        "GET",
        "/api/admin/submissions?limit=3&offset=0",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        (
            v["total"].as_i64(),
            v["items"].as_array().map(Vec::len),
            v["next_offset"].as_i64()
        ),
        (Some(7), Some(3), Some(3))
    );
    assert_eq!(v["items"][0]["reference"], "PM-000007", "newest first");
    let (_, r) = call(
        &app,
        "GET",
        "/api/admin/submissions?limit=3&offset=6",
        Some(TOKEN),
        None,
    )
    .await;
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    assert!(v["next_offset"].is_null());

    let (s, r) = call(
        &app,
        "POST",
        "/api/admin/submissions/PM-000002/review",
        Some(TOKEN),
        Some(json!({"status": "rejected", "note": "not an ABEP"})),
    )
    .await;
    assert_eq!(s, 200, "{}", r.text());
    let (s, _) = call(
        &app,
        "POST",
        "/api/admin/submissions/3/review",
        Some(TOKEN),
        Some(json!({"status": "duplicate", "note": "same as PM-000001"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, r) = call(
        &app,
        "GET",
        "/api/admin/submissions?status=rejected",
        Some(TOKEN),
        None,
    )
    .await;
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["review_note"], "not an ABEP");
    let (_, r) = call(
        &app,
        "GET",
        "/api/admin/submissions?status=new",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).expect("json")["total"],
        5
    );

    for (uri, body, want) in [
        ("/api/admin/submissions?status=maybe", None, 400),
        ("/api/admin/submissions?limit=-1", None, 400),
        ("/api/admin/submissions?limit=abc", None, 400),
        ("/api/admin/submissions/PM-999999", None, 404),
        ("/api/admin/submissions/xyz", None, 400),
    ] {
        let (s, _) = call(&app, "GET", uri, Some(TOKEN), body).await;
        assert_eq!(s, want, "{uri}");
    }
    let (s, _) = call(
        &app,
        "POST",
        "/api/admin/submissions/1/review",
        Some(TOKEN),
        Some(json!({"status": "great"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &app,
        "POST",
        "/api/admin/submissions/99/review",
        Some(TOKEN),
        Some(json!({"status": "accepted"})),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_queue_exports_as_csv() {
    let (app, store) = app(Some(TOKEN));
    store
        .insert_submission(
            &new(
                "E06000001",
                "correction",
                "line one, with a comma\nand a newline",
            ),
            "2026-01-01T00:00:00Z",
        )
        .await
        .expect("insert");
    let (s, r) = call(&app, "GET", "/api/admin/submissions.csv", Some(TOKEN), None).await;
    assert_eq!(s, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    let mut rdr = csv::Reader::from_reader(&r.body[..]);
    let headers = rdr.headers().expect("headers").clone();
    assert_eq!(&headers[0], "reference");
    let rows: Vec<csv::StringRecord> = rdr.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], "PM-000001");
    assert_eq!(&rows[0][6], "line one, with a comma\nand a newline");
}

#[tokio::test]
async fn the_admin_page_cannot_be_framed_and_has_no_inline_script() {
    let (app, _) = app(Some(TOKEN));
    let (s, r) = call(&app, "GET", "/admin", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'") && !c.contains("unsafe-inline"))
    );
    let page = r.text();
    assert!(page.contains("<script type=\"module\" src=\"/static/admin.js\">"));
    assert!(!page.contains("<script>"), "no inline script");
    let (s, r) = call(&app, "GET", "/static/admin.js", None, None).await;
    assert_eq!(s, 200);
    assert!(r.text().contains("sessionStorage"));
}

#[tokio::test]
async fn retention_deletes_personal_fields_only_after_review_and_the_cutoff() {
    let store = SqliteStore::open_in_memory().expect("sqlite");
    let a = store
        .insert_submission(
            &new("E06000001", "correction", "reviewed long ago"),
            "2025-01-01T00:00:00Z",
        )
        .await
        .expect("a");
    let b = store
        .insert_submission(
            &new("E06000001", "correction", "reviewed recently"),
            "2025-01-01T00:00:00Z",
        )
        .await
        .expect("b");
    let c = store
        .insert_submission(
            &new("E06000001", "correction", "never reviewed"),
            "2025-01-01T00:00:00Z",
        )
        .await
        .expect("c");
    store
        .review_submission(a, "accepted", "", "Test Editor", "2025-02-01T00:00:00Z")
        .await
        .expect("review a");
    store
        .review_submission(b, "accepted", "", "Test Editor", "2026-11-01T00:00:00Z")
        .await
        .expect("review b");
    let n = store
        .purge_personal("2026-06-01T00:00:00Z", "2026-11-27T00:00:00Z")
        .await
        .expect("purge");
    assert_eq!(n, 1);
    let a = store.get_submission(a).await.expect("get").expect("a");
    assert_eq!((a.name, a.email, a.organisation), (None, None, None));
    assert_eq!(
        a.personal_data_purged_at.as_deref(),
        Some("2026-11-27T00:00:00Z")
    );
    assert_eq!(a.message, "reviewed long ago", "the content itself is kept");
    assert!(
        store
            .get_submission(b)
            .await
            .expect("get")
            .expect("b")
            .email
            .is_some()
    );
    assert!(
        store
            .get_submission(c)
            .await
            .expect("get")
            .expect("c")
            .email
            .is_some()
    );
    assert_eq!(
        store
            .purge_personal("2026-06-01T00:00:00Z", "2026-11-28T00:00:00Z")
            .await
            .expect("again"),
        0,
        "idempotent"
    );
}

#[tokio::test]
async fn the_database_is_migrated_once_and_runs_in_wal_with_full_sync() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("nested/dir/pm.db");
    {
        let s = SqliteStore::open(&path).expect("create");
        assert_eq!(s.schema_version().expect("v"), SCHEMA_VERSION);
        s.insert_submission(
            &new("E06000001", "correction", "kept across reopen"),
            "2026-01-01T00:00:00Z",
        )
        .await
        .expect("insert");
        assert_eq!(
            s.durability().expect("pragmas"),
            ("wal".to_owned(), 2),
            "journal_mode=WAL, synchronous=FULL (2)"
        );
    }
    let s = SqliteStore::open(&path).expect("reopen");
    assert_eq!(s.schema_version().expect("v"), SCHEMA_VERSION);
    assert_eq!(
        s.list_submissions(None, 10, 0).await.expect("list").total,
        1
    );
}
