//! Request errors and the one place that maps them to HTTP status codes.
//!
//! Client mistakes get a 4xx with a plain-text explanation and are not logged as errors.
//! Internal failures get a generic 500 body; the cause is logged here, once.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::compare::CompareError;
use crate::pipeline::RenderError;
use crate::render::PictureError;
use crate::stewardship::StewardError;
use crate::tile::TileCoordError;
use crate::verification::VerificationError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A zoom above the server's maximum: the one tile-address mistake a client can fix by
    /// asking differently (overzoom from the maximum), so 400 with that advice.
    #[error("bad tile address: {0}")]
    BadTile(TileCoordError),
    /// An address that names no tile: a segment that is not a whole number, another extension,
    /// or a column or row at or above 2^z. OGC API – Tiles (OGC 20-057, /req/core/tc-error)
    /// answers an index outside the tile matrix (set limits) with 404 or 400; 404, because the
    /// tile simply does not exist there, as with a path the router does not know (martin's
    /// numeric route patterns answer such paths 404 too). It also keeps a client that takes
    /// TileJSON's `{z}/{x}/{y}` template for a link from counting a valid address as rejected.
    #[error("no such tile: {0}")]
    NoSuchTile(TileCoordError),
    /// Some other malformed request (e.g. a bad Host header).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Nothing lives at this path.
    #[error("not found: {0}")]
    NotFound(String),
    /// A `date` that is not a date written `YYYY-MM-DD`.
    #[error("bad date: {0}")]
    BadDate(String),
    /// A day the map has no record of.
    #[error("{0}")]
    NoSuchDay(String),
    /// Rendering failed; a server bug.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An API resource that does not exist (JSON body).
    #[error("{0}")]
    ApiNotFound(String),
    /// A malformed API request (JSON body).
    #[error("{0}")]
    ApiBadRequest(String),
    /// A submission failed validation: field → message.
    #[error("the submission has problems in: {}", .0.keys().copied().collect::<Vec<_>>().join(", "))]
    Invalid(BTreeMap<&'static str, String>),
    /// Too many submissions from this client.
    #[error("too many submissions from your address; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the next submission is allowed.
        retry_after: u64,
    },
    /// Body type the endpoint does not take.
    #[error(
        "unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded"
    )]
    UnsupportedMediaType(String),
    /// Missing or wrong admin token.
    #[error("a valid admin token is required (Authorization: Bearer …)")]
    Unauthorized,
    /// The resource exists but is not for this client (plain-text body saying why).
    #[error("{0}")]
    Forbidden(String),
    /// No admin token is configured, so the admin API is off.
    #[error(
        "the admin API is off: start the server with PARTNERSHIP_MAP_ADMIN_TOKEN or --admin-token-file"
    )]
    AdminOff,
    /// Storage failed; a server problem.
    #[error("storage failure: {0}")]
    Store(String),
    /// The database cannot be reached now; reads from memory still work.
    #[error("the database is unavailable; try again in {retry_after} seconds")]
    Unavailable {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// An edit, undo or reload that was refused: a rejected edit (422 with a message per
    /// field), an undo that no longer applies (409), data files with problems (422), no data
    /// files to reload (503). The steward's other failures become the variants above (see
    /// `From<StewardError>`).
    #[error(transparent)]
    Steward(StewardError),
    /// A map picture request that cannot be drawn (plain-text body).
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// A comparison request that cannot be answered (JSON body).
    #[error(transparent)]
    Compare(#[from] CompareError),
    /// The request declares a body larger than the endpoint takes.
    #[error("the request body is over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A verification round's refusal: a link that is unknown (404), expired, revoked or
    /// settled (410), a request or answer with problems (422 / 400 with a message per
    /// field), an unknown record (404), an action that does not fit (409), too many answers
    /// (429). Its store and steward failures become the variants above.
    #[error(transparent)]
    Verification(VerificationError),
    /// A GeoPackage or FlatGeobuf could not be written; a server bug.
    #[error(transparent)]
    Gis(#[from] crate::gis_formats::GisError),
    /// A `Range` no byte of the file satisfies (416 with `Content-Range: bytes */length`).
    #[error("the range {range:?} lies outside the file's {length} bytes")]
    RangeNotSatisfiable {
        /// The client's `Range` header, shortened.
        range: String,
        /// The file's length in bytes.
        length: u64,
    },
    /// The server is at its limit of connections or of requests in flight.
    #[error("the server is busy; try again in {retry_after} seconds")]
    Overloaded {
        /// Seconds the client should wait.
        retry_after: u64,
    },
}

impl AppError {
    /// HTTP status for this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadTile(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::NoSuchDay(_) | Self::NoSuchTile(_) => StatusCode::NOT_FOUND,
            Self::BadDate(_) => StatusCode::BAD_REQUEST,
            Self::ApiBadRequest(_) | Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::ApiNotFound(_) | Self::AdminOff => StatusCode::NOT_FOUND,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Steward(StewardError::Rejected(_) | StewardError::ReloadRejected { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Steward(StewardError::CannotRevert { .. }) => StatusCode::CONFLICT,
            Self::Steward(StewardError::ReloadUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Steward(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Render(_) | Self::Store(_) | Self::Gis(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Picture(PictureError::BadParameter(_)) => StatusCode::BAD_REQUEST,
            Self::Picture(PictureError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Picture(PictureError::Failed(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Compare(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            Self::Compare(_) => StatusCode::BAD_REQUEST,
            Self::Verification(e) => match e {
                VerificationError::LinkUnknown | VerificationError::NotFound(_) => {
                    StatusCode::NOT_FOUND
                }
                VerificationError::LinkExpired
                | VerificationError::LinkRevoked
                | VerificationError::LinkSettled => StatusCode::GONE,
                VerificationError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                VerificationError::Answer(_) | VerificationError::Spam => StatusCode::BAD_REQUEST,
                VerificationError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                VerificationError::Conflict(_) => StatusCode::CONFLICT,
                VerificationError::Random(_)
                | VerificationError::Steward(_)
                | VerificationError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The same mistake for a surface that answers in plain text (tile documents, downloads):
    /// a malformed date is a bad request, a day with no map is not found.
    #[must_use]
    pub fn in_plain_text(self) -> Self {
        match self {
            Self::BadDate(why) => Self::BadRequest(format!("date: {why}")),
            Self::NoSuchDay(why) => Self::NotFound(why),
            other => other,
        }
    }

    /// Whether the body is JSON (API routes) rather than plain text (tiles).
    fn is_api(&self) -> bool {
        !matches!(
            self,
            Self::BadTile(_)
                | Self::NoSuchTile(_)
                | Self::BadRequest(_)
                | Self::NotFound(_)
                | Self::Forbidden(_)
                | Self::Render(_)
                | Self::Picture(_)
                | Self::Overloaded { .. }
                | Self::RangeNotSatisfiable { .. }
        )
    }
}

/// Seconds a client is asked to wait while the database is down.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(why) => {
                tracing::warn!("database unavailable: {why}");
                Self::Unavailable {
                    retry_after: UNAVAILABLE_RETRY_AFTER,
                }
            }
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<TileCoordError> for AppError {
    fn from(e: TileCoordError) -> Self {
        if matches!(e, TileCoordError::ZoomTooHigh { .. }) {
            Self::BadTile(e)
        } else {
            Self::NoSuchTile(e)
        }
    }
}

impl From<StewardError> for AppError {
    fn from(e: StewardError) -> Self {
        match e {
            StewardError::NoSuchChange(id) => Self::ApiNotFound(format!("no change {id}")),
            StewardError::NoSuchDay(why) => Self::NoSuchDay(why),
            StewardError::LogBusy => Self::Unavailable {
                retry_after: UNAVAILABLE_RETRY_AFTER,
            },
            StewardError::Store(e) => e.into(),
            StewardError::Failed(why) => Self::Store(why),
            refused => Self::Steward(refused),
        }
    }
}

impl From<VerificationError> for AppError {
    fn from(e: VerificationError) -> Self {
        match e {
            VerificationError::Store(e) => e.into(),
            VerificationError::Steward(e) => e.into(),
            refused => Self::Verification(refused),
        }
    }
}

/// Every JSON error: what is wrong and where.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable reason.
    pub error: String,
}

/// A rejected submission or edit: the reason, and a message per field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// Summary of the problems.
    pub error: String,
    /// Field name → what is wrong with it.
    pub fields: BTreeMap<String, String>,
}

/// New data that failed validation on `POST /admin/reload`; the old data is still served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadRejectedBody {
    /// Summary.
    pub error: String,
    /// Every problem, `file:line: column: message`.
    pub problems: Vec<String>,
    /// The version still served.
    pub data_version: String,
}

/// The JSON body of an API error: one of the three shapes above.
enum JsonError {
    Plain(ErrorBody),
    Fields(FieldErrorBody),
    Reload(ReloadRejectedBody),
}

impl JsonError {
    fn into_response_with(self, status: StatusCode) -> Response {
        match self {
            Self::Plain(b) => (status, axum::Json(b)).into_response(),
            Self::Fields(b) => (status, axum::Json(b)).into_response(),
            Self::Reload(b) => (status, axum::Json(b)).into_response(),
        }
    }
}

impl AppError {
    /// The JSON body of this error, with `error` = `message`.
    fn json_body(&self, error: String) -> JsonError {
        let with_fields = |fields: BTreeMap<String, String>| {
            JsonError::Fields(FieldErrorBody {
                error: error.clone(),
                fields,
            })
        };
        match self {
            Self::Invalid(f) => with_fields(
                f.iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            ),
            Self::Steward(
                StewardError::Rejected(f) | StewardError::CannotRevert { problems: f, .. },
            )
            | Self::Verification(VerificationError::Invalid(f) | VerificationError::Answer(f)) => {
                with_fields(f.clone())
            }
            Self::Steward(StewardError::ReloadRejected { problems, current }) => {
                JsonError::Reload(ReloadRejectedBody {
                    error,
                    problems: problems.clone(),
                    data_version: current.clone(),
                })
            }
            _ => JsonError::Plain(ErrorBody { error }),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && !matches!(self, Self::Overloaded { .. }) {
            tracing::error!(error = %self, "internal error");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let mut res_headers = vec![(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
        match &self {
            Self::RateLimited { retry_after }
            | Self::Unavailable { retry_after }
            | Self::Overloaded { retry_after }
            | Self::Verification(VerificationError::RateLimited { retry_after }) => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    res_headers.push((header::RETRY_AFTER, v));
                }
            }
            Self::RangeNotSatisfiable { length, .. } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                    res_headers.push((header::CONTENT_RANGE, v));
                }
            }
            Self::Unauthorized => {
                res_headers.push((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"partnership-map admin\""),
                ));
            }
            _ => {}
        }
        let mut res = if self.is_api() {
            self.json_body(message).into_response_with(status)
        } else {
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{message}\n"),
            )
                .into_response()
        };
        for (k, v) in res_headers {
            res.headers_mut().insert(k, v);
        }
        res
    }
}
