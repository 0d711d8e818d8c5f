//! Corrections: validation (table-driven), storage, rate limit, body limits, the no-JavaScript
//! form, privacy of public endpoints.

mod common;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use http_body_util::BodyExt;
use partnership_map::dataset::Dataset;
use partnership_map::http::{HttpConfig, router};
use partnership_map::store::{SqliteStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    store: Arc<SqliteStore>,
}

fn app_with(per_hour: u32) -> App {
    let store = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let config = HttpConfig {
        submissions_per_hour: NonZeroU32::new(per_hour).expect("nz"),
        ..HttpConfig::default()
    };
    let state = partnership_map::http::AppState::new(
        Dataset::from_inputs(&common::shipped_inputs(), 6).expect("valid"),
        partnership_map::cache::TileCache::new(1 << 20),
        config,
        store.clone() as Arc<dyn Store>,
    )
    .expect("state");
    App {
        router: router(state),
        store,
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    ctype: &str,
    body: String,
    ip: [u8; 4],
) -> (u16, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1")
        .header("content-type", ctype)
        .body(Body::from(body))
        .expect("req");
    let app = app
        .clone()
        .layer(MockConnectInfo(SocketAddr::from((ip, 40000))));
    let res = app.oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes())
        .into_owned();
    (status, headers, body)
}

/// `POST /api/submissions` with this content type from this client.
async fn submit(
    app: &axum::Router,
    ctype: &str,
    body: String,
    ip: [u8; 4],
) -> (u16, axum::http::HeaderMap, String) {
    send(app, "POST", "/api/submissions", ctype, body, ip).await
}

/// The no-JavaScript form: `POST /contribute`, form-encoded, from this client.
async fn post_form(
    app: &axum::Router,
    body: String,
    ip: [u8; 4],
) -> (u16, axum::http::HeaderMap, String) {
    send(
        app,
        "POST",
        "/contribute",
        "application/x-www-form-urlencoded",
        body,
        ip,
    )
    .await
}

fn good() -> Value {
    json!({
        "la": "E09000002",
        "partnership": "barking-and-dagenham-school-improvement-partnership",
        "kind": "correction",
        "message": "BDSIP now also works with schools in Havering.",
        "name": "Sam Example",
        "organisation": "A school",
        "email": "sam@example.org",
        "consent": true
    })
}

async fn post_json(app: &App, v: &Value) -> (u16, Value) {
    let (s, _, b) = submit(
        &app.router,
        "application/json",
        v.to_string(),
        [10, 0, 0, 1],
    )
    .await;
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_invalid_field_gets_its_own_message() {
    let app = app_with(1000);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("missing LA", json!(""), "la", "Choose the local authority"),
        (
            "unknown LA",
            json!("E09999999"),
            "la",
            "not a local authority code we know",
        ),
        (
            "unknown partnership",
            json!("no-such-partnership"),
            "partnership",
            "not a partnership we know",
        ),
        (
            "partnership elsewhere",
            json!("babcock-ldp-devon"),
            "partnership",
            "is not listed in Barking and Dagenham",
        ),
        ("bad kind", json!("complaint"), "kind", "Choose what kind"),
        (
            "short message",
            json!("too short"),
            "message",
            "at least 10 characters",
        ),
        (
            "long message",
            json!("x".repeat(5001)),
            "message",
            "under 5000 characters",
        ),
        ("missing name", json!("  "), "name", "Give your name"),
        ("long name", json!("n".repeat(201)), "name", "under 200"),
        (
            "bad email",
            json!("sam@example"),
            "email",
            "does not look like an email",
        ),
        (
            "email with space",
            json!("sam smith@example.org"),
            "email",
            "does not look like an email",
        ),
        ("no consent", json!(false), "consent", "with your consent"),
    ];
    for (what, value, field, want) in cases {
        let mut v = good();
        let key = match field {
            "la" if what.contains("LA") => "la",
            "partnership" => "partnership",
            f => f,
        };
        v[key] = value;
        let (status, body) = post_json(&app, &v).await;
        assert_eq!(status, 400, "{what}: {body}");
        let msg = body["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no message for {field}: {body}"));
        assert!(msg.contains(want), "{what}: {msg}");
        assert_eq!(
            body["fields"].as_object().map(serde_json::Map::len),
            Some(1),
            "{what}: only {field} is wrong: {body}"
        );
    }
    // Verification needs the organisation.
    let mut v = good();
    v["kind"] = json!("verification");
    v["organisation"] = json!("");
    let (status, body) = post_json(&app, &v).await;
    assert_eq!(status, 400);
    assert!(body["fields"]["organisation"].is_string());
    // An empty object reports every required field at once.
    let (status, body) = post_json(&app, &json!({})).await;
    assert_eq!(status, 400);
    for f in ["la", "kind", "message", "name", "email", "consent"] {
        assert!(body["fields"][f].is_string(), "{f}: {body}");
    }
    assert_eq!(
        app.store
            .list_submissions(None, 10, 0)
            .await
            .expect("list")
            .total,
        0,
        "nothing invalid was stored"
    );
}

#[tokio::test]
async fn a_valid_submission_is_stored_and_acknowledged_with_its_id() {
    let app = app_with(1000);
    let (status, body) = post_json(&app, &good()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id");
    assert!(id.starts_with("PM-"));
    let n = partnership_map::submission::parse_reference(id).expect("ref");
    let s = app
        .store
        .get_submission(n)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(s.la_code, "E09000002");
    assert_eq!(s.email.as_deref(), Some("sam@example.org"));
    assert_eq!(s.status, "new");
    // Form-encoded bodies are accepted by the API too.
    let form = "la=E06000001&kind=la_role&message=The+council+now+funds+a+partnership.&name=Kim&email=kim%40example.org&consent=on";
    let (status, _, b) = submit(
        &app.router,
        "application/x-www-form-urlencoded",
        form.to_owned(),
        [10, 0, 0, 2],
    )
    .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(
        app.store
            .list_submissions(None, 10, 0)
            .await
            .expect("list")
            .total,
        2
    );
}

#[tokio::test]
async fn spam_wrong_types_and_huge_bodies_are_refused_cleanly() {
    let app = app_with(1000);
    let mut v = good();
    v["website"] = json!("http://spam.example");
    let (status, _) = post_json(&app, &v).await;
    assert_eq!(status, 400, "honeypot");
    let (status, _, b) = submit(&app.router, "text/plain", "hello".to_owned(), [10, 0, 0, 3]).await;
    assert_eq!(status, 415, "{b}");
    let (status, _, b) = submit(
        &app.router,
        "application/json",
        "{not json".to_owned(),
        [10, 0, 0, 3],
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert!(b.contains("not the expected JSON object"));
    let mut big = good();
    big["message"] = json!("x".repeat(40 * 1024));
    let (status, _, _) = submit(
        &app.router,
        "application/json",
        big.to_string(),
        [10, 0, 0, 3],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        app.store
            .list_submissions(None, 10, 0)
            .await
            .expect("list")
            .total,
        0
    );
}

#[tokio::test]
async fn submissions_are_rate_limited_per_client_ip() {
    let app = app_with(2);
    let body = good().to_string();
    for _ in 0..2 {
        let (s, _, b) = submit(
            &app.router,
            "application/json",
            body.clone(),
            [192, 0, 2, 7],
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, h, b) = submit(
        &app.router,
        "application/json",
        body.clone(),
        [192, 0, 2, 7],
    )
    .await;
    assert_eq!(s, 429, "{b}");
    let retry: u64 = h
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&retry), "{retry}");
    // Another client is not affected.
    let (s, _, _) = submit(&app.router, "application/json", body, [192, 0, 2, 8]).await;
    assert_eq!(s, 201);
    assert_eq!(
        app.store
            .list_submissions(None, 10, 0)
            .await
            .expect("list")
            .total,
        3
    );
}

#[tokio::test]
async fn the_form_works_without_javascript() {
    let app = app_with(1000);
    let (s, h, page) = send(
        &app.router,
        "GET",
        "/contribute?la=E09000002",
        "text/plain",
        String::new(),
        [10, 1, 0, 1],
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        page.contains("<option value=\"E09000002\" selected>Barking and Dagenham</option>"),
        "LA preselected"
    );
    assert!(
        page.contains("Barking and Dagenham School Improvement Partnership"),
        "its partnerships are offered"
    );
    assert!(page.contains("action=\"/contribute\"") && page.contains("method=\"post\""));
    let csp = h
        .get("content-security-policy")
        .expect("csp")
        .to_str()
        .expect("ascii");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));

    // Invalid: the same form comes back with the message next to the field and the input kept.
    let bad = "la=E09000002&kind=correction&message=Please+update+the+website.&name=Sam&email=sam%40nowhere&consent=on";
    let (s, _, page) = post_form(&app.router, bad.to_owned(), [10, 1, 0, 1]).await;
    assert_eq!(s, 400);
    assert!(
        page.contains("id=\"email-error\"") && page.contains("does not look like an email"),
        "{page}"
    );
    assert!(page.contains("value=\"sam@nowhere\""), "input kept");
    assert!(page.contains("Please update the website."), "message kept");

    // Valid: a server-rendered confirmation with the reference.
    let ok = bad.replace("nowhere", "example.org");
    let (s, _, page) = post_form(&app.router, ok, [10, 1, 0, 1]).await;
    assert_eq!(s, 201);
    assert!(
        page.contains("Your reference is <strong id=\"reference\">PM-000001</strong>"),
        "{page}"
    );
    assert_eq!(
        app.store
            .get_submission(1)
            .await
            .expect("get")
            .expect("stored")
            .message,
        "Please update the website."
    );
}

#[tokio::test]
async fn text_from_people_is_escaped_in_pages() {
    let app = app_with(1000);
    let evil = "la=E09000002&kind=correction&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E+hello&name=%3Cimg+src%3Dx%3E&email=bad";
    let (s, _, page) = post_form(&app.router, evil.to_owned(), [10, 1, 0, 9]).await;
    assert_eq!(s, 400);
    assert!(
        !page.contains("<script>alert(1)") && page.contains("&lt;script&gt;alert(1)"),
        "{page}"
    );
    assert!(!page.contains("<img src=x>"));
}

#[tokio::test]
async fn names_and_emails_never_appear_in_public_responses() {
    let app = app_with(1000);
    let (s, _) = post_json(&app, &good()).await;
    assert_eq!(s, 201);
    for uri in [
        "/tiles.json",
        "/styles/default.json",
        "/health",
        "/contribute?la=E09000002",
        "/tiles/6/31/20.pbf",
        "/admin",
    ] {
        let (_, _, body) = send(
            &app.router,
            "GET",
            uri,
            "text/plain",
            String::new(),
            [10, 1, 1, 1],
        )
        .await;
        assert!(
            !body.contains("sam@example.org") && !body.contains("Sam Example"),
            "{uri} leaks personal data"
        );
    }
}

/// A new submission about a council on a day it does not exist is refused on its `la` field,
/// with a pointer to the councils to write about instead: after vesting day, the successors
/// of an abolished council; before it, the council a new one will replace. The same LA is
/// accepted on a day it is in force. (Codes and names come from the shipped reorganisation
/// table through the dataset.)
#[test]
fn submissions_about_a_council_not_in_force_point_to_the_right_one() {
    use partnership_map::submission::{Invalid, RawSubmission, validate};
    let ds = common::dataset();
    let old = common::first_abolished(&ds);
    let vesting = old.valid_to.clone().expect("an end");
    // The maps of the day before vesting day and of vesting day (whatever today is).
    let k = ds.timeline().vintage_of(&vesting).expect("a vintage");
    let (before, after) = (ds.on_vintage(k - 1), ds.on_vintage(k));
    assert_eq!(after.vintage_start(), vesting);
    let ds = &before;
    let raw = |la: &str| RawSubmission {
        la: la.to_owned(),
        kind: "correction".to_owned(),
        message: "The partnership has a new chair and a new website.".to_owned(),
        name: "Sam Example".to_owned(),
        email: "sam@example.org".to_owned(),
        consent: true,
        ..RawSubmission::default()
    };
    let la_error = |ds: &Dataset, la: &str| match validate(&raw(la), ds) {
        Err(Invalid::Fields(f)) => f.get("la").cloned(),
        Err(Invalid::Spam) => panic!("not spam"),
        Ok(_) => None,
    };
    // Today the old council is in force; after vesting day it is not.
    assert_eq!(la_error(ds, &old.code), None);
    let msg = la_error(&after, &old.code).expect("refused after vesting day");
    assert!(
        msg.starts_with(&format!("{} was abolished on {vesting}", old.name)),
        "{msg}"
    );
    for code in &old.replaced_by {
        let name = ds.name_of(code).expect("named");
        assert!(msg.contains(&format!("{name} ({code})")), "{msg}");
        // A successor is refused today, pointing back to the old council; fine after.
        let early = la_error(ds, code).expect("refused before vesting day");
        assert_eq!(
            early,
            format!(
                "{name} only exists from {vesting}: until then, send it about {} ({}).",
                old.name, old.code
            )
        );
        assert_eq!(la_error(&after, code), None);
    }
    // An unknown code is still just unknown.
    assert_eq!(
        la_error(ds, "E99999999").as_deref(),
        Some("\"E99999999\" is not a local authority code we know.")
    );
}
