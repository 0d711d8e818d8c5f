//! Criterion benchmark of the GIS downloads (issue 22): writing the LA layer as GeoPackage and
//! as FlatGeobuf from the GeoJSON download's features, beside the baseline of writing the same
//! features as GeoJSON text, measured in the same run; and the builds of the text downloads and
//! of the GIS downloads, each with its gzip. Prints the
//! sizes of the three files (plain and gzipped) and their ratios to the GeoJSON once.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use partnership_map::dataset::{Dataset, Inputs};
use partnership_map::downloads::{build, build_gis, la_layer_about};
use partnership_map::gis_formats::{Format, Layer, la_columns};
use serde_json::Value;

fn gis_formats(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = Inputs::read(&root.join("boundaries"), &root.join("data")).expect("shipped data");
    let ds = Dataset::from_inputs(&inputs, 12).expect("valid");
    let mut files = build(&ds);
    files.extend(build_gis(&ds));
    let file = |ext: &str| {
        files
            .iter()
            .find(|f| f.stem == "local_authorities" && f.ext == ext)
            .unwrap_or_else(|| panic!("{ext} built"))
    };
    let geojson = file("geojson");
    for ext in ["geojson", "gpkg", "fgb"] {
        let f = file(ext);
        #[allow(clippy::cast_precision_loss)]
        let ratio = |a: usize, b: usize| a as f64 / b as f64;
        eprintln!(
            "{ext}: {} bytes ({:.2}x the GeoJSON), gzipped {} bytes ({:.2}x the gzipped GeoJSON)",
            f.bytes.len(),
            ratio(f.bytes.len(), geojson.bytes.len()),
            f.gzip.len(),
            ratio(f.gzip.len(), geojson.gzip.len()),
        );
    }
    let collection: Value = serde_json::from_slice(&geojson.bytes).expect("GeoJSON");
    let features = collection["features"].as_array().expect("features").clone();
    let mut g = c.benchmark_group("gis_formats");
    g.sample_size(10);
    g.bench_function("baseline_geojson_text", |b| {
        b.iter(|| black_box(&collection).to_string())
    });
    for format in Format::ALL {
        g.bench_function(format.ext(), |b| {
            b.iter(|| {
                let layer = Layer::new(la_layer_about(&ds), black_box(&features), &la_columns())
                    .expect("layer");
                format.write(&layer).expect("written")
            })
        });
    }
    g.bench_function("text_downloads_with_gzip", |b| {
        b.iter(|| build(black_box(&ds)))
    });
    g.bench_function("gis_downloads_with_gzip", |b| {
        b.iter(|| build_gis(black_box(&ds)))
    });
    g.finish();
}

criterion_group!(benches, gis_formats);
criterion_main!(benches);
