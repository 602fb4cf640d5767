//! Before Polars reads a source's CSV files: each file's bytes are checked (UTF-8, and its records with
//! `csv_shape`), in parallel, and a file that Polars would misread (CR line ends, blank lines, a byte-order
//! mark, malformed records) is rewritten into the run's scratch folder. Malformed records fail the run, or,
//! under `on_error: quarantine`, become quarantined rows of their table (`malformed_row`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{DataError, Error};
use crate::exec::read;
use crate::exec::read::csv_shape::{self, Malformed};
use crate::exec::read::transcode::{self, Decoded};
use crate::model::Table;
use crate::plan::{Encoding, FileFormat, Plan, Source};

/// Where Polars reads an input file from.
#[derive(Clone, Debug)]
pub struct PreparedFile {
    pub read_from: PathBuf,
    /// A rewritten copy that carries each record's data row in `csv_shape::ROW_COLUMN`.
    pub rewritten: bool,
}

/// A record that could not be read as a row, set aside under `on_error: quarantine`.
#[derive(Clone, Debug)]
pub struct MalformedRow {
    pub table: Table,
    pub source: String,
    pub file: String,
    /// The data row, counted as lines of the file (header = row 0).
    pub row: u64,
    pub detail: String,
}

/// Every input file's read path, and what the checks set aside.
#[derive(Debug, Default)]
pub struct Prepared {
    /// By source and file: sources reading one file may read it differently (encoding, delimiter).
    files: BTreeMap<(String, PathBuf), PreparedFile>,
    pub malformed: Vec<MalformedRow>,
    /// Blank lines skipped, per source and file.
    pub blank_lines: Vec<(String, String, u64)>,
    /// Files decoded from another encoding than UTF-8: file, encoding, sequences that could not be decoded.
    pub decoded: Vec<(String, &'static str, u64)>,
}

impl Prepared {
    /// How `source` reads `file` (as listed by `read::files`).
    pub fn file(&self, source: &Source, file: &Path) -> PreparedFile {
        let key = (source.name.clone(), file.to_path_buf());
        self.files.get(&key).cloned().unwrap_or_else(|| {
            // Not checked (Parquet, JSON): the file itself, or an object's local copy.
            let read_from = super::remote::local(file).unwrap_or_else(|_| file.to_path_buf());
            PreparedFile { read_from, rewritten: false }
        })
    }
}

/// Checks every CSV file of the plan's sources, writing rewritten copies into `scratch`.
pub fn prepare(plan: &Plan, scratch: &Path) -> Result<Prepared, Error> {
    let mut jobs = Vec::new();
    for source in &plan.sources {
        for file in read::files(source)? {
            jobs.push((source, file));
        }
    }
    prepare_files(&jobs, scratch)
}

/// Checks the CSV files among `jobs` (other formats pass as they are).
pub fn prepare_files(jobs: &[(&Source, PathBuf)], scratch: &Path) -> Result<Prepared, Error> {
    let jobs: Vec<(&Source, PathBuf)> =
        jobs.iter().filter(|(s, _)| s.format == FileFormat::Csv).map(|(s, f)| (*s, f.clone())).collect();
    let results: Vec<Result<(PathBuf, Checked), Error>> = jobs
        .par_iter()
        .enumerate()
        .map(|(i, (source, file))| {
            let target = scratch.join(format!("{i}-{}", file.file_name().and_then(|n| n.to_str()).unwrap_or("input")));
            check_file(source, file, &target).map(|c| (file.clone(), c))
        })
        .collect();
    let mut prepared = Prepared::default();
    for (result, (source, _)) in results.into_iter().zip(&jobs) {
        let (file, checked) = result?;
        let name = file.display().to_string();
        if let Some((from, replaced)) = checked.decoded {
            prepared.decoded.push((name.clone(), from.name(), replaced));
        }
        if checked.shape.blank_lines > 0 {
            prepared.blank_lines.push((source.name.clone(), name.clone(), checked.shape.blank_lines));
        }
        for m in &checked.shape.malformed {
            prepared.malformed.push(MalformedRow {
                table: source.table,
                source: source.name.clone(),
                file: name.clone(),
                row: m.line - 1,
                detail: format!("line {}: {}: {}", m.line, m.problem, m.excerpt),
            });
        }
        let rewritten = checked.with_rows;
        let read_from = match checked.rewritten_to {
            Some(copy) => copy,
            None => super::remote::local(&file)?,
        };
        prepared.files.insert((source.name.clone(), file), PreparedFile { read_from, rewritten });
    }
    Ok(prepared)
}

struct Checked {
    shape: csv_shape::Shape,
    /// A copy to read instead of the file: rewritten (with each record's row), or only decoded to UTF-8.
    rewritten_to: Option<PathBuf>,
    with_rows: bool,
    decoded: Option<(Decoded, u64)>,
}

fn check_file(source: &Source, file: &Path, target: &Path) -> Result<Checked, Error> {
    let unreadable = |message: String| DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message,
    };
    let local = super::remote::local(file)?;
    let handle = std::fs::File::open(&local).map_err(|e| unreadable(e.to_string()))?;
    let len = handle.metadata().map_err(|e| unreadable(e.to_string()))?.len();
    if len == 0 {
        return Err(unreadable("the file is empty: it has not even a header row".into()).into());
    }
    // SAFETY: the input is only read; a file changed by another process while the run reads it gives wrong
    // rows, as with any reader, but the map itself stays valid memory.
    let map = unsafe { memmap2::Mmap::map(&handle) }.map_err(|e| unreadable(e.to_string()))?;
    let write_error =
        |path: &Path, e: std::io::Error| Error::Output { path: path.to_path_buf(), message: e.to_string() };
    // Another encoding: a UTF-8 copy is checked and read instead.
    let decoding = transcode::decoding(source.csv.encoding, &map[..map.len().min(4)]);
    let (utf8_copy, decoded) = match decoding {
        Some(from) if !matches!(from, Decoded::Utf8Bom | Decoded::Utf8) => {
            let copy = target.with_extension("utf8.csv");
            let replaced = transcode::to_utf8(&map, from, &copy).map_err(|e| write_error(&copy, e))?;
            let file = std::fs::File::open(&copy).map_err(|e| write_error(&copy, e))?;
            // SAFETY: the copy is the run's own file in its scratch folder, written above and only read now.
            let copy_map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| write_error(&copy, e))?;
            (Some((copy, copy_map)), Some((from, replaced)))
        },
        other => (None, other.map(|from| (from, 0))),
    };
    let bytes: &[u8] = match &utf8_copy {
        Some((_, copy)) => copy,
        None => &map,
    };
    if source.csv.encoding != Encoding::Utf8Lossy {
        if let Some((line, offset, excerpt)) = csv_shape::invalid_utf8(bytes) {
            return Err(DataError::NotUtf8 {
                source_name: source.name.clone(),
                file: file.display().to_string(),
                line,
                offset: offset as u64,
                byte: bytes[offset],
                excerpt,
                looks_like: looks_like(bytes),
                at: source.pattern_at,
            }
            .into());
        }
    }
    let (delimiter, quote) = (source.csv.delimiter, source.csv.quote);
    let shape = csv_shape::shape(bytes, delimiter, quote);
    if !shape.malformed.is_empty() && !source.quarantine_unreadable {
        return Err(malformed_error(source, file, &shape.malformed).into());
    }
    if !shape.needs_rewrite() {
        let rewritten_to = utf8_copy.map(|(path, _)| path);
        return Ok(Checked { shape, rewritten_to, with_rows: false, decoded });
    }
    let out = std::fs::File::create(target).map_err(|e| write_error(target, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    csv_shape::rewrite(bytes, delimiter, quote, &mut out).map_err(|e| write_error(target, e))?;
    std::io::Write::flush(&mut out).map_err(|e| write_error(target, e))?;
    if let Some((copy, _)) = &utf8_copy {
        let _ = std::fs::remove_file(copy);
    }
    Ok(Checked { shape, rewritten_to: Some(target.to_path_buf()), with_rows: true, decoded })
}

/// The encoding a file that is not UTF-8 is most likely in, for the error's hint: zero bytes between
/// ASCII letters are UTF-16; other bytes above 0x7F, a Windows code page.
fn looks_like(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(4096)];
    if head.iter().filter(|b| **b == 0).count() * 4 > head.len() {
        "utf-16"
    } else {
        "windows-1252"
    }
}

fn malformed_error(source: &Source, file: &Path, malformed: &[Malformed]) -> DataError {
    DataError::Malformed {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        total: malformed.len() as u64,
        examples: malformed.iter().take(3).cloned().collect(),
        at: source.pattern_at,
    }
}
