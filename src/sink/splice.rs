//! The CSV of a merged table written from the earlier run's lines for the rows it keeps: only the recomputed
//! rows are formatted (a night's peer comparisons: 55k of 660k rows).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use super::file::{create_file, csv_writer, hex, Hashing};
use super::output_error;
use crate::error::Error;

/// The CSV a previous run wrote for a table, when it is the file that run recorded and the table's Parquet
/// file is too (so that its lines are the Parquet rows, in order). Read through a buffer, not mapped: its
/// pages would count in the run's peak memory (149 MB for 660k rows of peer comparisons).
pub struct EarlierCsv {
    reader: std::io::BufReader<File>,
    /// The reader's position in the file.
    at: u64,
    /// Where each record starts (the header first), then the file's length.
    starts: Vec<u64>,
    /// The header, and whether the file ends with a line end.
    header: Vec<u8>,
    ends_with_line_end: bool,
}

/// The reading buffer's size.
const PIECE: usize = 8 << 20;

impl EarlierCsv {
    pub fn open(dir: &Path, name: &str, digests: &BTreeMap<String, String>) -> Option<EarlierCsv> {
        use std::io::{BufRead, Seek};
        let recorded = |ext: &str| digests.get(&format!("{name}.{ext}"));
        let (parquet, csv) = (recorded("parquet")?, recorded("csv")?);
        let parquet_bytes = std::fs::read(dir.join(format!("{name}.parquet"))).ok()?;
        if &hex(xxhash_rust::xxh3::xxh3_64(&parquet_bytes)) != parquet {
            return None;
        }
        let mut reader = std::io::BufReader::with_capacity(PIECE, File::open(dir.join(format!("{name}.csv"))).ok()?);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let (mut starts, mut quoted, mut length, mut last) = (vec![0], false, 0u64, None);
        loop {
            let piece = reader.fill_buf().ok()?;
            if piece.is_empty() {
                break;
            }
            hasher.update(piece);
            scan_records(piece, length, &mut quoted, &mut starts);
            (length, last) = (length + piece.len() as u64, piece.last().copied());
            let n = piece.len();
            reader.consume(n);
        }
        if starts.last() != Some(&length) {
            starts.push(length);
        }
        if hex(hasher.digest()) != *csv {
            return None;
        }
        reader.rewind().ok()?;
        let mut header = vec![0; (starts[1] - starts[0]) as usize];
        std::io::Read::read_exact(&mut reader, &mut header).ok()?;
        Some(EarlierCsv { at: starts[1], reader, starts, header, ends_with_line_end: last == Some(b'\n') })
    }

    /// Copies records `from..to` to `out`. Calls go forward through the file: what lies between is skipped
    /// inside the buffer.
    fn copy(&mut self, from: usize, to: usize, out: &mut impl Write) -> std::io::Result<()> {
        use std::io::BufRead;
        let (start, end) = (self.starts[from], self.starts[to]);
        self.reader.seek_relative(start as i64 - self.at as i64)?;
        let mut left = (end - start) as usize;
        while left > 0 {
            let piece = self.reader.fill_buf()?;
            if piece.is_empty() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let n = piece.len().min(left);
            out.write_all(&piece[..n])?;
            self.reader.consume(n);
            left -= n;
        }
        self.at = end;
        Ok(())
    }
}

/// Adds to `starts` the offsets (`offset` + position in `piece`) where records start. A line end inside
/// quotes (a value holding a line break) does not end a record; an escaped quote (`""`) toggles twice.
fn scan_records(piece: &[u8], offset: u64, quoted: &mut bool, starts: &mut Vec<u64>) {
    for i in memchr::memchr2_iter(b'"', b'\n', piece) {
        if piece[i] == b'"' {
            *quoted = !*quoted;
        } else if !*quoted {
            starts.push(offset + i as u64 + 1);
        }
    }
}

/// Where the CSV's records start, then its length.
pub(super) fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    scan_records(bytes, 0, &mut false, &mut starts);
    if starts.last() != Some(&(bytes.len() as u64)) {
        starts.push(bytes.len() as u64);
    }
    starts.into_iter().map(|s| s as usize).collect()
}

/// Writes the CSV of a merged table: the lines of the rows kept from the earlier table are copied from its
/// CSV, the recomputed rows are formatted. A row's line does not depend on the other rows, so the bytes are
/// those `write_file` would write. Returns `None`, writing nothing, when the earlier CSV does not have the
/// same header or has fewer lines than the rows it should hold.
pub(super) fn write_spliced_csv(
    path: &Path,
    df: &mut DataFrame,
    earlier_rows: &IdxCa,
    earlier: &mut EarlierCsv,
) -> Result<Option<String>, Error> {
    let mut fresh = df.filter(&earlier_rows.is_null()).map_err(|e| output_error(path, e))?;
    let mut formatted = Vec::new();
    csv_writer(&mut formatted).finish(&mut fresh).map_err(|e| output_error(path, e))?;
    let fresh_starts = record_starts(&formatted);
    let fresh_record = |i: usize| &formatted[fresh_starts[i]..fresh_starts[i + 1]];
    let earlier_count = earlier.starts.len() - 2;
    let fits = fresh_record(0) == earlier.header
        && earlier.ends_with_line_end
        && fresh_starts.len() - 2 == fresh.height()
        && earlier_rows.max().is_none_or(|m| (m as usize) < earlier_count);
    if !fits {
        return Ok(None);
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, Hashing::new(create_file(path)?));
    let failed = |e: std::io::Error| output_error(path, e);
    out.write_all(fresh_record(0)).map_err(failed)?;
    // Runs of consecutive earlier records are copied in one piece. The kept rows come in the earlier table's
    // order (both are sorted the same way, stably), so the file is read front to back.
    let mut run = None::<(usize, usize)>;
    let mut next_fresh = 1;
    for row in earlier_rows.iter() {
        match (row.map(|r| r as usize + 1), run) {
            (Some(r), Some((from, to))) if r == to => run = Some((from, r + 1)),
            (Some(r), _) => {
                if let Some((from, to)) = run {
                    earlier.copy(from, to, &mut out).map_err(failed)?;
                }
                run = Some((r, r + 1));
            },
            (None, _) => {
                if let Some((from, to)) = run.take() {
                    earlier.copy(from, to, &mut out).map_err(failed)?;
                }
                out.write_all(fresh_record(next_fresh)).map_err(failed)?;
                next_fresh += 1;
            },
        }
    }
    if let Some((from, to)) = run {
        earlier.copy(from, to, &mut out).map_err(failed)?;
    }
    let hashing = out.into_inner().map_err(|e| output_error(path, e.error()))?;
    hashing.inner.sync_all().map_err(|e| output_error(path, e))?;
    Ok(Some(hex(hashing.hasher.digest())))
}
