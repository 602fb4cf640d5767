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
    /// Work folders of runs that died (killed, out of memory, power cut) found and removed at the start.
    pub removed_stale: Vec<PathBuf>,
}

const WORK_PREFIX: &str = ".deskpulse-work-";
/// The file in a work folder naming the process that owns it.
const OWNER_FILE: &str = "owner.pid";

fn output_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

impl Output {
    pub fn create(dir: &Path) -> Result<Output, Error> {
        std::fs::create_dir_all(dir).map_err(|e| output_error(dir, e))?;
        let removed_stale = remove_stale_work(dir)?;
        let work = tempfile::Builder::new().prefix(WORK_PREFIX).tempdir_in(dir).map_err(|e| output_error(dir, e))?;
        std::fs::create_dir_all(work.path().join("out")).map_err(|e| output_error(work.path(), e))?;
        let owner = work.path().join(OWNER_FILE);
        std::fs::write(&owner, std::process::id().to_string()).map_err(|e| output_error(&owner, e))?;
        Ok(Output { dir: dir.to_path_buf(), work, written: Vec::new(), removed_stale })
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

    /// Moves every written file into the output directory (each rename is atomic). The work folder stays
    /// until the `Output` is dropped.
    pub fn commit(&mut self) -> Result<(), Error> {
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

/// Removes the work folders in `dir` whose run is no longer alive: a killed run cannot clean up after
/// itself, and its staged copy of the inputs can be as large as the inputs.
fn remove_stale_work(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| output_error(dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_work = entry.file_name().to_str().is_some_and(|n| n.starts_with(WORK_PREFIX));
        if !is_work || !path.is_dir() {
            continue;
        }
        let owner = std::fs::read_to_string(path.join(OWNER_FILE)).ok().and_then(|t| t.trim().parse::<u32>().ok());
        if owner.is_some_and(process_alive) {
            continue;
        }
        std::fs::remove_dir_all(&path).map_err(|e| output_error(&path, e))?;
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

/// Is there a process with this id (ours included)?
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Free bytes on the disk holding `dir`.
pub fn free_space(dir: &Path) -> Option<u64> {
    fs4::available_space(dir).ok()
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
