//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics` for what it holds).
//!
//! Served on its own listener (`--metrics-bind`, loopback by default) so it is not public, or
//! on the public router with `--metrics-bind main`. Never cached.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::layers::{not_found, tag_route};
use super::state::AppState;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    summary = "Prometheus metrics (on the --metrics-bind listener, or here with --metrics-bind main)",
    responses((status = 200, description = "The Prometheus text exposition format", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let ds = state.dataset();
    let (cache_entries, cache_bytes) = state.cache.usage();
    // Read from the database at each scrape; while it is down, the other metrics still answer.
    let verification = state
        .verification
        .status_counts()
        .await
        .unwrap_or_else(|e| {
            tracing::warn!("verification counts unavailable: {e}");
            Vec::new()
        });
    let body = crate::metrics::render(&crate::metrics::Snapshot {
        cache_entries,
        cache_bytes,
        data_version: &ds.version,
        data_published: state.steward.published_at(),
        verification: &verification,
    });
    (
        [
            (header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The router of the separate metrics listener: `/metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(tag_route))
        .with_state(state)
}
