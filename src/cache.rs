//! The tile cache: gzip-compressed tiles bounded in bytes, keyed by data version and z/x/y.
//!
//! Built on `moka`'s `try_get_with`, so concurrent misses for one tile render it once and
//! errors are never stored. Tiles are stored gzip-compressed with both ETags precomputed, so a
//! hit costs a hash lookup and a clone of `Bytes`; clients without gzip get it decompressed.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use moka::future::Cache;

use crate::dataset::Dataset;
use crate::pipeline::{RenderError, render_tile};
use crate::tile::TileCoord;

/// Cache key: data version hash plus tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Hash of the dataset version.
    pub version: u64,
    /// The tile.
    pub coord: TileCoord,
}

/// gzip `raw` at level 6 (pure; writing to a `Vec` cannot fail).
#[must_use]
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 2 + 64), Compression::new(6));
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

/// A rendered, compressed tile.
#[derive(Debug, Clone)]
pub struct EncodedTile {
    /// The MVT bytes, gzip-compressed.
    pub gzip: Bytes,
    /// Strong ETag of `gzip` (quoted).
    pub etag_gzip: String,
    /// Strong ETag of the uncompressed bytes (quoted).
    pub etag_identity: String,
    /// Uncompressed size.
    pub raw_len: usize,
}

impl EncodedTile {
    /// Compress and fingerprint raw MVT bytes.
    #[must_use]
    pub fn new(raw: &[u8]) -> Self {
        let gzip = gzip(raw);
        Self {
            etag_gzip: etag(&gzip),
            etag_identity: etag(raw),
            raw_len: raw.len(),
            gzip: Bytes::from(gzip),
        }
    }

    /// The uncompressed bytes, for clients that do not accept gzip.
    #[must_use]
    pub fn identity(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.raw_len);
        // Our own gzip output; a failure here would be memory corruption.
        let _ = GzDecoder::new(&self.gzip[..]).read_to_end(&mut out);
        Bytes::from(out)
    }
}

/// A strong ETag: 128-bit xxh3 of exactly the bytes sent.
#[must_use]
pub fn etag(bytes: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A weak ETag over `bytes`: for responses the router may gzip on the way out, where the same
/// tag stands for both encodings (RFC 9110 §8.8.1: semantically equivalent, not byte-equal).
#[must_use]
pub fn weak_etag(bytes: &[u8]) -> String {
    format!("W/{}", etag(bytes))
}

/// What the cache holds for one tile: nothing there (rendered as 204), or a tile.
pub type CachedTile = Option<Arc<EncodedTile>>;

/// Byte-bounded, coalescing tile cache.
#[derive(Clone)]
pub struct TileCache {
    inner: Cache<TileKey, CachedTile>,
    requests: Arc<AtomicU64>,
    renders: Arc<AtomicU64>,
}

/// Bookkeeping overhead charged per entry on top of its bytes.
const ENTRY_OVERHEAD: u32 = 160;

impl TileCache {
    /// A cache holding at most `max_bytes` of compressed tiles (plus per-entry overhead).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &TileKey, v: &CachedTile| {
                let len = v
                    .as_ref()
                    .map_or(0, |t| t.gzip.len() + t.etag_gzip.len() * 2);
                u32::try_from(len)
                    .unwrap_or(u32::MAX)
                    .saturating_add(ENTRY_OVERHEAD)
            })
            .build();
        Self {
            inner,
            requests: Arc::new(AtomicU64::new(0)),
            renders: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The tile from the cache, rendering it (once, however many ask at the same time) on a miss.
    ///
    /// # Errors
    /// The render error, shared among the callers that waited for it. Not cached.
    pub async fn get(
        &self,
        ds: Arc<Dataset>,
        version: u64,
        coord: TileCoord,
    ) -> Result<CachedTile, Arc<RenderError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let renders = Arc::clone(&self.renders);
        self.inner
            .try_get_with(TileKey { version, coord }, async move {
                renders.fetch_add(1, Ordering::Relaxed);
                let rendered = tokio::task::spawn_blocking(move || {
                    render_tile(&ds, coord).map(|t| t.map(|raw| Arc::new(EncodedTile::new(&raw))))
                })
                .await;
                rendered.unwrap_or_else(|e| {
                    Err(RenderError::Encode(format!("render task failed: {e}")))
                })
            })
            .await
    }

    /// `(requests, renders)` since start: renders are misses.
    #[must_use]
    pub fn stats(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.renders.load(Ordering::Relaxed),
        )
    }

    /// Weighted size in bytes (after pending maintenance).
    pub async fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.weighted_size()
    }

    /// Drop every entry (e.g. after a data reload).
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }
}
