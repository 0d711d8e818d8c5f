//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics` for what it holds).
//!
//! By default on the main listener, answering only clients on this host: the client address
//! (the TCP peer, or behind `--trusted-proxies` the forwarded client, see `proxy.rs`) must be a
//! loopback address; others get 403. So several servers can share a host with default flags,
//! and Prometheus scrapes each on its own port. `--metrics-bind main` answers every client,
//! `--metrics-bind ADDR` serves it on a listener of its own instead, `off` nowhere. Never cached.

use axum::Router;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::layers::{not_found, tag_route};
use super::proxy::request_client_ip;
use super::state::AppState;
use crate::config::MetricsBind;
use crate::error::AppError;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    summary = "Prometheus metrics, for clients on the server's own host (see --metrics-bind)",
    responses(
        (status = 200, description = "The Prometheus text exposition format", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 403, description = "The client is not on the server's host (by default only \
            loopback clients are answered; --metrics-bind main answers everyone)", body = String,
            content_type = "text/plain; charset=utf-8")))]
pub async fn metrics(
    State(state): State<AppState>,
    ext: Extensions,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if state.config.metrics == MetricsBind::Local {
        let client = request_client_ip(&state.config, &ext, &headers);
        if !client.to_canonical().is_loopback() {
            return Err(AppError::Forbidden(
                "/metrics answers only clients on the server's own host (loopback); \
                 start the server with --metrics-bind ADDR or --metrics-bind main to serve it further"
                    .to_owned(),
            ));
        }
    }
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
    Ok((
        [
            (header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// The router of the separate metrics listener: `/metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(tag_route))
        .with_state(state)
}
