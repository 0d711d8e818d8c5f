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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_published_version_is_prerendered_and_replaces_the_old_tiles_at_once() {
    use partnership_map::http::{AppState, HttpConfig, router};
    let ds = partnership_map::dataset::Dataset::from_inputs(&common::shipped_inputs(), 6)
        .expect("valid");
    // Tiles no LA part comes near are known empty from the index and never stored or rendered.
    let all = partnership_map::tile::pyramid(ds.geometry.bounds, 0, 6);
    let pyramid = all
        .iter()
        .filter(|&&c| !partnership_map::pipeline::select::nothing_near(&ds, c))
        .count() as u64;
    assert!(
        pyramid > 0 && pyramid < all.len() as u64,
        "{pyramid} of {}",
        all.len()
    );
    let config = HttpConfig {
        prerender: true,
        ..HttpConfig::default()
    };
    let state =
        AppState::new(ds, TileCache::new(64 << 20), config, common::memory_store()).expect("state");
    let rendered = |n: u64| {
        let cache = state.cache.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while cache.prerendering() || cache.stats().1 < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "pre-render stalled at {:?}",
                    cache.stats()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    rendered(pyramid).await;
    assert_eq!(
        state.cache.stats(),
        (0, pyramid),
        "no request yet, the whole pyramid rendered"
    );
    let v1 = state.version_key(&state.dataset());
    assert_eq!(
        state.cache.versions().into_iter().collect::<Vec<_>>(),
        vec![v1]
    );

    // An edit: drop the first partnership, so its LAs' partnership_count changes.
    let old = state.dataset();
    let la = old.la_index(&old.partnerships[0].la_codes[0]).expect("LA");
    let tile = TileCoord::containing(old.geometry.labels[la], 6);
    let uri = format!("/tiles/6/{}/{}.pbf", tile.x, tile.y);
    let app = router(state.clone());
    let etag = |r: common::Resp| r.header("etag").expect("etag").to_owned();
    let before = etag(common::get(&app, &uri, &[("accept-encoding", "gzip")]).await);
    let mut tables = old.tables.clone();
    tables.partnerships.remove(0);
    state
        .steward
        .swap_dataset(old.with_tables(tables, None).expect("valid edit"));
    let v2 = state.version_key(&state.dataset());
    assert_ne!(v1, v2);
    // The very next request sees the new version, pre-rendered or not.
    let after = etag(common::get(&app, &uri, &[("accept-encoding", "gzip")]).await);
    assert_ne!(
        before, after,
        "a new data version gives the tile a new ETag at once"
    );
    // The old version's tiles are gone, not left to pin memory, and the new pyramid is built.
    assert!(!state.cache.versions().contains(&v1));
    rendered(2 * pyramid).await;
    assert_eq!(
        state.cache.versions().into_iter().collect::<Vec<_>>(),
        vec![v2]
    );
    let (entries, _) = state.cache.usage();
    assert_eq!(entries, pyramid);
}
