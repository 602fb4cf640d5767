//! Source files as canonical frames: each file scanned (`read`) and normalised (`normalise`); every table's
//! sources appended, straight from the files, for the checks and `explain` that do not stage.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::facts::{business, threads};
use crate::exec::judge::quarantine;
use crate::exec::read::{self, prepare::Prepared};
use crate::exec::{normalise, Staged};
use crate::model::Table;
use crate::plan::Plan;

/// How CSV columns are read: numbers typed by the reader where it can (fast), or everything as text (to
/// report a bad value with its row).
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum CsvRead {
    NativeNumbers,
    Text,
}

/// Every table's sources, normalised and appended, as lazy frames (nothing is read but headers and samples).
pub(crate) fn raw_tables(plan: &Plan, prepared: &Prepared) -> Result<BTreeMap<Table, LazyFrame>, Error> {
    let mut frames = BTreeMap::new();
    for table in Table::ALL {
        let mut parts = Vec::new();
        for source in plan.sources_of(table) {
            for file in read::files(source)? {
                parts.push(file_frame(plan, source, &file, prepared, CsvRead::Text, false)?);
            }
        }
        if !parts.is_empty() {
            frames.insert(table, concat(parts, UnionArgs::default())?);
        }
    }
    Ok(frames)
}

/// The canonical frame of one input file: scanned (from its rewritten copy, if it has one), its columns
/// checked against the mapping, normalised. `whole`: read it now if it is small enough (`read::scan`).
pub(crate) fn file_frame(
    plan: &Plan,
    source: &crate::plan::Source,
    file: &Path,
    prepared: &Prepared,
    how: CsvRead,
    whole: bool,
) -> Result<LazyFrame, Error> {
    let numbers = match how {
        CsvRead::NativeNumbers => read::native_numbers(source),
        CsvRead::Text => Vec::new(),
    };
    let mut lf = read::scan(source, file, &prepared.file(source, file), &numbers, whole)?;
    let schema = read::schema(source, file, &mut lf)?;
    normalise::normalise(plan, source, file, lf, &schema)
}

/// The tables straight from the sources, without staging: for checks and `explain`, whose plans must
/// build but need not run. The business clock spans the window (or the as-of day) only.
pub fn normalised(plan: &Plan, prepared: &Prepared) -> Result<Staged, Error> {
    let frames = raw_tables(plan, prepared)?
        .into_iter()
        .map(|(t, lf)| Ok((t, quarantine::kept(quarantine::settle(t, quarantine::mark(plan, t, lf))?.judged))))
        .collect::<Result<_, Error>>()?;
    let frames = threads::resolve(plan, frames)?;
    let today = plan.as_of.to_zoned(jiff::tz::TimeZone::UTC).date();
    let range = (plan.window.from.unwrap_or(today), plan.window.to.unwrap_or(today));
    let clock =
        if plan.business_hours.is_empty() { None } else { Some(business::BusinessClock::new(plan, range.0, range.1)?) };
    Ok(Staged::new(plan, frames, clock))
}
