//! HTTP: the router, on top of the shared state (`state.rs`), the layers around it
//! (`layers.rs`) and one handler file per area. Handlers stay thin: the work is in the domain
//! modules (`stewardship`, `dataset`, `compare`, `render`, …), which never import this one.
//!
//! Handlers never set CORS headers: the CORS layer on the public read-only routes does.
//! The router tags each response with its matched route; the server (`server.rs`) logs every
//! request once, with that route, status and latency, and counts it in the metrics.

// Handlers, one file per area.
pub mod admin;
pub mod api;
pub mod changes;
pub mod compare;
pub mod contribute;
pub mod downloads;
pub mod edits;
pub mod meta;
pub mod metrics;
pub mod ogc;
pub mod ogc_body;
pub mod openapi;
pub mod openapi_data;
pub mod openapi_params;
pub mod openapi_rules;
pub mod render;
pub mod reorganisations;
pub mod swagger;
pub mod tiles;
pub mod verification;
pub mod verify;
pub mod web;

// What the handlers share: the state, the layers, the server, and helpers over headers and pages.
pub mod conditional;
pub mod layers;
pub mod negotiate;
pub mod oas30;
pub mod pages;
pub mod preview;
pub mod proxy;
pub mod query;
pub mod server;
pub mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{Any, CorsLayer};

use layers::{
    CORS_EXPOSED, MAX_EDIT_BYTES, MAX_SUBMISSION_BYTES, not_found, refuse_oversized, tag_route,
};
pub use state::{AppState, HttpConfig};

/// The application router.
pub fn router(state: AppState) -> Router {
    // Read-only resources other sites may load: any origin, GET/HEAD only.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .expose_headers(CORS_EXPOSED);
    let public = Router::new()
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile))
        .route("/tiles/{date}/{z}/{x}/{y}", get(tiles::dated_tile))
        .route("/tiles/{date}/metadata.json", get(meta::dated_metadata))
        .route("/tiles.json", get(meta::tilejson_handler))
        .route("/tiles/metadata.json", get(meta::tippecanoe_metadata))
        .route("/styles/{name}", get(meta::style_handler))
        .route("/fonts/{fontstack}/{range}", get(web::fonts))
        .route("/api/las", get(api::las))
        .route("/api/las/{code}", get(api::la))
        .route("/api/las/{code}/verification", get(verify::public_status))
        .route("/api/partnerships", get(api::partnerships))
        .route(
            "/api/reorganisations",
            get(reorganisations::reorganisations),
        )
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
        .route(
            "/api/verification/campaigns",
            get(verification::list).post(verification::create),
        )
        .route("/api/verification/campaigns/{id}", get(verification::one))
        .route(
            "/api/verification/campaigns/{id}/status.csv",
            get(verification::status_csv),
        )
        .route(
            "/api/verification/campaigns/{id}/reminders.csv",
            get(verification::reminders_csv),
        )
        .route(
            "/api/verification/campaigns/{id}/links",
            post(verification::links),
        )
        .route(
            "/api/verification/campaigns/{id}/mail/retry",
            post(verification::retry_mail),
        )
        .route(
            "/api/verification/invitations/{id}/revoke",
            post(verification::revoke),
        )
        .route("/api/verification/responses", get(verification::answers))
        .route(
            "/api/verification/responses/{id}",
            get(verification::answer),
        )
        .route(
            "/api/verification/responses/{id}/accept",
            post(verification::accept),
        )
        .route(
            "/api/verification/responses/{id}/close",
            post(verification::close),
        )
        // The LA's page: its answers may run longer than a submission.
        .route(
            "/verify/{token}",
            get(verify::form_page).post(verify::form_post),
        )
        .layer(DefaultBodyLimit::max(MAX_EDIT_BYTES));
    let app = Router::new().merge(public).merge(submissions).merge(admin);
    let app = if state.config.metrics.on_main() {
        app.route("/metrics", get(metrics::metrics))
    } else {
        app
    };
    app.route("/", get(web::index))
        .route("/embed", get(web::embed))
        .route("/compare", get(compare::page))
        .route("/vendor/maplibre-gl/{file}", get(web::vendor))
        .route("/api", get(swagger::api_page))
        .route("/vendor/swagger-ui/{file}", get(swagger::vendor))
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
