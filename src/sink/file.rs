//! One output file: its format's writer (Parquet with the pipeline's metadata, CSV as every output writes
//! it), written through a hash so that its digest needs no second read, synced to disk; and the comparison of
//! two files a block at a time.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use super::output_error;
use crate::error::Error;
use crate::plan::OutputFormat;

/// Do both files exist with the same bytes?
pub(super) fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else { return false };
    if ma.len() != mb.len() {
        return false;
    }
    // A block at a time: an output can be larger than the memory left.
    let (mut fa, mut fb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let Ok(n) = fa.read(&mut ba) else { return false };
        if n == 0 {
            return true;
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// A file hash as the manifest records it.
pub(super) fn hex(digest: u64) -> String {
    format!("{digest:016x}")
}

/// A writer that hashes what goes through it: the digest of an output file without reading it again. It
/// keeps the first write error, which a format's writer may report only as its own failure (Parquet's: an
/// "invalid thrift" on a full disk).
pub(super) struct Hashing<W> {
    pub(super) inner: W,
    pub(super) hasher: xxhash_rust::xxh3::Xxh3,
    failed: Option<String>,
}

impl<W> Hashing<W> {
    pub(super) fn new(inner: W) -> Self {
        Hashing { inner, hasher: xxhash_rust::xxh3::Xxh3::new(), failed: None }
    }

    /// An error of writing the file at `path`, told by the cause the writer met when there was one.
    pub(super) fn error(&self, path: &Path, e: impl std::fmt::Display) -> Error {
        match &self.failed {
            Some(cause) => output_error(path, cause),
            None => output_error(path, e),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf).inspect_err(|e| {
            self.failed.get_or_insert_with(|| e.to_string());
        })?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The Parquet writer of every output: Zstd, and the pipeline's metadata (definitions, KPIs).
pub(super) fn parquet_writer<W: Write>(w: W, metadata: &[(String, String)]) -> ParquetWriter<W> {
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata.to_vec())))
}

/// The CSV writer of every output, so that a line formatted alone is the line of a whole table.
pub(super) fn csv_writer<W: Write>(w: W) -> CsvWriter<W> {
    CsvWriter::new(w).include_header(true).with_date_format(Some("%Y-%m-%d".into()))
}

/// Creates `path` and the folders above it.
pub(super) fn create_file(path: &Path) -> Result<File, Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
    }
    File::create(path).map_err(|e| output_error(path, e))
}

/// Writes `df` to `path` in `format`, synced to disk; returns the file's hash.
pub(super) fn write_file(
    path: &Path,
    df: &mut DataFrame,
    format: OutputFormat,
    metadata: &[(String, String)],
) -> Result<String, Error> {
    let mut file = Hashing::new(create_file(path)?);
    match format {
        OutputFormat::Parquet => {
            parquet_writer(&mut file, metadata).finish(df).map_err(|e| file.error(path, e))?;
        },
        OutputFormat::Csv => {
            csv_writer(&mut file).finish(df).map_err(|e| file.error(path, e))?;
        },
    }
    file.inner.sync_all().map_err(|e| output_error(path, e))?;
    Ok(hex(file.hasher.digest()))
}
