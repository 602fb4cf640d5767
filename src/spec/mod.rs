//! Raw pipeline file types: what the YAML says, deserialised as written (with locations), before any check.
//! Nothing here decides meaning; `plan` validates these into executable types.

mod kpis;
mod load;
mod located;
mod sla;
mod source;
mod watch;

pub use kpis::{KpiEntry, MetricSpec};
pub use load::{load, parse, LoadError};
pub use located::{Located, Location};
pub use sla::{SlaRuleSpec, SlaSpec};
pub use source::{
    AttributeSpec, ColumnDetail, ColumnSpec, CsvSpec, HistorySpec, IdFrom, SourceSpec, SurveysSpec, ThreadSpec,
};
pub use watch::{
    AlertsSpec, ExpectationSpec, RangeSpec, RelationshipSpec, RowCountSpec, TargetRuleSpec, TargetSpec, UniqueSpec,
};

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A deskpulse pipeline: where the data is, how it maps onto the canonical tables, what to compute, where to
/// write it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Pipeline name, used in output metadata.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Named sources; several sources may feed one canonical table (their rows are appended).
    pub sources: IndexMap<String, Located<SourceSpec>>,
    /// Definition choices (what counts as resolved, FCR, CSAT and CES scales…), each with the spec's default.
    #[serde(default)]
    pub definitions: DefinitionsSpec,
    /// KPIs to compute, by catalog name (`deskpulse kpis` lists them), optionally with options.
    pub kpis: Located<Vec<Located<KpiEntry>>>,
    /// Named segments: one output table each.
    pub segments: Located<IndexMap<Located<String>, Located<SegmentSpec>>>,
    /// Service-level targets for first response and resolution, per channel and optionally priority.
    #[serde(default)]
    pub sla: SlaSpec,
    #[serde(default)]
    pub filters: FiltersSpec,
    /// Observations below which a row is flagged `low_sample` (default 30).
    #[serde(default)]
    pub min_sample: Option<Located<u64>>,
    #[serde(default)]
    pub outputs: OutputsSpec,
    /// Business calendars by name: a time zone, weekly opening hours and holidays.
    #[serde(default)]
    pub calendars: IndexMap<Located<String>, Located<CalendarSpec>>,
    /// Which calendar measures business time for which tickets; the most specific matching rule applies, and
    /// tickets no rule matches are measured around the clock.
    #[serde(default)]
    pub business_hours: Vec<Located<BusinessHoursRule>>,
    /// Rows that break the spec's rules are quarantined; the run fails, writing nothing, when more than this
    /// share (0–1) of any table's rows is quarantined.
    #[serde(default)]
    pub max_rejected_share: Option<Located<f64>>,
    /// A table whose rows are all quarantined, or a segment with no rows, fails the run (exit 3) unless
    /// this is true.
    #[serde(default)]
    pub allow_empty: bool,
    /// A reproducible random sample of tickets for the weekly quality review (`DIR/review_sample/`).
    #[serde(default)]
    pub review_sample: Option<Located<ReviewSampleSpec>>,
    /// Survey answers that need a human, per period (`DIR/follow_up/`).
    #[serde(default)]
    pub follow_up: Option<Located<FollowUpSpec>>,
    /// Periods whose value leaves the range the series' own trailing periods predict (`DIR/alerts`).
    #[serde(default)]
    pub alerts: Option<Located<AlertsSpec>>,
    /// Checks on the rows as read and mapped, before quarantine: a failed `error` expectation stops the run
    /// (exit 7) before any output is replaced; a failed `warn` one is printed and recorded. Failing rows go
    /// to `DIR/_expectations/<name>.parquet`.
    #[serde(default)]
    pub expectations: Vec<Located<ExpectationSpec>>,
    /// Sector benchmarks (`DIR/benchmarks/`): reference figures, and peer distributions for segments by
    /// account.
    #[serde(default)]
    pub benchmarks: Option<Located<BenchmarksSpec>>,
    /// KPIs the pipeline declares, by name (list them under `kpis:` like catalog KPIs), each built from one
    /// measure: `{ share_of: tickets, where: "reassignments > 0", unit: percent, direction: lower }`.
    #[serde(default)]
    pub metrics: IndexMap<Located<String>, Located<MetricSpec>>,
    /// A self-contained HTML report of the run (charts, references, rankings; `deskpulse report`), written at
    /// the end of `run`: its file name in the output directory, e.g. `report.html`.
    #[serde(default)]
    pub report: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarksSpec {
    /// CSV of published figures (sector, kpi, stat, p25, median, p75, mean, source, year…), relative to the
    /// pipeline file (see docs/benchmarks.md).
    #[serde(default)]
    pub reference: Option<Located<String>>,
    /// Peer sets smaller than this get no distribution (default 5).
    #[serde(default)]
    pub min_peers: Option<Located<u64>>,
    /// The sector of the support the data describe (spelled as in the reference): segments not split by
    /// sector are then compared with its reference figures too.
    #[serde(default)]
    pub sector: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSampleSpec {
    /// Ticket dimensions to stratify by (default [agent_id]): `size` tickets per value and period.
    #[serde(default)]
    pub per: Option<Vec<Located<String>>>,
    /// Tickets drawn per stratum and period; a stratum with fewer gives all of them.
    pub size: Located<u64>,
    /// day, week (default), month, quarter, year or all.
    #[serde(default)]
    pub grain: Option<Located<String>>,
    /// `resolved` (default: resolved tickets, placed by `resolved_at`) or `created` (every ticket, by
    /// `created_at`).
    #[serde(default)]
    pub from: Option<Located<String>>,
    /// Ticket link with `{column}` placeholders, e.g. `https://example.zendesk.com/agent/tickets/{ticket_id}`.
    #[serde(default)]
    pub link: Option<Located<String>>,
    /// Changes the draw (default 0); the same seed and data always give the same sample.
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpSpec {
    /// day, week (default), month, quarter, year or all.
    #[serde(default)]
    pub grain: Option<Located<String>>,
    /// Ticket link with `{column}` placeholders (ticket columns), as for `review_sample`.
    #[serde(default)]
    pub link: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// IANA time zone the opening hours and holidays are in (e.g. Europe/Paris).
    pub time_zone: Located<String>,
    /// Weekday or range (mon-fri, sat) → opening span(s) such as `09:00-18:00` or [`08:00-12:00`, `14:00-18:00`].
    pub hours: Located<IndexMap<String, Spans>>,
    /// Closed days, YYYY-MM-DD.
    #[serde(default)]
    pub holidays: Vec<Located<String>>,
}

/// One opening span or a list of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Spans {
    One(String),
    Many(Vec<String>),
}

impl Spans {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Spans::One(s) => vec![s.as_str()],
            Spans::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursRule {
    /// Tickets of this channel (any when omitted).
    #[serde(default)]
    pub channel: Option<String>,
    /// Tickets of this team (any when omitted).
    #[serde(default)]
    pub team: Option<String>,
    /// A calendar declared under `calendars`.
    pub calendar: Located<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    /// Dimensions (canonical column names such as channel, sector, agent_id); empty for one overall figure.
    #[serde(default)]
    pub by: Vec<Located<String>>,
    /// day, week (ISO, starting Monday), month, quarter, year, or all (the whole window).
    pub grain: Located<String>,
    /// Only these KPIs (default: every KPI of the pipeline that the dimensions allow).
    #[serde(default)]
    pub kpis: Option<Vec<Located<String>>>,
    /// Columns comparing each row with the same row of an earlier period of this table: `previous` adds
    /// `previous_value`, `change` and `change_pct`; `year_ago` adds `year_ago_value`, `year_ago_change` and
    /// `year_ago_change_pct`.
    #[serde(default)]
    pub compare: Option<Located<Vec<String>>>,
    /// `zero`: count KPIs (ticket volume…) get a row with 0 for each period between the table's first and last
    /// in which a group of dimension values has no event, instead of no row.
    #[serde(default)]
    pub fill: Option<Located<String>>,
    /// Which agent a segment by `agent_id` credits each ticket to: `ticket_agent` (default, the ticket's
    /// `agent_id`), `first_responder` (the author of the first public agent reply; the column is `responder`)
    /// or `solver` (the assignee when the ticket was solved; the column is `solver`).
    #[serde(default)]
    pub credit: Option<Located<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionsSpec {
    #[serde(default)]
    pub resolved_when: Option<ResolvedWhenSpec>,
    #[serde(default)]
    pub fcr: Option<FcrSpec>,
    #[serde(default)]
    pub csat: Option<ScaleSpec>,
    #[serde(default)]
    pub ces: Option<ScaleSpec>,
    /// Channels with a queue, for abandonment (default phone, chat).
    #[serde(default)]
    pub queue_channels: Option<Vec<String>>,
    #[serde(default)]
    pub messages: Option<MessagesSpec>,
    #[serde(default)]
    pub clv: Option<ClvSpec>,
    /// Ticket histories (`ticket_events`): `statuses` maps a vendor's status names onto Zendesk's (new,
    /// open, pending, hold, solved, closed), e.g. `{ "Waiting on customer": pending }`.
    #[serde(default)]
    pub history: Option<HistorySpec>,
    /// Which period a survey answer counts in: `submitted` (default: the answer's `submitted_at`) or
    /// `ticket_created` (its ticket's `created_at`, for "CSAT of January's tickets").
    #[serde(default)]
    pub surveys: Option<SurveysSpec>,
    /// The range of timestamps taken as real: rows with a timestamp outside it are quarantined as
    /// `implausible_timestamp` (default from 2000-01-01 to the day after the later of now and `--as-of`).
    #[serde(default)]
    pub plausible: Option<PlausibleSpec>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlausibleSpec {
    /// First plausible day (YYYY-MM-DD).
    #[serde(default)]
    pub from: Option<Located<String>>,
    /// Day after the last plausible one (YYYY-MM-DD).
    #[serde(default)]
    pub to: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClvSpec {
    /// A fixed average relationship length in years (default: measured from churned accounts).
    #[serde(default)]
    pub relationship_years: Option<Located<f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesSpec {
    /// Author roles that count as agents (default [agent]); bot and system messages never count.
    #[serde(default)]
    pub agent_roles: Option<Vec<Located<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolvedWhenSpec {
    /// Vendor statuses (as mapped to `status`) that mean resolved.
    #[serde(default)]
    pub statuses: Option<Vec<String>>,
    /// Count abandoned tickets as resolved (default false).
    #[serde(default)]
    pub abandoned: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FcrSpec {
    #[serde(default)]
    pub max_agent_replies: Option<Located<i64>>,
    #[serde(default)]
    pub reopened_counts_as_fcr: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// [lowest, highest] score.
    #[serde(default)]
    pub scale: Option<Located<Vec<f64>>>,
    /// CSAT: lowest satisfied score (default 4).
    #[serde(default)]
    pub satisfied_min: Option<Located<f64>>,
    /// CES: lowest "easy" score (default 6).
    #[serde(default)]
    pub easy_min: Option<Located<f64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FiltersSpec {
    /// Half-open window `[from, to)` on each table's period timestamp (tickets: created_at, surveys:
    /// submitted_at), as dates (YYYY-MM-DD, UTC).
    #[serde(default)]
    pub window: Option<WindowSpec>,
    /// SQL predicate over canonical ticket columns.
    #[serde(default)]
    pub tickets: Option<Located<String>>,
    /// SQL predicate over canonical survey columns.
    #[serde(default)]
    pub surveys: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    #[serde(default)]
    pub from: Option<Located<String>>,
    #[serde(default)]
    pub to: Option<Located<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputsSpec {
    /// Output directory, relative to the pipeline file (`--out` overrides it).
    #[serde(default)]
    pub dir: Option<Located<String>>,
    /// parquet and/or csv (default both).
    #[serde(default)]
    pub formats: Option<Vec<Located<String>>>,
    /// The persistent store of staged input rows, relative to the pipeline file (default `DIR/_store`).
    #[serde(default)]
    pub store: Option<Located<String>>,
    /// `single` (default): one file per segment and format; `hive`: one folder per period,
    /// `DIR/<segment>/period_start=YYYY-MM-DD/part-0.parquet`.
    #[serde(default)]
    pub layout: Option<Located<String>>,
    /// `true` also writes `DIR/tickets/`: one row per ticket of the window, with its dimensions and measured
    /// durations (first response, resolution, and the history measures when `ticket_events` is fed).
    #[serde(default)]
    pub tickets: bool,
    /// `true` also writes `DIR/sla/`: one row per ticket, SLA metric and instance (target, elapsed time,
    /// breach and its instant, start and fulfilment, clock) with the ticket's dimensions.
    #[serde(default)]
    pub sla: bool,
    /// `true` also writes `DIR/replies/`: one row per public agent reply with its author, the wait it ended
    /// and its SLA instance, so that a notebook can credit replies to their authors.
    #[serde(default)]
    pub replies: bool,
}

/// The JSON Schema of the pipeline format (`deskpulse schema`).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(PipelineSpec);
    serde_json::to_string_pretty(&schema).expect("schema serialises")
}
