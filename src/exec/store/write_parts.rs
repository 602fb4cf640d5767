//! Writing the store's Parquet parts: every frame sunk in one streaming pass, in bounded row groups.

use std::path::PathBuf;

use polars::prelude::*;

use crate::error::{DataError, Error};
use crate::exec::short;
use crate::plan::Plan;

/// Rows per row group of the staged tables: the unit the later passes read.
pub(crate) const STAGE_ROW_GROUP: usize = 128 * 1024;

/// Sinks each frame to its Parquet file, all in one streaming pass.
pub(crate) fn sink_all(
    plan: &Plan,
    frames: Vec<(PathBuf, LazyFrame)>,
    compression: ParquetCompression,
) -> Result<(), Error> {
    let mut sinks = Vec::new();
    for (path, lf) in frames {
        let target = SinkTarget::Path(PlRefPath::new(path.to_string_lossy().as_ref()));
        // Bounded row groups: with none, the whole table is one row group, and reading it back holds it all.
        let options = ParquetWriteOptions { compression, row_group_size: Some(STAGE_ROW_GROUP), ..Default::default() };
        let sink = lf.sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(std::sync::Arc::new(options)),
            UnifiedSinkArgs::default(),
        )?;
        sinks.push(sink.logical_plan);
    }
    // No shared-subplan caching: a cache would hold a whole table in memory; reading the staged Parquet
    // again is cheaper.
    let flags = OptFlags::default() & !OptFlags::COMM_SUBPLAN_ELIM;
    LazyFrame::collect_all_with_engine(sinks, Engine::Streaming, flags).map_err(|e| read_error(plan, e))?;
    Ok(())
}

/// A read failure during the full scan (a malformed CSV line, say) is the input's fault.
pub(crate) fn read_error(plan: &Plan, e: PolarsError) -> Error {
    let sources: Vec<&str> = plan.sources.iter().map(|s| s.name.as_str()).collect();
    Error::Data(DataError::Unreadable {
        source_name: sources.join(", "),
        file: "(one of the source files)".into(),
        message: short(&e.to_string()),
    })
}
