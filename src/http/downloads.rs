//! Open-data downloads at `/downloads`: the LA polygons with every attribute (GeoJSON,
//! GeoPackage, FlatGeobuf), and the partnerships with their LAs and sources (CSV and JSON), built by `crate::downloads`.
//!
//! File names carry the data version (`partnerships-<version>.csv`), so a file never changes
//! under its name and can be cached for a year; the plain names redirect to the current version.
//! Each file carries its licence and attribution (GeoJSON and JSON in the document, CSV in a
//! `Link` header and on the downloads page, since a comment would break CSV readers).
//! A single byte `Range` gets `206` with those bytes of the plain file, so GIS clients read a
//! FlatGeobuf's index and only the features in view (`/vsicurl/`, flatgeobuf.js).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::conditional;
use super::negotiate::accepts_gzip;
use super::pages::{Framing, html_response, layout};
use super::state::AppState;
use crate::downloads::{File, LICENCE, OGL, is_gis_name, versioned};
use crate::error::AppError;

/// `GET /downloads`: the list, with sizes and licence.
#[utoipa::path(get, path = "/downloads", tag = "downloads", summary = "The open-data downloads page", responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn page(State(state): State<AppState>) -> Response {
    let ds = state.dataset();
    let files = state.downloads.all(&ds);
    let body = html! {
        h1 { "Downloads" }
        p { "Data version " code { (ds.version) } ", data as of " (ds.data_as_of.clone().unwrap_or_default()) ". File names carry the data version, so a link to one always returns the same bytes." }
        table {
            thead { tr { th scope="col" { "File" } th scope="col" { "What" } th scope="col" { "Size" } } }
            tbody {
                @for f in files.iter() {
                    tr {
                        td { a href=(format!("/downloads/{}", versioned(f, &ds.version))) download { (versioned(f, &ds.version)) } }
                        td { (f.title) }
                        td { (format!("{:.1} kB", f.bytes.len() as f64 / 1000.0)) }
                    }
                }
            }
        }
        h2 { "Licence and attribution" }
        p { (LICENCE) }
        p { "Also available: " a href="/ogc" { "OGC API – Features and Tiles" } ", " a href="/tiles.json" { "TileJSON" } "." }
    };
    html_response(
        StatusCode::OK,
        layout("Downloads", &[], &body),
        Framing::SameOrigin,
    )
}

/// `GET /downloads/{name}`: a versioned file, or a redirect from the plain name.
///
/// # Errors
/// 404 for an unknown name or a version no longer served.
#[utoipa::path(get, path = "/downloads/{name}", tag = "downloads", summary = "A download (versioned name), or a redirect from the plain name", params(("name" = String, Path, description = "e.g. `local_authorities-<version>.geojson`, `partnerships-<version>.csv`, `local_authorities-<version>.gpkg`, `local_authorities-<version>.fgb`, `partnerships-<version>.json`, or the same without `-<version>`"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches"), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-16383`: 206 with those bytes of the uncompressed file"), super::query::DateQuery), responses((status = 200, description = "The file (gzip-compressed when accepted)", content((Object = "application/geo+json"), (super::openapi::Binary = "text/csv; charset=utf-8"), (Object = "application/json"), (super::openapi::Binary = "application/geopackage+sqlite3"), (super::openapi::Binary = "application/flatgeobuf")), headers(("ETag" = String, description = "Weak: one tag for both encodings"))), (status = 206, description = "The requested byte range of the uncompressed file", content((super::openapi::Binary = "application/geo+json"), (super::openapi::Binary = "text/csv; charset=utf-8"), (super::openapi::Binary = "application/json"), (super::openapi::Binary = "application/geopackage+sqlite3"), (super::openapi::Binary = "application/flatgeobuf")), headers(("Content-Range" = String, description = "bytes start-end/length"))), (status = 416, description = "No byte of the file is in the range", body = String, content_type = "text/plain; charset=utf-8", headers(("Content-Range" = String, description = "bytes */length"))), (status = 303, description = "The plain name: see the current version", headers(("Location" = String))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A malformed date", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such file, a version no longer served, or a day before the records start", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    super::query::TextQuery(d): super::query::TextQuery<super::query::DateQuery>,
) -> Result<Response, AppError> {
    // A file answers in plain text: a malformed date is a bad request, a day with no map
    // is not found.
    let ds = state
        .dataset_on(d.date.as_deref())
        .await
        .map_err(AppError::in_plain_text)?;
    // The GIS files are built on first request, so only a GIS name asks for them.
    let files = if is_gis_name(&name) {
        state.downloads.gis_files(&ds)
    } else {
        state.downloads.files(&ds)
    };
    for f in files.iter() {
        if name == format!("{}.{}", f.stem, f.ext) {
            let to = match &d.date {
                Some(day) => format!("/downloads/{}?date={day}", versioned(f, &ds.version)),
                None => format!("/downloads/{}", versioned(f, &ds.version)),
            };
            let mut r = Redirect::to(&to).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return Ok(r);
        }
        if name == versioned(f, &ds.version) {
            return send(f, &name, &headers);
        }
    }
    Err(AppError::NotFound(format!(
        "no download {:?} for data version {} (see /downloads)",
        name.chars().take(80).collect::<String>(),
        ds.version
    )))
}

/// One download: `304` when `If-None-Match` matches; `206` with the requested bytes of the
/// plain file for a single satisfiable `Range` (FlatGeobuf and GeoPackage readers fetch only
/// what they need); otherwise the whole file, gzipped when the client accepts it.
fn send(f: &File, name: &str, headers: &HeaderMap) -> Result<Response, AppError> {
    let mut h = HeaderMap::new();
    if conditional::tag(&mut h, headers, conditional::header_value(&f.etag)) {
        return Ok(conditional::not_modified(h));
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(f.mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{OGL}>; rel=\"license\"")) {
        h.insert(header::LINK, v);
    }
    let len = f.bytes.len() as u64;
    if let Some(range) = byte_range(headers, &f.etag, len)? {
        let (start, end) = (*range.start(), *range.end());
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        // Both ends lie inside the file (`byte_range` checked them against its length).
        let body = f
            .bytes
            .slice(usize::try_from(start).unwrap_or(0)..usize::try_from(end + 1).unwrap_or(0));
        return Ok((StatusCode::PARTIAL_CONTENT, h, body).into_response());
    }
    if accepts_gzip(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    ) {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return Ok((h, f.gzip.clone()).into_response());
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok((h, f.bytes.clone()).into_response())
}

/// The one byte range to send for `Range`, if any (RFC 9110 §14): none without the header,
/// with an `If-Range` that does not strongly match `etag` (ours are weak, so any `If-Range`
/// asks for the whole file), or with several ranges or an unparseable header (a server may
/// always send the whole file instead).
///
/// # Errors
/// 416 when no byte of the file is in the range.
fn byte_range(
    headers: &HeaderMap,
    etag: &str,
    len: u64,
) -> Result<Option<std::ops::RangeInclusive<u64>>, AppError> {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        let strong = !etag.starts_with("W/") && if_range.as_bytes() == etag.as_bytes();
        if !strong {
            return Ok(None);
        }
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Ok(None);
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => Ok(ranges.into_iter().next()),
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => {
            Err(AppError::RangeNotSatisfiable {
                range: range.chars().take(60).collect(),
                length: len,
            })
        }
        _ => Ok(None),
    }
}
