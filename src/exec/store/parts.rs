//! Some of a table's store parts, judged as the whole table was: a night's segments read only the parts
//! whose rows can fall in the periods they recompute, and the touched answers only the parts that hold
//! their tickets. Every scan of all 37 parts of 10M tickets decodes each part's row groups, even when the
//! touched periods rule most rows out (the timestamp's truncation in the filter keeps the reader from
//! skipping them): about 0.1 s a read, five or more reads a night.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::judge::quarantine::{self, CopyVerdicts};
use crate::exec::judge::references::{self, Orphans};
use crate::exec::store::id_index;
use crate::exec::store::stage::StagedPart;
use crate::model::Table;
use crate::plan::Plan;

/// What judging every row of the tables found, kept to judge some parts again: the verdicts on repeated
/// ids and the reference values that resolve nothing. A row's verdict depends on these and on the row.
pub struct PartReads {
    parts: BTreeMap<Table, Vec<StagedPart>>,
    copies: BTreeMap<Table, CopyVerdicts>,
    orphans: Vec<Orphans>,
    /// Each table's columns as all its parts read together give them (types widened across files).
    schemas: BTreeMap<Table, SchemaRef>,
}

impl PartReads {
    pub fn new(
        parts: BTreeMap<Table, Vec<StagedPart>>,
        copies: BTreeMap<Table, CopyVerdicts>,
        orphans: Vec<Orphans>,
        read: &BTreeMap<Table, LazyFrame>,
    ) -> PolarsResult<PartReads> {
        let mut schemas = BTreeMap::new();
        for (table, lf) in read {
            schemas.insert(*table, lf.clone().collect_schema()?);
        }
        Ok(PartReads { parts, copies, orphans, schemas })
    }

    /// The parts of `table`, in the order the whole table reads them.
    pub fn of(&self, table: Table) -> &[StagedPart] {
        self.parts.get(&table).map(Vec::as_slice).unwrap_or_default()
    }

    /// The kept messages of the tickets in `tickets` (some of the tickets' parts), from the message parts whose
    /// id files hold one of their ids; `None` without messages. A night derives the facts of few tickets:
    /// their conversations are in few parts.
    pub fn messages_of(&self, plan: &Plan, tickets: &[&StagedPart]) -> Result<Option<LazyFrame>, Error> {
        let messages: Vec<&StagedPart> = self.of(Table::Messages).iter().collect();
        if messages.is_empty() {
            return Ok(None);
        }
        let mut wanted = Vec::new();
        for part in tickets {
            wanted.extend(id_index::part_hashes(&part.path, "ticket_id")?.iter().copied());
        }
        wanted.sort_unstable();
        wanted.dedup();
        let holding: Vec<&std::path::Path> =
            id_index::parts_holding(&messages, "ticket_id", &wanted)?.into_iter().map(|p| p.path.as_path()).collect();
        Ok(self.kept_rows(plan, Table::Messages, &|p| holding.contains(&p.path.as_path()))?)
    }

    /// The kept rows of the parts of `table` that `keep` picks, as the whole table's kept rows give them;
    /// `None` when the table has no parts. With none picked, one part stands in: the caller's filter, which
    /// picked no part, leaves none of its rows.
    pub fn kept_rows(
        &self,
        plan: &Plan,
        table: Table,
        keep: &dyn Fn(&StagedPart) -> bool,
    ) -> PolarsResult<Option<LazyFrame>> {
        let (Some(parts), Some(schema)) = (self.parts.get(&table), self.schemas.get(&table)) else { return Ok(None) };
        let mut picked: Vec<&StagedPart> = parts.iter().filter(|p| keep(p)).collect();
        if picked.is_empty() {
            picked.extend(parts.first());
        }
        let scans = picked.iter().map(|p| crate::exec::scan_file(&p.path)).collect::<PolarsResult<Vec<_>>>()?;
        let read = concat(scans, UnionArgs { to_supertypes: true, ..Default::default() })?;
        // A type widened by a file not picked is widened here too, so that the rows read as in the whole table.
        let own = read.clone().collect_schema()?;
        let widened: Vec<Expr> = schema
            .iter()
            .filter(|(name, dtype)| own.get(name).is_some_and(|d| d != *dtype))
            .map(|(name, dtype)| col(name.clone()).cast(dtype.clone()))
            .collect();
        let read = if widened.is_empty() { read } else { read.with_columns(widened) };
        let marked = quarantine::mark_plausible(plan, table, read);
        let mut judged = quarantine::judge_copies_with(self.copies.get(&table), marked);
        for orphans in self.orphans.iter().filter(|o| o.table() == table) {
            judged = references::mark(judged, orphans);
        }
        Ok(Some(quarantine::kept(judged)))
    }
}
