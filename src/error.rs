//! Request errors and the one place that maps them to HTTP status codes.
//!
//! Client mistakes get a 4xx with a plain-text explanation and are not logged as errors.
//! Internal failures get a generic 500 body; the cause is logged here, once.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::pipeline::RenderError;
use crate::tile::TileCoordError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request names no valid tile.
    #[error("bad tile address: {0}")]
    BadTile(#[from] TileCoordError),
    /// Some other malformed request (e.g. a bad Host header).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Nothing lives at this path.
    #[error("not found: {0}")]
    NotFound(String),
    /// Rendering failed; a server bug.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl AppError {
    /// HTTP status for this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadTile(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status.is_server_error() {
            tracing::error!(error = %self, "internal error");
            "internal server error\n".to_owned()
        } else {
            format!("{self}\n")
        };
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    }
}
