//! HTTP glue: the router and the layers around it, on top of the shared state (`state.rs`)
//! and one handler file per area.
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
pub mod state;
pub mod tiles;
pub mod web;

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{Any, CorsLayer};

use crate::error::AppError;

pub use state::{AppState, DataSource, HttpConfig, StateInner};

/// Largest accepted submission body.
pub const MAX_SUBMISSION_BYTES: usize = 32 * 1024;
/// Largest accepted admin request body (an edit).
pub const MAX_EDIT_BYTES: usize = 64 * 1024;

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
