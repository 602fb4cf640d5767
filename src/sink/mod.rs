//! Writing KPI tables: Parquet (with the definitions in force as file metadata) and CSV. Files are written
//! into a work folder inside the output directory and renamed into place only once every table is done, so
//! a failed run leaves no half-written file and keeps the previous outputs.

mod file;
pub mod lock;
mod merge;
mod slices;
mod splice;

pub use merge::{merge_periods, merge_window, Merged};
pub use splice::EarlierCsv;

use file::{same_bytes, write_file};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::Error;
use crate::plan::{OutputFormat, Plan};

pub struct Output {
    dir: PathBuf,
    work: tempfile::TempDir,
    written: Vec<PathBuf>,
    /// A hash of each table file written (`write_table`), by relative path: the next run checks an earlier
    /// CSV against it before copying lines out of it.
    digests: BTreeMap<String, String>,
    /// Partition folders (relative) whose files this run replaces as a whole: files in them that it did not
    /// write are removed at commit.
    replaced_partitions: Vec<PathBuf>,
    /// Files of partitions this run kept as the last run wrote them (relative): outputs all the same.
    kept: Vec<PathBuf>,
    /// Leave a file in place when the new one has the same bytes, so that readers and `make`-like tools see
    /// only what changed (off for backfills, which replace their window whatever it holds).
    pub keep_identical: bool,
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
        Ok(Output {
            dir: dir.to_path_buf(),
            work,
            written: Vec::new(),
            digests: BTreeMap::new(),
            replaced_partitions: Vec::new(),
            kept: Vec::new(),
            keep_identical: true,
            removed_stale,
        })
    }

    /// The output files after this run, relative to the output directory: those it writes, and the
    /// partitions it kept.
    pub fn written(&self) -> Vec<String> {
        self.written.iter().chain(&self.kept).map(|p| p.to_string_lossy().into_owned()).collect()
    }

    /// The hashes of the table files written, by relative path.
    pub fn digests(&self) -> BTreeMap<String, String> {
        self.digests.clone()
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
        self.write_merged(name, df, formats, metadata, None)
    }

    /// `write_table` for a table merged into an earlier one (`merge_periods`): with the earlier CSV (checked
    /// by `EarlierCsv::open`), the CSV copies the lines of the rows kept from it and formats only the others.
    /// The formats are written at the same time, each on its own thread: encoding Parquet and formatting
    /// CSV are each mostly one core's work (660k rows of peer comparisons: 0.55 s one after the other).
    pub fn write_merged(
        &mut self,
        name: &str,
        df: &mut DataFrame,
        formats: &[OutputFormat],
        metadata: &[(String, String)],
        earlier: Option<(&mut EarlierCsv, &IdxCa)>,
    ) -> Result<Vec<PathBuf>, Error> {
        let work = self.work.path().join("out");
        let mut earlier = earlier;
        let file_name = |format: &OutputFormat| format!("{name}.{}", format.extension());
        let digests: Vec<Result<String, Error>> = std::thread::scope(|scope| {
            let jobs: Vec<_> = formats
                .iter()
                .map(|format| {
                    let (path, mut df) = (work.join(file_name(format)), df.clone());
                    let earlier = match format {
                        OutputFormat::Csv => earlier.take(),
                        OutputFormat::Parquet => None,
                    };
                    scope.spawn(move || match earlier {
                        Some((csv, rows)) => match splice::write_spliced_csv(&path, &mut df, rows, csv)? {
                            Some(digest) => Ok(digest),
                            None => write_file(&path, &mut df, *format, metadata),
                        },
                        None => write_file(&path, &mut df, *format, metadata),
                    })
                })
                .collect();
            jobs.into_iter().map(|job| job.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        let mut finals = Vec::new();
        for (format, digest) in formats.iter().zip(digests) {
            finals.push(self.written_file(file_name(format), digest?));
        }
        Ok(finals)
    }

    /// Records a file written into the work folder (`file_name`, relative to the output directory) with its
    /// hash, for `commit` to move it into place; returns the final path it will have.
    pub(super) fn written_file(&mut self, file_name: String, digest: String) -> PathBuf {
        let final_path = self.dir.join(&file_name);
        self.digests.insert(file_name.clone(), digest);
        self.written.push(PathBuf::from(file_name));
        final_path
    }

    /// Moves every written file into the output directory (each rename is atomic). The work folder stays
    /// until the `Output` is dropped.
    pub fn commit(&mut self) -> Result<(), Error> {
        for name in &self.written {
            let from = self.work.path().join("out").join(name);
            let to = self.dir.join(name);
            if self.keep_identical && same_bytes(&from, &to) {
                continue;
            }
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| output_error(&to, e))?;
        }
        // Periods that no longer have rows: their partitions go.
        for partition in &self.replaced_partitions {
            let dir = self.dir.join(partition);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let relative = partition.join(entry.file_name());
                if !self.written.contains(&relative) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        Ok(())
    }

    /// Writes a segment's table as one folder per period, `name/period_start=YYYY-MM-DD/part-0.<ext>`
    /// (hive partitions, the period column in the folder name only). `which` says which partitions the
    /// run replaces: those of `df`'s periods among them are written, and those on disk among them that no
    /// longer have rows are removed at commit. The other partitions on disk are kept as they are, and
    /// counted among the run's outputs.
    pub fn write_partitioned(
        &mut self,
        name: &str,
        df: &DataFrame,
        formats: &[OutputFormat],
        metadata: &[(String, String)],
        which: &Partitions,
    ) -> Result<Vec<PathBuf>, Error> {
        let period = df
            .column(PERIOD)
            .map_err(|e| output_error(&self.dir, e))?
            .date()
            .map_err(|e| output_error(&self.dir, e))?
            .physical()
            .clone();
        let mut starts: Vec<Option<i32>> = period.iter().collect();
        starts.sort();
        starts.dedup();
        for (folder, start) in partitions_on_disk(&self.dir.join(name)) {
            let relative = PathBuf::from(name).join(folder);
            if which.contains(start) {
                self.replaced_partitions.push(relative);
            } else {
                let files = std::fs::read_dir(self.dir.join(&relative)).into_iter().flatten().flatten();
                self.kept.extend(files.map(|f| relative.join(f.file_name())));
            }
        }
        let mut finals = Vec::new();
        for start in starts.into_iter().filter(|d| which.contains(*d)) {
            let folder = format!("{name}/{PERIOD}={}", partition_value(start));
            let rows = match start {
                Some(d) => df.clone().lazy().filter(col(PERIOD).cast(DataType::Int32).eq(lit(d))),
                None => df.clone().lazy().filter(col(PERIOD).is_null()),
            };
            let mut part = rows.drop(cols([PERIOD])).collect().map_err(|e| output_error(&self.dir, e))?;
            self.replaced_partitions.push(PathBuf::from(&folder));
            finals.extend(self.write_table(&format!("{folder}/{PART}"), &mut part, formats, metadata)?);
        }
        Ok(finals)
    }
}

/// Which periods' partitions a run replaces (`Output::write_partitioned`), by their first day (days since
/// the epoch; `None` for Hive's default partition).
pub enum Partitions {
    /// Every partition: a full run.
    All,
    /// A backfill's periods, starting in `[from, to)`.
    Window(Option<i32>, Option<i32>),
    /// The periods a night's changed rows touch.
    Days(std::collections::BTreeSet<i32>),
}

impl Partitions {
    fn contains(&self, start: Option<i32>) -> bool {
        match (self, start) {
            (Partitions::All, _) => true,
            (_, None) => false,
            (Partitions::Window(from, to), Some(d)) => from.is_none_or(|f| d >= f) && to.is_none_or(|t| d < t),
            (Partitions::Days(days), Some(d)) => days.contains(&d),
        }
    }
}

/// A `hive` table (the folder `dir` of `period_start=…/part-0.parquet` parts) as one frame, each part with
/// the `period_start` its folder names (text; null for Hive's default partition). `None` without parts.
pub fn read_partitioned(dir: &Path) -> PolarsResult<Option<DataFrame>> {
    let mut folders = partitions_on_disk(dir);
    folders.sort();
    let mut parts = Vec::new();
    for (folder, start) in folders {
        let part = part_parquet(dir, &folder);
        if !part.is_file() {
            continue;
        }
        let period = match start {
            None => lit(NULL).cast(DataType::String),
            Some(d) => lit(crate::periods::from_epoch_days(d as i64).to_string()),
        };
        parts.push(scan_file(&part)?.with_column(period.alias(PERIOD)));
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(concat(parts, UnionArgs::default())?.collect()?))
}

/// The Parquet file of partition `folder` of a `hive` table's folder.
pub fn part_parquet(table: &Path, folder: &std::ffi::OsStr) -> PathBuf {
    table.join(folder).join(format!("{PART}.parquet"))
}

/// The partition folders of a `hive` table's folder, with the period each names (`None`: Hive's default
/// partition). A folder whose name is not a partition's is left out.
pub fn partitions_on_disk(table: &Path) -> Vec<(std::ffi::OsString, Option<i32>)> {
    let Ok(entries) = std::fs::read_dir(table) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let folder = e.file_name();
            let value = folder.to_str()?.strip_prefix(PERIOD)?.strip_prefix('=')?.to_string();
            let start = match value.as_str() {
                DEFAULT_PARTITION => None,
                day => Some(crate::periods::epoch_days(day.parse().ok()?) as i32),
            };
            Some((folder, start))
        })
        .collect()
}

const PERIOD: &str = "period_start";
/// The file name (without extension) of a partition's table.
const PART: &str = "part-0";
/// Hive's and Spark's folder name for a null partition value.
const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The folder name of a period: its first day, or Hive's name for null (the `all` grain without a window).
fn partition_value(start: Option<i32>) -> String {
    match start {
        Some(d) => crate::periods::from_epoch_days(d as i64).to_string(),
        None => DEFAULT_PARTITION.into(),
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

/// Removes this process's work folders in `dir` (a run stopped by a signal).
pub fn remove_own_work(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_work = entry.file_name().to_str().is_some_and(|n| n.starts_with(WORK_PREFIX));
        let owner = std::fs::read_to_string(path.join(OWNER_FILE)).ok().and_then(|t| t.trim().parse::<u32>().ok());
        if is_work && owner == Some(std::process::id()) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Is there a process with this id (ours included)?
pub(crate) fn process_alive(pid: u32) -> bool {
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
            let mut entry = serde_json::json!({
                "kpi": k.name,
                "table": k.table.name(),
                "filter": k.filter.as_ref().map(|f| f.to_string()),
                "direction": k.direction.as_str(),
                "min_sample": k.min_sample,
                "stats": k.stats.iter().map(|s| serde_json::json!({
                    "stat": s.stat, "unit": s.unit.as_str(), "formula": crate::catalog::describe(&s.aggregate)
                })).collect::<Vec<_>>(),
            });
            // A variant (`as:`) names the catalog KPI it is defined by.
            if k.catalog == crate::plan::DECLARED {
                entry["declared"] = true.into();
                if let Some(note) = &k.note {
                    entry["description"] = note.as_str().into();
                }
            } else if k.name != k.catalog {
                entry["variant_of"] = k.catalog.into();
            }
            entry
        })
        .collect();
    vec![
        ("deskpulse.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("deskpulse.pipeline".into(), plan.name.clone()),
        ("deskpulse.definitions".into(), serde_json::to_string(&plan.definitions).unwrap_or_default()),
        ("deskpulse.kpis".into(), serde_json::Value::Array(kpis).to_string()),
    ]
}

/// A Parquet file of this run's or the store's, as a lazy frame.
pub(crate) fn scan_file(path: &Path) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())
}

#[cfg(test)]
mod tests {
    use super::merge::merge_by_sorting;
    use super::splice::{record_starts, write_spliced_csv};
    use super::*;

    /// Files are compared a block at a time: equal, a difference past the first block, another length.
    #[test]
    fn same_bytes_compares_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (a, b, c, d) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"), dir.path().join("d"));
        std::fs::write(&a, &bytes).unwrap();
        std::fs::write(&b, &bytes).unwrap();
        let mut other = bytes.clone();
        other[150_000] ^= 1;
        std::fs::write(&c, &other).unwrap();
        std::fs::write(&d, &bytes[..199_999]).unwrap();
        assert!(same_bytes(&a, &b));
        assert!(!same_bytes(&a, &c));
        assert!(!same_bytes(&a, &d));
        assert!(!same_bytes(&a, &dir.path().join("missing")));
    }

    #[test]
    fn a_line_end_inside_quotes_does_not_end_a_record() {
        let csv = b"a,b\n\"x\ny\",1\n\"say \"\"hi\"\"\",2\n";
        assert_eq!(record_starts(csv), vec![0, 4, 12, 27]);
        assert_eq!(record_starts(b"a\n1"), vec![0, 2, 3]);
    }

    fn table(keys: &[&str], days: &[i32], notes: &[&str]) -> DataFrame {
        let period = Column::new(PERIOD.into(), days).cast(&DataType::Date).unwrap();
        DataFrame::new_infer_height(vec![Column::new("key".into(), keys), period, Column::new("note".into(), notes)])
            .unwrap()
    }

    /// Writes `df` the way a run does, returning the output folder and the recorded hashes.
    fn written(dir: &Path, df: &mut DataFrame, earlier: Option<(&mut EarlierCsv, &IdxCa)>) -> BTreeMap<String, String> {
        let mut output = Output::create(dir).unwrap();
        output.write_merged("t", df, &[OutputFormat::Parquet, OutputFormat::Csv], &[], earlier).unwrap();
        output.keep_identical = false;
        output.commit().unwrap();
        output.digests()
    }

    #[test]
    fn a_partial_write_replaces_exactly_its_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let write = |df: &DataFrame, which: &Partitions| {
            let mut output = Output::create(dir.path()).unwrap();
            output.write_partitioned("t", df, &[OutputFormat::Csv], &[], which).unwrap();
            output.commit().unwrap();
            let mut files = output.written();
            files.sort();
            files
        };
        let read = |day: &str| std::fs::read_to_string(dir.path().join(format!("t/{PERIOD}={day}/part-0.csv"))).ok();
        let first = write(&table(&["a", "a", "a"], &[0, 31, 59], &["jan", "feb", "mar"]), &Partitions::All);
        assert_eq!(first.len(), 3);
        // February and March recomputed: February has new rows, March none left; January is kept.
        let night = write(&table(&["a"], &[31], &["feb again"]), &Partitions::Days([31, 59].into()));
        assert_eq!(read("1970-01-01").as_deref(), Some("key,note\na,jan\n"));
        assert_eq!(read("1970-02-01").as_deref(), Some("key,note\na,feb again\n"));
        assert_eq!(read("1970-03-01"), None, "a recomputed period without rows loses its folder");
        assert!(!dir.path().join(format!("t/{PERIOD}=1970-03-01")).exists());
        // The kept partition is among the run's outputs, as the next night checks.
        assert_eq!(
            night,
            vec![format!("t/{PERIOD}=1970-01-01/part-0.csv"), format!("t/{PERIOD}=1970-02-01/part-0.csv")]
        );
        // A backfill window keeps what lies outside it.
        write(&table(&["b"], &[0], &["jan b"]), &Partitions::Window(None, Some(31)));
        assert_eq!(read("1970-01-01").as_deref(), Some("key,note\nb,jan b\n"));
        assert_eq!(read("1970-02-01").as_deref(), Some("key,note\na,feb again\n"));
    }

    #[test]
    fn a_merged_csv_copies_earlier_lines_and_equals_a_whole_write() {
        let dir = tempfile::tempdir().unwrap();
        // Values with line breaks and quotes: records are not lines.
        let mut earlier = table(&["a", "a", "b", "b"], &[0, 31, 0, 31], &["one", "two\nlines", "say \"hi\"", "four"]);
        let digests = written(dir.path(), &mut earlier, None);
        let new = table(&["a", "b", "c"], &[31, 31, 31], &["new\na", "new b", "new c"]);
        let merged = merge_periods(Some(earlier), new, col(PERIOD).cast(DataType::Int32).eq(lit(31))).unwrap();
        let (mut table, rows) = (merged.table, merged.earlier_rows.unwrap());
        assert_eq!(rows.iter().collect::<Vec<_>>(), vec![Some(0), None, Some(2), None, None]);
        let mut csv = EarlierCsv::open(dir.path(), "t", &digests).expect("the recorded files");
        let spliced = dir.path().join("spliced.csv");
        assert!(write_spliced_csv(&spliced, &mut table, &rows, &mut csv).unwrap().is_some());
        let whole_dir = tempfile::tempdir().unwrap();
        written(whole_dir.path(), &mut table, None);
        let read = |path: &Path| std::fs::read_to_string(path).unwrap();
        assert_eq!(read(&spliced), read(&whole_dir.path().join("t.csv")));
        let expected =
            "key,period_start,note\na,1970-01-01,one\na,1970-02-01,\"new\na\"\nb,1970-01-01,\"say \"\"hi\"\"\"\n\
                        b,1970-02-01,new b\nc,1970-02-01,new c\n";
        assert_eq!(read(&spliced), expected);
    }

    #[test]
    fn merging_walks_both_sorted_tables_as_a_stable_sort_would_order_them() {
        let inside = || col(PERIOD).cast(DataType::Int32).eq(lit(31));
        // Several rows per key (a table's KPIs), one period recomputed.
        let earlier = table(&["a", "a", "a", "b", "b", "c"], &[0, 0, 31, 0, 31, 0], &["1", "2", "3", "4", "5", "6"]);
        let new = table(&["c", "a", "b", "a", "d"], &[31, 31, 31, 31, 0], &["n1", "n2", "n3", "n4", "n5"]);
        let walked = merge_periods(Some(earlier.clone()), new.clone(), inside()).unwrap();
        let order = vec![PlSmallStr::from("key"), PERIOD.into()];
        let fresh = new.lazy().filter(inside()).collect().unwrap();
        let sorted = merge_by_sorting(earlier, fresh, inside(), order.clone()).unwrap();
        assert!(walked.table.equals_missing(&sorted.table), "{} {}", walked.table, sorted.table);
        let rows = |m: &Merged| m.earlier_rows.as_ref().unwrap().iter().collect::<Vec<_>>();
        assert_eq!(rows(&walked), rows(&sorted));
        let notes: Vec<_> = walked.table.column("note").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(notes, ["1", "2", "n2", "n4", "4", "n3", "6", "n1"]);
        // An earlier table out of order is sorted whole.
        let unsorted = table(&["b", "a"], &[0, 0], &["x", "y"]);
        let merged = merge_periods(Some(unsorted), table(&["a"], &[31], &["z"]), inside()).unwrap();
        let notes: Vec<_> = merged.table.column("note").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(notes, ["y", "z", "x"]);
    }

    #[test]
    fn an_earlier_csv_changed_since_it_was_written_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut earlier = table(&["a"], &[0], &["one"]);
        let digests = written(dir.path(), &mut earlier, None);
        assert!(EarlierCsv::open(dir.path(), "t", &digests).is_some());
        std::fs::write(dir.path().join("t.csv"), "key,period_start,note\na,1970-01-01,edited\n").unwrap();
        assert!(EarlierCsv::open(dir.path(), "t", &digests).is_none());
        // A Parquet file from another run: the CSV's lines may not be its rows.
        let other = tempfile::tempdir().unwrap();
        written(other.path(), &mut table(&["b"], &[0], &["two"]), None);
        written(dir.path(), &mut earlier, None);
        std::fs::copy(other.path().join("t.parquet"), dir.path().join("t.parquet")).unwrap();
        assert!(EarlierCsv::open(dir.path(), "t", &digests).is_none());
        assert!(EarlierCsv::open(dir.path(), "t", &BTreeMap::new()).is_none());
    }
}
