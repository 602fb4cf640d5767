//! The raw (serde) types of what a pipeline watches: KPI targets, alerts and expectations.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::Located;

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRuleSpec {
    /// The first day (YYYY-MM-DD) of the periods it applies to.
    #[serde(default)]
    pub from: Option<String>,
    /// Dimension values the rows it applies to have, e.g. `{ channel: chat }`.
    #[serde(default)]
    pub when: IndexMap<String, String>,
    pub target: TargetSpec,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectationSpec {
    /// Its name in messages, the run record and `DIR/_expectations/<name>.parquet` (default: table, column
    /// and check).
    #[serde(default)]
    pub name: Option<Located<String>>,
    /// The canonical table whose rows it checks.
    pub table: Located<String>,
    /// The column it checks (a canonical column or an attribute).
    #[serde(default)]
    pub column: Option<Located<String>>,
    /// Every row has a value in `column`.
    #[serde(default)]
    pub not_null: bool,
    /// `true`: no two rows share `column`'s value; or a list of columns no two rows share together.
    #[serde(default)]
    pub unique: Option<Located<UniqueSpec>>,
    /// `column`'s values (when set) are among these.
    #[serde(default)]
    pub accepted_values: Option<Located<Vec<String>>>,
    /// `column`'s values (when set) lie within these bounds.
    #[serde(default)]
    pub range: Option<Located<RangeSpec>>,
    /// `column`'s values (when set) are found in another table's column: `{ to: accounts, field: account_id }`.
    #[serde(default)]
    pub relationships: Option<Located<RelationshipSpec>>,
    /// The newest value of `column` (a timestamp) is within this duration of the run's as-of instant.
    #[serde(default)]
    pub freshness: Option<Located<String>>,
    /// The table's row count lies within bounds.
    #[serde(default)]
    pub row_count: Option<Located<RowCountSpec>>,
    /// A SQL predicate over the table's columns every row satisfies (a row where it is null passes), e.g.
    /// `resolved_at >= created_at`.
    #[serde(default)]
    pub expr: Option<Located<String>>,
    /// `error` (default): a failure stops the run with exit 7; `warn`: it is printed and recorded.
    #[serde(default)]
    pub severity: Option<Located<String>>,
    /// Failures tolerated: a share of the rows (below 1, e.g. 0.01) or a count (1 or more).
    #[serde(default)]
    pub tolerate: Option<Located<f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UniqueSpec {
    Column(bool),
    Columns(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipSpec {
    /// The table referred to.
    pub to: String,
    /// Its column (default: the checked column's name).
    #[serde(default)]
    pub field: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCountSpec {
    #[serde(default)]
    pub min: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
    /// The largest change against the last successful run's count of rows read, as a share (0.5: ±50 %).
    #[serde(default)]
    pub max_change: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsSpec {
    /// The KPIs to watch (each segment's rows of them, every stat).
    pub kpis: Vec<Located<String>>,
}

/// A KPI's target: a number in the KPI's unit, or a duration written as text (`30m`, `4h`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TargetSpec {
    Number(f64),
    Text(String),
}
