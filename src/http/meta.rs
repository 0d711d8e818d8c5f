//! `/tiles.json` (TileJSON 3.0.0), `/tiles/metadata.json`, the MapLibre styles and `/health`.
//!
//! The documents themselves are built by `crate::tileset` (TileJSON's `vector_layers` come from
//! `schema`, the same list the encoder uses) and `crate::style` (the template
//! `styles/default.json` with its source pointed at this server; it references no external URL).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::query::{DateQuery, TextQuery};
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::style::style_on;
use crate::tileset::{metadata_json, tile_url, tilejson_on};

/// Base URL of this server for links: the configured public URL, else from `Host`.
///
/// # Errors
/// [`AppError::BadRequest`] when there is no usable `Host` header.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> Result<String, AppError> {
    if let Some(u) = &state.config.public_url {
        return Ok(u.clone());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !valid {
        return Err(AppError::BadRequest(
            "the Host header is missing or malformed, so links cannot be built (or set --public-url)".to_owned(),
        ));
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Ok(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// `GET /tiles/metadata.json`: the archive metadata as tippecanoe's `metadata.json`, so
/// `ogrinfo MVT:http://HOST/tiles/8` reads a whole zoom level with typed columns.
#[utoipa::path(get, path = "/tiles/metadata.json", tag = "tiles", summary = "The layers as tippecanoe's metadata.json (for GDAL)", responses((status = 200, description = "Metadata", body = crate::tileset::TileMetadata)))]
pub async fn tippecanoe_metadata(State(state): State<AppState>) -> Response {
    let ds = state.dataset();
    json_response(
        &state,
        &metadata_json(&ds, 0, ds.max_zoom()),
        &state.cache_control_today(),
    )
}

/// `GET /tiles/{date}/metadata.json`: the same for the map of one day (where GDAL's MVT driver
/// looks for it beside `/tiles/{date}/{z}/{x}/{y}.pbf`).
///
/// # Errors
/// 400 for a malformed date, 404 before the map's records start.
#[utoipa::path(get, path = "/tiles/{date}/metadata.json", tag = "tiles", summary = "The layers of one day's map as tippecanoe's metadata.json (for GDAL)", params(("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD")), responses((status = 200, description = "Metadata", body = crate::tileset::TileMetadata), (status = 400, description = "A malformed date", body = crate::error::ErrorBody), (status = 404, description = "A day before the map's records start", body = crate::error::ErrorBody)))]
pub async fn dated_metadata(
    State(state): State<AppState>,
    Path(date): Path<String>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(Some(&date)).await?;
    let cc = state.cache_control_for(&date, false);
    Ok(json_response(
        &state,
        &metadata_json(&ds, 0, ds.max_zoom()),
        &cc,
    ))
}

fn json_response(
    _state: &AppState,
    body: &impl serde::Serialize,
    cache_control: &HeaderValue,
) -> Response {
    let body = match serde_json::to_string(body) {
        Ok(text) => text,
        Err(e) => return AppError::Store(format!("JSON body: {e}")).into_response(),
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, cache_control.clone()),
        ],
        body,
    )
        .into_response()
}

/// The day a TileJSON or style maps (`?date=`, or today), its dataset, its tile URL (dated;
/// pinned to the data version when the day is past) and its `Cache-Control` (an undated
/// document expires by the midnight that may change today's map).
async fn dated(
    state: &AppState,
    base: &str,
    q: &DateQuery,
) -> Result<(std::sync::Arc<Dataset>, String, String, HeaderValue), AppError> {
    // Like the rest of the tile documents, a bad day answers in plain text.
    let ds = state
        .dataset_on(q.date.as_deref())
        .await
        .map_err(AppError::in_plain_text)?;
    let today = state.today();
    let day = q.date.clone().unwrap_or_else(|| today.clone());
    let pinned = (day < today).then_some(ds.version.as_str());
    let tiles = tile_url(base, Some(&day), pinned);
    let cc = match &q.date {
        None => state.cache_control_today(),
        Some(d) => state.cache_control_for(d, false),
    };
    Ok((ds, tiles, day, cc))
}

/// `GET /tiles.json`.
///
/// # Errors
/// 400 for a malformed `Host`.
#[utoipa::path(get, path = "/tiles.json", tag = "tiles", summary = "TileJSON 3.0.0", description = "The map of `date` (default today): its tiles are at a dated URL, so caches never mix the councils of two days; a past day's tiles are pinned to its data version and immutable.", params(DateQuery), responses((status = 200, description = "TileJSON", body = crate::tileset::TileJson), (status = 400, description = "A malformed Host header or date", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "A day before the map's records start", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn tilejson_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    TextQuery(q): TextQuery<DateQuery>,
) -> Result<Response, AppError> {
    let base = base_url(&state, &headers)?;
    let (ds, tiles, day, cc) = dated(&state, &base, &q).await?;
    Ok(json_response(
        &state,
        &tilejson_on(&ds, &tiles, Some(&day)),
        &cc,
    ))
}

/// `GET /styles/{name}`: `default.json` (the web map) or `qgis.json` (the same map for QGIS
/// 3.22's style converter), with the source pointed at this server.
///
/// # Errors
/// 404 for another name, 400 for a malformed `Host`.
#[utoipa::path(get, path = "/styles/{name}", tag = "tiles", summary = "A MapLibre style", params(("name" = String, Path, description = "`default.json` (the web map) or `qgis.json` (for QGIS 3.22's converter)"), DateQuery), responses((status = 200, description = "MapLibre style v8 pointing at this server", body = crate::style::Style), (status = 400, description = "A malformed Host header or date", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such style, or a day before the map's records start", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn style_handler(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    TextQuery(q): TextQuery<DateQuery>,
) -> Result<Response, AppError> {
    let template = match name.as_str() {
        "default.json" => &state.style_template,
        "qgis.json" => &state.qgis_style_template,
        _ => {
            return Err(AppError::NotFound(format!(
                "no style {name:?} (styles: default.json, qgis.json)"
            )));
        }
    };
    let base = base_url(&state, &headers)?;
    let (ds, tiles, _, cc) = dated(&state, &base, &q).await?;
    Ok(json_response(
        &state,
        &style_on(template, &ds, &base, &tiles),
        &cc,
    ))
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, pattern = "^ok$")]
    pub status: &'static str,
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// LAs loaded.
    pub local_authorities: usize,
    /// Partnerships loaded.
    pub partnerships: usize,
    /// Highest zoom served.
    pub max_zoom: u8,
    /// Tile requests served by the cache since start.
    pub tile_requests: u64,
    /// Tiles rendered since start.
    pub tile_renders: u64,
    /// The last change of the log applied.
    pub changes_through: i64,
    /// Logged changes that no longer apply to the files.
    pub change_conflicts: usize,
}

/// `GET /health`: liveness plus what is loaded. Never cached.
#[utoipa::path(get, path = "/health", tag = "meta", summary = "Liveness and what is loaded (never cached)", responses((status = 200, description = "OK", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Response {
    // The log position first: publishing swaps the data before it moves the position, so the
    // version read after it is at least as new.
    let log = state.steward.log_status();
    let ds = state.dataset();
    let (requests, renders) = state.cache.stats();
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(Health {
            status: "ok",
            data_version: ds.version.clone(),
            data_as_of: ds.data_as_of.clone(),
            local_authorities: ds.summary.las,
            partnerships: ds.summary.partnerships,
            max_zoom: ds.max_zoom(),
            tile_requests: requests,
            tile_renders: renders,
            changes_through: log.through,
            change_conflicts: log.conflicts.len(),
        }),
    )
        .into_response()
}
