//! Writing KPI tables: Parquet (with the definitions in force as file metadata) and CSV. Files are written
//! into a work folder inside the output directory and renamed into place only once every table is done, so
//! a failed run leaves no half-written file and keeps the previous outputs.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::Error;
use crate::plan::{OutputFormat, Plan};

pub struct Output {
    dir: PathBuf,
    work: tempfile::TempDir,
    written: Vec<PathBuf>,
}

fn output_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

impl Output {
    pub fn create(dir: &Path) -> Result<Output, Error> {
        std::fs::create_dir_all(dir).map_err(|e| output_error(dir, e))?;
        let work =
            tempfile::Builder::new().prefix(".deskpulse-work-").tempdir_in(dir).map_err(|e| output_error(dir, e))?;
        std::fs::create_dir_all(work.path().join("out")).map_err(|e| output_error(work.path(), e))?;
        Ok(Output { dir: dir.to_path_buf(), work, written: Vec::new() })
    }

    /// Scratch space inside the output directory (same disk, removed when the run ends).
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// A path in the work folder for the output file `relative` (e.g. `_rejected/tickets.parquet`), to be
    /// moved into place by `commit`.
    pub fn reserve(&mut self, relative: &str) -> Result<PathBuf, Error> {
        let path = self.work.path().join("out").join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
        }
        self.written.push(PathBuf::from(relative));
        Ok(path)
    }

    /// Writes one table in each format; returns the final paths the files will have.
    pub fn write_table(
        &mut self,
        name: &str,
        df: &mut DataFrame,
        formats: &[OutputFormat],
        metadata: &[(String, String)],
    ) -> Result<Vec<PathBuf>, Error> {
        let mut finals = Vec::new();
        for format in formats {
            let file_name = format!("{name}.{}", format.extension());
            let tmp = self.work.path().join("out").join(&file_name);
            if let Some(parent) = tmp.parent() {
                std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
            }
            let mut file = File::create(&tmp).map_err(|e| output_error(&tmp, e))?;
            match format {
                OutputFormat::Parquet => {
                    ParquetWriter::new(&mut file)
                        .with_compression(ParquetCompression::Zstd(None))
                        .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata.to_vec())))
                        .finish(df)
                        .map_err(|e| output_error(&tmp, e))?;
                },
                OutputFormat::Csv => {
                    CsvWriter::new(&mut file)
                        .include_header(true)
                        .with_date_format(Some("%Y-%m-%d".into()))
                        .finish(df)
                        .map_err(|e| output_error(&tmp, e))?;
                },
            }
            file.sync_all().map_err(|e| output_error(&tmp, e))?;
            self.written.push(PathBuf::from(file_name));
            finals.push(self.dir.join(format!("{name}.{}", format.extension())));
        }
        Ok(finals)
    }

    /// Moves every written file into the output directory (each rename is atomic).
    pub fn commit(self) -> Result<(), Error> {
        for name in &self.written {
            let from = self.work.path().join("out").join(name);
            let to = self.dir.join(name);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| output_error(&to, e))?;
        }
        Ok(())
    }
}

/// Parquet key-value metadata: the pipeline, the definition choices and the KPI formulas in force.
pub fn metadata(plan: &Plan) -> Vec<(String, String)> {
    let kpis: Vec<serde_json::Value> = plan
        .kpis
        .iter()
        .map(|k| {
            serde_json::json!({
                "kpi": k.name,
                "table": k.table.name(),
                "filter": k.filter.as_ref().map(|f| f.to_string()),
                "direction": k.direction.as_str(),
                "min_sample": k.min_sample,
                "stats": k.stats.iter().map(|s| serde_json::json!({
                    "stat": s.stat, "unit": s.unit.as_str(), "formula": crate::catalog::describe(&s.aggregate)
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    vec![
        ("deskpulse.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("deskpulse.pipeline".into(), plan.name.clone()),
        ("deskpulse.definitions".into(), serde_json::to_string(&plan.definitions).unwrap_or_default()),
        ("deskpulse.kpis".into(), serde_json::Value::Array(kpis).to_string()),
    ]
}
