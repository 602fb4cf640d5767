//! A table written a slice at a time (`Output::write_slices`): batched Parquet and CSV writers, so that a
//! table larger than the memory left is never held whole.

use std::fs::File;
use std::path::PathBuf;

use polars::prelude::*;

use super::file::{create_file, csv_writer, hex, parquet_writer, Hashing};
use super::{output_error, Output};
use crate::error::Error;
use crate::plan::OutputFormat;

impl Output {
    /// Writes a table given in slices (`next` yields them in order, at least one, then `None`) to a file per
    /// format, a slice at a time, so that the table is never held whole: the same CSV as `write_table`
    /// writes, and a Parquet file whose row groups follow the slices. Returns the rows and the final paths.
    pub fn write_slices(
        &mut self,
        name: &str,
        next: &mut dyn FnMut() -> Result<Option<DataFrame>, Error>,
        formats: &[OutputFormat],
        metadata: &[(String, String)],
    ) -> Result<(usize, Vec<PathBuf>), Error> {
        let work = self.work.path().join("out");
        let file_name = |format: &OutputFormat| format!("{name}.{}", format.extension());
        let paths: Vec<PathBuf> = formats.iter().map(|f| work.join(file_name(f))).collect();
        let Some(first) = next()? else {
            return Err(Error::Internal(format!("the table {name} came without a slice")));
        };
        let schema = first.schema().clone();
        let mut files: Vec<Hashing<File>> =
            paths.iter().map(|p| create_file(p).map(Hashing::new)).collect::<Result<_, _>>()?;
        let mut rows = 0;
        let mut failed: Option<(usize, PolarsError)> = None;
        {
            let mut writers: Vec<SliceWriter<'_>> = Vec::new();
            for (file, format) in files.iter_mut().zip(formats) {
                writers.push(match format {
                    OutputFormat::Parquet => {
                        SliceWriter::Parquet(Box::new(parquet_writer(file, metadata).batched(&schema)?))
                    },
                    OutputFormat::Csv => SliceWriter::Csv(csv_writer(file).batched(&schema)?),
                });
            }
            let mut slice = Some(first);
            while let Some(mut df) = slice {
                rows += df.height();
                df.align_chunks_par();
                // The formats of a slice are written side by side, as `write_merged` writes a table's.
                let written: Vec<PolarsResult<()>> = std::thread::scope(|scope| {
                    let df = &df;
                    let jobs: Vec<_> = writers.iter_mut().map(|w| scope.spawn(move || w.write(df))).collect();
                    jobs.into_iter().map(|j| j.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
                });
                failed = written.into_iter().enumerate().find_map(|(i, r)| r.err().map(|e| (i, e)));
                if failed.is_some() {
                    break;
                }
                slice = next()?;
            }
            if failed.is_none() {
                failed = writers.iter_mut().enumerate().find_map(|(i, w)| w.finish().err().map(|e| (i, e)));
            }
        }
        if let Some((i, e)) = failed {
            return Err(files[i].error(&paths[i], e));
        }
        let mut finals = Vec::new();
        for ((file, path), format) in files.into_iter().zip(&paths).zip(formats) {
            file.inner.sync_all().map_err(|e| output_error(path, e))?;
            finals.push(self.written_file(file_name(format), hex(file.hasher.digest())));
        }
        Ok((rows, finals))
    }
}

/// An output file written slice by slice (`Output::write_slices`).
enum SliceWriter<'a> {
    Parquet(Box<polars::io::parquet::write::BatchedWriter<&'a mut Hashing<File>>>),
    Csv(polars::io::csv::write::BatchedWriter<&'a mut Hashing<File>>),
}

impl SliceWriter<'_> {
    /// Writes `df`, whose chunks are aligned.
    fn write(&mut self, df: &DataFrame) -> PolarsResult<()> {
        match self {
            // Row groups of at most the size `ParquetWriter::finish` gives a whole table.
            SliceWriter::Parquet(w) => {
                w.write_batch(polars::frame::chunk_df_for_writing(&mut df.clone(), 512 * 512)?.as_ref())
            },
            SliceWriter::Csv(w) => w.write_batch(df),
        }
    }

    fn finish(&mut self) -> PolarsResult<()> {
        match self {
            SliceWriter::Parquet(w) => w.finish().map(|_| ()),
            SliceWriter::Csv(w) => w.finish(),
        }
    }
}
