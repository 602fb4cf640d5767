//! KPI computation through the library (`cargo bench --bench kpis`):
//! - `sample`: the shipped sample pipeline end to end (parse, normalise, stage, quarantine, every segment,
//!   benchmarks, review sample and follow-up, writes);
//! - `generated`: the core KPIs by sector × channel × month on 200,000 generated tickets (Parquet files made
//!   once by `deskpulse generate` before timing).
//!
//! The comparison with DuckDB and Python Polars on 1M and 10M tickets is `benches/compare.sh`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

fn sample_pipeline(c: &mut Criterion) {
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/support_kpis.yaml");
    let plan = deskpulse::load_plan(&pipeline).expect("sample pipeline is valid");
    let out = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("sample");
    group.sample_size(10);
    group.bench_function("run support_kpis (4,200 tickets, all outputs)", |b| {
        b.iter(|| deskpulse::exec::run(&plan, out.path()).expect("run succeeds"))
    });
    group.finish();
}

fn generated(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("temp dir");
    let dump = data.path().join("dump");
    deskpulse::generate::generate(200_000, 7, 1, &dump, deskpulse::generate::FileFormat::Parquet).expect("generate");
    let plan = deskpulse::load_plan(&dump.join("pipeline.yaml")).expect("generated pipeline is valid");
    let out = data.path().join("out");
    let mut group = c.benchmark_group("generated");
    group.sample_size(10);
    group.bench_function("core KPIs by sector x channel x month (200,000 tickets, Parquet)", |b| {
        b.iter(|| deskpulse::exec::run(&plan, &out).expect("run succeeds"))
    });
    group.finish();
}

criterion_group!(benches, sample_pipeline, generated);
criterion_main!(benches);
