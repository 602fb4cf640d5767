//! Helpers shared by the integration tests: running pipelines and reading KPI rows back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use polars::prelude::*;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a pipeline through the library into a fresh temporary directory.
pub fn run(pipeline: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let plan = deskpulse::load_plan(pipeline).unwrap_or_else(|e| panic!("{e}"));
    deskpulse::exec::run(&plan, out.path()).unwrap_or_else(|e| panic!("{e}"));
    out
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .finish()
        .unwrap()
}

#[derive(Debug, PartialEq)]
pub struct Row {
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub n: i64,
    pub unit: String,
    pub low_sample: bool,
}

/// The one row of `kpi`/`stat` where each dimension equals the given value (`None`: null) and the period
/// starts on `period` (`None`: null).
pub fn row(df: &DataFrame, dims: &[(&str, Option<&str>)], period: Option<&str>, kpi: &str, stat: &str) -> Row {
    let mut pred = col("kpi").eq(lit(kpi)).and(col("stat").eq(lit(stat)));
    for (d, v) in dims {
        pred = pred.and(match v {
            Some(v) => col(*d).eq(lit(*v)),
            None => col(*d).is_null(),
        });
    }
    pred = pred.and(match period {
        Some(p) => col("period_start").cast(DataType::String).eq(lit(p)),
        None => col("period_start").is_null(),
    });
    let found = df.clone().lazy().filter(pred).collect().unwrap();
    assert_eq!(found.height(), 1, "expected one row for {dims:?} {period:?} {kpi}/{stat}, found:\n{found}");
    let f = |c: &str| found.column(c).unwrap().f64().unwrap().get(0);
    Row {
        value: f("value").unwrap(),
        numerator: f("numerator"),
        denominator: f("denominator"),
        n: found.column("n").unwrap().i64().unwrap().get(0).unwrap(),
        unit: found.column("unit").unwrap().str().unwrap().get(0).unwrap().to_string(),
        low_sample: found.column("low_sample").unwrap().bool().unwrap().get(0).unwrap(),
    }
}

/// Rows of `kpi` whose `channel` is `channel`.
pub fn count(df: &DataFrame, kpi: &str, channel: Option<&str>) -> usize {
    let mut pred = col("kpi").eq(lit(kpi));
    if let Some(c) = channel {
        pred = pred.and(col("channel").eq(lit(c)));
    }
    df.clone().lazy().filter(pred).collect().unwrap().height()
}

pub fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < 1e-9 * expected.abs().max(1.0), "{what}: got {actual}, expected {expected}");
}

/// A copy of `tests/fixtures/<name>/` in a temporary directory, its `pipeline.yaml` rewritten by `edit`:
/// the fixture with one option changed.
pub fn fixture_variant(name: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("tests/fixtures").join(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let yaml = std::fs::read_to_string(dir.path().join("pipeline.yaml")).unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), edit(&yaml)).unwrap();
    dir
}

/// Every CSV table under `dir`, sorted.
pub fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(csv_files(&path));
        } else if path.extension().is_some_and(|e| e == "csv") {
            found.push(path);
        }
    }
    found.sort();
    found
}

pub fn read_csv_text(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every CSV table under `expected` (at least `at_least` of them) has the same bytes under `actual`: a run's
/// outputs do not depend on its engine.
pub fn assert_same_tables(expected: &Path, actual: &Path, at_least: usize) {
    let files = csv_files(expected);
    assert!(files.len() >= at_least, "{} tables, expected at least {at_least}: {files:?}", files.len());
    for file in files {
        let relative = file.strip_prefix(expected).unwrap();
        let (a, b) = (std::fs::read_to_string(&file).unwrap(), std::fs::read_to_string(actual.join(relative)).unwrap());
        if a != b {
            let differing = a.lines().zip(b.lines()).enumerate().filter(|(_, (x, y))| x != y).count();
            let first = a.lines().zip(b.lines()).enumerate().find(|(_, (x, y))| x != y);
            panic!("{}: {differing} line(s) differ, first {first:?}", relative.display());
        }
    }
}
