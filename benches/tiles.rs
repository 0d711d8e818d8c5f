//! Criterion benchmarks: start-up (load + prepare) and per-tile work, each beside a baseline
//! measured in the same run, so ratios survive a noisy shared machine.
//!
//! - `load`: reading and validating the CSVs alone vs the full prepare (topology, per-zoom
//!   simplification, R-tree, labels).
//! - `render`: cold tiles at z5/z8/z10/z12, each also rendered from the *unsimplified*
//!   full-resolution geometry (the baseline a server without per-zoom simplification pays).
//! - `serve`: a cached gzip tile through the whole router vs `/health` (the cheapest request).

use std::hint::black_box;
use std::path::Path;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use partnership_map::cache::TileCache;
use partnership_map::dataset::{Dataset, Inputs};
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::pipeline::{render_tile, render_tile_from};
use partnership_map::tile::TileCoord;
use tower::ServiceExt;

fn inputs() -> Inputs {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Inputs::read(&root.join("boundaries"), &root.join("data")).expect("shipped data")
}

fn load(c: &mut Criterion) {
    let inputs = inputs();
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("full_prepare", |b| {
        b.iter(|| Dataset::from_inputs(black_box(&inputs), 12).expect("valid"))
    });
    g.bench_function("baseline_geojson_parse_only", |b| {
        b.iter(|| {
            serde_json::from_str::<serde_json::Value>(black_box(&inputs.boundaries.content))
                .expect("json")
        })
    });
    g.finish();
}

fn render(c: &mut Criterion) {
    let ds = Dataset::from_inputs(&inputs(), 12).expect("valid");
    let mut g = c.benchmark_group("render");
    g.sample_size(20);
    for (name, z, x, y) in [
        ("z5_england_south", 5u8, 15u32, 10u32),
        ("z8_midlands", 8, 127, 83),
        ("z10_london", 10, 511, 340),
        ("z12_westminster", 12, 2046, 1362),
    ] {
        let t = TileCoord::new(u64::from(z), u64::from(x), u64::from(y), 12).expect("tile");
        g.bench_function(format!("{name}/simplified"), |b| {
            b.iter(|| render_tile(&ds, black_box(t)).expect("ok"))
        });
        g.bench_function(format!("{name}/baseline_full_resolution"), |b| {
            b.iter(|| render_tile_from(&ds, 12, black_box(t)).expect("ok"));
        });
        let a = render_tile(&ds, t).expect("ok").map_or(0, |v| v.len());
        let f = render_tile_from(&ds, 12, t)
            .expect("ok")
            .map_or(0, |v| v.len());
        println!(
            "tile size {name}: simplified {a} B, full resolution {f} B ({:.2}x)",
            f as f64 / a.max(1) as f64
        );
    }
    g.finish();
}

fn serve(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let state = AppState::new(
        Dataset::from_inputs(&inputs(), 12).expect("valid"),
        TileCache::new(64 << 20),
        HttpConfig::default(),
        std::sync::Arc::new(partnership_map::store::SqliteStore::open_in_memory().expect("sqlite")),
    )
    .expect("state");
    let app = router(state);
    let call = |uri: &'static str| {
        let app = app.clone();
        async move {
            let req = Request::get(uri)
                .header("host", "bench")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .expect("req");
            let res = app.oneshot(req).await.expect("infallible");
            assert!(res.status().is_success());
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body")
        }
    };
    rt.block_on(call("/tiles/10/511/340.pbf"));
    let mut g = c.benchmark_group("serve");
    g.bench_function("cached_gzip_tile", |b| {
        b.to_async(&rt).iter(|| call("/tiles/10/511/340.pbf"))
    });
    g.bench_function("baseline_health", |b| {
        b.to_async(&rt).iter(|| call("/health"))
    });
    g.finish();
}

criterion_group!(benches, load, render, serve);
criterion_main!(benches);
