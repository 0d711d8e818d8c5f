//! `ApiQuery`: axum's `Query` whose rejection (a repeated or malformed parameter) is an
//! [`AppError::ApiBadRequest`], so the API answers JSON like every other client mistake.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The query string, deserialised into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| AppError::ApiBadRequest(format!("the query string: {}", e.body_text())))
    }
}

/// The query string for the surfaces that answer in plain text (tile documents, downloads):
/// like [`ApiQuery`], but a repeated or malformed parameter is an [`AppError::BadRequest`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TextQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for TextQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| AppError::BadRequest(format!("the query string: {}", e.body_text())))
    }
}

/// `?date=YYYY-MM-DD` (the map of that day; today's without it) and, on tiles, `?v=` (the data
/// version a past day's TileJSON pins its tiles to). Read beside an endpoint's own query.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateQuery {
    /// The day to map, `YYYY-MM-DD` (England); default today. Before 2023-04-01: 404.
    #[param(format = Date, example = "2027-04-01")]
    pub date: Option<String>,
}
