//! `GET /render/england.{png,svg}` and `GET /render/la/{code}.{png,svg}`: map pictures drawn by
//! the server (`crate::render`), cached by data version with ETags.
//!
//! Contract: 200 with the picture; 304 when `If-None-Match` matches; 400 with a plain-text
//! reason for a bad, unknown or repeated parameter (a `w` outside 200–3000 is refused before
//! anything is drawn) or a malformed date; 404 for an LA code of no LA on the map of the day
//! drawn, a day before the records start, or an unknown format. PNGs have one strong ETag; SVGs are
//! gzipped once and have a strong ETag per encoding (`Vary: Accept-Encoding`). Pictures are
//! drawn on blocking threads, at most two at a time, and each distinct request once however
//! many ask at the same moment. CORS comes from the router's layer, so other sites may use them.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::conditional;
use super::negotiate::accepts_gzip;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::render::{Drawn, Format, Picture, PictureError, View, parse_la_file};

fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, PictureError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| PictureError::BadParameter(format!("the query string is malformed: {e}")))
}

/// The `date` parameter among the query's pairs.
fn date_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs
        .iter()
        .find(|(k, _)| k == "date")
        .map(|(_, v)| v.as_str())
}

/// The dataset of the query's `date` (today's without one). A picture answers in plain text like
/// its other parameters: a malformed date is a bad parameter, a day with no map is not found.
async fn dataset_of(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<Arc<Dataset>, AppError> {
    state.dataset_on(date_of(pairs)).await.map_err(|e| match e {
        AppError::BadDate(why) => PictureError::BadParameter(format!("date: {why}")).into(),
        AppError::NoSuchDay(why) => PictureError::NotFound(why).into(),
        other => other,
    })
}

/// `GET /render/{file}`: `england.png` or `england.svg`.
///
/// # Errors
/// 400 for bad parameters, 404 for another file.
#[utoipa::path(get, path = "/render/{file}", tag = "pictures", summary = "A choropleth of England drawn by the server", params(("file" = String, Path, description = "`england.png` or `england.svg`"), ("w" = Option<u16>, Query, description = "Width in px (200–3000, default 1200)", minimum = 200, maximum = 3000), ("h" = Option<u16>, Query, description = "Height in px (200–3000; default: England's own shape)", minimum = 200, maximum = 3000), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), ("la" = Option<String>, Query, description = "Outline this LA in black"), ("similar" = Option<String>, Query, description = "Outline this LA and its statistical neighbours in orange"), ("with" = Option<String>, Query, description = "Outline these LAs in orange (up to 13, comma-separated)"), super::query::DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The picture", content((super::openapi::Binary = "image/png"), (String = "image/svg+xml")), headers(("ETag" = String, description = "Strong"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad, unknown or repeated parameter", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such picture or LA", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn england(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let format = match file.as_str() {
        "england.png" => Format::Png,
        "england.svg" => Format::Svg,
        _ => {
            return Err(PictureError::NotFound(format!(
                "no picture {:?}: use /render/england.png, /render/england.svg or /render/la/{{code}}.png",
                file.chars().take(30).collect::<String>()
            ))
            .into());
        }
    };
    let pairs = query_pairs(query.as_deref())?;
    let ds = dataset_of(&state, &pairs).await?;
    let pic = Picture::parse(&ds, View::England, &pairs)?;
    respond(&state, ds, format, pic, &headers).await
}

/// `GET /render/la/{code}.{png,svg}`.
///
/// # Errors
/// 404 for an unknown LA or format, 400 for bad parameters.
#[utoipa::path(get, path = "/render/la/{file}", tag = "pictures", summary = "One LA highlighted among the LAs around it", params(("file" = String, Path, description = "`{code}.png` or `{code}.svg`"), ("w" = Option<u16>, Query, description = "Width in px (200–3000, default 1200)", minimum = 200, maximum = 3000), ("h" = Option<u16>, Query, description = "Height in px (200–3000, default w × 0.525)", minimum = 200, maximum = 3000), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), super::query::DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The picture", content((super::openapi::Binary = "image/png"), (String = "image/svg+xml")), headers(("ETag" = String, description = "Strong"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad, unknown or repeated parameter", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such LA or extension", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn la(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let pairs = query_pairs(query.as_deref())?;
    let ds = dataset_of(&state, &pairs).await?;
    let (i, format) = parse_la_file(&ds, &file)?;
    let pic = Picture::parse(&ds, View::La(i), &pairs)?;
    respond(&state, ds, format, pic, &headers).await
}

async fn respond(
    state: &AppState,
    ds: Arc<Dataset>,
    format: Format,
    pic: Picture,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let name = pic.file_name(&ds, format);
    let version = state.version_key(&ds);
    let drawn = state
        .pictures
        .get(ds, version, format, pic)
        .await
        .map_err(|e| AppError::Picture((*e).clone()))?;
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, state.config.cache_control.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let (tag, body, gzip) = match drawn.as_ref() {
        Drawn::Png { bytes, etag } => (conditional::header_value(etag), bytes.clone(), false),
        Drawn::Svg(t) => {
            h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            // A picture opened on its own may run nothing.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            if accepts_gzip(
                headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
            ) {
                (t.etag_gzip.clone(), t.gzip.clone(), true)
            } else {
                (t.etag_identity.clone(), t.identity(), false)
            }
        }
    };
    if conditional::tag(&mut h, headers, tag) {
        return Ok(conditional::not_modified(h));
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.mime()),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((StatusCode::OK, h, body).into_response())
}
