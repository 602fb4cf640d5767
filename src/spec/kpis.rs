//! Raw KPI entries (a catalog name, or a map with options) and the metrics a pipeline declares.

use super::*;

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
