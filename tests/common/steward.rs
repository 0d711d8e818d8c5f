//! Test helpers for the stewardship suite: a store backend (SQLite here; PostgreSQL when the
//! test script started one), an app with named editors, and JSON requests.
#![allow(dead_code)]

use std::ffi::OsString;
use std::sync::Arc;

use axum::body::Body;
use partnership_map::cache::TileCache;
use partnership_map::dataset::Dataset;
use partnership_map::editors::Editors;
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::store::{SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

use super::Resp;

/// Editors of the test apps.
pub const ASHA: (&str, &str) = ("Asha Patel", "asha-token-0123456789");
/// A second editor.
pub const BEN: (&str, &str) = ("Ben Okafor", "ben-token-9876543210");

/// Where a test keeps its database.
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A fresh database on the test PostgreSQL cluster.
    Postgres(String),
}

impl Backend {
    /// A fresh, empty SQLite database.
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("tmp"))
    }

    /// A fresh, empty database on the PostgreSQL cluster `scripts/test.sh` started.
    pub fn postgres() -> Self {
        Self::Postgres(super::pg::fresh_database(&super::pg::shared_url()))
    }

    /// A store on this backend (a new connection each call, like a restart).
    pub async fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(dir) => {
                let path = dir.path().join("pm.db");
                Arc::new(
                    tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                        .await
                        .expect("task")
                        .expect("sqlite"),
                )
            }
            Self::Postgres(url) => Arc::new(
                partnership_map::store::PostgresStore::connect(url)
                    .await
                    .expect("postgres"),
            ),
        }
    }

    /// Command-line arguments naming this database, for the real binary.
    pub fn args(&self) -> Vec<OsString> {
        match self {
            Self::Sqlite(dir) => vec!["--db".into(), dir.path().join("pm.db").into()],
            Self::Postgres(url) => vec!["--database-url".into(), url.into()],
        }
    }
}

/// The shipped data to z10. The geometry is built once per test binary and shared; each call
/// gives a fresh dataset over it, as a restarted server would have.
pub fn dataset() -> Dataset {
    static FILES: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
    let files =
        FILES.get_or_init(|| Dataset::from_inputs(&super::shipped_inputs(), 10).expect("valid"));
    files
        .with_tables(files.tables.clone(), files.data_as_of.clone())
        .expect("valid")
}

/// An app over the shipped data with editors Asha and Ben, on `store`, its log replayed.
pub async fn app(store: Arc<dyn Store>) -> (axum::Router, AppState) {
    app_with(store, |_| {}).await
}

/// [`app`] with its settings changed by `tune` first.
pub async fn app_with(
    store: Arc<dyn Store>,
    tune: impl FnOnce(&mut HttpConfig),
) -> (axum::Router, AppState) {
    let mut editors = Editors::none();
    editors.add(ASHA.0, ASHA.1).expect("editor");
    editors.add(BEN.0, BEN.1).expect("editor");
    let mut config = HttpConfig {
        editors,
        ..HttpConfig::default()
    };
    tune(&mut config);
    let state = AppState::new(dataset(), TileCache::new(32 << 20), config, store).expect("state");
    state.steward.replay_all().await.expect("replay");
    (router(state.clone()), state)
}

/// A request with an optional bearer token and JSON body.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8080");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, req.body(body).expect("request")).await
}

/// Send `req` to `app` and read the whole response.
pub async fn send(app: &axum::Router, req: axum::http::Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

/// `POST /api/admin/edits` as Asha.
pub async fn edit(app: &axum::Router, body: &Value) -> Resp {
    call(app, "POST", "/api/admin/edits", Some(ASHA.1), Some(body)).await
}

/// The JSON of a response.
pub fn json(r: &Resp) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.text()))
}

/// The data version `/health` reports.
pub async fn version(app: &axum::Router) -> String {
    let r = call(app, "GET", "/health", None, None).await;
    json(&r)["data_version"]
        .as_str()
        .expect("version")
        .to_owned()
}
