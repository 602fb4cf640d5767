//! Staging through the store: every input file is listed; files the store already holds (same size,
//! modification time and mapping) are read from their parts; the others are checked (`prepare`),
//! normalised and written as new parts. The tables are the parts in source and file order, with the row
//! rules marked, exactly what a full staging of every file would give.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Error;
use crate::exec::judge::quarantine;
use crate::exec::normalise::frames::file_frame;
use crate::exec::normalise::frames::CsvRead;
use crate::exec::read;
use crate::exec::read::prepare::{self, MalformedRow};
use crate::exec::store::write_parts::sink_all;
use crate::exec::store::{self, FileEntry, Store};
use crate::model::Table;
use crate::plan::{Plan, Source};

/// The staged tables and what staging found.
pub struct Staging {
    /// Every table's rows as staged: the static rules marked, the plausible range not yet judged
    /// (`quarantine::mark_plausible`), copies not yet settled.
    pub read: BTreeMap<Table, LazyFrame>,
    /// Every table's parts, in the order `read` reads them.
    pub part_files: BTreeMap<Table, Vec<StagedPart>>,
    /// The rows of the files staged by this run, per table: only theirs need their values checked (a
    /// reused part passed the check in the run that stored it, under the same mapping).
    pub fresh: BTreeMap<Table, LazyFrame>,
    /// One entry per input file, in source and file order: the store's next manifest.
    pub entries: Vec<FileEntry>,
    pub malformed: Vec<MalformedRow>,
    /// Blank lines skipped, per table and file.
    pub blank_lines: Vec<(Table, String, u64)>,
    /// What the user should know about how files were read (their encoding).
    pub notes: Vec<String>,
    pub files_staged: usize,
    pub files_reused: usize,
    /// Parts written by this run, in the scratch folder until the store takes them: (file, part path).
    pub new_parts: Vec<(PathBuf, String)>,
    /// Sources whose files were staged again because their mapping changed.
    pub remapped: Vec<String>,
    /// Parts found missing or cut short, whose files were staged again.
    pub damaged: usize,
}

/// A part of the store and the input file its rows came from (their `__file`).
#[derive(Clone, Debug)]
pub struct StagedPart {
    /// In the store, or in the scratch folder if this run staged it.
    pub path: PathBuf,
    pub file: String,
    /// The first and last instants of its rows' period column, when it has one and rows with it.
    pub span: Option<(jiff::civil::DateTime, jiff::civil::DateTime)>,
}

impl StagedPart {
    /// Whether some row's period instant can fall on or after day `from` and before day `to`. A span the
    /// manifest does not give, or that does not read back, can: the part is read, as any part would be.
    pub fn meets(&self, from: jiff::civil::Date, to: jiff::civil::Date) -> bool {
        self.span.is_none_or(|(first, last)| {
            first < to.to_datetime(jiff::civil::Time::midnight())
                && last >= from.to_datetime(jiff::civil::Time::midnight())
        })
    }
}

/// A span as the manifest writes it (the period column's first and last values cast to text: a timestamp
/// `2025-01-31 23:59:48.000` or a date), as instants.
fn span_instants(span: &Option<(String, String)>) -> Option<(jiff::civil::DateTime, jiff::civil::DateTime)> {
    let instant = |text: &str| {
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .or_else(|| text.parse::<jiff::civil::Date>().ok().map(|d| d.to_datetime(jiff::civil::Time::midnight())))
    };
    let (first, last) = span.as_ref()?;
    instant(first).zip(instant(last))
}

impl Staging {
    /// Rows read per table: the parts' rows (malformed records are counted apart).
    pub fn rows(&self) -> BTreeMap<Table, u64> {
        let mut rows: BTreeMap<Table, u64> = self.read.keys().map(|t| (*t, 0)).collect();
        for e in &self.entries {
            if let Some(n) = Table::from_name(&e.table).and_then(|t| rows.get_mut(&t)) {
                *n += e.rows;
            }
        }
        rows
    }

    pub fn malformed_of(&self, table: Table) -> impl Iterator<Item = &MalformedRow> {
        self.malformed.iter().filter(move |m| m.table == table)
    }
}

struct Input<'a> {
    source: &'a Source,
    file: PathBuf,
    seen: store::FileSeen,
    reused: Option<FileEntry>,
}

/// Stages the plan's inputs through `store`; `full` ignores what the store holds. `scratch` takes
/// rewritten copies of CSV files that Polars would misread. `progress` is told the files staged so far.
pub fn stage(
    plan: &Plan,
    store: &Store,
    full: bool,
    scratch: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<Staging, Error> {
    let (inputs, remapped, damaged) = list_inputs(plan, store, full)?;
    let new: Vec<(&Source, PathBuf)> =
        inputs.iter().filter(|i| i.reused.is_none()).map(|i| (i.source, i.file.clone())).collect();
    // Objects to stage are fetched first, all at once, into the run's work folder.
    let objects: Vec<PathBuf> =
        new.iter().filter(|(s, _)| read::remote::is_remote(&s.pattern)).map(|(_, f)| f.clone()).collect();
    crate::exec::record::timing::traced("objects fetched", || read::remote::fetch(&objects, &scratch.join("objects")))?;
    let prepared =
        crate::exec::record::timing::traced("files checked (prepare)", || prepare::prepare_files(&new, scratch))?;
    let hashes: Vec<Result<String, Error>> = crate::exec::record::timing::traced("content hashes", || {
        new.par_iter()
            .map(|(source, file)| store::content_hash(file).map_err(|e| unreadable(source, file, e)))
            .collect()
    });
    // By source and file: one file may feed several sources (tickets and their ratings from one export).
    let mut parts: BTreeMap<(String, PathBuf), String> = BTreeMap::new();
    let mut content: BTreeMap<(String, PathBuf), String> = BTreeMap::new();
    for ((source, file), hash) in new.iter().zip(hashes) {
        let hash = hash?;
        parts.insert(key(source, file), store.part_path(plan, source, file, &hash));
        content.insert(key(source, file), hash);
    }
    crate::exec::record::timing::traced("parts written", || {
        write_parts(plan, scratch, &new, &prepared, &parts, progress)
    })?;
    check_unchanged_while_read(&inputs)?;

    let mut entries = Vec::new();
    for input in &inputs {
        let entry = match &input.reused {
            Some(e) => e.clone(),
            None => {
                let k = key(input.source, &input.file);
                new_entry(scratch, input, &parts[&k], &content[&k], &prepared)?
            },
        };
        entries.push(entry);
    }
    let mut staging = Staging {
        read: BTreeMap::new(),
        part_files: BTreeMap::new(),
        fresh: BTreeMap::new(),
        entries: Vec::new(),
        malformed: Vec::new(),
        blank_lines: Vec::new(),
        notes: Vec::new(),
        files_staged: new.len(),
        files_reused: inputs.len() - new.len(),
        new_parts: new.iter().map(|(s, f)| (scratch.join(&parts[&key(s, f)]), parts[&key(s, f)].clone())).collect(),
        remapped,
        damaged,
    };
    read_parts(store, scratch, &inputs, &entries, &mut staging)?;
    staging.entries = entries;
    Ok(staging)
}

/// Every input file of every source, with what the store holds of it (`reused`), the sources whose mapping
/// changed since their files were staged, and how many parts were found damaged.
fn list_inputs<'a>(plan: &'a Plan, store: &Store, full: bool) -> Result<(Vec<Input<'a>>, Vec<String>, usize), Error> {
    let mut inputs = Vec::new();
    let mut remapped: Vec<String> = Vec::new();
    let mut damaged = 0;
    for source in &plan.sources {
        let retained = retained_entries(store, source);
        let files = match read::files(source) {
            // Every file rotated away: the retained ones are the source.
            Err(_) if !retained.is_empty() => Vec::new(),
            listed => listed?,
        };
        let listed: std::collections::HashSet<String> = files.iter().map(|f| f.display().to_string()).collect();
        let first = inputs.len();
        for entry in retained.into_iter().filter(|e| !listed.contains(&e.path)) {
            let file = PathBuf::from(&entry.path);
            match store.reusable_retained(plan, source, entry) {
                Ok(()) => {},
                Err(why) => return Err(gone(source, &file, why)),
            }
            let seen = store::FileSeen { size: entry.size, modified_ns: entry.modified_ns };
            inputs.push(Input { source, file, seen, reused: Some(FileEntry { retained: true, ..entry.clone() }) });
        }
        for file in files {
            let seen = store::seen(&file).map_err(|e| unreadable(source, &file, e))?;
            let reused = match store.reusable(plan, source, &file, &seen) {
                _ if full => None,
                store::Reuse::Same(entry) => Some(entry.clone()),
                store::Reuse::Remapped => {
                    remapped.push(source.name.clone());
                    None
                },
                store::Reuse::Damaged => {
                    damaged += 1;
                    None
                },
                store::Reuse::New | store::Reuse::Changed => None,
            };
            inputs.push(Input { source, file, seen, reused: reused.map(|e| FileEntry { retained: false, ..e }) });
        }
        // Retained files among the listed ones, in path order, as a run over all of them reads them.
        inputs[first..].sort_by(|a, b| a.file.cmp(&b.file));
    }
    remapped.dedup();
    Ok((inputs, remapped, damaged))
}

/// The store's entries of `source`'s files, when the source retains files that disappear.
fn retained_entries<'s>(store: &'s Store, source: &Source) -> Vec<&'s FileEntry> {
    match source.retain {
        true => store.manifest.files.iter().filter(|e| e.source == source.name).collect(),
        false => Vec::new(),
    }
}

/// A retained file whose part cannot be read as the pipeline now maps it: the file is gone, so it cannot be
/// staged again.
fn gone(source: &Source, file: &Path, why: &str) -> Error {
    crate::error::DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: format!(
            "a retained file (gone from the source's folder) {why}, and it cannot be staged again: put the file \
             back, or drop its rows with `deskpulse store DIR --forget {}`",
            file.display()
        ),
    }
    .into()
}

/// A file that changed while it was read (an export still being written) fails the run.
fn check_unchanged_while_read(inputs: &[Input]) -> Result<(), Error> {
    for input in inputs.iter().filter(|i| i.reused.is_none()) {
        let now = store::seen(&input.file).map_err(|e| unreadable(input.source, &input.file, e))?;
        if now.size != input.seen.size || now.modified_ns != input.seen.modified_ns {
            return Err(crate::error::DataError::Unreadable {
                source_name: input.source.name.clone(),
                file: input.file.display().to_string(),
                message: "the file changed while it was being read (an export still being written?); run again \
                          once it is complete"
                    .into(),
            }
            .into());
        }
    }
    Ok(())
}

/// Every part as a frame, by table (the whole table, and the fresh files' rows apart), with the malformed
/// rows, blank lines and decoding notes the parts' entries record.
fn read_parts(
    store: &Store,
    scratch: &Path,
    inputs: &[Input],
    entries: &[FileEntry],
    staging: &mut Staging,
) -> Result<(), Error> {
    let mut by_table: BTreeMap<Table, Vec<LazyFrame>> = BTreeMap::new();
    let mut fresh: BTreeMap<Table, Vec<LazyFrame>> = BTreeMap::new();
    let mut bad_records: std::collections::HashSet<(Table, &str, u64)> = std::collections::HashSet::new();
    for (input, entry) in inputs.iter().zip(entries) {
        let table = input.source.table;
        let part = match &input.reused {
            Some(_) => store.dir.join(&entry.part),
            None => scratch.join(&entry.part),
        };
        let lf = crate::exec::scan_file(&part)?;
        let span = span_instants(&entry.span);
        staging.part_files.entry(table).or_default().push(StagedPart {
            path: part.clone(),
            file: entry.path.clone(),
            span,
        });
        by_table.entry(table).or_default().push(lf.clone());
        if input.reused.is_none() {
            fresh.entry(table).or_default().push(lf);
        }
        // A file that feeds two sources of one table (split by a filter) holds each bad record and blank
        // line once: they are counted and quarantined once.
        let seen_file = staging.blank_lines.iter().any(|b| b.0 == table && b.1 == entry.path);
        for (row, detail) in &entry.malformed {
            if !bad_records.insert((table, entry.path.as_str(), *row)) {
                continue;
            }
            staging.malformed.push(MalformedRow {
                table,
                source: entry.source.clone(),
                file: entry.path.clone(),
                row: *row,
                detail: detail.clone(),
            });
        }
        if entry.blank_lines > 0 && !seen_file {
            staging.blank_lines.push((table, entry.path.clone(), entry.blank_lines));
        }
        if let Some((from, replaced)) = &entry.decoded_from {
            let lost = match replaced {
                0 => String::new(),
                n => format!(" ({n} sequence(s) that could not be decoded were replaced by U+FFFD)"),
            };
            staging.notes.push(format!("source `{}`: {} read as {from}{lost}", input.source.name, entry.path));
        }
    }
    // Attributes typed from their values may differ between files (a number and a text are text).
    let widen = UnionArgs { to_supertypes: true, ..Default::default() };
    for (table, frames) in by_table {
        let all = concat(frames, widen)?;
        staging.read.insert(table, all);
    }
    for (table, frames) in fresh {
        staging.fresh.insert(table, concat(frames, widen)?);
    }
    Ok(())
}

fn unreadable(source: &Source, file: &Path, e: std::io::Error) -> Error {
    crate::error::DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: e.to_string(),
    }
    .into()
}

/// Normalises the new files and writes their parts, all in one streaming pass; numbers are parsed by the
/// CSV reader where it can, and a file whose number fails is read again as text (which reports the value
/// with its row later, or quarantines it).
fn write_parts(
    plan: &Plan,
    scratch: &Path,
    new: &[(&Source, PathBuf)],
    prepared: &prepare::Prepared,
    parts: &BTreeMap<(String, PathBuf), String>,
    progress: &dyn Fn(u64, u64),
) -> Result<(), Error> {
    if new.is_empty() {
        return Ok(());
    }
    // Frames are built a batch at a time: a small CSV file is read when its frame is built.
    let frames = |files: &[(&Source, PathBuf)], how: CsvRead| -> Result<Vec<(PathBuf, LazyFrame)>, Error> {
        let mut out = Vec::new();
        for (source, file) in files {
            let lf = file_frame(plan, source, file, prepared, how, true)?;
            out.push((scratch.join(&parts[&key(source, file)]), quarantine::mark_static(plan, source.table, lf)));
        }
        Ok(out)
    };
    for (source, file) in new {
        let dir = scratch.join(&parts[&key(source, file)]);
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::Output { path: parent.into(), message: e.to_string() })?;
        }
    }
    // A few files at a time: each file's reader holds its own buffers (or, read whole, its rows), so staging
    // every file at once made the peak grow with the number of files. LZ4: parts are read back on every run,
    // so decoding speed matters more than size.
    let batch = rayon::current_num_threads().max(2);
    let total = new.len() as u64;
    progress(0, total);
    for (done, some) in new.chunks(batch).enumerate() {
        let native = some.iter().any(|(s, _)| !read::native_numbers(s).is_empty());
        let how = if native { CsvRead::NativeNumbers } else { CsvRead::Text };
        let sink = |how| frames(some, how).and_then(|f| sink_all(plan, f, ParquetCompression::Lz4Raw));
        // Traced by file: where staging's time goes (a source whose mapping is slow to apply stands out).
        crate::exec::interrupt::check()?;
        let names: Vec<String> = some.iter().map(|(s, f)| format!("{} {}", s.name, file_name(f))).collect();
        match crate::exec::record::timing::traced(&format!("staged {}", names.join(", ")), || sink(how)) {
            Ok(()) => {},
            // A value the reader could not type as a number: read as text, so that it is reported with its row.
            Err(Error::Data(_) | Error::Internal(_)) if native => sink(CsvRead::Text)?,
            Err(e) => return Err(e),
        }
        progress(((done + 1) * batch).min(new.len()) as u64, total);
    }
    Ok(())
}

fn file_name(file: &Path) -> std::borrow::Cow<'_, str> {
    file.file_name().unwrap_or(file.as_os_str()).to_string_lossy()
}

fn key(source: &Source, file: &Path) -> (String, PathBuf) {
    (source.name.clone(), file.to_path_buf())
}

/// The manifest entry of a file just staged: rows and the period column's span read from its part.
fn new_entry(
    scratch: &Path,
    input: &Input,
    part: &str,
    content_hash: &str,
    prepared: &prepare::Prepared,
) -> Result<FileEntry, Error> {
    let table = input.source.table;
    let name = input.file.display().to_string();
    let path = scratch.join(part);
    let lf = crate::exec::scan_file(&path)?;
    let mut figures = vec![len().cast(DataType::UInt64).alias("rows")];
    if let Some(period) = table.period_column() {
        figures.push(col(period).min().cast(DataType::String).alias("first"));
        figures.push(col(period).max().cast(DataType::String).alias("last"));
    }
    let df = lf.select(figures).collect()?;
    let part_bytes = std::fs::metadata(&path)
        .map(|m| m.len())
        .map_err(|e| Error::Output { path: path.clone(), message: e.to_string() })?;
    let text = |c: &str| df.column(c).ok().and_then(|c| c.str().ok()?.get(0).map(str::to_string));
    let span = text("first").zip(text("last"));
    // This source's reading of the file: another source may read it too.
    let own = |source: &str, file: &str| source == input.source.name && file == name;
    let malformed =
        prepared.malformed.iter().filter(|m| own(&m.source, &m.file)).map(|m| (m.row, m.detail.clone())).collect();
    let blank_lines = prepared.blank_lines.iter().filter(|b| own(&b.0, &b.1)).map(|b| b.2).sum();
    let decoded_from = prepared.decoded.iter().find(|d| d.0 == name).map(|d| (d.1.to_string(), d.2));
    Ok(FileEntry {
        source: input.source.name.clone(),
        table: table.to_string(),
        path: name,
        size: input.seen.size,
        modified_ns: input.seen.modified_ns,
        content_hash: content_hash.to_string(),
        part: part.to_string(),
        part_bytes,
        rows: df.column("rows")?.u64()?.get(0).unwrap_or(0),
        blank_lines,
        malformed,
        span,
        decoded_from,
        retained: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_meets_the_days_its_span_touches() {
        let span = |a: &str, b: &str| span_instants(&Some((a.to_string(), b.to_string())));
        let part = |span| StagedPart { path: PathBuf::new(), file: String::new(), span };
        let day = |d: &str| d.parse::<jiff::civil::Date>().unwrap();
        let january = part(span("2025-01-01 00:00:39.000", "2025-01-31 23:59:48.000"));
        assert!(january.span.is_some(), "timestamps as the manifest writes them read back");
        assert!(january.meets(day("2025-01-31"), day("2025-02-01")));
        assert!(!january.meets(day("2025-02-01"), day("2025-03-01")), "after its last row");
        assert!(!january.meets(day("2024-12-01"), day("2025-01-01")), "the end day is not in the range");
        let dates = part(span("2025-03-01", "2025-03-01"));
        assert!(dates.meets(day("2025-03-01"), day("2025-03-02")));
        assert!(!dates.meets(day("2025-03-02"), day("2025-04-01")));
        assert!(part(None).meets(day("1990-01-01"), day("1990-01-02")), "no span: read");
        assert!(part(span("garbled", "2025-01-01")).meets(day("1990-01-01"), day("1990-01-02")));
    }
}
