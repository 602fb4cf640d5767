//! End-to-end KPI computation through the library on the shipped sample (4,200 tickets, five segments):
//! parse + normalise + stage + every segment's KPI table + writes. `cargo bench --bench kpis`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

fn sample_pipeline(c: &mut Criterion) {
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/support_kpis.yaml");
    let plan = deskpulse::load_plan(&pipeline).expect("sample pipeline is valid");
    let out = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("sample");
    group.sample_size(20);
    group.bench_function("run support_kpis (4,200 tickets, 5 segments)", |b| {
        b.iter(|| deskpulse::exec::run(&plan, out.path()).expect("run succeeds"))
    });
    group.finish();
}

criterion_group!(benches, sample_pipeline);
criterion_main!(benches);
