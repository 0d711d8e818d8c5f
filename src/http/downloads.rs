//! Open-data downloads at `/downloads`: the LA polygons with every attribute (GeoJSON), and the
//! partnerships with their LAs and sources (CSV and JSON), built by `crate::downloads`.
//!
//! File names carry the data version (`partnerships-<version>.csv`), so a file never changes
//! under its name and can be cached for a year; the plain names redirect to the current version.
//! Each file carries its licence and attribution (GeoJSON and JSON in the document, CSV in a
//! `Link` header and on the downloads page, since a comment would break CSV readers).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::conditional;
use super::negotiate::accepts_gzip;
use super::pages::{Framing, html_response, layout};
use super::state::AppState;
use crate::downloads::{LICENCE, OGL, versioned};
use crate::error::AppError;

/// `GET /downloads`: the list, with sizes and licence.
#[utoipa::path(get, path = "/downloads", tag = "downloads", summary = "The open-data downloads page", responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn page(State(state): State<AppState>) -> Response {
    let ds = state.dataset();
    let files = state.downloads.files(&ds);
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
#[utoipa::path(get, path = "/downloads/{name}", tag = "downloads", summary = "A download (versioned name), or a redirect from the plain name", params(("name" = String, Path, description = "e.g. `local_authorities-<version>.geojson`, `partnerships-<version>.csv`, `partnerships-<version>.json`, or the same without `-<version>`"), super::query::DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The file (gzip-compressed when accepted)", content((Object = "application/geo+json"), (super::openapi::Binary = "text/csv; charset=utf-8"), (Object = "application/json")), headers(("ETag" = String, description = "Strong"))), (status = 303, description = "The plain name: see the current version", headers(("Location" = String))), (status = 304, description = "If-None-Match matched"), (status = 404, description = "No such file, or a version no longer served", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    super::query::ApiQuery(d): super::query::ApiQuery<super::query::DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(d.date.as_deref()).await?;
    let files = state.downloads.files(&ds);
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
            let mut tagged = HeaderMap::new();
            if conditional::tag(&mut tagged, &headers, conditional::header_value(&f.etag)) {
                return Ok(conditional::not_modified(tagged));
            }
            let disposition = format!("attachment; filename=\"{name}\"");
            let gz = accepts_gzip(
                headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
            );
            let mut r = (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(f.mime)),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                    (header::VARY, HeaderValue::from_static("Accept-Encoding")),
                ],
                if gz { f.gzip.clone() } else { f.bytes.clone() },
            )
                .into_response();
            if gz {
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("<{OGL}>; rel=\"license\"")) {
                r.headers_mut().insert(header::LINK, v);
            }
            r.headers_mut().extend(tagged);
            return Ok(r);
        }
    }
    Err(AppError::NotFound(format!(
        "no download {:?} for data version {} (see /downloads)",
        name.chars().take(80).collect::<String>(),
        ds.version
    )))
}
