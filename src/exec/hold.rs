//! Tables small enough to hold in memory are decoded from the staged parts, judged and derived once for every
//! segment, instead of once per segment. Larger ones stream from the parts each time, which bounds a large
//! run's memory (and a night reads only the parts its periods need, so it holds nothing).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::Staged;
use crate::error::Error;
use crate::model::Table;

/// The memory the held tables may take, estimated at 16 bytes a value (a text value's view; numbers take 8).
/// 1M tickets with 20 columns fit; 10M stream. `DESKPULSE_HOLD_BYTES` sets another limit (0: hold nothing).
pub const HOLD_BYTES: u64 = 384 << 20;
const BYTES_PER_VALUE: u64 = 16;

fn hold_bytes() -> u64 {
    std::env::var("DESKPULSE_HOLD_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(HOLD_BYTES)
}

/// Replaces the frames of the tables that fit in `HOLD_BYTES` together (`rows` read per table) by their
/// rows in memory: the canonical and derived columns, and the file each row came from; not the values as
/// written nor the other bookkeeping columns, which no segment reads.
pub(super) fn hold_small_tables(staged: &mut Staged, rows: &BTreeMap<Table, u64>) -> Result<(), Error> {
    let mut left = hold_bytes();
    for (table, frame) in staged.frames.iter_mut() {
        // Derived tables (reply waits) have no count read: they stream.
        let Some(read) = rows.get(table) else { continue };
        let columns: Vec<PlSmallStr> = frame
            .collect_schema()?
            .iter_names()
            .filter(|name| !name.starts_with("__") || name.as_str() == super::read::FILE)
            .cloned()
            .collect();
        let bytes = read * columns.len() as u64 * BYTES_PER_VALUE;
        if bytes > left {
            continue;
        }
        left -= bytes;
        let held = frame.clone().select(columns.into_iter().map(col).collect::<Vec<_>>());
        *frame = held.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy();
        staged.held.push(*table);
    }
    Ok(())
}
