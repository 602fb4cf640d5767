//! The validated plan: everything the pipeline file says, checked and resolved into types that cannot hold
//! bad states. Built by `build` without touching data; `exec` runs it.

mod build;
mod definitions;
mod expectations;
mod metric;
mod segments;
mod sla;
mod source_types;
mod sources;
pub mod sql;
mod watch;

pub use crate::periods::Grain;
pub use build::build;
pub use expectations::{Check, Expectation};
pub use metric::{readable_schema, Readable, DECLARED};
pub(crate) use segments::dimension_available;
pub use sla::{Sla, SlaRule};
pub use source_types::{
    Attribute, AttributeType, ColumnMapping, CsvOptions, Duplicates, DurationText, Encoding, FileFormat, MappedValue,
    Source, Thread,
};
pub use sql::{parse as parse_sql, reading as sql_reading};
pub use watch::{Comparison, Target};

use std::fmt;
use std::path::PathBuf;

use crate::catalog::{Definitions, KpiDefinition};
use crate::model::{Column, ColumnType, Table};
use crate::spec::Location;

/// Whether a source's path is an object store URL (`s3://`, `gs://`, `az://`, `https://`…) rather than a
/// local path.
pub fn is_url(path: &str) -> bool {
    const SCHEMES: [&str; 9] = ["s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "https"];
    path.split_once("://").is_some_and(|(scheme, _)| SCHEMES.contains(&scheme) || scheme == "http")
}

/// The share of a table's rows that may be quarantined for faults of their own (no id, unreadable values…)
/// when the pipeline does not say: a quarter of a call log without ids, quarantined silently, left every KPI
/// covering three calls in four. References that resolve nothing do not count towards it: in incremental
/// exports a message or an answer often arrives before its ticket, and joins it on the run that brings it.
pub const DEFAULT_MAX_REJECTED_SHARE: f64 = 0.05;

#[derive(Debug)]
pub struct Plan {
    pub name: String,
    /// The pipeline file and its text, for error messages and output metadata.
    pub pipeline_path: PathBuf,
    pub pipeline_text: String,
    pub sources: Vec<Source>,
    pub definitions: Definitions,
    /// In declaration order.
    pub kpis: Vec<KpiDefinition>,
    pub segments: Vec<Segment>,
    pub window: Window,
    pub sla: Sla,
    /// The instant unanswered tickets are judged at (SLA breaches); the run's start unless `--as-of` says.
    pub as_of: jiff::Timestamp,
    /// SQL predicates over canonical columns, per table.
    pub table_filters: Vec<(Table, Sql)>,
    pub output_dir: Option<PathBuf>,
    /// `outputs.store`, resolved; `None` for `DIR/_store`.
    pub store_dir: Option<PathBuf>,
    pub layout: Layout,
    pub formats: Vec<OutputFormat>,
    /// Also write one row per ticket with its measures (`outputs.tickets`).
    pub per_ticket: bool,
    /// Also write one row per SLA instance (`outputs.sla`).
    pub sla_table: bool,
    /// Also write one row per public agent reply (`outputs.replies`).
    pub replies_table: bool,
    pub calendars: Vec<crate::calendar::Calendar>,
    /// Which calendar a ticket is measured on, most specific rule first.
    pub business_hours: Vec<CalendarRule>,
    /// Fail when more than this share of a table's rows is quarantined, when the pipeline says; else
    /// `DEFAULT_MAX_REJECTED_SHARE` of the rows quarantined for faults of their own.
    pub max_rejected_share: Option<f64>,
    /// Succeed although a table keeps no rows or a segment has none.
    pub allow_empty: bool,
    pub review_sample: Option<ReviewSample>,
    pub follow_up: Option<FollowUp>,
    pub benchmarks: Option<Benchmarks>,
    /// How segments are computed (`deskpulse run --engine`).
    pub engine: EngineChoice,
    /// Timestamps outside `[from, to)` are quarantined; `to` defaults to the day after the later of now and
    /// `as_of` (see `plausible_range`).
    pub plausible: Window,
    /// The HTML report written at the end of a run, relative to the output directory.
    pub report: Option<PathBuf>,
    /// The KPIs' targets (`target:` on a KPI entry).
    pub targets: Vec<Target>,
    /// The KPIs alerts watch (`alerts.kpis`); empty without `alerts`.
    pub alerts: Vec<String>,
    /// Checks on the rows as read (`expectations:`).
    pub expectations: Vec<Expectation>,
}

/// What a run's command line decides about the plan, given when the plan is built (a validated plan is
/// never changed afterwards).
#[derive(Clone, Copy, Debug, Default)]
pub struct RunSettings {
    /// The instant SLA judgements of unanswered tickets and "today" read (default: now).
    pub as_of: Option<jiff::Timestamp>,
    pub engine: EngineChoice,
}

/// Which Polars engine computes the segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// The engine deskpulse judges best: now streaming, which computes one aggregation at a time and was as
    /// fast as the in-memory engine on the sample pipeline and on 1M tickets, with a third of its memory.
    #[default]
    Auto,
    Streaming,
    /// One joint plan in memory, sharing scans and joins between segments.
    InMemory,
}

/// Sector benchmarks: compare segments by sector with a reference table, and accounts with their peers.
#[derive(Clone, Debug, PartialEq)]
pub struct Benchmarks {
    /// The reference CSV, resolved against the pipeline's folder.
    pub reference: Option<PathBuf>,
    pub reference_at: Location,
    pub min_peers: u64,
    /// The data's own sector (`sector:`): segments not split by sector are compared with its reference.
    pub sector: Option<String>,
    pub sector_at: Location,
}

/// The weekly quality review's draw: `size` tickets per stratum (`per` × period).
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewSample {
    pub per: Vec<&'static str>,
    pub size: u64,
    pub grain: Grain,
    /// Draw among resolved tickets placed by `resolved_at` (else every ticket, by `created_at`).
    pub resolved_only: bool,
    pub link: Option<LinkTemplate>,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FollowUp {
    pub grain: Grain,
    pub link: Option<LinkTemplate>,
}

/// A URL template: literal text and ticket columns, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkPart {
    Text(String),
    Column(&'static str),
}

pub type LinkTemplate = Vec<LinkPart>;

/// First plausible day when the pipeline does not say.
pub const PLAUSIBLE_FROM: jiff::civil::Date = jiff::civil::date(2000, 1, 1);

impl Plan {
    /// The `[from, to)` days a timestamp must fall in to be used.
    pub fn plausible_range(&self) -> (jiff::civil::Date, jiff::civil::Date) {
        let from = self.plausible.from.unwrap_or(PLAUSIBLE_FROM);
        let to = self.plausible.to.unwrap_or_else(|| {
            let latest = self.as_of.max(jiff::Timestamp::now());
            let day = latest.to_zoned(jiff::tz::TimeZone::UTC).date();
            day.tomorrow().unwrap_or(day)
        });
        (from, to)
    }

    pub fn sources_of(&self, table: Table) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(move |s| s.table == table)
    }

    /// Does a messages source read reply chains (and so feed the tickets table)?
    pub fn has_threads(&self) -> bool {
        self.sources.iter().any(|s| s.thread.is_some())
    }

    /// Is this ticket column a dimension of some segment or of the review sample's strata?
    /// Whether an id column of a source's rows is qualified by its instance (`eu:1`): the source has an
    /// instance and so does a source of the table the id is the key of.
    pub fn qualifies(&self, source: &Source, column: &str) -> bool {
        let keyed = match column {
            "ticket_id" => Table::Tickets,
            "survey_id" => Table::Surveys,
            "account_id" => Table::Accounts,
            _ => return false,
        };
        source.instance.is_some() && self.sources_of(keyed).any(|s| s.instance.is_some())
    }

    pub fn uses_dimension(&self, column: &str) -> bool {
        self.segments.iter().any(|s| s.dimensions.contains(&column))
            || self.review_sample.as_ref().is_some_and(|r| r.per.contains(&column))
            // The per-ticket table carries every dimension a ticket has (its responder among them).
            || (self.per_ticket && matches!(column, "responder" | "solver"))
    }

    /// Is the canonical column filled by at least one source (or by a default)?
    /// Whether the sources of `table` carry attribute `name`.
    pub fn has_attribute(&self, table: Table, name: &str) -> bool {
        self.attributes(table).iter().any(|(n, _)| *n == name)
    }

    /// The attributes the sources of `table` carry, each once, in the order first declared (a source that
    /// lacks one leaves it empty). The type is the declared one, if any source declares it.
    /// Every SQL snippet of the pipeline: the sources' filters and `expr:` mappings, the table filters and
    /// the declared metrics' `where`.
    pub fn sql_snippets(&self) -> Vec<Sql> {
        let mut out: Vec<Sql> = self.sources.iter().flat_map(Source::sql).cloned().collect();
        out.extend(self.table_filters.iter().map(|(_, s)| s.clone()));
        for (_, e) in self.kpis.iter().flat_map(KpiDefinition::sql) {
            if let crate::catalog::expr::Expr::Sql { text, at, .. } = e {
                out.push(Sql { text: text.clone(), at: *at });
            }
        }
        out
    }

    pub fn attributes(&self, table: Table) -> Vec<(&str, Option<AttributeType>)> {
        let mut out: Vec<(&str, Option<AttributeType>)> = Vec::new();
        for a in self.sources_of(table).flat_map(|s| &s.attributes) {
            match out.iter_mut().find(|(n, _)| *n == a.name) {
                Some((_, ty)) => *ty = ty.or(a.ty),
                None => out.push((a.name.as_str(), a.ty)),
            }
        }
        out
    }

    pub fn has_column(&self, table: Table, column: &str) -> bool {
        // Messages fill tickets' response columns and are the whole of the derived reply waits.
        let has_messages = self.sources_of(Table::Messages).next().is_some();
        let from_messages =
            table == Table::Tickets && matches!(column, "first_response_at" | "agent_replies" | "responder");
        if (from_messages || table == Table::ReplyWaits) && has_messages {
            return true;
        }
        if table == Table::SlaInstances {
            return self.sla.judges_as_of();
        }
        // A ticket history counts reopens and says when a ticket was solved.
        let has_history = self.sources_of(Table::TicketEvents).next().is_some();
        // Who solved a ticket: the history's assignee then, else the ticket's agent.
        if table == Table::Tickets && column == "solver" && (has_history || self.has_column(table, "agent_id")) {
            return true;
        }
        if table == Table::Tickets && matches!(column, "reopens" | "resolved_at") && has_history {
            return true;
        }
        if column == "instance" && self.sources_of(table).any(|s| s.instance.is_some()) {
            return true;
        }
        // Reply chains are tickets: their root's id and time.
        if table == Table::Tickets && matches!(column, "ticket_id" | "created_at") && self.has_threads() {
            return true;
        }
        self.sources_of(table).any(|s| s.columns.iter().any(|c| c.canonical.name == column))
    }
}

/// A SQL snippet from the pipeline with where it was written.
#[derive(Clone, Debug)]
pub struct Sql {
    pub text: String,
    pub at: Location,
}

/// How a segment's table is laid out on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// `DIR/<segment>.parquet` and `.csv`.
    #[default]
    Single,
    /// `DIR/<segment>/period_start=YYYY-MM-DD/part-0.parquet` and `.csv`: one folder per period.
    Hive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Parquet,
    Csv,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
        }
    }
}

/// Tickets of `channel` and/or `team` are measured on `calendar` (an index into `Plan::calendars`).
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarRule {
    pub channel: Option<String>,
    pub team: Option<String>,
    pub calendar: usize,
}

/// `name` with the program's lifetime, stored once per distinct name: segment dimensions are `&'static`
/// names, canonical ones in the model and attributes (a pipeline declares a handful) here.
pub fn interned(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    match names.get(name) {
        Some(known) => known,
        None => {
            let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
            names.insert(leaked);
            leaked
        },
    }
}

#[derive(Debug)]
pub struct Segment {
    pub name: String,
    pub dimensions: Vec<&'static str>,
    pub grain: Grain,
    /// Indices into `Plan::kpis`.
    pub kpis: Vec<usize>,
    /// Declared KPIs that apply to the segment's dimensions but that it cannot compute (CAC by week), and
    /// why: the run warns about them.
    pub left_out: Vec<(String, String)>,
    /// Earlier periods each row is compared with (`compare:`).
    pub compare: Vec<Comparison>,
    /// Count KPIs get zero rows for the periods without events (`fill: zero`).
    pub fill_zero: bool,
}

/// `60s`, `2m`, `90min`, `4h`, `2d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Half-open `[from, to)` in UTC, on each table's period timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
}

/// A problem in the pipeline file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    pub at: Location,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, at: Location) -> Diagnostic {
        Diagnostic { message: message.into(), at, help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Every problem of a pipeline, found in one pass.
#[derive(Debug, thiserror::Error)]
#[error("{} has {} problem(s)", path.display(), diagnostics.len())]
pub struct PlanError {
    pub path: PathBuf,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// What `explain` prints before the engine's plans.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline {} ({})", self.name, self.pipeline_path.display())?;
        for s in &self.sources {
            writeln!(f, "source {} -> {} from {} ({:?})", s.name, s.table, s.pattern, s.format)?;
            for c in &s.columns {
                let from = c.value.describe();
                writeln!(f, "  {}.{} <- {from}", s.table, c.canonical.name)?;
            }
        }
        for k in &self.kpis {
            let filter = k.filter.as_ref().map(|e| format!(" where {e}")).unwrap_or_default();
            writeln!(f, "kpi {} over {}{filter}", k.name, k.table)?;
            for s in &k.stats {
                writeln!(f, "  {} [{}] = {}", s.stat, s.unit.as_str(), crate::catalog::describe(&s.aggregate))?;
            }
        }
        for s in &self.segments {
            let kpis: Vec<&str> = s.kpis.iter().map(|i| self.kpis[*i].name.as_str()).collect();
            writeln!(
                f,
                "segment {} by [{}] per {}: {}",
                s.name,
                s.dimensions.join(", "),
                s.grain.name(),
                kpis.join(", ")
            )?;
        }
        Ok(())
    }
}
