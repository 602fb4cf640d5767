//! Execution on Polars: scans the sources, normalises them into canonical tables (staged as Parquet beside
//! the outputs, so that a large CSV is parsed once), checks bad values, computes every segment's KPI table
//! from one joint plan, and hands the tables to `sink`. The only module that imports polars.

mod acquisition;
mod backlog;
mod benchmark;
mod business;
pub(crate) mod compile;
mod csv_shape;
mod facts;
#[cfg(feature = "ballista")]
mod from_store;
mod grouped;
mod hash;
mod history;
mod hold;
mod id_index;
mod judge;
mod normalise;
mod parts;
mod prepare;
mod quarantine;
mod ratio;
mod read;
mod record;
mod references;
mod review;
mod segment;
mod stage;
pub mod store;
mod threads;
mod timing;
pub(crate) mod to_sql;
mod touched;
mod transcode;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{BadValue, DataError, Error};
use crate::model::{ColumnType, Table};
use crate::plan::{EngineChoice, Plan};
use crate::sink;
pub(crate) use crate::sink::scan_file;

pub use benchmark::{render_scorecard, scorecard, CardFormat};
#[cfg(feature = "ballista")]
pub use from_store::{not_dropped, StoreRows, NOT_DROPPED, PARTS};
pub use grouped::cluster_inputs;
pub use normalise::compile_sql;
use prepare::Prepared;
pub use record::{list as run_records, table as run_table, RunRecord};
pub use segment::OUTPUT_COLUMNS;
pub use timing::{Observe, StageHook};

/// The canonical tables a plan computes from (quarantined rows removed, derived tables added), and the
/// business clock when the pipeline declares calendars.
pub struct Staged {
    frames: BTreeMap<Table, LazyFrame>,
    /// The tables before `derive`, for `scan_where`.
    underived: BTreeMap<Table, LazyFrame>,
    clock: Option<business::BusinessClock>,
    /// Segments computed only for some periods (their first days): those new data touched.
    only: BTreeMap<String, Vec<i32>>,
    /// Where the tables of the run these periods are merged into are (with `only`): the backlog carries its
    /// totals from them.
    earlier: Option<PathBuf>,
    /// The survey answers with their tickets' columns, joined once for every segment; with `only`, those of
    /// the touched periods (`segment::answers_with_tickets`).
    answers: Option<LazyFrame>,
    /// The tickets that some answer rates; with `only`, of the touched periods (`segment::answered_tickets`).
    answered: Option<DataFrame>,
    /// The tables' parts and the verdicts on their rows, so that a night reads only the parts it needs
    /// (`scan_parts`).
    part_reads: Option<parts::PartReads>,
    /// The days (since the epoch) on which the timeline table has rows, found once for every segment's
    /// boundary periods (`segment::boundary_periods`).
    data_days: std::sync::OnceLock<Vec<i32>>,
    /// The tables whose frames are rows in memory (`hold`), not reads of the staged parts.
    held: Vec<Table>,
    /// On a night, the derived tables' rows of the parts that some touched period reads, computed once
    /// (`facts::compute_once`): from day `.0` to day `.1`.
    night_facts: BTreeMap<Table, (jiff::civil::Date, jiff::civil::Date, LazyFrame)>,
    /// The cluster that reduces the segments' groups, when the run has one (`--engine ballista`).
    #[cfg(feature = "ballista")]
    cluster: Option<std::sync::Arc<crate::distributed::Cluster>>,
    /// The rows of tables several segments reduce, handed over to the cluster once (`segment::shared_rows`).
    #[cfg(feature = "ballista")]
    shared: BTreeMap<Table, crate::distributed::HandedOver>,
}

impl Staged {
    fn new(plan: &Plan, underived: BTreeMap<Table, LazyFrame>, clock: Option<business::BusinessClock>) -> Staged {
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
    fn on_cluster(&self) -> bool {
        #[cfg(feature = "ballista")]
        if self.cluster.is_some() {
            return true;
        }
        false
    }

    /// `rows` grouped by `keys` and reduced by `sql` on the run's cluster: the keys and the reductions'
    /// columns (`compile::SqlReductions`). Rows of table `from` are read as handed over for every segment
    /// when those hold what `sql` reads.
    fn reduce_on_cluster(
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
    fn covers(&self, name: &str) -> bool {
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

/// How CSV columns are read: numbers typed by the reader where it can (fast), or everything as text (to
/// report a bad value with its row).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum CsvRead {
    NativeNumbers,
    Text,
}

/// Every table's sources, normalised and appended, as lazy frames (nothing is read but headers and samples).
fn raw_tables(plan: &Plan, prepared: &Prepared) -> Result<BTreeMap<Table, LazyFrame>, Error> {
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
pub(super) fn file_frame(
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

/// Per table whose rows segments reduce, why the client hands them over to a cluster instead of the
/// executors reading them from the store's parts, if it does (`from_store::needs_the_client`).
#[cfg(feature = "ballista")]
pub fn row_sources(plan: &Plan) -> Vec<(Table, Option<&'static str>)> {
    segment::reducing_segments(plan)
        .into_iter()
        .map(|(table, wide, _)| (table, from_store::needs_the_client(plan, table, &wide)))
        .collect()
}

/// Tables computed from others: tickets' response columns and reply waits from messages, and the
/// pipeline's resolution rules.
fn derive(plan: &Plan, mut frames: BTreeMap<Table, LazyFrame>) -> BTreeMap<Table, LazyFrame> {
    if let (Some(tickets), Some(messages)) = (frames.get(&Table::Tickets), frames.get(&Table::Messages)) {
        let waits = reply_waits(plan, tickets.clone(), messages.clone());
        let filled = from_messages(plan, tickets.clone(), messages.clone());
        frames.insert(Table::ReplyWaits, waits);
        frames.insert(Table::Tickets, filled);
    }
    // A ticket history counts the reopens a ticket export does not give.
    if let (Some(tickets), Some(events)) = (frames.get(&Table::Tickets), frames.get(&Table::TicketEvents)) {
        if !plan.sources_of(Table::Tickets).any(|s| s.columns.iter().any(|c| c.canonical.name == "reopens")) {
            let counted = history::reopens(plan, events.clone());
            let filled = tickets
                .clone()
                .left_join(counted, col("ticket_id"), col("ticket_id"))
                .with_column(col("__reopens").fill_null(col("reopens")).alias("reopens"))
                .drop(cols(["__reopens"]));
            frames.insert(Table::Tickets, filled);
        }
    }
    if let Some(tickets) = frames.get_mut(&Table::Tickets) {
        *tickets = tickets.clone().with_columns(ticket_rules(plan));
    }
    frames
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

fn by_agent(plan: &Plan) -> Expr {
    compile::one_of(col("author_role"), &plan.definitions.agent_roles)
        .and(col("is_public").fill_null(lit(true)))
        .fill_null(lit(false))
}

/// Customer waits for an agent: a wait starts at a customer message that follows the ticket's opening or a
/// public agent message, and ends at the next public agent message. Bots, system messages and internal
/// notes are dropped first, so they neither start nor end a wait. Messages with the same instant count in
/// the order of the export (file, then row).
fn reply_waits(plan: &Plan, tickets: LazyFrame, messages: LazyFrame) -> LazyFrame {
    let opened = tickets.select([col("ticket_id"), col("created_at").alias("__opened")]);
    let agent = by_agent(plan);
    let customer = col("author_role").eq(lit("customer")).fill_null(lit(false));
    let when_agent = when(col("__agent"))
        .then(col("created_at"))
        .otherwise(lit(NULL).cast(col_dtype(Table::Messages, "created_at")));
    messages
        .filter(agent.clone().or(customer))
        .inner_join(opened, col("ticket_id"), col("ticket_id"))
        .filter(col("created_at").gt_eq(col("__opened")))
        .with_column(agent.alias("__agent"))
        // Messages of one second (exports often keep whole seconds) in the order the export lists them: the
        // join does not keep the rows' order, and the waits must not depend on it.
        .sort(["ticket_id", "created_at", read::FILE, read::ROW], SortMultipleOptions::default())
        .with_columns([
            col("__agent").shift(lit(1)).over([col("ticket_id")]).expect("window over a column").alias("__prev_agent"),
            when_agent
                .fill_null_with_strategy(FillNullStrategy::Backward(FillNullLimit::None))
                .over([col("ticket_id")])
                .expect("window over a column")
                .alias("answered_at"),
        ])
        .filter(col("__agent").not().and(col("__prev_agent").is_null().or(col("__prev_agent"))))
        .filter(col("answered_at").is_not_null())
        .select([
            col("ticket_id"),
            col("__opened").alias("created_at"),
            col("created_at").alias("waiting_since"),
            col("answered_at"),
        ])
}

/// Tickets' `first_response_at` (first public agent message after the ticket opened) and `agent_replies`
/// (public agent messages), from the conversation log, where the ticket export has none.
fn from_messages(plan: &Plan, tickets: LazyFrame, messages: LazyFrame) -> LazyFrame {
    let opened = tickets.clone().select([col("ticket_id"), col("created_at").alias("__opened")]);
    let replies = messages
        .clone()
        .filter(by_agent(plan))
        .select([col("ticket_id"), col("created_at")])
        .left_join(opened.clone(), col("ticket_id"), col("ticket_id"))
        .group_by([col("ticket_id")])
        .agg([
            col("created_at").filter(col("created_at").gt(col("__opened"))).min().alias("__first_reply"),
            len().cast(DataType::Int64).alias("__replies"),
        ]);
    let tickets = tickets.left_join(replies, col("ticket_id"), col("ticket_id"));
    let tickets = match plan.uses_dimension("responder") {
        true => tickets.left_join(responders(plan, opened, messages), col("ticket_id"), col("ticket_id")),
        false => tickets.with_column(lit(NULL).cast(DataType::String).alias("__responder")),
    };
    tickets
        .with_columns([
            when(col("first_response_at").is_null())
                .then(col("__first_reply"))
                .otherwise(col("first_response_at"))
                .alias("first_response_at"),
            when(col("agent_replies").is_null())
                .then(col("__replies").fill_null(lit(0i64)))
                .otherwise(col("agent_replies"))
                .alias("agent_replies"),
            when(col("responder").is_null()).then(col("__responder")).otherwise(col("responder")).alias("responder"),
        ])
        .drop(cols(["__first_reply", "__replies", "__responder"]))
}

/// Who answered first: the author of the first agent reply after the opening (ties by author, so that the
/// result does not depend on the order rows were read in).
fn responders(plan: &Plan, opened: LazyFrame, messages: LazyFrame) -> LazyFrame {
    messages
        .filter(by_agent(plan))
        .select([col("ticket_id"), col("created_at"), col("author_id")])
        .inner_join(opened, col("ticket_id"), col("ticket_id"))
        .filter(col("created_at").gt(col("__opened")).and(col("author_id").is_not_null()))
        .group_by([col("ticket_id")])
        .agg([col("author_id")
            .sort_by([col("created_at"), col("author_id")], SortMultipleOptions::default())
            .first()
            .alias("__responder")])
}

/// Resolution as the pipeline defines it, and `closed_at` defaulting to `resolved_at`.
fn ticket_rules(plan: &Plan) -> Vec<Expr> {
    let d = &plan.definitions;
    let mut resolved = col("resolved_at").is_not_null();
    if !d.resolved_statuses.is_empty() {
        resolved = resolved.and(compile::one_of(col("status"), &d.resolved_statuses).fill_null(lit(false)));
    }
    if !d.abandoned_can_resolve {
        resolved = resolved.and(col("abandoned").fill_null(lit(false)).not());
    }
    let resolved_at =
        when(resolved).then(col("resolved_at")).otherwise(lit(NULL).cast(col_dtype(Table::Tickets, "resolved_at")));
    vec![
        when(col("closed_at").is_null()).then(col("resolved_at")).otherwise(col("closed_at")).alias("closed_at"),
        resolved_at.alias("resolved_at"),
    ]
}

fn col_dtype(table: Table, column: &str) -> DataType {
    normalise::dtype(table.column(column).map(|c| c.ty).unwrap_or(ColumnType::Text))
}

/// Checks that need the files but not a full read: files exist, mapped columns exist, SQL compiles.
pub fn check(plan: &Plan) -> Result<(), Error> {
    let scratch = scratch_dir()?;
    let prepared = prepare::prepare(plan, scratch.path())?;
    let staged = normalised(plan, &prepared)?;
    for seg in &plan.segments {
        let _plan_builds = segment::segment_frame(plan, seg, &staged)?;
    }
    let _review_builds = review::review_sample(plan, &staged)?;
    let _follow_up_builds = review::follow_up(plan, &staged)?;
    Ok(())
}

/// A table's period as days since the epoch, as `only` lists them.
fn period_day() -> Expr {
    col(segment::PERIOD).cast(DataType::Int32)
}

/// Whether the files the last run wrote for `seg` (its table and its benchmark table, each a file per
/// format or, with `hive`, a folder of partitions) are all on disk, for a night to recompute some of its
/// periods and keep the others.
fn earlier_output_whole(out_dir: &Path, last: &store::LastRun, seg: &crate::plan::Segment) -> bool {
    let of = |table: &str, file: &str| file.strip_prefix(table).is_some_and(|rest| rest.starts_with(['.', '/']));
    let benchmark = benchmark::output_name(seg);
    let files: Vec<&String> = last.outputs.iter().filter(|o| of(&seg.name, o) || of(&benchmark, o)).collect();
    files.iter().any(|o| of(&seg.name, o)) && files.iter().all(|o| out_dir.join(o).is_file())
}

/// A segment's table as the previous run wrote it (its Parquet file), for a backfill to merge into.
fn earlier_table(out_dir: &Path, name: &str) -> Result<Option<DataFrame>, Error> {
    let path = out_dir.join(format!("{name}.parquet"));
    if !path.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::Output { path: path.clone(), message: e.to_string() })?;
    ParquetReader::new(file).finish().map(Some).map_err(|e| Error::Output {
        path,
        message: format!("cannot read the earlier output to merge the backfill into: {e}"),
    })
}

/// Everything the outputs are computed from: deskpulse, the pipeline, the staged parts in order, the
/// plausible range, and the as-of instant where SLA judgements of unanswered tickets read it.
fn inputs_key(plan: &Plan, entries: &[store::FileEntry]) -> String {
    let mut text = format!("{}\n{}\n{:?}\n", env!("CARGO_PKG_VERSION"), plan.pipeline_text, plan.plausible_range());
    if !plan.sla.first_response.is_empty() {
        text.push_str(&format!("as_of {}\n", plan.as_of));
    }
    for e in entries {
        text.push_str(&e.part);
        text.push('\n');
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// The report of a run that found nothing new since `last`: its outputs stand as they are.
fn unchanged_report(
    staging: &stage::Staging,
    last: &store::LastRun,
    removed_stale: Vec<PathBuf>,
    timer: &timing::Timer,
    run_id: &str,
) -> RunReport {
    let mut rows: BTreeMap<Table, u64> = BTreeMap::new();
    for e in &staging.entries {
        if let Some(t) = Table::from_name(&e.table) {
            *rows.entry(t).or_default() += e.rows + e.malformed.len() as u64;
        }
    }
    timer.done("nothing changed");
    RunReport {
        rows: rows.into_iter().collect(),
        rejected: Vec::new(),
        superseded: Vec::new(),
        blank_lines: Vec::new(),
        notes: staging.notes.clone(),
        warnings: Vec::new(),
        removed_stale,
        files_staged: staging.files_staged,
        files_reused: staging.files_reused,
        store_discarded: None,
        remapped: Vec::new(),
        damaged_parts: staging.damaged,
        periods_recomputed: BTreeMap::new(),
        unchanged_since: Some(last.run_id.clone()),
        run_id: run_id.to_string(),
        lock_taken_over: None,
        outputs: Vec::new(),
        seconds: timer.elapsed(),
    }
}

/// Staging writes a typed copy of every input beside the outputs; it needs about this share of the
/// inputs' size (measured: the generated 1M-ticket dump, 167 MB of CSV, peaked at 39 MB of work files).
const STAGE_SHARE: f64 = 0.25;

/// Fails before any work when the disk cannot hold the staged copy of the inputs.
fn check_free_space(plan: &Plan, work: &Path) -> Result<(), Error> {
    let Some(free) = sink::free_space(work) else { return Ok(()) };
    let mut inputs = 0u64;
    for source in &plan.sources {
        for file in read::files(source)? {
            inputs += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        }
    }
    let needed = (inputs as f64 * STAGE_SHARE) as u64;
    if needed > free {
        return Err(Error::Output {
            path: work.parent().unwrap_or(work).to_path_buf(),
            message: format!(
                "not enough free space to stage the inputs: about {} needed (a typed copy of {} of input files), {} free; \
                 free some space or write the outputs to another disk with --out",
                human_bytes(needed),
                human_bytes(inputs),
                human_bytes(free)
            ),
        });
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n => format!("{:.0} kB", n / 1e3),
    }
}

/// A temporary folder for rewritten inputs when no run's work folder exists (`validate`, `explain`).
fn scratch_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("deskpulse-check-")
        .tempdir()
        .map_err(|e| Error::Output { path: std::env::temp_dir(), message: e.to_string() })
}

/// What `deskpulse run` did.
#[derive(Debug)]
pub struct RunReport {
    /// Rows read per table.
    pub rows: Vec<(Table, u64)>,
    /// Quarantined rows per table and reason.
    pub rejected: Vec<(Table, String, u64)>,
    /// Older copies dropped under `duplicates: keep_latest`, per table.
    pub superseded: Vec<(Table, u64)>,
    /// Blank lines skipped, per table and file.
    pub blank_lines: Vec<(Table, String, u64)>,
    /// How files were read (their encoding), for the user to know.
    pub notes: Vec<String>,
    /// What the user should look at although the run succeeded (references that did not resolve, a KPI
    /// left out of a segment…).
    pub warnings: Vec<String>,
    /// Work folders of dead runs removed before this one started.
    pub removed_stale: Vec<PathBuf>,
    /// Input files staged into the store, and read from it as they were.
    pub files_staged: usize,
    pub files_reused: usize,
    /// Why the store's previous content was not used, when it was not.
    pub store_discarded: Option<String>,
    /// Sources whose files were staged again because their mapping changed.
    pub remapped: Vec<String>,
    /// Parts found missing or cut short, whose files were staged again.
    pub damaged_parts: usize,
    /// Segments recomputed only for the periods new data touched: how many periods each (the others, whole).
    pub periods_recomputed: BTreeMap<String, usize>,
    /// The run that wrote the outputs, when nothing has changed since: the outputs were kept as they were.
    pub unchanged_since: Option<String>,
    pub run_id: String,
    /// The holder of a lock left by a dead run, taken over.
    pub lock_taken_over: Option<String>,
    pub outputs: Vec<(String, usize, Vec<PathBuf>)>,
    pub seconds: f64,
}

/// Runs the plan and writes its outputs into `out_dir`; nothing is written unless every table succeeds.
pub fn run(plan: &Plan, out_dir: &Path) -> Result<RunReport, Error> {
    run_with(plan, out_dir, &RunOptions::default())
}

/// How a run treats what earlier runs left.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stage every input again, ignoring the store.
    pub full: bool,
    /// Fail rather than stage every file of a source again when the store cannot be used for it (another
    /// deskpulse version, a changed mapping).
    pub no_restage: bool,
    /// A backfill: recompute the periods starting in `[from, to)` and replace only those.
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    /// The store's folder (default `DIR/_store`).
    pub store: Option<PathBuf>,
    /// Told each stage's end (progress, logs).
    pub on_stage: Option<timing::StageHook>,
    /// The cluster that runs the segments' group-bys (`--engine ballista`); every period is recomputed.
    #[cfg(feature = "ballista")]
    pub cluster: Option<std::sync::Arc<crate::distributed::Cluster>>,
    /// The executors cannot read the store's parts (`--hand-over-rows`): the client hands every row over.
    #[cfg(feature = "ballista")]
    pub hand_over_rows: bool,
}

impl RunOptions {
    fn store_dir(&self, plan: &Plan, out_dir: &Path) -> PathBuf {
        self.store.clone().or_else(|| plan.store_dir.clone()).unwrap_or_else(|| out_dir.join("_store"))
    }
}

/// `run`, with options: under the output directory's lock, and leaving a run record, failed or not.
pub fn run_with(plan: &Plan, out_dir: &Path, options: &RunOptions) -> Result<RunReport, Error> {
    let timer = timing::Timer::start(options.on_stage.clone());
    let started = jiff::Timestamp::now();
    let run_id = record::new_run_id(started);
    let lock = sink::lock::Lock::acquire(out_dir)?;
    let mut result = run_in(plan, out_dir, options, &timer, &run_id).map_err(|e| as_disk_fault(out_dir, e));
    if let Ok(report) = &mut result {
        report.lock_taken_over = lock.took_over.clone();
    }
    let ctx = record::Context {
        run_id: &run_id,
        started,
        plan,
        options,
        seconds: timer.stages(),
        total_seconds: timer.elapsed(),
    };
    let written = record::write(out_dir, &record::record(&ctx, &result));
    if let (Ok(_), Err(e)) = (&result, written) {
        return Err(Error::Output { path: out_dir.join(record::RUNS), message: format!("the run record: {e}") });
    }
    // The pipeline's report reads the outputs and the record just written, still under the run's lock.
    if let (Ok(_), Some(name)) = (&result, &plan.report) {
        crate::report::write(out_dir, &out_dir.join(name))?;
    }
    drop(lock);
    result
}

/// A full disk surfaces as whatever failed first: a write, or a read of a truncated staged file. Either is
/// the output disk's fault (exit 4), not the input's or a bug.
fn as_disk_fault(out_dir: &Path, e: Error) -> Error {
    match e {
        Error::Internal(message) | Error::Data(DataError::Unreadable { message, .. })
            if disk_full(out_dir, &message) =>
        {
            Error::Output { path: out_dir.to_path_buf(), message: format!("the disk is full: {}", short(&message)) }
        },
        other => other,
    }
}

/// Does this failure come from a full disk under `dir`?
fn disk_full(dir: &Path, message: &str) -> bool {
    const NEARLY_FULL: u64 = 16 << 20;
    message.contains("No space left")
        || message.contains("os error 28")
        || message.contains("Disk quota exceeded")
        || sink::free_space(dir).is_some_and(|free| free < NEARLY_FULL)
}

/// The first line of an engine message, at most a few hundred bytes (the engine may quote whole rows).
pub(crate) fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

fn run_in(
    plan: &Plan,
    out_dir: &Path,
    options: &RunOptions,
    timer: &timing::Timer,
    run_id: &str,
) -> Result<RunReport, Error> {
    let backfill = options.from.is_some() || options.to.is_some();
    let single = plan.layout == crate::plan::Layout::Single;
    if backfill && single && !plan.formats.contains(&crate::plan::OutputFormat::Parquet) {
        return Err(Error::Usage(
            "a backfill (--from/--to) merges its periods into the earlier Parquet tables: add parquet to \
             outputs.formats, or use outputs.layout: hive"
                .into(),
        ));
    }
    let mut output = sink::Output::create(out_dir)?;
    let trace = |what: &str| timer.done(what);
    // The row rules are marked while the sources are read, so that the staged table is the only copy: the
    // rejected rows are split off it, and the segments read it with the kept rows' filter.
    let removed_stale = output.removed_stale.clone();
    check_free_space(plan, output.work_dir())?;
    let inputs_dir = output.work_dir().join("inputs");
    std::fs::create_dir_all(&inputs_dir)
        .map_err(|e| Error::Output { path: inputs_dir.clone(), message: e.to_string() })?;
    let mut store = store::Store::open(&options.store_dir(plan, out_dir))?;
    if let (Some(why), true) = (&store.discarded, options.no_restage) {
        return Err(Error::Output {
            path: store.dir.clone(),
            message: format!("{why}; --no-restage forbids staging every file again"),
        });
    }
    let restage = options.full || store.discarded.is_some();
    let staging =
        stage::stage(plan, &store, restage, &inputs_dir, &|done, total| timer.progress("staging files", done, total))?;
    if options.no_restage && !staging.remapped.is_empty() {
        return Err(Error::Output {
            path: store.dir.clone(),
            message: format!(
                "the mapping of source(s) {} changed since their files were staged; --no-restage forbids staging \
                 them again",
                staging.remapped.join(", ")
            ),
        });
    }
    trace("sources read and staged");
    let key = inputs_key(plan, &staging.entries);
    if let Some(last) = store.manifest.last_run.as_ref().filter(|_| !options.full && !backfill) {
        if last.inputs_key == key && last.outputs.iter().all(|o| out_dir.join(o).exists()) {
            let report = unchanged_report(&staging, last, removed_stale, timer, run_id);
            // Files read again (a new modification time, the same bytes) are known by their new times.
            let manifest =
                store::Manifest { files: staging.entries.clone(), last_run: Some(last.clone()), ..Default::default() };
            store.commit(manifest, &staging.new_parts)?;
            return Ok(report);
        }
    }
    timing::traced("values checked", || check_values(plan, &staging.fresh))?;
    let mut rows: Vec<(Table, u64)> = staging.rows().into_iter().collect();
    for (table, n) in rows.iter_mut() {
        *n += staging.malformed_of(*table).count() as u64;
    }
    trace("values checked");
    let mut rejected_paths = BTreeMap::new();
    for table in staging.read.keys() {
        rejected_paths.insert(*table, output.reserve(&format!("_rejected/{table}.parquet"))?);
    }
    let verdicts = judge::verdicts(plan, &staging, &|what| trace(what))?;
    let mut warnings: Vec<String> = plan.segments.iter().filter_map(left_out_warning).collect();
    let nowhere: Vec<&str> = (0..plan.kpis.len())
        .filter(|i| !plan.segments.iter().any(|s| s.kpis.contains(i)))
        .map(|i| plan.kpis[i].name.as_str())
        .collect();
    if !nowhere.is_empty() {
        warnings.push(format!("no segment computes {}: their dimensions or grains do not fit", nowhere.join(", ")));
    }
    warnings.extend(verdicts.unresolved.iter().map(|(_, w)| w.clone()));
    trace("references checked");
    judge::write_rejected(plan, &staging, &verdicts, &rejected_paths)?;
    #[cfg(feature = "ballista")]
    let store_reads = match options.cluster.is_some() && !options.hand_over_rows {
        true => from_store::StoreReads {
            parts: staging
                .part_files
                .iter()
                .map(|(t, parts)| (*t, parts.iter().map(|p| p.path.clone()).collect()))
                .collect(),
            dropped: judge::dropped_by_table_verdicts(plan, &staging, &verdicts)?,
        },
        false => from_store::StoreReads::default(),
    };
    let judge::Verdicts { judged, may_supersede, unresolved, copies, orphans, .. } = verdicts;
    let kept: BTreeMap<Table, LazyFrame> = judged.into_iter().map(|(t, lf)| (t, quarantine::kept(lf))).collect();
    trace("quarantined rows written");
    let (rejected, superseded) =
        judge::quarantine_report(plan, &rows, &kept, &may_supersede, &rejected_paths, &unresolved)?;
    trace("quarantine counted");
    let mut staged = Staged::new(plan, threads::resolve(plan, kept)?, None);
    #[cfg(feature = "ballista")]
    {
        staged.cluster = options.cluster.clone();
    }
    if !plan.business_hours.is_empty() {
        staged.clock = Some(business_clock(plan, &staged.frames)?);
    }
    // After a night that brought only ticket or survey files, the segments are computed for the periods
    // those files touch, and merged into the tables the last run wrote.
    let partial_ok = !options.full
        && !staged.on_cluster()
        && !backfill
        && store.discarded.is_none()
        && staging.damaged == 0
        && plan.engine != EngineChoice::InMemory
        && plan.formats.contains(&crate::plan::OutputFormat::Parquet);
    let only: BTreeMap<String, Vec<i32>> = match store.manifest.last_run.as_ref().filter(|_| partial_ok) {
        Some(last) => touched::periods_to_recompute(plan, &store.dir, &inputs_dir, &store.manifest, last, &staging)?
            .unwrap_or_default()
            .into_iter()
            // A segment no new row reaches (the night's rows all quarantined) is computed whole: it has no
            // period of its own to merge.
            .filter(|(name, days)| {
                !days.is_empty()
                    && plan.segments.iter().any(|s| s.name == *name && earlier_output_whole(out_dir, last, s))
            })
            .collect(),
        None => BTreeMap::new(),
    };
    trace("periods to recompute");
    let earlier = (!only.is_empty()).then(|| out_dir.to_path_buf());
    check_metric_sql(plan, &staged)?;
    staged.only = only.clone();
    staged.earlier = earlier;
    if !only.is_empty() {
        staged.part_reads = Some(parts::PartReads::new(staging.part_files.clone(), copies, orphans, &staging.read)?);
    }
    // A single segment reads each table once anyway; holding would only add the memory.
    if staged.only.is_empty() && plan.segments.len() > 1 {
        timing::traced("small tables held", || hold::hold_small_tables(&mut staged, &staging.rows()))?;
    }
    timing::traced("facts computed", || facts::compute_once(plan, &mut staged, output.work_dir()))?;
    staged.answers = timing::traced("answers with their tickets", || {
        segment::answers_with_tickets(plan, &staged, output.work_dir())
    })?;
    staged.answered = timing::traced("answered tickets", || segment::answered_tickets(plan, &staged))?;
    #[cfg(feature = "ballista")]
    if let Some(cluster) = staged.cluster.clone() {
        for shared in segment::shared_rows(plan, &staged, &store_reads)? {
            let table = shared.table;
            let from_store = match shared.from_store {
                Some(query) => timing::traced(&format!("{table} read from the store"), || cluster.read_store(query))?,
                None => None,
            };
            let handed = match from_store {
                Some(handed) => {
                    tracing::info!(
                        event = "store_read",
                        table = table.name(),
                        "{table}: the executors read its rows from the store's parts"
                    );
                    handed
                },
                None if shared.readers < 2 => continue,
                None => {
                    timing::traced(&format!("{table} handed over"), || cluster.hand_over(table.name(), shared.rows))?
                },
            };
            staged.shared.insert(table, handed);
        }
    }
    id_index::forget();
    let engine = match plan.engine {
        EngineChoice::Auto | EngineChoice::Streaming => Engine::Streaming,
        EngineChoice::InMemory => Engine::InMemory,
    };
    let mut names: Vec<String> = plan.segments.iter().map(|s| s.name.clone()).collect();
    let mut extras = Vec::new();
    for (name, frame) in [
        ("review_sample", review::review_sample(plan, &staged)?),
        ("follow_up", review::follow_up(plan, &staged)?),
        ("tickets", review::per_ticket(plan, &staged)?),
    ] {
        if let Some(frame) = frame {
            names.push(format!("{name}/{name}"));
            extras.push(frame);
        }
    }
    let tables = match engine {
        Engine::Streaming => streamed_tables(plan, &staged, extras, timer)?,
        _ => {
            let mut frames: Vec<LazyFrame> =
                plan.segments.iter().map(|s| segment::segment_frame(plan, s, &staged)).collect::<Result<_, _>>()?;
            frames.extend(extras);
            // In memory, one joint plan: the tables' scans and joins are shared between segments.
            LazyFrame::collect_all_with_engine(
                frames.into_iter().map(|f| f.logical_plan).collect(),
                engine,
                OptFlags::default(),
            )?
        },
    };
    trace("segments computed");
    let metadata = sink::metadata(plan);
    let mut outputs = Vec::new();
    let mut named: Vec<(String, DataFrame)> = Vec::new();
    // Which earlier row each row of a merged table is: those rows' CSV lines are copied from the last run's.
    let mut earlier_rows: BTreeMap<String, IdxCa> = BTreeMap::new();
    for (name, df) in names.into_iter().zip(tables) {
        // With `hive`, the recomputed periods are written as partitions beside the others, as they are.
        let df = match only.get(&name).filter(|_| single) {
            Some(days) => {
                let touched = segment::one_of_days(period_day(), days);
                let earlier = timing::traced(&format!("read earlier {name}"), || earlier_table(out_dir, &name))?;
                let merged = timing::traced(&format!("merge {name}"), || sink::merge_periods(earlier, df, touched))?;
                earlier_rows.extend(merged.earlier_rows.map(|rows| (name.clone(), rows)));
                merged.table
            },
            None => df,
        };
        named.push((name, df));
    }
    for (seg, (_, df)) in plan.segments.iter().zip(&named) {
        let kept_partitions = || {
            let days = &only[&seg.name];
            sink::partitions_on_disk(&out_dir.join(&seg.name)).iter().any(|(_, d)| d.is_none_or(|d| !days.contains(&d)))
        };
        if df.height() > 0 || backfill || (!single && only.contains_key(&seg.name) && kept_partitions()) {
            continue;
        }
        let what = format!("segment `{}` has no rows: no kept row falls in it", seg.name);
        if !plan.allow_empty {
            return Err(DataError::Empty { what, hints: warnings }.into());
        }
        warnings.push(what);
    }
    if let Some(b) = &plan.benchmarks {
        let merged_into = if single { &only } else { &BTreeMap::new() };
        for (name, merged) in benchmark_tables(plan, b, &named, merged_into, out_dir)? {
            earlier_rows.extend(merged.earlier_rows.map(|rows| (name.clone(), rows)));
            named.push((name, merged.table));
        }
    }
    let day = |d: Option<jiff::civil::Date>| d.map(|d| segment::days_since_epoch(d) as i32);
    let window = (day(options.from), day(options.to));
    output.keep_identical = !backfill;
    for (name, mut df) in named {
        // A segment's table or its benchmark table: both are partitioned by period with `hive`.
        let of_segment = plan.segments.iter().find(|s| s.name == name || benchmark::output_name(s) == name);
        let is_segment = of_segment.is_some_and(|s| s.name == name);
        let (rows, paths) = match (of_segment, plan.layout) {
            (Some(seg), crate::plan::Layout::Hive) => {
                let which = match only.get(&seg.name) {
                    _ if backfill => sink::Partitions::Window(window.0, window.1),
                    Some(days) => sink::Partitions::Days(days.iter().copied().collect()),
                    None => sink::Partitions::All,
                };
                let paths = timing::traced(&format!("write {name}"), || {
                    output.write_partitioned(&name, &df, &plan.formats, &metadata, &which)
                })?;
                (df.height(), paths)
            },
            (Some(_), crate::plan::Layout::Single) if backfill && is_segment => {
                let mut merged = sink::merge_window(earlier_table(out_dir, &name)?, df, window.0, window.1)?;
                (merged.height(), output.write_table(&name, &mut merged, &plan.formats, &metadata)?)
            },
            _ => {
                let digests = store.manifest.last_run.as_ref().map(|l| &l.digests);
                let mut earlier_csv = earlier_rows
                    .get(&name)
                    .and_then(|rows| Some((sink::EarlierCsv::open(out_dir, &name, digests?)?, rows)));
                let earlier = earlier_csv.as_mut().map(|(csv, rows)| (csv, *rows));
                let paths = timing::traced(&format!("write {name}"), || {
                    output.write_merged(&name, &mut df, &plan.formats, &metadata, earlier)
                })?;
                (df.height(), paths)
            },
        };
        outputs.push((name, rows, paths));
    }
    trace("outputs written");
    output.commit()?;
    trace("outputs committed");
    // After a backfill the outputs are not what a full run would write (periods outside the window were
    // kept): the next run recomputes.
    let (pipeline_hash, plausible, as_of) = touched::settings(plan);
    let last_run = (!backfill).then(|| store::LastRun {
        run_id: run_id.to_string(),
        inputs_key: key,
        outputs: output.written(),
        digests: output.digests(),
        pipeline_hash: Some(pipeline_hash),
        plausible: Some(plausible),
        as_of,
    });
    store.commit(
        store::Manifest { files: staging.entries.clone(), last_run, ..Default::default() },
        &staging.new_parts,
    )?;
    Ok(RunReport {
        rows,
        rejected,
        superseded,
        blank_lines: staging.blank_lines.clone(),
        notes: staging.notes.clone(),
        warnings,
        files_staged: staging.files_staged,
        files_reused: staging.files_reused,
        store_discarded: store.discarded.clone(),
        remapped: staging.remapped.clone(),
        damaged_parts: staging.damaged,
        periods_recomputed: only.iter().map(|(s, d)| (s.clone(), d.len())).collect(),
        unchanged_since: None,
        run_id: run_id.to_string(),
        lock_taken_over: None,
        removed_stale,
        outputs,
        seconds: timer.elapsed(),
    })
}

/// The peer and reference comparisons of the segments' tables (`named`, in the order of the segments). A
/// row is compared with its own period's rows only: on a night, those of the periods not recomputed
/// (`only`) stand as the last run wrote them.
fn benchmark_tables(
    plan: &Plan,
    b: &crate::plan::Benchmarks,
    named: &[(String, DataFrame)],
    only: &BTreeMap<String, Vec<i32>>,
    out_dir: &Path,
) -> Result<Vec<(String, sink::Merged)>, Error> {
    let reference = benchmark::reference_table(b)?;
    let mut out = Vec::new();
    for (seg, (_, df)) in plan.segments.iter().zip(named) {
        let name = benchmark::output_name(seg);
        let earlier = match only.get(&seg.name) {
            Some(days) => timing::traced(&format!("read earlier {name}"), || earlier_table(out_dir, &name))?
                .map(|e| (e, segment::one_of_days(period_day(), days))),
            None => None,
        };
        let rows = match &earlier {
            Some((_, touched)) => df.clone().lazy().filter(touched.clone()).collect()?,
            None => df.clone(),
        };
        let Some(lf) = benchmark::benchmark(plan, b, seg, &rows, reference.clone())? else { continue };
        let lf = timing::traced(&format!("compare {name}"), || lf.collect())?;
        let compared = match earlier {
            Some((earlier, touched)) => {
                timing::traced(&format!("merge {name}"), || sink::merge_periods(Some(earlier), lf, touched))?
            },
            None => sink::Merged { table: lf, earlier_rows: None },
        };
        out.push((name, compared));
    }
    Ok(out)
}

/// The segments' tables (then `extras`) on the streaming engine, one aggregation at a time, so that the
/// peak memory is the largest aggregation's rather than the sum of all (10M tickets: 1.5 → 0.9 GB).
fn streamed_tables(
    plan: &Plan,
    staged: &Staged,
    extras: Vec<LazyFrame>,
    timer: &timing::Timer,
) -> Result<Vec<DataFrame>, Error> {
    let streamed = |lf: LazyFrame| lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single());
    let mut tables = Vec::new();
    let total = plan.segments.len() as u64;
    let trace = std::env::var_os("DESKPULSE_TRACE");
    let show_plans = trace.as_deref() == Some(std::ffi::OsStr::new("plan"));
    let trace = trace.is_some();
    for (i, seg) in plan.segments.iter().enumerate() {
        timer.progress("segments", i as u64, total);
        let parts = segment::segment_parts(plan, seg, staged)?
            .into_iter()
            .map(|part| {
                let started = std::time::Instant::now();
                if show_plans {
                    eprintln!("{}", part.describe_optimized_plan()?);
                }
                let df = streamed(part)?;
                if trace {
                    // Which KPIs a part computes, and how long it took: where a segment's time goes.
                    let kpis = df.column("kpi").ok().and_then(|c| c.unique_stable().ok());
                    let names: Vec<String> = kpis
                        .and_then(|c| c.str().ok().map(|s| s.iter().flatten().map(str::to_string).collect()))
                        .unwrap_or_default();
                    eprintln!("    part {:.2} s: {}", started.elapsed().as_secs_f64(), names.join(" "));
                }
                Ok(df.lazy())
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        tables.push(segment::finish(seg, concat(parts, UnionArgs::default())?).collect()?);
        timer.done(&format!("segment {}", seg.name));
        timer.progress("segments", i as u64 + 1, total);
    }
    for extra in extras {
        tables.push(streamed(extra)?);
    }
    Ok(tables)
}

/// One line per segment naming the declared KPIs it leaves out, grouped by reason.
fn left_out_warning(segment: &crate::plan::Segment) -> Option<String> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (kpi, why) in &segment.left_out {
        match by_reason.iter_mut().find(|(w, _)| w == why) {
            Some((_, kpis)) => kpis.push(kpi),
            None => by_reason.push((why, vec![kpi])),
        }
    }
    let parts: Vec<String> = by_reason.iter().map(|(why, kpis)| format!("{} ({why})", kpis.join(", "))).collect();
    (!parts.is_empty()).then(|| format!("segment `{}` leaves out {}", segment.name, parts.join("; ")))
}

/// The business clock over the tickets' whole span, up to the as-of day.
fn business_clock(plan: &Plan, frames: &BTreeMap<Table, LazyFrame>) -> Result<business::BusinessClock, Error> {
    let today = plan.as_of.to_zoned(jiff::tz::TimeZone::UTC).date();
    let Some(tickets) = frames.get(&Table::Tickets) else {
        return Ok(business::BusinessClock::new(plan, today, today)?);
    };
    let day = |c: &str| col(c).dt().date().cast(DataType::Int32);
    let last = polars::lazy::dsl::max_horizontal(
        ["created_at", "first_response_at", "resolved_at", "closed_at"].map(|c| day(c).max()),
    )?;
    let (lo, hi) = segment::day_span(tickets.clone(), day("created_at").min(), last)?.unwrap_or((today, today));
    let hi = hi.max(today);
    Ok(business::BusinessClock::new(plan, lo.min(hi), hi)?)
}

/// Rows per row group of the staged tables: the unit the later passes read.
const STAGE_ROW_GROUP: usize = 128 * 1024;

/// Sinks each frame to its Parquet file, all in one streaming pass.
pub(super) fn sink_all(
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
fn read_error(plan: &Plan, e: PolarsError) -> Error {
    let sources: Vec<&str> = plan.sources.iter().map(|s| s.name.as_str()).collect();
    Error::Data(DataError::Unreadable {
        source_name: sources.join(", "),
        file: "(one of the source files)".into(),
        message: short(&e.to_string()),
    })
}

/// Fails on the first column with values that do not read as their type.
fn check_values(plan: &Plan, raw: &BTreeMap<Table, LazyFrame>) -> Result<(), Error> {
    for (table, lf) in raw {
        // Sources that quarantine unreadable values leave them to `quarantine`.
        let quarantining: Vec<&str> =
            plan.sources_of(*table).filter(|s| s.quarantine_unreadable).map(|s| s.name.as_str()).collect();
        let failing = compile::one_of(col(normalise::SOURCE), &quarantining).not();
        let typed: Vec<&str> = table.columns().iter().filter(|c| c.is_checked()).map(|c| c.name).collect();
        let counts: Vec<Expr> = typed
            .iter()
            .map(|c| col(normalise::bad(c)).is_not_null().and(failing.clone()).sum().cast(DataType::UInt64).alias(*c))
            .collect();
        if counts.is_empty() {
            continue;
        }
        // Rows with some bad value first: a column chunk whose statistics count only nulls is skipped unread.
        let any_bad = typed.iter().map(|c| col(normalise::bad(c)).is_not_null()).reduce(|a, b| a.or(b));
        let rows = match any_bad {
            Some(any) => lf.clone().filter(any),
            None => lf.clone(),
        };
        let df = rows.select(counts).collect_with_engine(Engine::Streaming)?.unwrap_single();
        let get = |name: &str| -> u64 { df.column(name).ok().and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0) };
        for column in typed {
            let total = get(column);
            if total == 0 {
                continue;
            }
            let bad = normalise::bad(column);
            let sample = lf
                .clone()
                .filter(col(bad.as_str()).is_not_null().and(failing.clone()))
                .select([col(normalise::SOURCE), col(read::FILE), col(read::ROW), col(bad.as_str())])
                .limit(5)
                .collect()?;
            let text = |name: &str, i: usize| -> String {
                sample.column(name).ok().and_then(|c| c.str().ok()?.get(i)).unwrap_or("").to_string()
            };
            // The mapping of the source the first bad value came from: its line, and its column's name as the
            // file has it.
            let first_source = text(normalise::SOURCE, 0);
            let mapping = plan
                .sources_of(*table)
                .filter(|s| s.name == first_source)
                .flat_map(|s| s.columns.iter())
                .find(|m| m.canonical.name == column);
            let source_column = mapping.map(normalise::source_column_name).unwrap_or_else(|| column.to_string());
            let examples = (0..sample.height())
                .map(|i| BadValue {
                    file: text(read::FILE, i),
                    row: sample.column(read::ROW).ok().and_then(|c| c.u64().ok()?.get(i)).unwrap_or(0),
                    column: if text(normalise::SOURCE, i) == first_source {
                        source_column.clone()
                    } else {
                        column.to_string()
                    },
                    value: text(&bad, i),
                })
                .collect();
            let at = mapping.map(|m| m.at).unwrap_or_default();
            return Err(DataError::BadValues {
                table: table.to_string(),
                column: column.to_string(),
                expected: normalise::expected(*table, column, plan),
                total,
                examples,
                at,
            }
            .into());
        }
    }
    Ok(())
}

/// The optimised Polars plan of each output, computed straight from the sources.
/// The declared metrics' SQL evaluated on the first staged rows of their tables: an attribute typed as text
/// (some file's values were not numbers) compared with a number is the pipeline's mistake, reported at the
/// SQL's line before the segments run, not an engine failure in the middle of them.
fn check_metric_sql(plan: &Plan, staged: &Staged) -> Result<(), Error> {
    for kpi in &plan.kpis {
        for (table, e) in kpi.sql() {
            let crate::catalog::expr::Expr::Sql { text, at, .. } = e else { continue };
            let Ok(rows) = staged.scan(table) else { continue };
            let Err(err) = rows.limit(1_000).select([compile::expr(e).alias("__sql")]).collect() else { continue };
            let d = crate::plan::Diagnostic::new(
                format!("`{text}` cannot be evaluated on the {table} table: {}", short(&err.to_string())),
                *at,
            )
            .with_help(
                "an attribute typed from its values is text when some file's values are not all numbers: declare its \
                 `type` under `attributes:`, or compare it with a quoted text",
            );
            return Err(normalise::plan_error(plan, d));
        }
    }
    Ok(())
}

pub fn explain(plan: &Plan) -> Result<String, Error> {
    let scratch = scratch_dir()?;
    let prepared = prepare::prepare(plan, scratch.path())?;
    let staged = normalised(plan, &prepared)?;
    let mut out = String::new();
    for seg in &plan.segments {
        let lf = segment::segment_frame(plan, seg, &staged)?;
        out.push_str(&format!("== segment {} ==\n{}\n\n", seg.name, lf.explain(true)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_an_output_fault_whatever_failed() {
        let dir = std::env::temp_dir();
        let internal = Error::Internal("parquet: Io error: No space left on device (os error 28)".into());
        assert_eq!(as_disk_fault(&dir, internal).exit_code(), crate::error::exit::OUTPUT);
        let unreadable = Error::Data(DataError::Unreadable {
            source_name: "t".into(),
            file: "(one of the source files)".into(),
            message: "parquet: No space left on device".into(),
        });
        assert_eq!(as_disk_fault(&dir, unreadable).exit_code(), crate::error::exit::OUTPUT);
        let bug = Error::Internal("not found: column x".into());
        assert_eq!(as_disk_fault(&dir, bug).exit_code(), crate::error::exit::INTERNAL);
    }

    #[test]
    fn engine_messages_are_cut_to_their_first_line() {
        let long = format!("could not parse `{}`\nrest of the file", "x".repeat(10_000));
        let cut = short(&long);
        assert!(cut.len() < 400 && !cut.contains("rest of the file"), "{cut}");
    }
}
