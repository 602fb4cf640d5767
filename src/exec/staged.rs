//! The run's judged tables as every later stage reads them: `Staged` gives each canonical table's kept rows
//! (whole, or on a night only the store parts a touched period reads) with the facts derived from them
//! (`facts::derive`), and holds what the facts stage computed once for every segment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::compile;
use crate::exec::facts::{business, derive::derive};
use crate::exec::store::{parts, stage};
use crate::model::Table;
use crate::plan::Plan;

/// The canonical tables a plan computes from (quarantined rows removed, derived tables added), and the
/// business clock when the pipeline declares calendars.
pub struct Staged {
    pub(crate) frames: BTreeMap<Table, LazyFrame>,
    /// The tables before `derive`, for `scan_where`.
    pub(crate) underived: BTreeMap<Table, LazyFrame>,
    pub(crate) clock: Option<business::BusinessClock>,
    /// Segments computed only for some periods (their first days): those new data touched.
    pub(crate) only: BTreeMap<String, Vec<i32>>,
    /// Where the tables of the run these periods are merged into are (with `only`): the backlog carries its
    /// totals from them.
    pub(crate) earlier: Option<PathBuf>,
    /// The survey answers with their tickets' columns, joined once for every segment; with `only`, those of
    /// the touched periods (`rows::answers_with_tickets`).
    pub(crate) answers: Option<LazyFrame>,
    /// The tickets that some answer rates; with `only`, of the touched periods (`rows::answered_tickets`).
    pub(crate) answered: Option<DataFrame>,
    /// The tables' parts and the verdicts on their rows, so that a night reads only the parts it needs
    /// (`scan_parts`).
    pub(crate) part_reads: Option<parts::PartReads>,
    /// The days (since the epoch) on which the timeline table has rows, found once for every segment's
    /// boundary periods (`segment::boundary_periods`).
    pub(crate) data_days: std::sync::OnceLock<Vec<i32>>,
    /// The tables whose frames are rows in memory (`hold`), not reads of the staged parts.
    pub(crate) held: Vec<Table>,
    /// On a night, the derived tables' rows of the parts that some touched period reads, computed once
    /// (`facts::compute_once`): from day `.0` to day `.1`.
    pub(crate) night_facts: BTreeMap<Table, (jiff::civil::Date, jiff::civil::Date, LazyFrame)>,
    /// The cluster that reduces the segments' groups, when the run has one (`--engine ballista`).
    #[cfg(feature = "ballista")]
    pub(crate) cluster: Option<std::sync::Arc<crate::distributed::Cluster>>,
    /// The rows of tables several segments reduce, handed over to the cluster once (`segment::shared_rows`).
    #[cfg(feature = "ballista")]
    pub(crate) shared: BTreeMap<Table, crate::distributed::HandedOver>,
}

impl Staged {
    pub(crate) fn new(
        plan: &Plan,
        underived: BTreeMap<Table, LazyFrame>,
        clock: Option<business::BusinessClock>,
    ) -> Staged {
        let frames = derive(plan, underived.clone());
        Staged {
            frames,
            underived,
            clock,
            only: BTreeMap::new(),
            earlier: None,
            answers: None,
            answered: None,
            part_reads: None,
            data_days: std::sync::OnceLock::new(),
            held: Vec::new(),
            night_facts: BTreeMap::new(),
            #[cfg(feature = "ballista")]
            cluster: None,
            #[cfg(feature = "ballista")]
            shared: BTreeMap::new(),
        }
    }

    /// Whether the segments' group-bys run on a cluster (`reduce_on_cluster`).
    pub(crate) fn on_cluster(&self) -> bool {
        #[cfg(feature = "ballista")]
        if self.cluster.is_some() {
            return true;
        }
        false
    }

    /// `rows` grouped by `keys` and reduced by `sql` on the run's cluster: the keys and the reductions'
    /// columns (`compile::SqlReductions`). Rows of table `from` are read as handed over for every segment
    /// when those hold what `sql` reads.
    pub(crate) fn reduce_on_cluster(
        &self,
        rows: LazyFrame,
        from: Option<Table>,
        keys: &[PlSmallStr],
        sql: &compile::SqlReductions,
    ) -> Result<LazyFrame, Error> {
        #[cfg(feature = "ballista")]
        if let Some(cluster) = &self.cluster {
            let shared = from.and_then(|t| self.shared.get(&t)).filter(|rows| rows.holds(keys, sql));
            return match shared {
                Some(handed) => cluster.reduce_handed(handed, keys, sql),
                None => cluster.reduce(rows, keys, sql),
            };
        }
        let _ = (rows, from, keys, sql);
        Err(Error::Internal("group-bys as SQL, and no cluster to run them".into()))
    }

    /// Whether the frames found once per run (`answers`, `answered`) hold the rows of segment `name`: every
    /// segment's on a full run, the touched ones' on a night.
    pub(crate) fn covers(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.contains_key(name)
    }

    pub fn scan(&self, table: Table) -> Result<LazyFrame, Error> {
        self.frames.get(&table).cloned().ok_or_else(|| Error::Internal(format!("no source feeds the {table} table")))
    }

    /// `scan(table)` of the rows in the parts `keep` picks, on a night: as many rows as `scan` gives, read
    /// from the parts that can hold those the caller wants (`PartReads`). With reply chains, tickets come
    /// from messages too, and the whole table is read.
    pub fn scan_parts(
        &self,
        plan: &Plan,
        table: Table,
        keep: &dyn Fn(&stage::StagedPart) -> bool,
    ) -> Result<LazyFrame, Error> {
        let Some(reads) = self.part_reads.as_ref().filter(|_| !plan.has_threads() && !self.held.contains(&table))
        else {
            return self.scan(table);
        };
        // A reply wait belongs to its ticket's period: the waits of the tickets in the picked parts.
        let read_from = if table == Table::ReplyWaits { Table::Tickets } else { table };
        let Some(rows) = reads.kept_rows(plan, read_from, keep)? else { return self.scan(table) };
        let mut underived = self.underived.clone();
        underived.insert(read_from, rows);
        // Their tickets' facts read only those tickets' messages.
        if read_from == Table::Tickets && underived.contains_key(&Table::Messages) {
            let picked: Vec<&stage::StagedPart> = reads.of(Table::Tickets).iter().filter(|p| keep(p)).collect();
            if let Some(messages) = reads.messages_of(plan, &picked)? {
                underived.insert(Table::Messages, messages);
            }
        }
        derive(plan, underived).remove(&table).ok_or_else(|| Error::Internal(format!("no {table} table derived")))
    }

    /// `scan_parts` of the parts whose rows' period instants can fall on or after day `from` and before `to`.
    pub fn scan_within(
        &self,
        plan: &Plan,
        table: Table,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<LazyFrame, Error> {
        if let Some((_, _, rows)) = self.night_facts.get(&table).filter(|(f, t, _)| *f <= from && to <= *t) {
            // A superset of the parts' rows: callers keep the rows of their periods.
            return Ok(rows.clone());
        }
        self.scan_parts(plan, table, &|part| part.meets(from, to))
    }

    /// The rows of `table` for which `staged` holds on the columns as staged, then derived as `scan` gives
    /// them. `derive` rewrites some columns (`resolved_at`, `closed_at` by the resolution rules), and the
    /// engine does not move a filter on a rewritten column below the rewrite: this one reaches the Parquet
    /// reader, which skips the parts whose statistics rule it out. Derivations are per row, so this is
    /// `scan(table)` without the rows `staged` leaves out.
    /// `from_messages`: whether the caller reads a column tickets take from their messages (`responder`).
    pub fn scan_where(&self, plan: &Plan, table: Table, staged: Expr, from_messages: bool) -> Result<LazyFrame, Error> {
        let mut underived = self.underived.clone();
        let Some(rows) = underived.get_mut(&table) else { return self.scan(table) };
        *rows = rows.clone().filter(staged);
        // The facts of those tickets only: their messages, not the whole log's, and none when not read.
        if table == Table::Tickets && !from_messages {
            underived.remove(&Table::Messages);
        } else if table == Table::Tickets {
            let ids = rows.clone().select([col("ticket_id")]);
            if let Some(messages) = underived.get_mut(&Table::Messages) {
                let semi = JoinArgs::new(JoinType::Semi);
                *messages = messages.clone().join(ids, [col("ticket_id")], [col("ticket_id")], semi);
            }
        }
        derive(plan, underived).remove(&table).ok_or_else(|| Error::Internal(format!("no {table} table derived")))
    }
}
