//! The tile cache: bounded in bytes, one render for concurrent misses, keyed by data version.

mod common;

use std::sync::Arc;

use partnership_map::cache::TileCache;
use partnership_map::tile::TileCoord;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_tile_render_it_once() {
    let ds = common::dataset();
    let cache = TileCache::new(64 << 20);
    let coord = TileCoord::new(8, 127, 83, 12).expect("tile");
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (cache, ds) = (cache.clone(), Arc::clone(&ds));
            tokio::spawn(async move {
                cache
                    .get(ds, 1, coord)
                    .await
                    .expect("render")
                    .expect("not empty")
                    .etag_gzip
                    .clone()
            })
        })
        .collect();
    let mut etags = Vec::new();
    for t in tasks {
        etags.push(t.await.expect("join"));
    }
    assert!(etags.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(cache.stats(), (32, 1), "32 requests, 1 render");
    // A new data version is a different key: rendered again.
    cache.get(Arc::clone(&ds), 2, coord).await.expect("render");
    assert_eq!(cache.stats(), (33, 2));
}

#[tokio::test]
async fn the_cache_never_holds_more_bytes_than_its_bound() {
    let ds = common::dataset();
    let bound = 64 * 1024;
    let cache = TileCache::new(bound);
    let mut stored = 0usize;
    for (z, x, y) in common::england_tiles(&ds, 8) {
        let coord = TileCoord::new(u64::from(z), u64::from(x), u64::from(y), 12).expect("tile");
        if let Some(t) = cache.get(Arc::clone(&ds), 1, coord).await.expect("render") {
            stored += t.gzip.len();
        }
    }
    assert!(
        stored as u64 > 2 * bound,
        "the test must overflow the cache ({stored} bytes)"
    );
    let size = cache.weighted_size().await;
    assert!(size <= bound, "cache holds {size} bytes, bound {bound}");
    assert!(size > bound / 4, "and is actually used ({size})");
}
