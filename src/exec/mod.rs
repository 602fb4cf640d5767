//! Execution on Polars: scans the sources, normalises them into canonical tables (staged as Parquet beside
//! the outputs, so that a large CSV is parsed once), checks bad values, computes every segment's KPI table
//! from one joint plan, and hands the tables to `sink`. The only module that imports polars.

mod compile;
mod normalise;
mod read;
mod segment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

use crate::error::{BadValue, DataError, Error};
use crate::model::{ColumnType, Table};
use crate::plan::Plan;
use crate::sink;

pub use segment::OUTPUT_COLUMNS;

/// The canonical tables a plan computes from: lazily normalised sources, or their staged Parquet copies.
pub struct Staged {
    frames: BTreeMap<Table, LazyFrame>,
}

impl Staged {
    pub fn scan(&self, table: Table) -> Result<LazyFrame, Error> {
        self.frames.get(&table).cloned().ok_or_else(|| Error::Internal(format!("no source feeds the {table} table")))
    }
}

/// Every table's sources, normalised and appended, as lazy frames (nothing is read but headers and samples).
pub fn normalised(plan: &Plan) -> Result<Staged, Error> {
    let mut frames = BTreeMap::new();
    for table in Table::ALL {
        let mut parts = Vec::new();
        for source in plan.sources_of(table) {
            for file in read::files(source)? {
                let mut lf = read::scan(source, &file)?;
                let schema = read::schema(source, &file, &mut lf)?;
                parts.push(normalise::normalise(plan, source, &file, lf, &schema)?);
            }
        }
        if parts.is_empty() {
            continue;
        }
        let lf = concat(parts, UnionArgs::default())?;
        frames.insert(table, lf);
    }
    if let (Some(tickets), Some(messages)) = (frames.get(&Table::Tickets), frames.get(&Table::Messages)) {
        let waits = reply_waits(plan, tickets.clone(), messages.clone());
        let filled = from_messages(plan, tickets.clone(), messages.clone());
        frames.insert(Table::ReplyWaits, waits);
        frames.insert(Table::Tickets, filled);
    }
    if let Some(tickets) = frames.get_mut(&Table::Tickets) {
        *tickets = tickets.clone().with_columns(ticket_rules(plan));
    }
    Ok(Staged { frames })
}

fn by_agent(plan: &Plan) -> Expr {
    let roles = Series::new("r".into(), plan.definitions.agent_roles.iter().map(String::as_str).collect::<Vec<_>>());
    col("author_role")
        .is_in(lit(roles).implode(false), false)
        .and(col("is_public").fill_null(lit(true)))
        .fill_null(lit(false))
}

/// Customer waits for an agent: a wait starts at a customer message that follows the ticket's opening or a
/// public agent message, and ends at the next public agent message. Bots, system messages and internal
/// notes are dropped first, so they neither start nor end a wait.
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
        .sort(["ticket_id", "created_at"], SortMultipleOptions::default().with_maintain_order(true))
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
        .filter(by_agent(plan))
        .select([col("ticket_id"), col("created_at")])
        .left_join(opened, col("ticket_id"), col("ticket_id"))
        .group_by([col("ticket_id")])
        .agg([
            col("created_at").filter(col("created_at").gt(col("__opened"))).min().alias("__first_reply"),
            len().cast(DataType::Int64).alias("__replies"),
        ]);
    tickets
        .left_join(replies, col("ticket_id"), col("ticket_id"))
        .with_columns([
            when(col("first_response_at").is_null())
                .then(col("__first_reply"))
                .otherwise(col("first_response_at"))
                .alias("first_response_at"),
            when(col("agent_replies").is_null())
                .then(col("__replies").fill_null(lit(0i64)))
                .otherwise(col("agent_replies"))
                .alias("agent_replies"),
        ])
        .drop(cols(["__first_reply", "__replies"]))
}

/// Resolution as the pipeline defines it, and `closed_at` defaulting to `resolved_at`.
fn ticket_rules(plan: &Plan) -> Vec<Expr> {
    let d = &plan.definitions;
    let mut resolved = col("resolved_at").is_not_null();
    if !d.resolved_statuses.is_empty() {
        let statuses = Series::new("s".into(), d.resolved_statuses.iter().map(String::as_str).collect::<Vec<_>>());
        resolved = resolved.and(col("status").is_in(lit(statuses).implode(false), false).fill_null(lit(false)));
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
    let staged = normalised(plan)?;
    for seg in &plan.segments {
        let _plan_builds = segment::segment_frame(plan, seg, &staged)?;
    }
    Ok(())
}

/// What `deskpulse run` did.
#[derive(Debug)]
pub struct RunReport {
    pub rows: Vec<(Table, u64)>,
    pub outputs: Vec<(String, usize, Vec<PathBuf>)>,
    pub seconds: f64,
}

/// Runs the plan and writes its outputs into `out_dir`; nothing is written unless every table succeeds.
pub fn run(plan: &Plan, out_dir: &Path) -> Result<RunReport, Error> {
    let started = Instant::now();
    let mut output = sink::Output::create(out_dir)?;
    let staged = stage(plan, &output.work_dir().join("stage"))?;
    let rows = check_values(plan, &staged)?;
    let frames: Vec<LazyFrame> =
        plan.segments.iter().map(|s| segment::segment_frame(plan, s, &staged)).collect::<Result<_, _>>()?;
    let tables = LazyFrame::collect_all_with_engine(
        frames.into_iter().map(|f| f.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )?;
    let metadata = sink::metadata(plan);
    let mut outputs = Vec::new();
    for (seg, mut df) in plan.segments.iter().zip(tables) {
        let paths = output.write_table(&seg.name, &mut df, &plan.formats, &metadata)?;
        outputs.push((seg.name.clone(), df.height(), paths));
    }
    output.commit()?;
    Ok(RunReport { rows, outputs, seconds: started.elapsed().as_secs_f64() })
}

/// Sinks every canonical table to Parquet in `dir` with the streaming engine, and scans them back.
fn stage(plan: &Plan, dir: &Path) -> Result<Staged, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Output { path: dir.to_path_buf(), message: e.to_string() })?;
    let normalised = normalised(plan)?;
    let mut sinks = Vec::new();
    let mut paths = BTreeMap::new();
    for (table, lf) in normalised.frames {
        let path = dir.join(format!("{table}.parquet"));
        let target = SinkTarget::Path(PlRefPath::new(path.to_string_lossy().as_ref()));
        let options = ParquetWriteOptions { compression: ParquetCompression::Lz4Raw, ..Default::default() };
        let sink = lf.sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(std::sync::Arc::new(options)),
            UnifiedSinkArgs::default(),
        )?;
        sinks.push(sink.logical_plan);
        paths.insert(table, path);
    }
    LazyFrame::collect_all_with_engine(sinks, Engine::Streaming, OptFlags::default())
        .map_err(|e| read_error(plan, e))?;
    let mut frames = BTreeMap::new();
    for (table, path) in paths {
        let lf = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())?;
        frames.insert(table, lf);
    }
    Ok(Staged { frames })
}

/// A read failure during the full scan (a malformed CSV line, say) is the input's fault.
fn read_error(plan: &Plan, e: PolarsError) -> Error {
    let sources: Vec<&str> = plan.sources.iter().map(|s| s.name.as_str()).collect();
    Error::Data(DataError::Unreadable {
        source_name: sources.join(", "),
        file: "(one of the source files)".into(),
        message: e.to_string(),
    })
}

/// Counts rows and fails on the first column with values that do not read as their type.
fn check_values(plan: &Plan, staged: &Staged) -> Result<Vec<(Table, u64)>, Error> {
    let mut rows = Vec::new();
    for (table, lf) in staged.frames.iter().filter(|(t, _)| !t.is_derived()) {
        let typed: Vec<&str> = table.columns().iter().filter(|c| c.ty != ColumnType::Text).map(|c| c.name).collect();
        let mut counts = vec![len().cast(DataType::UInt64).alias("__rows")];
        counts
            .extend(typed.iter().map(|c| col(normalise::bad(c)).is_not_null().sum().cast(DataType::UInt64).alias(*c)));
        let df = lf.clone().select(counts).collect()?;
        let get = |name: &str| -> u64 { df.column(name).ok().and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0) };
        rows.push((*table, get("__rows")));
        for column in typed {
            let total = get(column);
            if total == 0 {
                continue;
            }
            let bad = normalise::bad(column);
            let sample = lf
                .clone()
                .filter(col(bad.as_str()).is_not_null())
                .select([col(read::FILE), col(read::ROW), col(bad.as_str())])
                .limit(5)
                .collect()?;
            let examples = (0..sample.height())
                .map(|i| BadValue {
                    file: sample.column(read::FILE).ok().and_then(|c| c.str().ok()?.get(i)).unwrap_or("").to_string(),
                    row: sample.column(read::ROW).ok().and_then(|c| c.u64().ok()?.get(i)).unwrap_or(0),
                    column: column.to_string(),
                    value: sample.column(&bad).ok().and_then(|c| c.str().ok()?.get(i)).unwrap_or("").to_string(),
                })
                .collect();
            let at = plan
                .sources_of(*table)
                .flat_map(|s| s.columns.iter())
                .find(|m| m.canonical.name == column)
                .map(|m| m.at)
                .unwrap_or_default();
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
    Ok(rows)
}

/// The optimised Polars plan of each output, computed straight from the sources.
pub fn explain(plan: &Plan) -> Result<String, Error> {
    let staged = normalised(plan)?;
    let mut out = String::new();
    for seg in &plan.segments {
        let lf = segment::segment_frame(plan, seg, &staged)?;
        out.push_str(&format!("== segment {} ==\n{}\n\n", seg.name, lf.explain(true)?));
    }
    Ok(out)
}
