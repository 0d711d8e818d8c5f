//! Criterion benchmarks of the server-drawn map pictures at 1200 px, each stage beside the
//! others in the same run so the ratios survive a noisy shared machine:
//!
//! - `england_1200/svg`: writing the SVG from the per-zoom geometry (the baseline);
//! - `england_1200/rasterise_png`: parsing that SVG, drawing it with resvg and encoding the PNG;
//! - `england_1200/full_png`: both, what a cache miss costs;
//! - `la_1200x630/full_png`: an LA picture (the link-preview size);
//! - `serve/cached_png` vs `serve/baseline_health`: a cached picture through the router.

use std::hint::black_box;
use std::path::Path;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use partnership_map::cache::TileCache;
use partnership_map::dataset::{Dataset, Inputs};
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::render::{Picture, View, raster, svg};
use tower::ServiceExt;

fn dataset() -> Dataset {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = Inputs::read(&root.join("boundaries"), &root.join("data")).expect("shipped data");
    Dataset::from_inputs(&inputs, 12).expect("valid")
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn draw(c: &mut Criterion) {
    let ds = dataset();
    let england = Picture::parse(&ds, View::England, &query(&[("w", "1200")])).expect("pic");
    let hartlepool = ds
        .las
        .iter()
        .position(|l| l.code == "E06000001")
        .expect("LA");
    let la = Picture::parse(&ds, View::La(hartlepool), &query(&[("w", "1200")])).expect("pic");
    let doc = svg::draw(&ds, &england);
    let png = raster::png(&doc).expect("png");
    println!(
        "england 1200 px: SVG {} kB, PNG {} kB",
        doc.len() / 1024,
        png.len() / 1024
    );
    let mut g = c.benchmark_group("england_1200");
    g.sample_size(20);
    g.bench_function("svg", |b| b.iter(|| svg::draw(&ds, black_box(&england))));
    g.bench_function("rasterise_png", |b| {
        b.iter(|| raster::png(black_box(&doc)).expect("png"))
    });
    g.bench_function("full_png", |b| {
        b.iter(|| raster::png(&svg::draw(&ds, black_box(&england))).expect("png"))
    });
    g.finish();
    let mut g = c.benchmark_group("la_1200x630");
    g.sample_size(20);
    g.bench_function("full_png", |b| {
        b.iter(|| raster::png(&svg::draw(&ds, black_box(&la))).expect("png"))
    });
    g.finish();
}

fn serve(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let state = AppState::new(
        dataset(),
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
                .body(Body::empty())
                .expect("req");
            let res = app.oneshot(req).await.expect("infallible");
            assert!(res.status().is_success());
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body")
        }
    };
    rt.block_on(call("/render/england.png?w=1200"));
    let mut g = c.benchmark_group("serve");
    g.bench_function("cached_png", |b| {
        b.to_async(&rt).iter(|| call("/render/england.png?w=1200"))
    });
    g.bench_function("baseline_health", |b| {
        b.to_async(&rt).iter(|| call("/health"))
    });
    g.finish();
}

criterion_group!(benches, draw, serve);
criterion_main!(benches);
