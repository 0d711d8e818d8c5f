//! The layers around the router, and what responses made without it share: the CORS headers
//! of public resources, the route tag for the request log and metrics, the body limits and the
//! early 413, and the fallback 404.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;

/// Largest accepted submission body.
pub const MAX_SUBMISSION_BYTES: usize = 32 * 1024;
/// Largest accepted admin request body (an edit).
pub const MAX_EDIT_BYTES: usize = 64 * 1024;

/// Headers the CORS layer exposes to other origins' scripts.
pub(crate) const CORS_EXPOSED: [header::HeaderName; 2] = [header::ETAG, header::CONTENT_LENGTH];

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

/// The fallback: 404 for every path no route serves.
pub(crate) async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no resource at {}", uri.path()))
}

/// A declared `Content-Length` over the submission limit is refused at once (413), rather than
/// waiting for a body that would be refused anyway. Bodies without a declared length are cut
/// off at the limit as they arrive (`DefaultBodyLimit`).
pub(crate) async fn refuse_oversized(req: Request, next: Next) -> Result<Response, AppError> {
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
