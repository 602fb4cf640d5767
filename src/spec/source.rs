//! Raw sources: where a table's rows come from, how the files are read, and how each column maps.

use super::*;

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
