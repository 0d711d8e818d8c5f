//! HTTP glue: shared state, the router, and the layers around it.
//!
//! Handlers never set CORS headers: the CORS layer on the public read-only routes does.
//! The router tags each response with its matched route; the server (`server.rs`) logs every
//! request once, with that route, status and latency, and counts it in the metrics.

pub mod admin;
pub mod api;
pub mod changes;
pub mod compare;
pub mod contribute;
pub mod downloads;
pub mod edits;
pub mod meta;
pub mod metrics;
pub mod negotiate;
pub mod ogc;
pub mod openapi;
pub mod pages;
pub mod preview;
pub mod proxy;
pub mod publish;
pub mod query;
pub mod render;
pub mod server;
pub mod tiles;
pub mod web;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{Any, CorsLayer};

use crate::cache::TileCache;
use crate::dataset::Dataset;
use crate::editors::Editors;
use crate::error::AppError;
use crate::store::Store;

/// Where the data was loaded from, for live reloads.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// `--boundaries`.
    pub boundaries: PathBuf,
    /// `--data`.
    pub data: PathBuf,
    /// `--max-zoom`.
    pub max_zoom: u8,
}

/// Settings the handlers need, validated at startup.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `Cache-Control` for tiles, TileJSON and style.
    pub cache_control: HeaderValue,
    /// Public base URL (no trailing slash), if configured.
    pub public_url: Option<String>,
    /// Editors of the admin API; none turns it off.
    pub editors: Editors,
    /// Submissions allowed per client IP per hour.
    pub submissions_per_hour: NonZeroU32,
    /// Data directories, so `POST /admin/reload` and SIGHUP can reload.
    pub data_source: Option<DataSource>,
    /// Peers whose `X-Forwarded-For` / `Forwarded` is believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Which of the two headers the trusted proxies set.
    pub client_ip_header: proxy::ClientIpHeader,
    /// Render every tile of each published data version in the background.
    pub prerender: bool,
    /// Serve `/metrics` on the public router too (`--metrics-bind main`).
    pub metrics_on_main: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cache_control: HeaderValue::from_static("public, max-age=3600"),
            public_url: None,
            editors: Editors::none(),
            submissions_per_hour: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            data_source: None,
            trusted_proxies: Vec::new(),
            client_ip_header: proxy::ClientIpHeader::default(),
            prerender: false,
            metrics_on_main: false,
        }
    }
}

/// Largest accepted submission body.
pub const MAX_SUBMISSION_BYTES: usize = 32 * 1024;
/// Largest accepted admin request body (an edit).
pub const MAX_EDIT_BYTES: usize = 64 * 1024;

/// State shared by all handlers: one reference count to clone (every handler's `State`
/// extractor clones it, once per request).
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct StateInner {
    dataset: Arc<ArcSwap<Dataset>>,
    /// Tile cache.
    pub cache: TileCache,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// Parsed `styles/default.json`.
    pub style_template: Arc<serde_json::Value>,
    /// Parsed `styles/qgis.json`.
    pub qgis_style_template: Arc<serde_json::Value>,
    /// Submissions, the change log and the submission limit.
    pub store: Arc<dyn Store>,
    /// The change log as published here; one publisher at a time.
    pub log: Arc<tokio::sync::Mutex<publish::LogState>>,
    /// What `/health` and the admin API read of the log, without waiting for the publisher.
    log_status: Arc<std::sync::RwLock<publish::LogStatus>>,
    /// Rendered label glyphs.
    pub glyphs: crate::glyphs::GlyphCache,
    /// Open-data downloads of the current data version.
    pub downloads: downloads::DownloadCache,
    /// Drawn map pictures (`/render/…`), by data version.
    pub pictures: render::PictureCache,
    /// Unix time at which the served data version was published.
    published: Arc<AtomicU64>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AppState {
    /// Build the state.
    ///
    /// # Errors
    /// If the compiled-in style template is not valid JSON.
    pub fn new(
        dataset: Dataset,
        cache: TileCache,
        config: HttpConfig,
        store: Arc<dyn Store>,
    ) -> Result<Self, serde_json::Error> {
        let dataset = Arc::new(dataset);
        cache.publish(
            Arc::clone(&dataset),
            version_key(&dataset),
            config.prerender,
        );
        Ok(Self(Arc::new(StateInner {
            log: Arc::new(tokio::sync::Mutex::new(publish::LogState::new(&dataset))),
            log_status: Arc::default(),
            dataset: Arc::new(ArcSwap::new(dataset)),
            cache,
            config: Arc::new(config),
            style_template: Arc::new(serde_json::from_str(meta::STYLE_TEMPLATE)?),
            qgis_style_template: Arc::new(serde_json::from_str(meta::QGIS_STYLE_TEMPLATE)?),
            store,
            glyphs: crate::glyphs::GlyphCache::default(),
            downloads: downloads::DownloadCache::default(),
            pictures: render::PictureCache::default(),
            published: Arc::new(AtomicU64::new(unix_now())),
        })))
    }

    /// Publish a new dataset: swap it in atomically (in-flight requests finish on the old one),
    /// make its version the tile cache's current one (old tiles are dropped; new ETags from the
    /// first request on, rendered on demand until the background pre-render has them), and
    /// build its downloads in the background. Every publish (start, reload, edit) goes here.
    pub fn swap_dataset(&self, ds: Dataset) -> Arc<Dataset> {
        let ds = Arc::new(ds);
        let old = self.dataset.swap(Arc::clone(&ds));
        if old.version == ds.version {
            // Same tables over the same geometry (e.g. a replay that changed nothing): the
            // cached and pre-rendering tiles are still right.
            return old;
        }
        self.published.store(unix_now(), Ordering::Relaxed);
        self.cache
            .publish(Arc::clone(&ds), version_key(&ds), self.config.prerender);
        if tokio::runtime::Handle::try_current().is_ok() {
            self.warm_downloads();
        }
        old
    }

    /// Unix time at which the served data version was published.
    #[must_use]
    pub fn published_at(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// The last change published here and the conflicts with the files.
    #[must_use]
    pub fn log_status(&self) -> publish::LogStatus {
        self.log_status
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Record the log's status (the publisher calls this).
    pub fn set_log_status(&self, status: publish::LogStatus) {
        if let Ok(mut s) = self.log_status.write() {
            *s = status;
        }
    }

    /// Build the current data version's downloads (JSON, GeoJSON, CSV and their gzip, about
    /// 0.3 s) on a blocking thread, so the first visitor to `/downloads` does not wait for it.
    /// The task builds whatever version is current when it runs, so a burst of edits builds
    /// the last one, not each in turn.
    pub fn warm_downloads(&self) {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            state.downloads.files(&state.dataset());
        });
    }

    /// The current dataset (a snapshot: a request keeps the one it started with).
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.dataset.load_full()
    }

    /// Cache-key form of a dataset's version.
    #[must_use]
    pub fn version_key(&self, ds: &Dataset) -> u64 {
        version_key(ds)
    }

    /// The served version's cache key and maximum zoom, without taking a reference to it.
    #[must_use]
    pub fn serving(&self) -> (u64, u8) {
        let ds = self.dataset.load();
        (version_key(&ds), ds.max_zoom())
    }
}

fn version_key(ds: &Dataset) -> u64 {
    // The version is 16 hex digits; 0 is the cache's "no version yet", so never use it.
    u64::from_str_radix(&ds.version, 16).unwrap_or(1).max(1)
}

/// Headers the CORS layer exposes to other origins' scripts.
const CORS_EXPOSED: [header::HeaderName; 2] = [header::ETAG, header::CONTENT_LENGTH];

/// The headers the router's CORS layer adds to a `GET` of a public resource (for responses made
/// without the router; a test checks both agree).
pub(crate) fn cors_headers(h: &mut HeaderMap) {
    h.append(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag,content-length"),
    );
}

/// The application router.
pub fn router(state: AppState) -> Router {
    // Read-only resources other sites may load: any origin, GET/HEAD only.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .expose_headers(CORS_EXPOSED);
    let public = Router::new()
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile))
        .route("/tiles.json", get(meta::tilejson_handler))
        .route("/tiles/metadata.json", get(meta::tippecanoe_metadata))
        .route("/styles/{name}", get(meta::style_handler))
        .route("/fonts/{fontstack}/{range}", get(web::fonts))
        .route("/api/las", get(api::las))
        .route("/api/las/{code}", get(api::la))
        .route("/api/partnerships", get(api::partnerships))
        .route("/api/changes", get(changes::list))
        .route("/api/changes/{id}", get(changes::one))
        .route("/changes.atom", get(changes::atom))
        .route("/downloads", get(downloads::page))
        .route("/downloads/{name}", get(downloads::file))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/api", get(ogc::openapi))
        .route("/api/openapi.json", get(openapi::api_json))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/items/{fid}", get(ogc::item))
        .route("/ogc/collections/{id}/tiles", get(ogc::tilesets))
        .route("/ogc/collections/{id}/tiles/{tms}", get(ogc::tileset))
        .route(
            "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
            get(tiles::ogc_tile),
        )
        .route("/ogc/tileMatrixSets", get(ogc::tile_matrix_sets))
        .route("/ogc/tileMatrixSets/{id}", get(ogc::tile_matrix_set))
        .route("/api/compare", get(compare::api))
        .route("/render/{file}", get(render::england))
        .route("/render/la/{file}", get(render::la))
        .layer(cors);
    let submissions = Router::new()
        .route("/api/submissions", post(contribute::api_submit))
        .route(
            "/contribute",
            get(contribute::form_page).post(contribute::form_post),
        )
        .layer(DefaultBodyLimit::max(MAX_SUBMISSION_BYTES))
        .layer(middleware::from_fn(refuse_oversized));
    let admin = Router::new()
        .route("/admin", get(admin::page))
        .route("/admin/reload", post(edits::reload))
        .route("/api/admin/submissions", get(admin::list))
        .route("/api/admin/submissions.csv", get(admin::export_csv))
        .route("/api/admin/submissions/{id}", get(admin::one))
        .route("/api/admin/submissions/{id}/review", post(admin::review))
        .route("/api/admin/edits", post(edits::create))
        .route("/api/admin/changes", get(edits::list))
        .route("/api/admin/changes/{id}/revert", post(edits::revert))
        .route("/api/admin/conflicts", get(edits::conflicts))
        .layer(DefaultBodyLimit::max(MAX_EDIT_BYTES));
    let metrics_on_main = state.config.metrics_on_main;
    let app = Router::new().merge(public).merge(submissions).merge(admin);
    let app = if metrics_on_main {
        app.route("/metrics", get(metrics::metrics))
    } else {
        app
    };
    app.route("/", get(web::index))
        .route("/embed", get(web::embed))
        .route("/compare", get(compare::page))
        .route("/vendor/maplibre-gl/{file}", get(web::vendor))
        .route("/api", get(openapi::api_page))
        .route("/vendor/swagger-ui/{file}", get(openapi::vendor))
        .route("/static/{file}", get(pages::asset))
        .route("/health", get(meta::health))
        .fallback(not_found)
        // gzip, when the client accepts it, for what is over 1 KiB and not compressed yet (JSON,
        // GeoJSON, HTML, MapLibre's JS, glyphs). Tiles and downloads arrive gzipped already and
        // are left alone; the other ETags are weak, so one tag fits both representations.
        .layer(
            CompressionLayer::new().compress_when(
                SizeAbove::new(1024)
                    .and(NotForContentType::IMAGES)
                    .and(NotForContentType::GRPC)
                    .and(NotForContentType::SSE),
            ),
        )
        .layer(middleware::from_fn(tag_route))
        .with_state(state)
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no resource at {}", uri.path()))
}

/// A declared `Content-Length` over the submission limit is refused at once (413), rather than
/// waiting for a body that would be refused anyway. Bodies without a declared length are cut
/// off at the limit as they arrive (`DefaultBodyLimit`).
async fn refuse_oversized(req: Request, next: Next) -> Result<Response, AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_SUBMISSION_BYTES as u64) {
        return Err(AppError::PayloadTooLarge {
            limit: MAX_SUBMISSION_BYTES,
        });
    }
    Ok(next.run(req).await)
}

/// Put the matched route on the response, for the server's request log and metrics.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// The client's IP: the TCP peer, or, when the peer is one of `--trusted-proxies`, the
/// right-most address in `X-Forwarded-For` (or `Forwarded`) that is not itself a trusted proxy.
#[must_use]
pub fn client_ip(config: &HttpConfig, ext: &axum::http::Extensions, headers: &HeaderMap) -> IpAddr {
    let peer = ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            ext.get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    proxy::client_ip(
        peer,
        headers,
        &config.trusted_proxies,
        config.client_ip_header,
    )
}
