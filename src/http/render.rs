//! `GET /render/england.{png,svg}` and `GET /render/la/{code}.{png,svg}`: map pictures drawn by
//! the server (`crate::render`), cached by data version with ETags.
//!
//! Contract: 200 with the picture; 304 when `If-None-Match` matches; 400 with a plain-text
//! reason for a bad, unknown or repeated parameter (a `w` outside 200–3000 is refused before
//! anything is drawn); 404 for an unknown LA or format. PNGs have one strong ETag; SVGs are
//! gzipped once and have a strong ETag per encoding (`Vary: Accept-Encoding`). Pictures are
//! drawn on blocking threads, at most two at a time, and each distinct request once however
//! many ask at the same moment. CORS comes from the router's layer, so other sites may use them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use moka::future::Cache;
use tokio::sync::Semaphore;

use super::AppState;
use super::negotiate::{accepts_gzip, none_match};
use crate::cache::{EncodedTile, etag};
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::render::{Format, Picture, PictureError, View, parse_la_file, raster, svg};

/// Bytes of pictures kept (PNG bytes, or gzipped SVG bytes).
pub const PICTURE_CACHE_BYTES: u64 = 48 << 20;
/// Pictures drawn at the same time (the rest wait): drawing is CPU-bound.
pub const CONCURRENT_RENDERS: usize = 2;

/// One drawn picture, ready to send.
#[derive(Debug)]
pub enum Drawn {
    /// PNG bytes and their strong ETag.
    Png {
        /// The PNG.
        bytes: Bytes,
        /// Strong ETag of `bytes`.
        etag: String,
    },
    /// The SVG, gzipped, with a strong ETag per encoding.
    Svg(EncodedTile),
}

type Key = (u64, Format, Picture);

/// Byte-bounded, coalescing cache of drawn pictures, keyed by data version and request.
#[derive(Clone)]
pub struct PictureCache {
    inner: Cache<Key, Arc<Drawn>>,
    permits: Arc<Semaphore>,
    renders: Arc<AtomicU64>,
}

impl Default for PictureCache {
    fn default() -> Self {
        Self::new(PICTURE_CACHE_BYTES)
    }
}

impl PictureCache {
    /// A cache holding at most `max_bytes` of pictures.
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &Key, v: &Arc<Drawn>| {
                let len = match v.as_ref() {
                    Drawn::Png { bytes, .. } => bytes.len(),
                    Drawn::Svg(t) => t.gzip.len(),
                };
                u32::try_from(len).unwrap_or(u32::MAX).saturating_add(256)
            })
            .build();
        Self {
            inner,
            permits: Arc::new(Semaphore::new(CONCURRENT_RENDERS)),
            renders: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Pictures drawn since start (cache misses).
    #[must_use]
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The picture, drawing it on a miss.
    ///
    /// # Errors
    /// The drawing error, shared among the callers that waited for it. Not cached.
    pub async fn get(
        &self,
        ds: Arc<Dataset>,
        version: u64,
        format: Format,
        pic: Picture,
    ) -> Result<Arc<Drawn>, Arc<PictureError>> {
        let (permits, renders) = (Arc::clone(&self.permits), Arc::clone(&self.renders));
        self.inner
            .try_get_with((version, format, pic.clone()), async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .map_err(|e| PictureError::Failed(e.to_string()))?;
                renders.fetch_add(1, Ordering::Relaxed);
                tokio::task::spawn_blocking(move || draw(&ds, &pic, format))
                    .await
                    .map_err(|e| PictureError::Failed(format!("render task failed: {e}")))?
                    .map(Arc::new)
            })
            .await
    }
}

/// Draw one picture (pure apart from CPU time).
///
/// # Errors
/// [`PictureError::Failed`] if rasterising fails.
pub fn draw(ds: &Dataset, pic: &Picture, format: Format) -> Result<Drawn, PictureError> {
    let doc = svg::draw(ds, pic);
    Ok(match format {
        Format::Svg => Drawn::Svg(EncodedTile::new(doc.as_bytes())),
        Format::Png => {
            let bytes = raster::png(&doc)?;
            Drawn::Png {
                etag: etag(&bytes),
                bytes: Bytes::from(bytes),
            }
        }
    })
}

fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, PictureError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| PictureError::BadParameter(format!("the query string is malformed: {e}")))
}

/// `GET /render/{file}`: `england.png` or `england.svg`.
///
/// # Errors
/// 400 for bad parameters, 404 for another file.
#[utoipa::path(get, path = "/render/{file}", tag = "pictures", summary = "A choropleth of England drawn by the server", params(("file" = String, Path, description = "`england.png` or `england.svg`"), ("w" = Option<u16>, Query, description = "Width in px (200–3000, default 1200)", minimum = 200, maximum = 3000), ("h" = Option<u16>, Query, description = "Height in px (200–3000; default: England's own shape)", minimum = 200, maximum = 3000), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), ("la" = Option<String>, Query, description = "Outline this LA in black"), ("similar" = Option<String>, Query, description = "Outline this LA and its statistical neighbours in orange"), ("with" = Option<String>, Query, description = "Outline these LAs in orange (up to 13, comma-separated)"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The picture", content((super::openapi::Binary = "image/png"), (String = "image/svg+xml")), headers(("ETag" = String, description = "Strong"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad, unknown or repeated parameter", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such picture or LA", body = String, content_type = "text/plain; charset=utf-8")))]
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
    let ds = state.dataset();
    let pic = Picture::parse(&ds, View::England, &query_pairs(query.as_deref())?)?;
    respond(&state, ds, format, pic, &headers).await
}

/// `GET /render/la/{code}.{png,svg}`.
///
/// # Errors
/// 404 for an unknown LA or format, 400 for bad parameters.
#[utoipa::path(get, path = "/render/la/{file}", tag = "pictures", summary = "One LA highlighted among the LAs around it", params(("file" = String, Path, description = "`{code}.png` or `{code}.svg`"), ("w" = Option<u16>, Query, description = "Width in px (200–3000, default 1200)", minimum = 200, maximum = 3000), ("h" = Option<u16>, Query, description = "Height in px (200–3000, default w × 0.525)", minimum = 200, maximum = 3000), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The picture", content((super::openapi::Binary = "image/png"), (String = "image/svg+xml")), headers(("ETag" = String, description = "Strong"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad, unknown or repeated parameter", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such LA or extension", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn la(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let (i, format) = parse_la_file(&ds, &file)?;
    let pic = Picture::parse(&ds, View::La(i), &query_pairs(query.as_deref())?)?;
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
        Drawn::Png { bytes, etag } => (etag.clone(), bytes.clone(), false),
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
                (header_text(&t.etag_gzip), t.gzip.clone(), true)
            } else {
                (header_text(&t.etag_identity), t.identity(), false)
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if none_match(
        headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
        &tag,
    ) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
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

fn header_text(v: &HeaderValue) -> String {
    v.to_str().unwrap_or_default().to_owned()
}
