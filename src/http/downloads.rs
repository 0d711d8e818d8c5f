//! Open-data downloads at `/downloads`: the LA polygons with every attribute (GeoJSON), and the
//! partnerships with their LAs and sources (CSV and JSON).
//!
//! File names carry the data version (`partnerships-<version>.csv`), so a file never changes
//! under its name and can be cached for a year; the plain names redirect to the current version.
//! Each file carries its licence and attribution (GeoJSON and JSON in the document, CSV in a
//! `Link` header and on the downloads page, since a comment would break CSV readers).

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use maud::html;
use serde_json::json;

use super::AppState;
use super::negotiate::{accepts_gzip, none_match};
use super::pages::{Framing, html_response, layout};
use crate::dataset::Dataset;
use crate::error::AppError;

/// Licence statement shipped with every download.
pub const LICENCE: &str = "Boundaries and codes: Office for National Statistics, Open Government Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/); Contains OS data © Crown copyright and database right 2023. LA figures: DfE, ONS, DWP, Open Government Licence v3.0. Columns rural_urban and rural_pop_pct: mySociety, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Partnership and LA-role data: compiled by partnership-map from the public sources cited in each row.";

const OGL: &str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/";

/// One generated file.
#[derive(Debug, Clone)]
pub struct File {
    /// Base name without version, e.g. `partnerships` + extension.
    pub stem: &'static str,
    /// Extension.
    pub ext: &'static str,
    /// MIME type.
    pub mime: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Content.
    pub bytes: Bytes,
    /// The same, gzipped once per data version (sent when the client accepts gzip).
    pub gzip: Bytes,
    /// Weak ETag of `bytes` (one tag for both encodings).
    pub etag: String,
}

impl File {
    /// A download with its gzip and ETag computed once.
    fn new(
        stem: &'static str,
        ext: &'static str,
        mime: &'static str,
        title: &'static str,
        bytes: Bytes,
    ) -> Self {
        Self {
            stem,
            ext,
            mime,
            title,
            gzip: Bytes::from(crate::cache::gzip(&bytes)),
            etag: crate::cache::weak_etag(&bytes),
            bytes,
        }
    }
}

/// The files built for one data version.
type Versioned = (String, Arc<Vec<File>>);

/// The files of one data version, built once per version.
#[derive(Clone, Default)]
pub struct DownloadCache {
    inner: Arc<Mutex<Option<Versioned>>>,
}

impl DownloadCache {
    /// The files for `ds`, building them on first use of its version.
    pub fn files(&self, ds: &Dataset) -> Arc<Vec<File>> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((v, files)) = guard.as_ref()
            && *v == ds.version
        {
            return files.clone();
        }
        let files = Arc::new(build(ds));
        *guard = Some((ds.version.clone(), files.clone()));
        files
    }
}

fn versioned(f: &File, version: &str) -> String {
    format!("{}-{version}.{}", f.stem, f.ext)
}

/// Build every download from the dataset (pure).
#[must_use]
pub fn build(ds: &Dataset) -> Vec<File> {
    let features: Vec<serde_json::Value> = (0..ds.las.len())
        .map(|i| {
            let props: serde_json::Map<String, serde_json::Value> = ds.attributes[i]
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            json!({
                "type": "Feature",
                "id": ds.las[i].code,
                "geometry": {"type": "MultiPolygon", "coordinates": ds.geometry.lonlat[i]},
                "properties": props,
            })
        })
        .collect();
    let geojson = json!({
        "type": "FeatureCollection",
        "name": "local_authorities",
        "licence": LICENCE,
        "data_version": ds.version,
        "data_as_of": ds.data_as_of,
        "fields": "see docs/FIELDS.md or /tiles.json",
        "features": features,
    });
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "name",
        "la_codes",
        "la_names",
        "form",
        "phases",
        "focus",
        "la_involvement",
        "legal_form",
        "membership",
        "founded",
        "website",
        "source_urls",
        "evidence_date",
        "notes",
    ];
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    let mut items = Vec::new();
    for p in &ds.partnerships {
        let la_names = super::api::la_names(ds, &p.la_codes);
        let _ = w.write_record([
            p.id.clone(),
            p.name.clone(),
            p.la_codes.join(";"),
            la_names.join(";"),
            p.form.clone(),
            p.phases.join(";"),
            p.focus.join(";"),
            p.la_involvement.clone(),
            p.legal_form.clone(),
            p.membership.clone(),
            p.founded.map(|y| y.to_string()).unwrap_or_default(),
            p.website.clone().unwrap_or_default(),
            p.source_urls.join(";"),
            p.evidence_date.clone(),
            p.notes.clone(),
        ]);
        items.push(super::api::partnership_json(ds, p));
    }
    let csv_bytes = w.into_inner().unwrap_or_default();
    let json_doc = json!({ "licence": LICENCE, "data_version": ds.version, "data_as_of": ds.data_as_of, "partnerships": items });
    vec![
        File::new(
            "local_authorities",
            "geojson",
            "application/geo+json",
            "LA polygons (full resolution, WGS84) with every attribute",
            Bytes::from(geojson.to_string()),
        ),
        File::new(
            "partnerships",
            "csv",
            "text/csv; charset=utf-8",
            "Partnerships with their LAs and sources (CSV, ; inside cells)",
            Bytes::from(csv_bytes),
        ),
        File::new(
            "partnerships",
            "json",
            "application/json",
            "Partnerships with their LAs and sources (JSON)",
            Bytes::from(json_doc.to_string()),
        ),
    ]
}

/// Every name `/downloads/{name}` answers: the versioned files and their plain names.
#[must_use]
pub fn names(files: &[File], version: &str) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| [versioned(f, version), format!("{}.{}", f.stem, f.ext)])
        .collect()
}

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
#[utoipa::path(get, path = "/downloads/{name}", tag = "downloads", summary = "A download (versioned name), or a redirect from the plain name", params(("name" = String, Path, description = "e.g. `local_authorities-<version>.geojson`, `partnerships-<version>.csv`, `partnerships-<version>.json`, or the same without `-<version>`"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The file (gzip-compressed when accepted)", content((Object = "application/geo+json"), (super::openapi::Binary = "text/csv; charset=utf-8"), (Object = "application/json")), headers(("ETag" = String, description = "Strong"))), (status = 303, description = "The plain name: see the current version", headers(("Location" = String))), (status = 304, description = "If-None-Match matched"), (status = 404, description = "No such file, or a version no longer served", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let files = state.downloads.files(&ds);
    for f in files.iter() {
        if name == format!("{}.{}", f.stem, f.ext) {
            let mut r =
                Redirect::to(&format!("/downloads/{}", versioned(f, &ds.version))).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return Ok(r);
        }
        if name == versioned(f, &ds.version) {
            let tag = &f.etag;
            let if_none_match = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok());
            if none_match(if_none_match, tag) {
                let mut r = StatusCode::NOT_MODIFIED.into_response();
                if let Ok(v) = HeaderValue::from_str(tag) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                return Ok(r);
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
            if let Ok(v) = HeaderValue::from_str(tag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            return Ok(r);
        }
    }
    Err(AppError::NotFound(format!(
        "no download {:?} for data version {} (see /downloads)",
        name.chars().take(80).collect::<String>(),
        ds.version
    )))
}
