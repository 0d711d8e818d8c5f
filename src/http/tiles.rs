//! `GET /tiles/{z}/{x}/{y}.pbf` (and `.mvt`): validate, look up the cache, negotiate, answer.
//!
//! Contract: 200 with MVT bytes; 204 (no body) when no LA touches the tile; 304 when
//! `If-None-Match` matches; 400 for a zoom above the maximum; 404 for an address that names no
//! tile (a segment that is not a whole number, another extension, a column or row at or above
//! 2^z). Always `Vary: Accept-Encoding` and the
//! configured `Cache-Control`. The ETag is a hash of exactly the bytes sent, so it differs
//! between the gzip and identity representations. CORS is added by the router's layer.
//!
//! [`CachedTiles`] answers a `GET` for a tile the cache already holds ahead of the router (see
//! `server::Shortcut`): the same [`answer`], plus the CORS headers the layer would add. Misses,
//! bad addresses, `HEAD` and `OPTIONS` go on to the router.

use axum::body::Body;
use axum::extract::{Path, RawPathParams, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;

use super::conditional;
use super::layers::cors_headers;
use super::negotiate::accepts_gzip;
use super::server::Shortcut;
use super::state::AppState;
use crate::cache::CachedTile;
use crate::error::AppError;
use crate::tile::TileCoord;

/// MIME type of Mapbox Vector Tiles.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The tile handler.
///
/// # Errors
/// [`AppError::BadTile`] for a zoom above the maximum, [`AppError::NoSuchTile`] for an
/// address that names no tile, [`AppError::Render`] on an internal failure.
#[utoipa::path(get, path = "/tiles/{z}/{x}/{y}", tag = "tiles", summary = "A Mapbox Vector Tile", description = "Layers `local_authorities` (polygons) and `la_labels` (points). Clients overzoom past the maximum zoom.", params(("z" = u8, Path, description = "Zoom, 0 to the server's --max-zoom", minimum = 0, maximum = 12), ("x" = u32, Path, description = "Column, below 2^z", minimum = 0, maximum = 4095), ("y" = String, Path, description = "Row (below 2^z) and extension: `{row}.pbf` or `{row}.mvt`", pattern = r"^[0-9]{1,4}\.(pbf|mvt)$"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The tile (MVT 2.1, extent 4096); gzip-compressed when the client accepts gzip", body = super::openapi::Binary, content_type = "application/vnd.mapbox-vector-tile", headers(("ETag" = String, description = "Strong: a hash of exactly the bytes sent"), ("Vary" = String), ("Cache-Control" = String))), (status = 204, description = "No LA touches this tile, not even its buffer", headers(("Vary" = String), ("Cache-Control" = String))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A zoom above the server's maximum (clients overzoom from it)", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such tile: a segment that is not a whole number, another extension, a column or row at or above 2^z (the message names the limit), or another tileset", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn tile(
    State(state): State<AppState>,
    params: RawPathParams,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut it = params.iter().map(|(_, v)| v);
    let (z, x, y) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    let coord = TileCoord::parse(z, x, y, state.dataset().max_zoom())?;
    respond(&state, state.dataset(), coord, &headers, None).await
}

/// Query of a dated tile: the data version a past day's TileJSON pins it to.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pin {
    /// The data version from the day's TileJSON: with it, a past day's tile is `immutable`.
    pub v: Option<String>,
}

/// `GET /tiles/{date}/{z}/{x}/{y}.pbf`: a tile of the map of one day (its councils, and for a
/// past day the data as published then). TileJSON points here.
///
/// # Errors
/// As [`tile`]; 400 for a malformed date, 404 before the map's records start.
#[utoipa::path(get, path = "/tiles/{date}/{z}/{x}/{y}", tag = "tiles", summary = "A Mapbox Vector Tile of the map of one day", description = "What TileJSON's `tiles` point at. A past day's tile, asked for with the data version (`v`) its TileJSON gives, never changes and is served `immutable`.", params(("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD (England)"), ("z" = u8, Path, description = "Zoom, 0 to the server's --max-zoom", minimum = 0, maximum = 12), ("x" = u32, Path, description = "Column, below 2^z", minimum = 0, maximum = 4095), ("y" = String, Path, description = "Row (below 2^z) and extension: `{row}.pbf` or `{row}.mvt`", pattern = r"^[0-9]{1,4}\.(pbf|mvt)$"), Pin, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The tile", body = super::openapi::Binary, content_type = "application/vnd.mapbox-vector-tile", headers(("ETag" = String, description = "Strong: a hash of exactly the bytes sent"), ("Vary" = String), ("Cache-Control" = String))), (status = 204, description = "No LA touches this tile, not even its buffer"), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A zoom above the server's maximum, or a malformed date", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "A day before the map's records start (JSON), or no such tile: a segment that is not a whole number, another extension, a column or row at or above 2^z (plain text naming the limit)", content((crate::error::ErrorBody = "application/json"), (String = "text/plain; charset=utf-8")))))]
pub async fn dated_tile(
    State(state): State<AppState>,
    Path((date, z, x, y)): Path<(String, String, String, String)>,
    axum::extract::Query(pin): axum::extract::Query<Pin>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    // `/tiles/1/0/0/0.pbf` is no tile at all, not a badly written date.
    if !looks_like_a_day(&date) {
        return Err(AppError::NoSuchDay(format!(
            "no tile at /tiles/{}/…: a dated tile is /tiles/YYYY-MM-DD/{{z}}/{{x}}/{{y}}.pbf",
            date.chars().take(20).collect::<String>()
        )));
    }
    let ds = state.dataset_on(Some(&date)).await?;
    let coord = TileCoord::parse(&z, &x, &y, ds.max_zoom())?;
    let pinned = pin.v.as_deref() == Some(ds.version.as_str());
    let cc = state.cache_control_for(&date, pinned);
    respond(&state, ds, coord, &headers, Some(cc)).await
}

/// `GET /ogc/collections/local_authorities/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`:
/// the same tile through OGC API – Tiles (row = y, column = x).
///
/// # Errors
/// As [`tile`]; 404 for another collection or tile matrix set.
#[utoipa::path(get, path = "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}", tag = "ogc", summary = "A Mapbox Vector Tile (OGC API – Tiles)", description = "The same bytes as /tiles/{z}/{x}/{y}.pbf.", params(("id" = String, Path, description = "`local_authorities`"), ("tms" = String, Path, description = "`WebMercatorQuad`"), ("z" = u8, Path, description = "Tile matrix (zoom), 0 to the server's --max-zoom", minimum = 0, maximum = 12), ("row" = u32, Path, description = "Tile row (y), below 2^z", minimum = 0, maximum = 4095), ("col" = u32, Path, description = "Tile column (x), below 2^z", minimum = 0, maximum = 4095), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The tile (MVT 2.1, extent 4096); gzip-compressed when the client accepts gzip", body = super::openapi::Binary, content_type = "application/vnd.mapbox-vector-tile", headers(("ETag" = String, description = "Strong: a hash of exactly the bytes sent"), ("Vary" = String), ("Cache-Control" = String))), (status = 204, description = "No LA touches this tile, not even its buffer", headers(("Vary" = String), ("Cache-Control" = String))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A zoom above the server's maximum (clients overzoom from it)", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such tile: a segment that is not a whole number, another extension, a column or row at or above 2^z (the message names the limit), or another tileset", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn ogc_tile(
    State(state): State<AppState>,
    Path((collection, tms, z, row, col)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if collection != "local_authorities" || tms != "WebMercatorQuad" {
        return Err(AppError::NotFound(format!(
            "no tileset {tms} for collection {collection}"
        )));
    }
    let coord = TileCoord::parse(&z, &col, &format!("{row}.pbf"), state.dataset().max_zoom())?;
    respond(&state, state.dataset(), coord, &headers, None).await
}

/// Shaped like `YYYY-MM-DD` (whether that day exists is checked later, with a 400).
fn looks_like_a_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

async fn respond(
    state: &AppState,
    ds: std::sync::Arc<crate::dataset::Dataset>,
    coord: TileCoord,
    headers: &HeaderMap,
    cache_control: Option<HeaderValue>,
) -> Result<Response, AppError> {
    let version = state.version_key(&ds);
    let cached = state
        .cache
        .get(ds, version, coord)
        .await
        .map_err(|e| AppError::Render((*e).clone()))?;
    let mut res = answer(state, version, coord, cached, headers);
    if let Some(cc) = cache_control {
        res.headers_mut().insert(header::CACHE_CONTROL, cc);
    }
    Ok(res)
}

/// The response for a tile (without CORS headers): 204, 304, or the bytes in the encoding the
/// client accepts, with their ETag, `Vary` and `Cache-Control`.
fn answer(
    state: &AppState,
    version: u64,
    coord: TileCoord,
    cached: CachedTile,
    headers: &HeaderMap,
) -> Response {
    let mut res = Response::new(Body::empty());
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::CACHE_CONTROL, state.config.cache_control.clone());
    let Some(tile) = cached else {
        *res.status_mut() = StatusCode::NO_CONTENT;
        return res;
    };
    let gzip = accepts_gzip(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let etag = if gzip {
        &tile.etag_gzip
    } else {
        &tile.etag_identity
    };
    if conditional::tag(h, headers, etag.clone()) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return res;
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(MVT_CONTENT_TYPE),
    );
    let body = if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        tile.gzip.clone()
    } else {
        state.cache.identity(version, coord, &tile)
    };
    *res.body_mut() = Body::from(body);
    res
}

/// The route pattern of `/tiles/{z}/{x}/{y}` (for the request log and metrics).
pub const TILE_ROUTE: &str = "/tiles/{z}/{x}/{y}";

/// Tiles from this zoom up are rendered on the connection's own thread when not cached.
pub const INLINE_RENDER_MIN_ZOOM: u8 = 12;

/// Answers `GET /tiles/{z}/{x}/{y}.pbf|.mvt` for tiles the cache holds, ahead of the router.
pub struct CachedTiles(pub AppState);

impl Shortcut for CachedTiles {
    fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<(Response, &'static str)> {
        if method != Method::GET {
            return None;
        }
        let state = &self.0;
        let mut parts = uri.path().strip_prefix("/tiles/")?.split('/');
        let (mut z, mut x, mut y) = (parts.next()?, parts.next()?, parts.next()?);
        if let Some(last) = parts.next() {
            // `/tiles/{date}/{z}/{x}/{y}`: today's date is today's map; other days (and a
            // `?v=` pin) go to the router.
            if parts.next().is_some() || uri.query().is_some() || !state.config.clock.is_today(z) {
                return None;
            }
            (z, x, y) = (x, y, last);
        }
        let (version, coord, known) = state.with_dataset(|ds, version| {
            let coord = TileCoord::parse(z, x, y, ds.max_zoom()).ok()?;
            Some((version, coord, state.cache.peek(ds, version, coord)))
        })?;
        let cached = match known {
            Some(cached) => cached,
            // High-zoom tiles hold few vertices (an LA's interior is one square): rendering
            // one here takes less than handing it to a render thread.
            None if coord.z >= INLINE_RENDER_MIN_ZOOM => {
                let ds = state.dataset();
                if state.version_key(&ds) != version {
                    return None;
                }
                state.cache.get_now(&ds, version, coord).ok()?
            }
            None => return None,
        };
        let mut res = answer(state, version, coord, cached, headers);
        cors_headers(res.headers_mut());
        Some((res, TILE_ROUTE))
    }
}
