//! Raw pipeline file types: what the YAML says, deserialised as written (with locations), before any check.
//! Nothing here decides meaning; `plan` validates these into executable types.

mod load;
mod located;
mod sla;
mod watch;

pub use load::{load, parse, LoadError};
pub use located::{Located, Location};
pub use sla::{SlaRuleSpec, SlaSpec};
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

/// A KPI declared in the pipeline: one measure over one table's rows (`share_of`, `count_of`, `mean_of`,
/// `sum_of`), on the rows where `where` holds when it is given.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// Percent of the table's rows where `where` holds (numerator those rows, denominator all rows).
    #[serde(default)]
    pub share_of: Option<Located<String>>,
    /// Number of the table's rows (where `where` holds).
    #[serde(default)]
    pub count_of: Option<Located<String>>,
    /// Number of distinct non-empty values of `TABLE.COLUMN` (where `where` holds), e.g. agents who
    /// answered.
    #[serde(default)]
    pub count_distinct_of: Option<Located<String>>,
    /// Mean of `TABLE.COLUMN` over its non-empty values (where `where` holds).
    #[serde(default)]
    pub mean_of: Option<Located<String>>,
    /// Sum of `TABLE.COLUMN` (where `where` holds).
    #[serde(default)]
    pub sum_of: Option<Located<String>>,
    /// Two measures, each `count(TABLE)` or `sum(TABLE.COLUMN)`, taken over their tables' rows in the same
    /// group and period: the value is the first divided by the second (`[count(surveys), count(tickets)]`).
    #[serde(default)]
    pub ratio: Option<Located<Vec<String>>>,
    /// SQL predicate over the table's canonical columns and attributes.
    #[serde(default, rename = "where")]
    pub predicate: Option<Located<String>>,
    /// percent, count, seconds, ratio, currency, score or points (default: percent for a share, count for a
    /// count, ratio otherwise).
    #[serde(default)]
    pub unit: Option<Located<String>>,
    /// higher, lower or none (default none): which way is better.
    #[serde(default)]
    pub direction: Option<Located<String>>,
    /// What the KPI means, for the output metadata.
    #[serde(default)]
    pub description: Option<String>,
}

/// An extra source column carried into the canonical table: its column name, or `{ column, type }`.
#[derive(Debug, Clone)]
pub struct AttributeSpec {
    pub column: Located<String>,
    /// number, integer, text or boolean; typed from the values when omitted.
    pub ty: Option<Located<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AttributeMap {
    /// Source column to read.
    column: Located<String>,
    /// number, integer, text or boolean (default: number when the values read as numbers, boolean when
    /// they read as true/false, else text).
    #[serde(default, rename = "type")]
    ty: Option<Located<String>>,
}

impl<'de> Deserialize<'de> for AttributeSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttributeSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a source column name or a map with `column` and `type`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AttributeSpec, E> {
                Ok(AttributeSpec { column: Located::new(v.to_string(), Location::default()), ty: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AttributeSpec, A::Error> {
                let m = AttributeMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(AttributeSpec { column: m.column, ty: m.ty })
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for AttributeSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AttributeSpec".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let map = generator.subschema_for::<AttributeMap>();
        schemars::json_schema!({
            "description": "A source column name, or a map with `column` and `type`.",
            "anyOf": [{ "type": "string" }, map]
        })
    }
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
pub struct SourceSpec {
    /// Canonical table the source feeds: tickets, surveys or accounts.
    pub table: Located<String>,
    /// File path or glob, relative to the pipeline file.
    pub path: Located<String>,
    /// csv, parquet or ndjson; inferred from the file extension when omitted.
    #[serde(default)]
    pub format: Option<Located<String>>,
    #[serde(default)]
    pub csv: CsvSpec,
    /// SQL predicate over the source's own columns; rows where it is not true are skipped.
    #[serde(default)]
    pub filter: Option<Located<String>>,
    /// Canonical column → source column (a name) or a transform.
    pub columns: IndexMap<Located<String>, Located<ColumnSpec>>,
    /// Extra source columns carried into the table under a name of their own, for metrics, filters and
    /// segments: `{ reassignments: reassigned }` or `{ reassignments: { column: reassigned, type: integer } }`.
    #[serde(default)]
    pub attributes: IndexMap<Located<String>, Located<AttributeSpec>>,
    /// Rows sharing an id (tickets, surveys with a survey_id, accounts): `reject` (default: every copy is
    /// quarantined as `duplicate_id`) or `keep_latest` (the copy with the highest `latest_by` wins).
    #[serde(default)]
    pub duplicates: Option<Located<String>>,
    /// Source column that orders the copies for `keep_latest` (e.g. `updated_at`, a version counter).
    #[serde(default)]
    pub latest_by: Option<Located<String>>,
    /// `fail` (default): a value that does not read as its type stops the run; `quarantine`: its row is
    /// quarantined with reason `unreadable_value`.
    #[serde(default)]
    pub on_error: Option<Located<String>>,
    /// Rows whose `ticket_id` (messages, surveys) or `account_id` (tickets) matches no row of that table:
    /// `quarantine` (default: reasons `orphan_ticket_id`, `orphan_account_id`) or `keep` (kept and counted).
    #[serde(default)]
    pub references: Option<Located<String>>,
    /// Keep the rows of a file that disappears (a rotating or incremental export) in the store: the manifest
    /// marks it retained until `deskpulse store DIR --forget PATH` drops it.
    #[serde(default)]
    pub retain: bool,
    /// The helpdesk instance the source's rows come from (two Zendesk accounts of one company): ids are
    /// unique per instance, references resolve within it, and `instance` is a dimension.
    #[serde(default)]
    pub instance: Option<Located<String>>,
    /// Messages without ticket ids (a tweet log): each message's id and the id it replies to. Conversations
    /// are the reply chains' roots; `ticket_id` is then the root's id, and each root is a ticket.
    #[serde(default)]
    pub thread: Option<Located<ThreadSpec>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveysSpec {
    /// `submitted` (default) or `ticket_created`.
    #[serde(default)]
    pub period: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    /// Vendor status → new, open, pending, hold, solved or closed (unlisted statuses are taken as written).
    #[serde(default)]
    pub statuses: Option<Located<IndexMap<String, String>>>,
    /// Which business calendar an SLA instance counts on when history rows with `field: schedule` change a
    /// ticket's calendar: `at_completion` (default, Zendesk's rule: the schedule in force when the instance is
    /// fulfilled or judged, for its whole time) or `per_schedule` (each stretch on the schedule then in force).
    #[serde(default)]
    pub schedule: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadSpec {
    /// Source column holding the message's id.
    pub id: Located<String>,
    /// Source column holding the id of the message it replies to (empty for a conversation's first).
    pub in_reply_to: Located<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    /// One character (default `,`).
    #[serde(default)]
    pub delimiter: Option<Located<String>>,
    /// utf-8 (default), utf-8-lossy (invalid bytes replaced), windows-1252, iso-8859-1, utf-16, or auto (a
    /// byte-order mark decides, else UTF-8). Other encodings are transcoded to UTF-8 as the file is read.
    #[serde(default)]
    pub encoding: Option<Located<String>>,
    /// Strings read as null (default: the empty string).
    #[serde(default)]
    pub null_values: Option<Vec<String>>,
    /// Numbers written with a decimal comma (`12,5`).
    #[serde(default)]
    pub decimal_comma: bool,
    /// Quote character (default `"`).
    #[serde(default)]
    pub quote: Option<Located<String>>,
}

/// What an id built by the pipeline is made of (`from:`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IdFrom {
    Columns(Vec<String>),
    /// `row`: the file's name and the record's data row.
    Keyword(String),
}

/// How a canonical column is filled: a source column name, or a transform.
#[derive(Debug, Clone)]
pub enum ColumnSpec {
    Source(String),
    Detailed(Box<ColumnDetail>),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnDetail {
    /// Source column to read.
    #[serde(default)]
    pub column: Option<Located<String>>,
    /// A constant value for every row.
    #[serde(default)]
    pub constant: Option<Located<String>>,
    /// A SQL expression over the source's columns (e.g. `tags LIKE '%escalated%'`, `talk + hold`).
    #[serde(default)]
    pub expr: Option<Located<String>>,
    /// A timestamp written in two columns: this one holds the date (`time` the time of day); `format`, if
    /// given, reads them joined by a space (e.g. `%m/%d/%Y %H:%M:%S`).
    #[serde(default)]
    pub date: Option<Located<String>>,
    /// The time-of-day column beside `date`.
    #[serde(default)]
    pub time: Option<Located<String>>,
    /// An id built for an export that has none: `[column, …]` hashes those columns' values (a call's
    /// caller, start and agent), `row` names the file and the row (`calls-2026-01.csv:17`).
    #[serde(default)]
    pub from: Option<Located<IdFrom>>,
    /// How a duration column is written: seconds (default), minutes, hours (numbers), hms (`00:06:12`,
    /// `6:12`) or iso8601 (`PT6M12S`); the canonical column holds seconds.
    #[serde(default)]
    pub duration: Option<Located<String>>,
    /// A timestamp written as a duration after another timestamp of the table (e.g. Zendesk's `First reply
    /// time in minutes` after `created_at`); `duration` says how the duration is written.
    #[serde(default)]
    pub after: Option<Located<String>>,
    /// Ids written as floats (`3.0`, as pandas writes an integer column with gaps) are read as the whole
    /// number (`3`); a fraction (`3.5`) is an unreadable value.
    #[serde(default)]
    pub integer: bool,
    /// strftime format of a timestamp or date column (e.g. `%d/%m/%Y %H:%M`); ISO 8601 when omitted.
    #[serde(default)]
    pub format: Option<Located<String>>,
    /// Time zone of timestamps written without an offset (IANA name, default UTC).
    #[serde(default)]
    pub time_zone: Option<Located<String>>,
    /// Value map applied to the source text before typing (e.g. `voice: phone`); unmapped values pass through.
    #[serde(default)]
    pub map: Option<Located<IndexMap<String, String>>>,
    /// Value used where the source is null (after `map`).
    #[serde(default)]
    pub default: Option<Located<String>>,
    /// Texts read as true for a boolean column (default true, 1, yes, y, oui, t).
    #[serde(default)]
    pub true_values: Option<Vec<String>>,
    /// Texts read as false for a boolean column (default false, 0, no, n, non, f).
    #[serde(default)]
    pub false_values: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ColumnSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a source column name or a map with `column`, `constant` or `expr`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ColumnSpec, E> {
                Ok(ColumnSpec::Source(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ColumnSpec, E> {
                Ok(ColumnSpec::Source(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ColumnSpec, E> {
                Ok(ColumnSpec::Source(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ColumnSpec, A::Error> {
                ColumnDetail::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|d| ColumnSpec::Detailed(Box::new(d)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for ColumnSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ColumnSpec".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let detail = generator.subschema_for::<ColumnDetail>();
        schemars::json_schema!({
            "description": "A source column name, or a transform.",
            "anyOf": [{ "type": "string" }, detail]
        })
    }
}

/// A KPI by name, or a map with its name and options.
#[derive(Debug, Clone)]
pub struct KpiEntry {
    pub name: Located<String>,
    /// The output name of a variant (`as:`), when the same catalog KPI is computed twice.
    pub variant: Option<Located<String>>,
    pub stats: Option<Located<Vec<String>>>,
    pub min_sample: Option<Located<u64>>,
    pub clock: Option<Located<String>>,
    pub target: Option<Located<TargetSpec>>,
    pub targets: Option<Located<Vec<TargetRuleSpec>>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KpiEntryMap {
    /// Catalog name.
    name: Located<String>,
    /// A variant's own name in the outputs (`{ name: first_response_time, as: first_response_business,
    /// clock: business }` beside the plain KPI), each variant with its own options.
    #[serde(default, rename = "as")]
    variant: Option<Located<String>>,
    /// For durations: which statistics (mean, median, p75, p90, p95, p99).
    #[serde(default)]
    stats: Option<Located<Vec<String>>>,
    /// Overrides the pipeline's `min_sample` for this KPI.
    #[serde(default)]
    min_sample: Option<Located<u64>>,
    /// The figure the KPI should reach, in its unit: a number (`85` for 85 %), or a duration for durations
    /// (`1h`). Outputs gain `target` and `target_met` (at or better than the target, by the KPI's direction).
    #[serde(default)]
    target: Option<Located<TargetSpec>>,
    /// Targets that apply from a date (`from: 2026-07-01`) or to some dimension values (`when: { channel:
    /// chat }`), over `target`: the last matching entry wins.
    #[serde(default)]
    targets: Option<Located<Vec<TargetRuleSpec>>>,
    /// first_response_time, resolution_time: `wall` (default, elapsed seconds) or `business` (seconds while
    /// the ticket's business calendar is open).
    #[serde(default)]
    clock: Option<Located<String>>,
}

impl<'de> Deserialize<'de> for KpiEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KpiEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a KPI name or a map with `name` and options")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KpiEntry, E> {
                Ok(KpiEntry {
                    name: Located::new(v.to_string(), Location::default()),
                    variant: None,
                    stats: None,
                    min_sample: None,
                    clock: None,
                    target: None,
                    targets: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KpiEntry, A::Error> {
                let m = KpiEntryMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(KpiEntry {
                    name: m.name,
                    variant: m.variant,
                    stats: m.stats,
                    min_sample: m.min_sample,
                    clock: m.clock,
                    target: m.target,
                    targets: m.targets,
                })
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for KpiEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KpiEntry".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let map = generator.subschema_for::<KpiEntryMap>();
        schemars::json_schema!({
            "description": "A KPI name from the catalog, or a map with `name` and options.",
            "anyOf": [{ "type": "string" }, map]
        })
    }
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
