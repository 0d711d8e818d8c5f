//! The tile cache: rendered tiles bounded in bytes, keyed by data version and z/x/y, filled in
//! the background for the whole pyramid whenever a data version is published.
//!
//! Built on `moka`'s synchronous cache: a hit is one hash lookup and an `Arc` clone, with the
//! tile's bytes and header values made once, at render time. A miss renders on a blocking
//! thread (at most [`TileCache::render_slots`] at once) through `try_get_with`, so concurrent
//! misses for one tile render it once and errors are never stored. Tiles are kept gzip-compressed;
//! the uncompressed bytes, for the rare client without gzip, are cached as entries of their own
//! when first asked for, so the hottest stay and the rest are evicted first.
//!
//! [`TileCache::publish`] makes a version current: entries of other versions are dropped (they
//! must not pin memory) and never stored again, and the pyramid of the new version is rendered
//! in the background, lowest zooms first, until done or the cache is nearly full. The pre-render
//! runs on one thread at idle CPU priority (`crate::background`), so it never delays a request.
//! Until it is done, requests for tiles not rendered yet render them on demand.
//!
//! Many tiles repeat: of the shipped data's 60,950 non-empty z14 tiles, 11,800 are distinct
//! (most others are the inside of one LA: the same square with the same attributes). Small tiles are found by the fingerprint of their content
//! (`pipeline::TileContent::fingerprint`) before they are encoded, and share one compressed copy
//! (a sixteenth of the cache's bytes, at most [`SHARED_BYTES`], counted once and within the
//! cache's bound). gzip reuses one compressor per thread.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::HeaderValue;
use bytes::Bytes;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::{Compress, Compression, FlushCompress, Status};
use moka::sync::Cache;
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::pipeline::select::nothing_near;
use crate::pipeline::{RenderError, prepare};
use crate::tile::TileCoord;

/// Cache key: data version hash plus tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Hash of the dataset version.
    pub version: u64,
    /// The tile.
    pub coord: TileCoord,
}

/// What an entry holds: the tile as rendered, or a tile's uncompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Tile,
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EntryKey {
    tile: TileKey,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Entry {
    Tile(CachedTile),
    Identity(Bytes),
}

/// The gzip header flate2's `GzEncoder` writes at level 6: no name, no mtime, OS "unknown".
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// One raw-deflate compressor per thread, reset between tiles: setting one up costs more
    /// than compressing a small tile.
    static DEFLATE: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::new(6), false));
}

/// gzip `raw` at level 6 (the same bytes as flate2's `GzEncoder`; pure: writing to a `Vec`
/// cannot fail).
#[must_use]
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let done = DEFLATE.with_borrow_mut(|c| {
        c.reset();
        loop {
            let read = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
            out.reserve(raw.len() / 4 + 64);
            match c.compress_vec(
                raw.get(read..).unwrap_or_default(),
                &mut out,
                FlushCompress::Finish,
            ) {
                Ok(Status::StreamEnd) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    });
    if !done {
        // Not reachable with a valid compressor; fall back to the one-shot encoder.
        let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 2 + 64), Compression::new(6));
        let _ = enc.write_all(raw);
        return enc.finish().unwrap_or_default();
    }
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    #[allow(clippy::cast_possible_truncation)]
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out
}

/// A rendered, compressed tile with its response header values made once.
#[derive(Debug, Clone)]
pub struct EncodedTile {
    /// The MVT bytes, gzip-compressed.
    pub gzip: Bytes,
    /// Strong ETag of `gzip` (quoted).
    pub etag_gzip: HeaderValue,
    /// Strong ETag of the uncompressed bytes (quoted).
    pub etag_identity: HeaderValue,
    /// Uncompressed size.
    pub raw_len: usize,
    /// Held by the cache's table of shared tiles too (many tiles have the same bytes: an LA's
    /// interior at high zoom), whose bytes are counted there, not per entry.
    pub shared: bool,
}

impl EncodedTile {
    /// Compress and fingerprint raw MVT bytes.
    #[must_use]
    pub fn new(raw: &[u8]) -> Self {
        let gzip = gzip(raw);
        Self {
            etag_gzip: etag_value(&gzip),
            etag_identity: etag_value(raw),
            raw_len: raw.len(),
            gzip: Bytes::from(gzip),
            shared: false,
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

fn etag_value(bytes: &[u8]) -> HeaderValue {
    // Hex digits in quotes: always a valid header value.
    HeaderValue::from_str(&etag(bytes)).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// A weak ETag over `bytes`: for responses the router may gzip on the way out, where the same
/// tag stands for both encodings (RFC 9110 §8.8.1: semantically equivalent, not byte-equal).
#[must_use]
pub fn weak_etag(bytes: &[u8]) -> String {
    format!("W/{}", etag(bytes))
}

/// The cache-key form of a dataset's version: its 16 hex digits as a number, never 0 (the
/// cache's "no version yet").
#[must_use]
pub fn version_key(ds: &Dataset) -> u64 {
    u64::from_str_radix(&ds.version, 16).unwrap_or(1).max(1)
}

/// What the cache holds for one tile: nothing there (rendered as 204), or a tile.
pub type CachedTile = Option<Arc<EncodedTile>>;

/// Byte-bounded, coalescing tile cache.
#[derive(Clone)]
pub struct TileCache {
    inner: Cache<EntryKey, Entry>,
    capacity: u64,
    requests: Arc<AtomicU64>,
    renders: Arc<AtomicU64>,
    /// The version being served: other versions are not stored, except `others`.
    current: Arc<AtomicU64>,
    /// A few more versions whose tiles are stored: other days' maps (another vintage, a past
    /// day), newest last.
    others: Arc<Mutex<std::collections::VecDeque<u64>>>,
    /// Bumped by every [`TileCache::publish`]; a pre-render of an older one stops.
    generation: Arc<AtomicU64>,
    render_slots: Arc<tokio::sync::Semaphore>,
    /// Pre-renders running (an older one stops soon after a newer one starts).
    prerendering: Arc<AtomicU64>,
    /// Tiles of the current version whose bytes other tiles repeat, by content.
    shared: Arc<Mutex<SharedTiles>>,
    /// Bytes `shared` may hold (taken from `capacity`).
    shared_cap: usize,
}

/// Small tiles by their content's fingerprint (`pipeline::TileContent::fingerprint`), so a
/// repeated tile is encoded and compressed once and held once. Bounded by `TileCache::shared_cap`.
#[derive(Default)]
struct SharedTiles {
    version: u64,
    by_content: HashMap<u128, Arc<EncodedTile>>,
    bytes: usize,
}

impl SharedTiles {
    /// An empty table for `version`.
    fn emptied(version: u64) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }
}

/// Most bytes the table of shared tiles may hold (it takes a sixteenth of the cache's bound,
/// up to this).
const SHARED_BYTES: u64 = 8 << 20;

/// Bookkeeping overhead charged per entry on top of its bytes.
const ENTRY_OVERHEAD: u32 = 200;

/// The pre-render stops when the cache is this full (per mille), leaving room for the rest.
const PRERENDER_FILL_PER_MILLE: u64 = 900;

/// How many other days' versions [`TileCache::also_store`] keeps storing.
const OTHER_VERSIONS: usize = 8;

/// No version published yet: every version may be stored.
const ANY_VERSION: u64 = 0;

impl TileCache {
    /// A cache holding at most `max_bytes` of tiles (plus per-entry overhead).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let shared_cap = (max_bytes / 16).min(SHARED_BYTES);
        let inner = Cache::builder()
            .max_capacity(max_bytes - shared_cap)
            .weigher(|_k: &EntryKey, v: &Entry| {
                let len = match v {
                    Entry::Tile(t) => t
                        .as_ref()
                        .filter(|t| !t.shared)
                        .map_or(0, |t| t.gzip.len() + 2 * 36),
                    Entry::Identity(b) => b.len(),
                };
                u32::try_from(len)
                    .unwrap_or(u32::MAX)
                    .saturating_add(ENTRY_OVERHEAD)
            })
            .build();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            inner,
            capacity: max_bytes,
            shared_cap: usize::try_from(shared_cap).unwrap_or(usize::MAX),
            requests: Arc::new(AtomicU64::new(0)),
            renders: Arc::new(AtomicU64::new(0)),
            current: Arc::new(AtomicU64::new(ANY_VERSION)),
            others: Arc::default(),
            generation: Arc::new(AtomicU64::new(0)),
            render_slots: Arc::new(tokio::sync::Semaphore::new(cores * 2)),
            prerendering: Arc::new(AtomicU64::new(0)),
            shared: Arc::default(),
        }
    }

    /// On-demand renders that may run at once.
    #[must_use]
    pub fn render_slots(&self) -> usize {
        self.render_slots.available_permits()
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
        let key = EntryKey {
            tile: TileKey { version, coord },
            kind: Kind::Tile,
        };
        if let Some(Entry::Tile(t)) = self.inner.get(&key) {
            crate::metrics::tile_cache_hit();
            return Ok(t);
        }
        if nothing_near(&ds, coord) {
            // Empty, and known so from the index alone: not worth an entry.
            crate::metrics::tile_cache_hit();
            return Ok(None);
        }
        crate::metrics::tile_cache_miss();
        // A closed semaphore never happens (it is never closed); render without a slot then.
        let _slot = self.render_slots.acquire().await.ok();
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.get_or_render(&ds, version, coord))
            .await
            .unwrap_or_else(|e| {
                Err(Arc::new(RenderError::Encode(format!(
                    "render task failed: {e}"
                ))))
            })
    }

    /// The tile if the cache holds it (a hit, counted as one), or `Some(None)` for a tile no
    /// LA comes near (known from the index, never stored), without waiting or rendering.
    /// `None` is not counted: the caller goes on to [`TileCache::get`], which counts the miss.
    #[must_use]
    pub fn peek(&self, ds: &Dataset, version: u64, coord: TileCoord) -> Option<CachedTile> {
        let key = EntryKey {
            tile: TileKey { version, coord },
            kind: Kind::Tile,
        };
        let found = match self.inner.get(&key) {
            Some(Entry::Tile(t)) => Some(t),
            _ if nothing_near(ds, coord) => Some(None),
            _ => None,
        };
        if found.is_some() {
            self.requests.fetch_add(1, Ordering::Relaxed);
            crate::metrics::tile_cache_hit();
        }
        found
    }

    /// Blocking, on the caller's thread: the cached tile, or render it now (counted as a miss).
    /// For tiles known to be quick to render, where handing the work to another thread costs
    /// more than the work; after [`TileCache::peek`], which answers tiles known empty.
    ///
    /// # Errors
    /// The render error (not cached).
    pub fn get_now(
        &self,
        ds: &Dataset,
        version: u64,
        coord: TileCoord,
    ) -> Result<CachedTile, Arc<RenderError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        crate::metrics::tile_cache_miss();
        self.get_or_render(ds, version, coord)
    }

    /// Blocking: the cached tile, or render and store it (coalescing with other threads).
    fn get_or_render(
        &self,
        ds: &Dataset,
        version: u64,
        coord: TileCoord,
    ) -> Result<CachedTile, Arc<RenderError>> {
        let render = || {
            self.renders.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let tile = self.render(ds, version, coord);
            crate::metrics::tile_rendered(started.elapsed());
            tile
        };
        if !self.stores(version) {
            // An older version, still asked for by requests that started before a publish.
            return render().map_err(Arc::new);
        }
        let key = EntryKey {
            tile: TileKey { version, coord },
            kind: Kind::Tile,
        };
        let entry = self.inner.try_get_with(key, || render().map(Entry::Tile))?;
        if !self.stores(version) {
            // Published over while rendering: do not leave it behind.
            self.inner.invalidate(&key);
        }
        match entry {
            Entry::Tile(t) => Ok(t),
            Entry::Identity(_) => Ok(None),
        }
    }

    /// Render and compress a tile; small content already rendered for this version (found by
    /// its fingerprint) is not encoded or compressed again.
    fn render(
        &self,
        ds: &Dataset,
        version: u64,
        coord: TileCoord,
    ) -> Result<CachedTile, RenderError> {
        let content = prepare(ds, coord.z, coord)?;
        let Some(key) = content.fingerprint() else {
            return Ok(content
                .encode()?
                .map(|raw| Arc::new(EncodedTile::new(&raw))));
        };
        self.shared(version, key, || content.encode())
    }

    /// The shared tile of `version` with fingerprint `key`, made by `make` if not there yet.
    fn shared(
        &self,
        version: u64,
        key: u128,
        make: impl FnOnce() -> Result<Option<Vec<u8>>, RenderError>,
    ) -> Result<CachedTile, RenderError> {
        if let Ok(shared) = self.shared.lock()
            && shared.version == version
            && let Some(t) = shared.by_content.get(&key)
        {
            return Ok(Some(Arc::clone(t)));
        }
        let Some(raw) = make()? else {
            return Ok(None);
        };
        let mut tile = EncodedTile::new(&raw);
        let Ok(mut shared) = self.shared.lock() else {
            return Ok(Some(Arc::new(tile)));
        };
        if shared.version != version {
            if !self.stores(version) {
                return Ok(Some(Arc::new(tile)));
            }
            *shared = SharedTiles::emptied(version);
        }
        if let Some(t) = shared.by_content.get(&key) {
            return Ok(Some(Arc::clone(t)));
        }
        let size = tile.gzip.len() + 2 * 36 + ENTRY_OVERHEAD as usize;
        if shared.bytes + size > self.shared_cap {
            return Ok(Some(Arc::new(tile)));
        }
        tile.shared = true;
        let tile = Arc::new(tile);
        shared.bytes += size;
        shared.by_content.insert(key, Arc::clone(&tile));
        Ok(Some(tile))
    }

    fn stores(&self, version: u64) -> bool {
        let current = self.current.load(Ordering::SeqCst);
        current == ANY_VERSION
            || current == version
            || self.others.lock().is_ok_and(|o| o.contains(&version))
    }

    /// Store the tiles of `version` too (another day's map), besides the current version's.
    /// Only the last [`OTHER_VERSIONS`] asked for are kept.
    pub fn also_store(&self, version: u64) {
        if let Ok(mut o) = self.others.lock()
            && !o.contains(&version)
        {
            o.push_back(version);
            while o.len() > OTHER_VERSIONS {
                o.pop_front();
            }
        }
    }

    /// The uncompressed bytes of `tile` (the cached tile of `version`/`coord`), cached on
    /// first use.
    #[must_use]
    pub fn identity(&self, version: u64, coord: TileCoord, tile: &EncodedTile) -> Bytes {
        let key = EntryKey {
            tile: TileKey { version, coord },
            kind: Kind::Identity,
        };
        if let Some(Entry::Identity(b)) = self.inner.get(&key) {
            return b;
        }
        let bytes = tile.identity();
        if self.stores(version) {
            self.inner.insert(key, Entry::Identity(bytes.clone()));
            if !self.stores(version) {
                self.inner.invalidate(&key);
            }
        }
        bytes
    }

    /// Make `version` (of `ds`) the one served: drop other versions' entries, and if
    /// `prerender`, render its whole pyramid in the background (a later publish stops it).
    pub fn publish(&self, ds: Arc<Dataset>, version: u64, prerender: bool) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.current.store(version, Ordering::SeqCst);
        // Entries of other versions: never asked for again once in-flight requests finish.
        // (Entries of this version made before this moment go too; they are re-rendered.)
        self.inner.invalidate_all();
        self.inner.run_pending_tasks();
        if let Ok(mut shared) = self.shared.lock() {
            *shared = SharedTiles::emptied(version);
        }
        crate::metrics::prerender_progress(0);
        if !prerender {
            return;
        }
        let this = self.clone();
        self.prerendering.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("prerender".to_owned())
            .spawn(move || {
                // At idle CPU priority: a request's render never waits behind the pre-render.
                crate::background::make_current_thread_idle();
                match crate::background::idle_pool() {
                    Some(pool) => pool.install(|| this.prerender(&ds, version, generation)),
                    None => this.prerender(&ds, version, generation),
                }
                this.prerendering.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.prerendering.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("cannot start the pre-render: {e}; tiles render on demand");
        }
    }

    fn prerender(&self, ds: &Dataset, version: u64, generation: u64) {
        let started = Instant::now();
        let coords = crate::tile::pyramid(ds.geometry.bounds, 0, ds.max_zoom());
        let done = AtomicU64::new(0);
        let limit = self.capacity / 1000 * PRERENDER_FILL_PER_MILLE;
        let outcome = coords.par_iter().try_for_each(|&coord| {
            if self.generation.load(Ordering::Relaxed) != generation {
                return Err("superseded by a newer data version");
            }
            if self.inner.weighted_size() > limit {
                return Err("the tile cache is nearly full (raise --cache-mb to hold the pyramid)");
            }
            // Known empty from the index: nothing to render or store.
            if !nothing_near(ds, coord)
                && let Err(e) = self.get_or_render(ds, version, coord)
            {
                tracing::error!(
                    z = coord.z,
                    x = coord.x,
                    y = coord.y,
                    "pre-render failed: {e}"
                );
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(16) {
                crate::metrics::prerender_progress(n);
                self.inner.run_pending_tasks();
            }
            Ok(())
        });
        let n = done.load(Ordering::Relaxed);
        crate::metrics::prerender_progress(n);
        self.inner.run_pending_tasks();
        match outcome {
            Ok(()) => {
                crate::metrics::prerender_finished(started.elapsed());
                tracing::info!(
                    tiles = n,
                    zooms = format!("0-{}", ds.max_zoom()),
                    elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    cache_bytes = self.inner.weighted_size(),
                    "pre-rendered the pyramid of data version {}",
                    ds.version
                );
            }
            Err(why) => tracing::info!(
                tiles = n,
                of = coords.len(),
                "pre-render of data version {} stopped: {why}",
                ds.version
            ),
        }
    }

    /// Whether a background pre-render is running.
    #[must_use]
    pub fn prerendering(&self) -> bool {
        self.prerendering.load(Ordering::SeqCst) > 0
    }

    /// `(requests, renders)` since start: renders are misses.
    #[must_use]
    pub fn stats(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.renders.load(Ordering::Relaxed),
        )
    }

    /// `(entries, bytes)` held (after pending maintenance), the shared tiles' bytes included.
    #[must_use]
    pub fn usage(&self) -> (u64, u64) {
        self.inner.run_pending_tasks();
        let shared = self.shared.lock().map_or(0, |s| s.bytes as u64);
        (
            self.inner.entry_count(),
            self.inner.weighted_size() + shared,
        )
    }

    /// The data versions that have entries (after pending maintenance).
    #[must_use]
    pub fn versions(&self) -> std::collections::BTreeSet<u64> {
        self.inner.run_pending_tasks();
        self.inner.iter().map(|(k, _)| k.tile.version).collect()
    }

    /// Weighted size in bytes (after pending maintenance).
    pub async fn weighted_size(&self) -> u64 {
        self.usage().1
    }

    /// Drop every entry.
    pub fn clear(&self) {
        self.inner.invalidate_all();
        if let Ok(mut shared) = self.shared.lock() {
            let version = shared.version;
            *shared = SharedTiles::emptied(version);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn gzip_with_a_reused_compressor_writes_what_the_one_shot_encoder_writes() {
        // Empty, tiny, a tile-sized run, and a large input that needs several output chunks.
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for raw in [&b""[..], b"x", &[7u8; 3000][..], &big[..]] {
            let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
            enc.write_all(raw).expect("write");
            let reference = enc.finish().expect("finish");
            // Twice: the second time reuses the thread's compressor after a reset.
            assert_eq!(gzip(raw), reference, "{} bytes", raw.len());
            assert_eq!(gzip(raw), reference, "{} bytes, reused", raw.len());
            assert_eq!(gunzip(&gzip(raw)), raw);
        }
    }

    #[test]
    fn repeated_small_tiles_are_encoded_once_and_counted_once() {
        let cache = TileCache::new(1 << 20);
        let raw = vec![1u8; 500];
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Ok(Some(raw.clone()))
        };
        let a = cache.shared(7, 42, make).expect("ok").expect("tile");
        let b = cache.shared(7, 42, make).expect("ok").expect("tile");
        assert_eq!(
            made.get(),
            1,
            "the second tile with that content is not made again"
        );
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.shared);
        assert_eq!(gunzip(&a.gzip), raw);
        // The weigher charges a shared tile only its overhead; the table counts its bytes.
        let (_, bytes) = cache.usage();
        assert!(bytes >= a.gzip.len() as u64, "{bytes}");
        // Another version does not see the first one's tiles.
        let c = cache.shared(8, 42, make).expect("ok").expect("tile");
        assert_eq!(made.get(), 2);
        assert!(!Arc::ptr_eq(&a, &c));
        // Empty content is no tile.
        assert!(cache.shared(8, 43, || Ok(None)).expect("ok").is_none());
    }

    #[test]
    fn shared_tiles_render_the_same_bytes_as_the_pipeline() {
        // Every tile of a few high-zoom rows, through the cache (with sharing) and straight
        // from the pipeline: the same bytes, and many tiles shared.
        let ds = Arc::new(
            crate::dataset::Dataset::from_inputs(
                &crate::dataset::Inputs::read(
                    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/boundaries")),
                    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")),
                )
                .expect("shipped data"),
                14,
            )
            .expect("valid"),
        );
        let cache = TileCache::new(64 << 20);
        cache.publish(Arc::clone(&ds), 9, false);
        let mut shared = 0;
        let mut tiles = 0;
        // Around Birmingham at z14: a block of 40 x 10 tiles.
        for x in 8120..8160 {
            for y in 5460..5470 {
                let coord = TileCoord { z: 14, x, y };
                let via_cache = cache.render(&ds, 9, coord).expect("render");
                let direct = crate::pipeline::render_tile(&ds, coord).expect("render");
                match (via_cache, direct) {
                    (Some(t), Some(raw)) => {
                        assert_eq!(gunzip(&t.gzip), raw, "{coord:?}");
                        tiles += 1;
                        shared += usize::from(t.shared);
                    }
                    (None, None) => {}
                    (a, b) => panic!("{coord:?}: {:?} vs {:?}", a.is_some(), b.is_some()),
                }
            }
        }
        assert!(tiles > 300, "{tiles} tiles");
        assert!(shared > tiles / 4, "{shared} of {tiles} tiles shared");
    }
}
