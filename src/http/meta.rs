//! TileJSON 3.0.0, the MapLibre style and `/health`.
//!
//! TileJSON's `vector_layers` come from `schema` (the same list the encoder uses). The style is
//! the template `styles/default.json` with its source pointed at this server; it references no
//! external URL.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::schema::{self, Field};

/// Attribution required by the boundaries' and data's licences.
pub const ATTRIBUTION: &str = "Boundaries: Source: Office for National Statistics licensed under the Open Government Licence v.3.0; Contains OS data © Crown copyright and database right 2023. \
LA figures: DfE, ONS, DWP (OGL v3.0). Rural/urban: mySociety (CC BY 4.0). \
Partnership and LA-role data: partnership-map dataset compiled from cited public sources.";

/// What the tile set is, for TileJSON and archive metadata.
pub const DESCRIPTION: &str = "England's 153 upper-tier local authorities with their area-based education partnerships, the LA's role in school improvement, DfE statistical neighbours and context figures.";

/// The style template, shipped in `styles/`.
pub const STYLE_TEMPLATE: &str = include_str!("../../styles/default.json");

/// The QGIS-friendly variant (`/styles/qgis.json`): same colours, one layer per category.
pub const QGIS_STYLE_TEMPLATE: &str = include_str!("../../styles/qgis.json");

/// Name of the vector source in the style.
pub const SOURCE_ID: &str = "partnership-map";

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

fn fields_json(fields: &[Field]) -> Json {
    fields
        .iter()
        .map(|f| {
            let opt = if f.optional {
                " Left out when unknown."
            } else {
                ""
            };
            (
                f.name.clone(),
                Json::from(format!("{}: {}.{opt}", f.ty.tilejson_name(), f.description)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The TileJSON document for `base`.
#[must_use]
pub fn tilejson(ds: &Dataset, base: &str) -> Json {
    let max = ds.max_zoom();
    let [w, s, e, n] = ds.geometry.bounds;
    json!({
        "tilejson": "3.0.0",
        "name": "partnership-map: area-based education partnerships in England",
        "description": DESCRIPTION,
        "version": "1.0.0",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{{z}}/{{x}}/{{y}}.pbf")],
        "minzoom": 0,
        "maxzoom": max,
        "bounds": [round6(w), round6(s), round6(e), round6(n)],
        "center": [round6((w + e) / 2.0), round6((s + n) / 2.0), 6],
        "data_version": ds.version,
        "vector_layers": [
            {
                "id": schema::LA_LAYER,
                "description": "One polygon per upper-tier local authority; feature id = DfE LA number.",
                "minzoom": 0,
                "maxzoom": max,
                "fields": fields_json(&schema::la_fields()),
            },
            {
                "id": schema::LABEL_LAYER,
                "description": "One label point per LA, at its pole of inaccessibility; feature id = DfE LA number.",
                "minzoom": 0,
                "maxzoom": max,
                "fields": fields_json(&schema::label_fields()),
            }
        ]
    })
}

/// `vector_layers` with each field's value its type name ("Number", "Boolean", "String"), as
/// MBTiles 1.3 requires and tippecanoe writes. GDAL types columns from exactly those words;
/// TileJSON's "Number: what it means" would make every column text in QGIS and ogr2ogr.
#[must_use]
pub fn typed_vector_layers(min: u8, max: u8) -> Json {
    let layer = |id: &str, fields: Vec<Field>| {
        let fields: serde_json::Map<String, Json> = fields
            .iter()
            .map(|f| (f.name.clone(), f.ty.tilejson_name().into()))
            .collect();
        json!({ "id": id, "minzoom": min, "maxzoom": max, "fields": fields })
    };
    json!([
        layer(schema::LA_LAYER, schema::la_fields()),
        layer(schema::LABEL_LAYER, schema::label_fields()),
    ])
}

/// Mapbox tilestats (layer, feature count, geometry type): GDAL reads the geometry type from
/// here, so the polygon layer opens as MultiPolygon rather than "Unknown".
#[must_use]
pub fn tilestats(ds: &Dataset) -> Json {
    json!({
        "layerCount": 2,
        "layers": [
            { "layer": schema::LA_LAYER, "count": ds.las.len(), "geometry": "Polygon" },
            { "layer": schema::LABEL_LAYER, "count": ds.las.len(), "geometry": "Point" },
        ]
    })
}

/// The MBTiles 1.3 `metadata` rows for zooms `min..=max`. The same rows make tippecanoe's
/// `metadata.json` (served at `/tiles/metadata.json`, where GDAL's MVT driver looks for it).
#[must_use]
pub fn archive_metadata(ds: &Dataset, min: u8, max: u8) -> Vec<(&'static str, String)> {
    let [w, s, e, n] = ds.geometry.bounds;
    let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
    let json = json!({
        "vector_layers": typed_vector_layers(min, max),
        "tilestats": tilestats(ds),
    });
    vec![
        ("name", "partnership-map".to_owned()),
        ("format", "pbf".to_owned()),
        ("type", "overlay".to_owned()),
        ("version", "1.3".to_owned()),
        ("description", DESCRIPTION.to_owned()),
        ("attribution", ATTRIBUTION.to_owned()),
        ("bounds", format!("{w},{s},{e},{n}")),
        ("center", format!("{cx},{cy},{}", min.max(6).min(max))),
        ("minzoom", min.to_string()),
        ("maxzoom", max.to_string()),
        ("data_version", ds.version.clone()),
        ("json", json.to_string()),
    ]
}

/// `GET /tiles/metadata.json`: the archive metadata as tippecanoe's `metadata.json`, so
/// `ogrinfo MVT:http://HOST/tiles/8` reads a whole zoom level with typed columns.
#[utoipa::path(get, path = "/tiles/metadata.json", tag = "tiles", summary = "The layers as tippecanoe's metadata.json (for GDAL)", responses((status = 200, description = "Metadata", body = super::openapi::TileMetadata)))]
pub async fn tippecanoe_metadata(State(state): State<AppState>) -> Response {
    let ds = state.dataset();
    json_response(&state, &metadata_json(&ds, 0, ds.max_zoom()))
}

/// [`archive_metadata`] as one JSON object: tippecanoe's `metadata.json`.
#[must_use]
pub fn metadata_json(ds: &Dataset, min: u8, max: u8) -> Json {
    Json::Object(
        archive_metadata(ds, min, max)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Json::from(v)))
            .collect(),
    )
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The MapLibre style: `template` with its source pointed at `base`.
#[must_use]
pub fn style(template: &Json, ds: &Dataset, base: &str) -> Json {
    let mut style = template.clone();
    style["glyphs"] = json!(format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"));
    let [w, s, e, n] = ds.geometry.bounds;
    style["center"] = json!([round6((w + e) / 2.0), round6((s + n) / 2.0)]);
    style["sources"][SOURCE_ID] = json!({
        "type": "vector",
        "tiles": [format!("{base}/tiles/{{z}}/{{x}}/{{y}}.pbf")],
        "minzoom": 0,
        "maxzoom": ds.max_zoom(),
        "bounds": [round6(w), round6(s), round6(e), round6(n)],
        "attribution": ATTRIBUTION,
        "promoteId": "code",
    });
    style
}

fn json_response(state: &AppState, body: &Json) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, state.config.cache_control.clone()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /tiles.json`.
///
/// # Errors
/// 400 for a malformed `Host`.
#[utoipa::path(get, path = "/tiles.json", tag = "tiles", summary = "TileJSON 3.0.0", responses((status = 200, description = "TileJSON", body = super::openapi::TileJson), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn tilejson_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let base = base_url(&state, &headers)?;
    Ok(json_response(&state, &tilejson(&state.dataset(), &base)))
}

/// `GET /styles/{name}`: `default.json` (the web map) or `qgis.json` (the same map for QGIS
/// 3.22's style converter), with the source pointed at this server.
///
/// # Errors
/// 404 for another name, 400 for a malformed `Host`.
#[utoipa::path(get, path = "/styles/{name}", tag = "tiles", summary = "A MapLibre style", params(("name" = String, Path, description = "`default.json` (the web map) or `qgis.json` (for QGIS 3.22's converter)")), responses((status = 200, description = "MapLibre style v8 pointing at this server", body = super::openapi::Style), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such style", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn style_handler(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
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
    Ok(json_response(
        &state,
        &style(template, &state.dataset(), &base),
    ))
}

/// `GET /health`: liveness plus what is loaded. Never cached.
#[utoipa::path(get, path = "/health", tag = "meta", summary = "Liveness and what is loaded (never cached)", responses((status = 200, description = "OK", body = super::openapi::Health)))]
pub async fn health(State(state): State<AppState>) -> Response {
    // The log position first: publishing swaps the data before it moves the position, so the
    // version read after it is at least as new.
    let log = state.log_status();
    let ds = state.dataset();
    let (requests, renders) = state.cache.stats();
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(json!({
            "status": "ok",
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
            "local_authorities": ds.summary.las,
            "partnerships": ds.summary.partnerships,
            "max_zoom": ds.max_zoom(),
            "tile_requests": requests,
            "tile_renders": renders,
            "changes_through": log.through,
            "change_conflicts": log.conflicts.len(),
        })),
    )
        .into_response()
}
