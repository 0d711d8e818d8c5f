//! HTTP glue: shared state, the router, and the layers around it.
//!
//! Handlers never set CORS headers: the CORS layer on the public read-only routes does.
//! Every request is logged once, with its matched route, status and latency.

pub mod meta;
pub mod negotiate;
pub mod tiles;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower_http::cors::{Any, CorsLayer};

use crate::cache::TileCache;
use crate::dataset::Dataset;
use crate::error::AppError;

/// Settings the handlers need, validated at startup.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `Cache-Control` for tiles, TileJSON and style.
    pub cache_control: HeaderValue,
    /// Public base URL (no trailing slash), if configured.
    pub public_url: Option<String>,
}

/// State shared by all handlers: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    dataset: Arc<ArcSwap<Dataset>>,
    /// Tile cache.
    pub cache: TileCache,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// Parsed `styles/default.json`.
    pub style_template: Arc<serde_json::Value>,
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
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            dataset: Arc::new(ArcSwap::from_pointee(dataset)),
            cache,
            config: Arc::new(config),
            style_template: Arc::new(serde_json::from_str(meta::STYLE_TEMPLATE)?),
        })
    }

    /// The current dataset (a snapshot: a request keeps the one it started with).
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.dataset.load_full()
    }

    /// Cache-key form of a dataset's version.
    #[must_use]
    pub fn version_key(&self, ds: &Dataset) -> u64 {
        u64::from_str_radix(&ds.version, 16).unwrap_or(0)
    }
}

/// The application router.
pub fn router(state: AppState) -> Router {
    // Read-only resources other sites may load: any origin, GET/HEAD only.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .expose_headers([header::ETAG, header::CONTENT_LENGTH]);
    let public = Router::new()
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile))
        .route("/tiles.json", get(meta::tilejson_handler))
        .route("/styles/default.json", get(meta::style_handler))
        .layer(cors);
    Router::new()
        .merge(public)
        .route("/health", get(meta::health))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no resource at {}", uri.path()))
}

async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        route,
        path,
        status = response.status().as_u16(),
        latency_us = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}
