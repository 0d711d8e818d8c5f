//! Drawn pictures, cached: byte-bounded and keyed by data version and request, each distinct
//! picture drawn once however many ask for it at the same moment, at most
//! [`CONCURRENT_RENDERS`] at a time on blocking threads (drawing is CPU-bound).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use moka::future::Cache;
use tokio::sync::Semaphore;

use super::{Format, Picture, PictureError, raster, svg};
use crate::cache::{EncodedTile, etag};
use crate::dataset::Dataset;

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
