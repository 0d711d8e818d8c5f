//! OGC API – Features (Part 1 Core, GeoJSON) and OGC API – Tiles (core, WebMercatorQuad) at
//! `/ogc`, so GIS tools discover the collections and the vector tiles without a custom client.
//!
//! Collections: `local_authorities` (full-resolution polygons in CRS84 with every attribute)
//! and `partnerships` (each partnership, located at the label points of its LAs). Items support
//! `bbox`, `limit`/`offset` paging with `next`/`prev` links, and equality filters on attributes
//! (`?role_convener=true`); `f=gpkg` or `f=fgb` answers the same page as a GeoPackage or a
//! FlatGeobuf file (`gis_formats`), paged by `Link` headers. Tiles are the same bytes as
//! `/tiles/{z}/{x}/{y}.pbf`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::meta::base_url;
use super::ogc_body::{
    Collection, Collections, Conformance, Feature, FeatureCollection, Landing, Link,
    TileMatrixLimits, TileMatrixSetRef, TileMatrixSets, Tileset, TilesetRef, Tilesets,
};
use super::state::AppState;
use crate::dataset::Dataset;
use crate::downloads::{la_layer_about, partnerships_layer_about};
use crate::error::AppError;
use crate::gis_formats::{Format as GisFormat, Layer, la_columns};
use crate::model::Value as Attr;
use crate::schema::{self, FieldType};
use crate::tile::{EXTENT, HALF_WORLD};
use crate::tileset::ATTRIBUTION;

const LAS: &str = "local_authorities";
const PARTNERSHIPS: &str = "partnerships";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const WEB_MERCATOR_QUAD: &str = "WebMercatorQuad";
const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
const TILESET_TITLE: &str = "Local authorities (vector tiles)";
const OGL: &str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/";

/// The attribute filters of `partnerships` items.
pub const PARTNERSHIP_FILTERS: &[&str] = &[
    "form",
    "la_involvement",
    "legal_form",
    "la_code",
    "phase",
    "focus",
];

fn geojson_response(body: &impl serde::Serialize, content_type: &'static str) -> Response {
    let body = match serde_json::to_string(body) {
        Ok(text) => text,
        Err(e) => return AppError::Store(format!("JSON body: {e}")).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

fn json_response(body: &impl serde::Serialize) -> Response {
    geojson_response(body, "application/json")
}

/// `GET /ogc`: the landing page.
///
/// # Errors
/// 400 for a malformed Host.
#[utoipa::path(get, path = "/ogc", tag = "ogc", summary = "OGC API landing page", responses((status = 200, description = "Landing page; its `service-desc` link is /ogc/api", body = Landing), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    Ok(json_response(&Landing {
        title: "partnership-map: area-based education partnerships in England",
        description: "England's upper-tier local authorities with their area-based education partnerships and the LA's role in school improvement, as OGC API Features and Tiles.",
        attribution: ATTRIBUTION,
        links: vec![
            Link::new("self", "application/json", format!("{b}/ogc")).titled("This document"),
            Link::new(
                "service-desc",
                super::oas30::MEDIA_TYPE,
                format!("{b}/ogc/api"),
            )
            .titled("API definition (OpenAPI 3.0)"),
            Link::new("service-doc", "text/html", format!("{b}/api")).titled("API documentation"),
            Link::new(
                "conformance",
                "application/json",
                format!("{b}/ogc/conformance"),
            )
            .titled("Conformance classes"),
            Link::new("data", "application/json", format!("{b}/ogc/collections"))
                .titled("Collections"),
            Link::new(
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                "application/json",
                format!("{b}/ogc/tileMatrixSets"),
            )
            .titled("Tile matrix sets"),
            Link::new("license", "text/html", OGL.to_owned())
                .titled("Open Government Licence v3.0 (boundaries)"),
        ],
    }))
}

/// `GET /ogc/`: the landing page, addressed with a trailing slash.
///
/// # Errors
/// 400 for a malformed Host.
#[utoipa::path(get, path = "/ogc/", tag = "ogc", summary = "OGC API landing page (with a slash)", responses((status = 200, description = "Landing page", body = Landing), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn landing_slash(
    state: State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    landing(state, headers).await
}

/// `GET /ogc/conformance`.
#[utoipa::path(get, path = "/ogc/conformance", tag = "ogc", summary = "Conformance classes", responses((status = 200, description = "Conformance", body = Conformance)))]
pub async fn conformance() -> Response {
    json_response(&Conformance {
        conforms_to: vec![
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
            "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
            "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
            "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
            "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
        ],
    })
}

/// `GET /ogc/api`: the OGC part of the OpenAPI description (`openapi.rs`), in OpenAPI 3.0
/// (`oas30.rs`), which OGC API – Features' `oas30` class and its clients (OWSLib) expect.
///
/// # Errors
/// 500 if the document cannot be serialised (a bug).
#[utoipa::path(get, path = "/ogc/api", tag = "ogc", summary = "The OGC part of this description (OpenAPI 3.0)", responses((status = 200, description = "OpenAPI 3.0 document", body = Object, content_type = "application/vnd.oai.openapi+json;version=3.0")))]
pub async fn openapi(State(state): State<AppState>) -> Result<Response, AppError> {
    let doc = serde_json::to_value(super::openapi::ogc_document(&state.dataset()))
        .map_err(|e| AppError::Store(format!("OpenAPI document: {e}")))?;
    Ok(super::openapi::openapi_response(
        &super::oas30::downgrade(doc),
        super::oas30::MEDIA_TYPE,
    ))
}

fn collection_json(ds: &Dataset, b: &str, id: &str) -> Option<Collection> {
    let [w, s, e, n] = ds.geometry.bounds;
    let extent = json!({"spatial": {"bbox": [[w, s, e, n]], "crs": CRS84}});
    let (id, title, description) = match id {
        LAS => (
            LAS,
            "Local authorities",
            format!(
                "England's {} upper-tier local authorities with partnership and context attributes (see docs/FIELDS.md). {ATTRIBUTION}",
                ds.las.len()
            ),
        ),
        PARTNERSHIPS => (
            PARTNERSHIPS,
            "Partnerships",
            "Area-based education partnerships, located at the label points of the LAs they cover, with their sources.".to_owned(),
        ),
        _ => return None,
    };
    let items = format!("{b}/ogc/collections/{id}/items");
    let mut links = vec![
        Link::new(
            "self",
            "application/json",
            format!("{b}/ogc/collections/{id}"),
        )
        .titled(title),
        Link::new("items", "application/geo+json", items.clone()).titled("Features"),
        Link::new(
            "items",
            GisFormat::GeoPackage.mime(),
            format!("{items}?f=gpkg"),
        )
        .titled("Features as a GeoPackage"),
        Link::new(
            "items",
            GisFormat::FlatGeobuf.mime(),
            format!("{items}?f=fgb"),
        )
        .titled("Features as FlatGeobuf"),
        Link::new("license", "text/html", OGL.to_owned()).titled("Open Government Licence v3.0"),
    ];
    if id == LAS {
        let tiles = format!("{b}/ogc/collections/{LAS}/tiles");
        // The second is the relation name of the 2020–21 drafts, which GDAL 3.6 looks for.
        for rel in [
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets",
        ] {
            links.push(Link::new(rel, "application/json", tiles.clone()).titled("Vector tilesets"));
        }
    }
    Some(Collection {
        id,
        title,
        description,
        item_type: "feature",
        crs: vec![CRS84],
        extent,
        links,
    })
}

/// `GET /ogc/collections`.
///
/// # Errors
/// 400 for a malformed Host.
#[utoipa::path(get, path = "/ogc/collections", tag = "ogc", summary = "The collections", responses((status = 200, description = "Collections", body = Collections), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    let ds = state.dataset();
    Ok(json_response(&Collections {
        links: vec![Link::new(
            "self",
            "application/json",
            format!("{b}/ogc/collections"),
        )],
        collections: [LAS, PARTNERSHIPS]
            .into_iter()
            .filter_map(|id| collection_json(&ds, &b, id))
            .collect(),
    }))
}

/// `GET /ogc/collections/{id}`.
///
/// # Errors
/// 404 for an unknown collection.
#[utoipa::path(get, path = "/ogc/collections/{id}", tag = "ogc", summary = "One collection", params(("id" = String, Path, description = "`local_authorities` or `partnerships`")), responses((status = 200, description = "Collection", body = Collection), (status = 404, description = "No such collection", body = crate::error::ErrorBody)))]
pub async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    let c = collection_json(&state.dataset(), &b, &id).ok_or_else(|| unknown_collection(&id))?;
    Ok(json_response(&c))
}

fn unknown_collection(id: &str) -> AppError {
    AppError::ApiNotFound(format!(
        "no collection {:?} (available: {LAS}, {PARTNERSHIPS})",
        id.chars().take(40).collect::<String>()
    ))
}

fn ring_json(r: &[[f64; 2]]) -> Value {
    Value::Array(r.iter().map(|p| json!([p[0], p[1]])).collect())
}

fn la_feature(ds: &Dataset, i: usize) -> Feature {
    let props: serde_json::Map<String, Value> = ds.attributes[i]
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    let parts: Vec<Value> = ds.geometry.lonlat[i]
        .iter()
        .map(|part| Value::Array(part.iter().map(|r| ring_json(r)).collect()))
        .collect();
    Feature::new(
        ds.las[i].code.clone(),
        json!({"type": "MultiPolygon", "coordinates": parts}),
        props,
    )
}

fn partnership_feature(ds: &Dataset, p: usize) -> Feature {
    let pt = &ds.partnerships[p];
    let points: Vec<Value> = pt
        .la_codes
        .iter()
        .filter_map(|c| ds.las.iter().position(|l| &l.code == c))
        .map(|i| {
            let ll = ds.label_lonlat(i);
            json!([(ll[0] * 1e6).round() / 1e6, (ll[1] * 1e6).round() / 1e6])
        })
        .collect();
    let properties = json!({
            "id": pt.id,
            "name": pt.name,
            "la_codes": pt.la_codes.join(","),
            "form": pt.form,
            "phases": pt.phases.join(","),
            "focus": pt.focus.join(","),
            "la_involvement": pt.la_involvement,
            "legal_form": pt.legal_form,
            "membership": pt.membership,
            "founded": pt.founded,
            "website": pt.website,
            "source_urls": pt.source_urls.join(" "),
            "evidence_date": pt.evidence_date,
            "notes": pt.notes,
    });
    Feature::new(
        pt.id.clone(),
        json!({"type": "MultiPoint", "coordinates": points}),
        match properties {
            Value::Object(o) => o,
            _ => serde_json::Map::new(),
        },
    )
}

/// The `f` of an items request: GeoJSON (`json`, `geojson`), or a GIS file format.
fn items_format(f: &str) -> Result<Option<GisFormat>, AppError> {
    match f {
        "json" | "geojson" => Ok(None),
        other => GisFormat::from_ext(other).map(Some).ok_or_else(|| {
            AppError::ApiBadRequest(format!(
                "f must be json, geojson, gpkg (GeoPackage) or fgb (FlatGeobuf), not {:?}",
                other.chars().take(40).collect::<String>()
            ))
        }),
    }
}

/// A decimal as `bbox` writes it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, no exponent, no spaces.
fn decimal(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "1"));
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    (all_digits(int) && all_digits(frac) && (int == "0" || !int.starts_with('0')))
        .then(|| s.parse().ok())
        .flatten()
}

/// The `bbox` pattern of the OpenAPI description, which [`parse_bbox`] accepts exactly: four
/// numbers (or six, with heights), longitudes within ±180 and latitudes within ±90.
#[must_use]
pub fn bbox_pattern() -> String {
    const LON: &str = r"-?((0|[1-9][0-9]?|1[0-7][0-9])(\.[0-9]+)?|180(\.0+)?)";
    const LAT: &str = r"-?((0|[1-9]|[1-8][0-9])(\.[0-9]+)?|90(\.0+)?)";
    const H: &str = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?";
    format!("^({LON},{LAT},{LON},{LAT}|{LON},{LAT},{H},{LON},{LAT},{H})$")
}

/// `minLon,minLat,maxLon,maxLat` (or with heights). West above east crosses the antimeridian,
/// as OGC API – Features says; a box whose south is above its north holds nothing.
fn parse_bbox(s: &str) -> Result<[f64; 4], AppError> {
    let v: Vec<f64> = s
        .split(',')
        .map(decimal)
        .collect::<Option<_>>()
        .ok_or_else(|| bad_bbox(s))?;
    let b = match v.as_slice() {
        [a, b, c, d] | [a, b, _, c, d, _] => [*a, *b, *c, *d],
        _ => return Err(bad_bbox(s)),
    };
    let lon = |x: f64| (-180.0..=180.0).contains(&x);
    let lat = |x: f64| (-90.0..=90.0).contains(&x);
    if !(lon(b[0]) && lat(b[1]) && lon(b[2]) && lat(b[3])) {
        return Err(bad_bbox(s));
    }
    Ok(b)
}

fn bad_bbox(s: &str) -> AppError {
    AppError::ApiBadRequest(format!(
        "bbox {:?} is not minLon,minLat,maxLon,maxLat in CRS84 degrees (plain decimals, \
         longitudes within ±180, latitudes within ±90)",
        s.chars().take(80).collect::<String>()
    ))
}

/// A filter's value must be of its attribute's type, else 400 saying which.
fn check_filter_value(name: &str, ty: FieldType, v: &str) -> Result<(), AppError> {
    let ok = match ty {
        FieldType::String => true,
        FieldType::Boolean => matches!(v, "true" | "false"),
        FieldType::Number => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
        FieldType::Decimal => v.parse::<f64>().is_ok_and(f64::is_finite),
    };
    if ok {
        return Ok(());
    }
    let want = match ty {
        FieldType::Boolean => "true or false",
        FieldType::Number => "a whole number",
        _ => "a number",
    };
    Err(AppError::ApiBadRequest(format!(
        "{name} must be {want}, not {:?}",
        v.chars().take(40).collect::<String>()
    )))
}

fn matches_attr(value: Option<&Attr>, ty: FieldType, want: &str) -> bool {
    match (value, ty) {
        (Some(Attr::Str(s)), _) => s == want,
        (Some(Attr::Bool(b)), _) => want.parse::<bool>().is_ok_and(|w| w == *b),
        (Some(Attr::Uint(n)), _) => want.parse::<u64>().is_ok_and(|w| w == *n),
        (Some(Attr::Double(x)), _) => want.parse::<f64>().is_ok_and(|w| (w - *x).abs() < 1e-9),
        (None, _) => false,
    }
}

fn la_intersects(ds: &Dataset, i: usize, b: [f64; 4]) -> bool {
    if b[1] > b[3] {
        return false;
    }
    if b[0] > b[2] {
        // Across the antimeridian: west to 180°, and -180° to east.
        return la_intersects(ds, i, [b[0], b[1], 180.0, b[3]])
            || la_intersects(ds, i, [-180.0, b[1], b[2], b[3]]);
    }
    use geo::Intersects;
    let lb = ds.geometry.la_bounds[i];
    if lb[2] < b[0] || lb[0] > b[2] || lb[3] < b[1] || lb[1] > b[3] {
        return false;
    }
    let rect = geo::Rect::new((b[0], b[1]), (b[2], b[3]));
    ds.geometry.lonlat[i].iter().any(|part| {
        let ring = |r: &Vec<[f64; 2]>| {
            geo::LineString::from(r.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
        };
        geo::Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect()).intersects(&rect)
    })
}

/// `GET /ogc/collections/{id}/items?bbox=&limit=&offset=&<attribute>=<value>`.
///
/// # Errors
/// 404 for an unknown collection; 400 for a bad parameter or an unknown one.
pub async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    let ds = state
        .dataset_on(params.get("date").map(String::as_str))
        .await?;
    let mut limit: usize = 100;
    let mut offset: usize = 0;
    let mut bbox = None;
    let mut format = None;
    let mut filters: Vec<(String, String)> = Vec::new();
    for (k, v) in &params {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        AppError::ApiBadRequest(
                            "limit must be a whole number from 1 to 1000".to_owned(),
                        )
                    })?;
            }
            "offset" => {
                // Any whole number: one past the end is an empty page, however far.
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(AppError::ApiBadRequest(
                        "offset must be a whole number >= 0".to_owned(),
                    ));
                }
                offset = v.parse().unwrap_or(usize::MAX);
            }
            "bbox" => bbox = Some(parse_bbox(v)?),
            // Read above: which day's LAs.
            "date" => {}
            "bbox-crs" if v == CRS84 => {}
            "f" => format = items_format(v)?,
            _ => filters.push((k.clone(), v.clone())),
        }
    }
    let features: Vec<Feature> = match id.as_str() {
        LAS => {
            let fields = schema::la_fields();
            for (k, v) in &filters {
                let Some(f) = fields.iter().find(|f| &f.name == k) else {
                    return Err(AppError::ApiBadRequest(format!(
                        "unknown parameter {k:?}: filter on a field of docs/FIELDS.md, or use bbox, limit, offset"
                    )));
                };
                check_filter_value(k, f.ty, v)?;
            }
            (0..ds.las.len())
                .filter(|&i| bbox.is_none_or(|bb| la_intersects(&ds, i, bb)))
                .filter(|&i| {
                    filters.iter().all(|(k, want)| {
                        let f = fields.iter().find(|f| &f.name == k);
                        f.is_some_and(|f| {
                            matches_attr(
                                ds.attributes[i]
                                    .iter()
                                    .find(|(n, _)| n == k)
                                    .map(|(_, v)| v),
                                f.ty,
                                want,
                            )
                        })
                    })
                })
                .map(|i| la_feature(&ds, i))
                .collect()
        }
        PARTNERSHIPS => {
            const KEYS: &[&str] = PARTNERSHIP_FILTERS;
            for (k, _) in &filters {
                if !KEYS.contains(&k.as_str()) {
                    return Err(AppError::ApiBadRequest(format!(
                        "unknown parameter {k:?} (filters: {})",
                        KEYS.join(", ")
                    )));
                }
            }
            (0..ds.partnerships.len())
                .filter(|&p| {
                    let pt = &ds.partnerships[p];
                    let in_box = bbox.is_none_or(|bb| {
                        pt.la_codes.iter().any(|c| {
                            ds.las
                                .iter()
                                .position(|l| &l.code == c)
                                .is_some_and(|i| la_intersects(&ds, i, bb))
                        })
                    });
                    in_box
                        && filters.iter().all(|(k, v)| match k.as_str() {
                            "form" => &pt.form == v,
                            "la_involvement" => &pt.la_involvement == v,
                            "legal_form" => &pt.legal_form == v,
                            "la_code" => pt.la_codes.contains(v),
                            "phase" => pt.phases.contains(v),
                            _ => pt.focus.contains(v),
                        })
                })
                .map(|p| partnership_feature(&ds, p))
                .collect()
        }
        _ => return Err(unknown_collection(&id)),
    };
    let matched = features.len();
    let page: Vec<Feature> = features.into_iter().skip(offset).take(limit).collect();
    let returned = page.len();
    let link = |off: usize, f: Option<&str>| {
        let mut q: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "offset" | "limit" | "f"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.push(("limit".to_owned(), limit.to_string()));
        q.push(("offset".to_owned(), off.to_string()));
        if let Some(f) = f {
            q.push(("f".to_owned(), f.to_owned()));
        }
        format!(
            "{b}/ogc/collections/{id}/items?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let f = params.get("f").map(String::as_str);
    let next = (offset + returned < matched).then(|| link(offset + returned, f));
    let prev = (offset > 0).then(|| link(offset.saturating_sub(limit), f));
    if let Some(format) = format {
        let (about, columns) = if id == LAS {
            (la_layer_about(&ds), la_columns())
        } else {
            (partnerships_layer_about(&ds), Vec::new())
        };
        let values: Vec<Value> = page
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| AppError::Store(format!("feature: {e}")))?;
        let bytes = format.write(&Layer::new(about, &values, &columns)?)?;
        let mut r = (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(format.mime()),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            bytes,
        )
            .into_response();
        let pages = [("next", &next), ("prev", &prev)]
            .into_iter()
            .filter_map(|(rel, url)| url.as_ref().map(|u| format!("<{u}>; rel=\"{rel}\"")))
            .collect::<Vec<_>>()
            .join(", ");
        let named = format!("attachment; filename=\"{id}.{}\"", format.ext());
        for (name, value) in [(header::CONTENT_DISPOSITION, named), (header::LINK, pages)] {
            if let Ok(v) = HeaderValue::from_str(&value)
                && !value.is_empty()
            {
                r.headers_mut().insert(name, v);
            }
        }
        return Ok(r);
    }
    let mut links = vec![
        Link::new("self", "application/geo+json", link(offset, f)),
        Link::new(
            "collection",
            "application/json",
            format!("{b}/ogc/collections/{id}"),
        ),
    ];
    for alt in GisFormat::ALL {
        links.push(Link::new(
            "alternate",
            alt.mime(),
            link(offset, Some(alt.ext())),
        ));
    }
    if let Some(next) = next {
        links.push(Link::new("next", "application/geo+json", next));
    }
    if let Some(prev) = prev {
        links.push(Link::new("prev", "application/geo+json", prev));
    }
    Ok(geojson_response(
        &FeatureCollection {
            kind: "FeatureCollection",
            time_stamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            number_matched: matched,
            number_returned: returned,
            features: page,
            links,
        },
        "application/geo+json",
    ))
}

/// `GET /ogc/collections/{id}/items/{fid}`.
///
/// # Errors
/// 404 for an unknown collection or feature.
#[utoipa::path(get, path = "/ogc/collections/{id}/items/{fid}", tag = "ogc", summary = "One feature", params(("id" = String, Path, description = "`local_authorities` or `partnerships`"), ("fid" = String, Path, description = "LA code or partnership id"), super::query::DateQuery), responses((status = 200, description = "Feature", body = Feature, content_type = "application/geo+json"), (status = 400, description = "A malformed date", body = crate::error::ErrorBody), (status = 404, description = "No such collection or feature on the map of that day, or a day before the records start", body = crate::error::ErrorBody)))]
pub async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    super::query::ApiQuery(d): super::query::ApiQuery<super::query::DateQuery>,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    let ds = state.dataset_on(d.date.as_deref()).await?;
    let mut f = match id.as_str() {
        LAS => ds
            .las
            .iter()
            .position(|l| l.code == fid)
            .map(|i| la_feature(&ds, i)),
        PARTNERSHIPS => ds
            .partnerships
            .iter()
            .position(|p| p.id == fid)
            .map(|p| partnership_feature(&ds, p)),
        _ => return Err(unknown_collection(&id)),
    }
    .ok_or_else(|| {
        AppError::ApiNotFound(format!(
            "no feature {:?} in {id}",
            fid.chars().take(60).collect::<String>()
        ))
    })?;
    f.links = Some(vec![
        Link::new(
            "self",
            "application/geo+json",
            format!("{b}/ogc/collections/{id}/items/{fid}"),
        ),
        Link::new(
            "collection",
            "application/json",
            format!("{b}/ogc/collections/{id}"),
        ),
    ]);
    Ok(geojson_response(&f, "application/geo+json"))
}

// ---------- OGC API – Tiles ----------

/// The WebMercatorQuad tile matrix set, zooms 0..=max: OGC 2D TMS 2.0 JSON, with the TMS 1.0
/// members alongside (`identifier`, `supportedCRS`, `tileMatrix`, `topLeftCorner`) because GDAL
/// before 3.7 reads only those.
#[must_use]
pub fn web_mercator_quad(max_zoom: u8) -> Value {
    // 0.28 mm pixels, as the OGC definition prescribes.
    let matrices: Vec<Value> = (0..=max_zoom)
        .map(|z| {
            let n = 1u64 << z;
            #[allow(clippy::cast_precision_loss)]
            let cell = 2.0 * HALF_WORLD / (256.0 * n as f64);
            json!({
                "id": z.to_string(),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD, HALF_WORLD],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    let v1: Vec<Value> = matrices
        .iter()
        .map(|m| {
            json!({
                "type": "TileMatrixType",
                "identifier": m["id"],
                "scaleDenominator": m["scaleDenominator"],
                "topLeftCorner": m["pointOfOrigin"],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": m["matrixWidth"],
                "matrixHeight": m["matrixHeight"],
            })
        })
        .collect();
    json!({
        "type": "TileMatrixSetType",
        "identifier": WEB_MERCATOR_QUAD,
        "supportedCRS": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "boundingBox": {
            "type": "BoundingBoxType",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "lowerCorner": [-HALF_WORLD, -HALF_WORLD],
            "upperCorner": [HALF_WORLD, HALF_WORLD],
        },
        "tileMatrix": v1,
        "id": WEB_MERCATOR_QUAD,
        "title": "Google Maps Compatible for the World",
        "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })
}

/// `GET /ogc/tileMatrixSets`.
///
/// # Errors
/// 400 for a malformed Host.
#[utoipa::path(get, path = "/ogc/tileMatrixSets", tag = "ogc", summary = "Tile matrix sets", responses((status = 200, description = "List", body = TileMatrixSets), (status = 400, description = "A malformed Host header", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn tile_matrix_sets(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let b = base_url(&state, &headers)?;
    Ok(json_response(&TileMatrixSets {
        tile_matrix_sets: vec![TileMatrixSetRef {
            id: WEB_MERCATOR_QUAD,
            title: "Google Maps Compatible for the World",
            uri: TMS_URI,
            links: vec![Link::new(
                "self",
                "application/json",
                format!("{b}/ogc/tileMatrixSets/{WEB_MERCATOR_QUAD}"),
            )],
        }],
    }))
}

/// `GET /ogc/tileMatrixSets/WebMercatorQuad`.
///
/// # Errors
/// 404 for another tile matrix set.
#[utoipa::path(get, path = "/ogc/tileMatrixSets/{id}", tag = "ogc", summary = "A tile matrix set", params(("id" = String, Path, description = "`WebMercatorQuad`")), responses((status = 200, description = "Tile matrix set", body = Object), (status = 404, description = "No such tile matrix set", body = crate::error::ErrorBody)))]
pub async fn tile_matrix_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if id != WEB_MERCATOR_QUAD {
        return Err(AppError::ApiNotFound(format!(
            "no tile matrix set {id:?} (available: {WEB_MERCATOR_QUAD})"
        )));
    }
    Ok(json_response(&web_mercator_quad(
        state.dataset().max_zoom(),
    )))
}

fn tileset_json(ds: &Dataset, b: &str) -> Tileset {
    let [w, s, e, n] = ds.geometry.bounds;
    let max = ds.max_zoom();
    let limits = (0..=max)
        .map(|z| {
            let a = crate::tile::TileCoord::containing(crate::tile::lonlat_to_merc(w, n), z);
            let c = crate::tile::TileCoord::containing(crate::tile::lonlat_to_merc(e, s), z);
            TileMatrixLimits {
                tile_matrix: z.to_string(),
                min_tile_row: a.y,
                max_tile_row: c.y,
                min_tile_col: a.x,
                max_tile_col: c.x,
            }
        })
        .collect();
    let fields = |fs: Vec<schema::Field>| -> Value {
        fs.iter().map(|f| (f.name.clone(), json!({"description": f.description, "type": f.ty.tilejson_name().to_lowercase()}))).collect::<serde_json::Map<_, _>>().into()
    };
    let tileset = format!("{b}/ogc/collections/{LAS}/tiles/{WEB_MERCATOR_QUAD}");
    let scheme = format!("{b}/ogc/tileMatrixSets/{WEB_MERCATOR_QUAD}");
    let mut item = Link::new(
        "item",
        "application/vnd.mapbox-vector-tile",
        format!("{tileset}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"),
    );
    item.templated = Some(true);
    Tileset {
        title: TILESET_TITLE,
        data_type: "vector",
        crs: EPSG_3857,
        tile_matrix_set_uri: TMS_URI,
        tile_matrix_set_definition: scheme.clone(),
        tile_matrix_set_limits: limits,
        bounding_box: json!({"lowerLeft": [w, s], "upperRight": [e, n], "crs": CRS84}),
        layers: vec![
            json!({"id": schema::LA_LAYER, "dataType": "vector", "geometryDimension": 2, "minTileMatrix": "0", "maxTileMatrix": max.to_string(), "propertiesSchema": {"type": "object", "properties": fields(schema::la_fields())}}),
            json!({"id": schema::LABEL_LAYER, "dataType": "vector", "geometryDimension": 0, "minTileMatrix": "0", "maxTileMatrix": max.to_string(), "propertiesSchema": {"type": "object", "properties": fields(schema::label_fields())}}),
        ],
        links: vec![
            Link::new("self", "application/json", tileset),
            Link::new(
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "application/json",
                scheme,
            ),
            item,
            Link::new("describedby", "application/json", format!("{b}/tiles.json")),
        ],
        extent: EXTENT,
    }
}

/// `GET /ogc/collections/local_authorities/tiles`.
///
/// # Errors
/// 404 for another collection.
#[utoipa::path(get, path = "/ogc/collections/{id}/tiles", tag = "ogc", summary = "Tilesets of a collection", params(("id" = String, Path, description = "`local_authorities`")), responses((status = 200, description = "Tilesets", body = Tilesets), (status = 404, description = "This collection has no tiles", body = crate::error::ErrorBody)))]
pub async fn tilesets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if id != LAS {
        return Err(AppError::ApiNotFound(format!(
            "collection {id:?} has no tiles"
        )));
    }
    let b = base_url(&state, &headers)?;
    let tileset = format!("{b}/ogc/collections/{LAS}/tiles/{WEB_MERCATOR_QUAD}");
    let scheme = format!("{b}/ogc/tileMatrixSets/{WEB_MERCATOR_QUAD}");
    Ok(json_response(&Tilesets {
        links: vec![Link::new(
            "self",
            "application/json",
            format!("{b}/ogc/collections/{LAS}/tiles"),
        )],
        tilesets: vec![TilesetRef {
            title: TILESET_TITLE,
            data_type: "vector",
            crs: EPSG_3857,
            tile_matrix_set_uri: TMS_URI,
            tile_matrix_set_definition: scheme.clone(),
            links: vec![
                Link::new("self", "application/json", tileset.clone()),
                Link::new(
                    "http://www.opengis.net/def/rel/ogc/1.0/tileset",
                    "application/json",
                    tileset,
                ),
                Link::new(
                    "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                    "application/json",
                    scheme,
                ),
            ],
        }],
    }))
}

/// `GET /ogc/collections/local_authorities/tiles/WebMercatorQuad`.
///
/// # Errors
/// 404 for another collection or tile matrix set.
#[utoipa::path(get, path = "/ogc/collections/{id}/tiles/{tms}", tag = "ogc", summary = "The vector tileset", params(("id" = String, Path, description = "`local_authorities`"), ("tms" = String, Path, description = "`WebMercatorQuad`")), responses((status = 200, description = "Tileset", body = Tileset), (status = 404, description = "No such tileset", body = crate::error::ErrorBody)))]
pub async fn tileset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, tms)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if id != LAS || tms != WEB_MERCATOR_QUAD {
        return Err(AppError::ApiNotFound(format!(
            "no tileset {tms:?} for collection {id:?}"
        )));
    }
    let b = base_url(&state, &headers)?;
    Ok(json_response(&tileset_json(&state.dataset(), &b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_takes_what_its_pattern_describes_and_nothing_else() {
        let pattern = regex::Regex::new(&bbox_pattern()).expect("a valid pattern");
        for ok in [
            "-0.12,51.5,-0.1,51.52",
            "-180,-90,180,90",
            "180.000,90.0,-180.0,-90.00",
            "0,0,0,0",
            "-0,-0.5,179.999,89.9",
            "-5.7,49.9,-10.5,1.8,55.8,20",
            "170,50,-170,55",
            "1,60,2,50",
        ] {
            assert!(parse_bbox(ok).is_ok(), "{ok}");
            assert!(pattern.is_match(ok), "{ok}");
        }
        for bad in [
            "180.5,0,0,0",
            "0,90.01,0,0",
            "0,0,0,-91",
            "181,0,0,0",
            " 1,2,3,4",
            "1,2,3,4 ",
            "1,2,3,4\n",
            "+1,2,3,4",
            ".5,2,3,4",
            "1.,2,3,4",
            "01,2,3,4",
            "1e1,2,3,4",
            "1,2,3",
            "1,2,3,4,5",
            "1,2,3,4,5,6,7",
            "",
            "a,b,c,d",
            "NaN,0,0,0",
            "inf,0,0,0",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad:?}");
            assert!(!pattern.is_match(bad), "{bad:?}");
        }
    }
}
