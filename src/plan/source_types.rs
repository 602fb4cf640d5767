//! The validated sources (built and checked by `sources`): files and their format, CSV options, attributes,
//! duplicates policy, and where each canonical column's value comes from.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Parquet,
    Ndjson,
}

#[derive(Clone, Debug)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    pub null_values: Vec<String>,
    pub decimal_comma: bool,
    pub encoding: Encoding,
}

/// The character encoding of a source's CSV files (`csv.encoding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// Invalid bytes are bad input.
    #[default]
    Utf8,
    /// Invalid bytes are replaced by U+FFFD.
    Utf8Lossy,
    /// Windows' Western European code page (Excel's "CSV" on a French or English Windows).
    Windows1252,
    /// ISO 8859-1: each byte is the code point of the same number.
    Latin1,
    /// UTF-16, little-endian unless a byte-order mark says otherwise.
    Utf16,
    /// A byte-order mark decides (UTF-8, UTF-16LE, UTF-16BE); without one, UTF-8.
    Auto,
}

impl Encoding {
    pub const NAMES: [&'static str; 6] = ["utf-8", "utf-8-lossy", "windows-1252", "iso-8859-1", "utf-16", "auto"];

    pub fn from_name(name: &str) -> Option<Encoding> {
        Some(match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Encoding::Utf8,
            "utf-8-lossy" | "utf8-lossy" => Encoding::Utf8Lossy,
            "windows-1252" | "cp1252" | "win-1252" => Encoding::Windows1252,
            "iso-8859-1" | "latin-1" | "latin1" | "iso8859-1" => Encoding::Latin1,
            "utf-16" | "utf16" | "utf-16le" | "ucs-2" => Encoding::Utf16,
            "auto" => Encoding::Auto,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub table: Table,
    /// Path or glob, resolved against the pipeline file's folder.
    pub pattern: String,
    pub pattern_at: Location,
    pub format: FileFormat,
    pub csv: CsvOptions,
    pub filter: Option<Sql>,
    pub columns: Vec<ColumnMapping>,
    pub duplicates: Duplicates,
    /// Quarantine rows with unreadable values instead of failing.
    pub quarantine_unreadable: bool,
    /// Keep rows whose references resolve nothing (`references: keep`) instead of quarantining them.
    pub keep_orphans: bool,
    /// The rows of a file that disappears stay in the store (`retain: true`).
    pub retain: bool,
    /// The helpdesk instance the rows come from (`instance:`).
    pub instance: Option<String>,
    /// Messages in reply chains instead of tickets (`thread:`).
    pub thread: Option<Thread>,
    /// Extra source columns carried into the table (`attributes:`).
    pub attributes: Vec<Attribute>,
}

/// An extra source column carried into a canonical table under its own name.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    /// The source column.
    pub column: String,
    /// `None`: typed from the values (number, boolean, else text).
    pub ty: Option<AttributeType>,
    pub at: Location,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeType {
    Number,
    Integer,
    Text,
    Boolean,
}

impl AttributeType {
    pub fn column_type(self) -> ColumnType {
        match self {
            AttributeType::Number => ColumnType::Float,
            AttributeType::Integer => ColumnType::Integer,
            AttributeType::Text => ColumnType::Text,
            AttributeType::Boolean => ColumnType::Boolean,
        }
    }

    pub const NAMES: [&'static str; 4] = ["number", "integer", "text", "boolean"];

    pub fn from_name(name: &str) -> Option<AttributeType> {
        match name {
            "number" => Some(AttributeType::Number),
            "integer" => Some(AttributeType::Integer),
            "text" => Some(AttributeType::Text),
            "boolean" => Some(AttributeType::Boolean),
            _ => None,
        }
    }
}

impl Source {
    /// The SQL the source's rows go through: its `filter`, then its `expr` mappings.
    pub fn sql(&self) -> Vec<&Sql> {
        let exprs = self.columns.iter().filter_map(|m| match &m.value {
            MappedValue::Expr(sql) => Some(sql),
            _ => None,
        });
        self.filter.iter().chain(exprs).collect()
    }
}

/// Source columns of a message's id and the id it replies to.
#[derive(Clone, Debug, PartialEq)]
pub struct Thread {
    pub id: String,
    pub in_reply_to: String,
    pub at: Location,
}

/// What to do with rows of a source that share an id.
#[derive(Clone, Debug, PartialEq)]
pub enum Duplicates {
    /// Quarantine every copy (`duplicate_id`).
    Reject,
    /// Keep the copy with the highest value of this source column; older copies are superseded.
    KeepLatest { by: String, at: Location },
}

#[derive(Debug)]
pub struct ColumnMapping {
    pub canonical: &'static Column,
    pub value: MappedValue,
    /// strftime format for timestamps and dates.
    pub format: Option<String>,
    /// IANA zone of offset-less timestamps.
    pub time_zone: Option<String>,
    pub map: Vec<(String, String)>,
    pub default: Option<String>,
    pub true_values: Vec<String>,
    pub false_values: Vec<String>,
    /// How a duration is written; the canonical column holds seconds.
    pub duration: DurationText,
    /// `3.0` read as `3` (ids written by pandas).
    pub integer: bool,
    /// A timestamp written as a duration after this earlier canonical timestamp.
    pub after: Option<&'static str>,
    pub at: Location,
}

/// How a source writes a duration (`duration:` of a mapping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DurationText {
    /// A number of seconds.
    #[default]
    Seconds,
    Minutes,
    Hours,
    /// `H:MM:SS` or `M:SS`, seconds possibly with a fraction (`00:06:12`, `6:12`, `1:02:03.5`).
    Hms,
    /// ISO 8601 `PnDTnHnMnS` (`PT6M12S`, `P1DT2H`).
    Iso8601,
}

impl DurationText {
    pub const NAMES: [&'static str; 5] = ["seconds", "minutes", "hours", "hms", "iso8601"];

    pub fn from_name(name: &str) -> Option<DurationText> {
        Some(match name {
            "seconds" => DurationText::Seconds,
            "minutes" => DurationText::Minutes,
            "hours" => DurationText::Hours,
            "hms" => DurationText::Hms,
            "iso8601" => DurationText::Iso8601,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub enum MappedValue {
    Column {
        name: String,
        at: Location,
    },
    Constant(String),
    Expr(Sql),
    /// A timestamp written as a date column and a time-of-day column.
    DateTime {
        date: String,
        time: String,
        at: Location,
    },
    /// An id hashed from these columns' values (`from: [a, b]`).
    HashOf {
        columns: Vec<String>,
        at: Location,
    },
    /// An id naming the file and the data row (`from: row`).
    FileRow,
}

impl MappedValue {
    /// What fills the column, as the user wrote it (messages, `explain`, the store's fingerprint).
    pub fn describe(&self) -> String {
        match self {
            MappedValue::Column { name, .. } => format!("column {name:?}"),
            MappedValue::Constant(v) => format!("constant {v:?}"),
            MappedValue::Expr(sql) => format!("expr {}", sql.text),
            MappedValue::DateTime { date, time, .. } => format!("columns {date:?} and {time:?}"),
            MappedValue::HashOf { columns, .. } => format!("a hash of columns {columns:?}"),
            MappedValue::FileRow => "the file's name and row".into(),
        }
    }

    /// The source columns read by name, with where the pipeline names them.
    pub fn named_columns(&self) -> Vec<(&String, &Location)> {
        match self {
            MappedValue::Column { name, at } => vec![(name, at)],
            MappedValue::DateTime { date, time, at } => vec![(date, at), (time, at)],
            MappedValue::HashOf { columns, at } => columns.iter().map(|c| (c, at)).collect(),
            MappedValue::Constant(_) | MappedValue::Expr(_) | MappedValue::FileRow => Vec::new(),
        }
    }
}
