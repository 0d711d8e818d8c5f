//! Criterion benchmark of publishing an edit (issue #10): parse the edit, apply it to the tables
//! (pure) and build the next data version on the shared geometry, beside the baseline of a full
//! load from the files (what a reload or a restart pays), measured in the same run.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use partnership_map::changes::{apply, parse_edit};
use partnership_map::dataset::{Dataset, Inputs};
use serde_json::json;

fn publish(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = Inputs::read(&root.join("boundaries"), &root.join("data")).expect("shipped data");
    let ds = Dataset::from_inputs(&inputs, 12).expect("valid");
    let body = json!({"kind": "partnership.update", "id": "hull-learning-partnership",
        "fields": {"notes": "Benchmarked."}, "reason": "bench"});
    let mut g = c.benchmark_group("publish");
    g.sample_size(10);
    g.bench_function("edit_apply_and_new_version", |b| {
        b.iter(|| {
            let edit = parse_edit(black_box(&body)).expect("valid edit");
            let applied = apply(&ds.tables, &edit.change).expect("applies");
            ds.with_tables(applied.tables, None).expect("publishes")
        })
    });
    g.bench_function("baseline_full_load_from_files", |b| {
        b.iter(|| Dataset::from_inputs(black_box(&inputs), 12).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
