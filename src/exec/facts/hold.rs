//! Tables small enough to hold in memory are decoded from the staged parts, judged and derived once for every
//! segment, instead of once per segment (on full runs with several segments). Larger ones stream from the
//! parts each time, which bounds a large run's memory (and a night reads only the parts its periods need, so
//! it holds nothing).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::Staged;
use crate::model::Table;

/// The memory the held tables may take together, estimated at 16 bytes a value (a text value's view; numbers
/// take 8). 1M tickets with 20 columns and their surveys fit; 10M stream. `DESKPULSE_HOLD_BYTES` sets another
/// limit (0: hold nothing).
pub const HOLD_BYTES: u64 = 512 << 20;
const BYTES_PER_VALUE: u64 = 16;

fn hold_bytes() -> u64 {
    std::env::var("DESKPULSE_HOLD_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(HOLD_BYTES)
}

/// Replaces the frames of the tables read (`rows` per table) by their rows in memory when they all fit in
/// `HOLD_BYTES`: the canonical and derived columns, and the file and row each row came from; not the values as
/// written nor the other bookkeeping columns, which no segment reads. All or none: a run that streams its
/// largest table gains little from holding the others, and its memory stays that of streaming.
pub(crate) fn hold_small_tables(staged: &mut Staged, rows: &BTreeMap<Table, u64>) -> Result<(), Error> {
    let mut held = Vec::new();
    let mut bytes = 0;
    for (table, frame) in staged.frames.iter_mut() {
        // Derived tables (reply waits) have no count read: they stream.
        let Some(read) = rows.get(table) else { continue };
        let columns = read_by_segments(frame)?;
        bytes += read * columns.len() as u64 * BYTES_PER_VALUE;
        held.push((*table, columns));
    }
    if bytes > hold_bytes() {
        return Ok(());
    }
    for (table, columns) in held {
        let frame = staged.frames.get_mut(&table).expect("listed above");
        *frame = frame.clone().select(columns).collect_with_engine(Engine::Streaming)?.unwrap_single().lazy();
        staged.held.push(table);
    }
    Ok(())
}

/// The columns of `frame` that segments read: the canonical and derived ones, and the file and row a row came
/// from; not the values as written nor the other bookkeeping columns.
pub(crate) fn read_by_segments(frame: &mut LazyFrame) -> PolarsResult<Vec<Expr>> {
    Ok(frame
        .collect_schema()?
        .iter_names()
        .filter(|name| {
            // The file and row keep the export's order, which orders the messages of one instant.
            !name.starts_with("__") || [crate::exec::read::FILE, crate::exec::read::ROW].contains(&name.as_str())
        })
        .map(|name| col(name.clone()))
        .collect())
}
