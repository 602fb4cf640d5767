//! KPIs the pipeline declares (`metrics:`): one measure over one table's rows, optionally on the rows where a
//! SQL predicate holds, validated into the same `KpiDefinition` a catalog KPI compiles to, so that segments,
//! outputs and metadata treat both alike.

use indexmap::IndexMap;

use super::{Diagnostic, Plan, Sql};
use crate::catalog::{self, expr, Aggregate, Direction, KpiDefinition, StatDef, Unit};
use crate::model::{ColumnType, Table};
use crate::spec::{Located, Location, MetricSpec};
use crate::suggest;

/// What a `KpiDefinition::catalog` holds for a declared KPI.
pub use crate::catalog::DECLARED;

const UNITS: [(&str, Unit); 7] = [
    ("percent", Unit::Percent),
    ("count", Unit::Count),
    ("seconds", Unit::Seconds),
    ("ratio", Unit::Ratio),
    ("currency", Unit::Currency),
    ("score", Unit::Score),
    ("points", Unit::Points),
];

const DIRECTIONS: [(&str, Direction); 3] =
    [("higher", Direction::HigherIsBetter), ("lower", Direction::LowerIsBetter), ("none", Direction::Neutral)];

/// The measure a metric names, with what it is over.
enum Measure {
    Share,
    Count,
    CountDistinct(String),
    Mean(String),
    Sum(String),
}

/// The metrics a pipeline declares: each one that validates as a KPI definition (its `min_sample` set where
/// it is listed), and the names of all, so that listing one whose definition has an error is not reported
/// a second time as an unknown KPI.
pub struct Declared {
    pub metrics: Vec<KpiDefinition>,
    pub names: Vec<String>,
}

pub fn metrics_of(
    plan: &Plan,
    text: &str,
    specs: IndexMap<Located<String>, Located<MetricSpec>>,
    errs: &mut Vec<Diagnostic>,
) -> Declared {
    let names = specs.keys().map(|k| k.value.clone()).collect();
    let metrics = specs.into_iter().filter_map(|(name, spec)| metric(plan, text, name, spec, errs)).collect();
    Declared { metrics, names }
}

fn metric(
    plan: &Plan,
    text: &str,
    name: Located<String>,
    spec: Located<MetricSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<KpiDefinition> {
    if !super::sources::is_snake_name(&name) {
        errs.push(Diagnostic::new(
            format!("metric `{}` must use lowercase letters, digits and `_` (it names output rows)", name.value),
            name.at,
        ));
        return None;
    }
    if catalog::lookup(&name).is_some() {
        errs.push(
            Diagnostic::new(format!("metric `{}` has the name of a catalog KPI", name.value), name.at)
                .with_help("give it another name; `deskpulse kpis` lists the catalog"),
        );
        return None;
    }
    let at = spec.at;
    let spec = spec.value;
    if let Some(ratio) = &spec.ratio {
        return ratio_metric(plan, name, &spec, ratio, errs);
    }
    let kinds = [
        ("share_of", &spec.share_of),
        ("count_of", &spec.count_of),
        ("count_distinct_of", &spec.count_distinct_of),
        ("mean_of", &spec.mean_of),
        ("sum_of", &spec.sum_of),
    ];
    let given: Vec<(&str, &Located<String>)> = kinds.iter().filter_map(|(k, v)| Some((*k, v.as_ref()?))).collect();
    let [(kind, over)] = given[..] else {
        let what = if given.is_empty() { "names no measure" } else { "names more than one measure" };
        errs.push(Diagnostic::new(format!("metric `{}` {what}", name.value), at).with_help(ONE_MEASURE));
        return None;
    };
    let (table_name, column) = match kind {
        "share_of" | "count_of" => (over.as_str(), None),
        _ => match over.split_once('.') {
            Some((t, c)) => (t, Some(c.to_string())),
            None => {
                errs.push(Diagnostic::new(
                    format!("`{kind}: {}` names a column as TABLE.COLUMN (e.g. tickets.handle_seconds)", over.value),
                    over.at,
                ));
                return None;
            },
        },
    };
    let table = event_table(plan, &name, table_name, over.at, errs)?;
    let schema = readable_schema(plan, table);
    let measure = match (kind, column) {
        ("share_of", _) => Measure::Share,
        ("count_of", _) => Measure::Count,
        (_, Some(c)) => {
            if kind == "count_distinct_of" {
                known_column(&schema, table, &c, over.at, errs)?;
                Measure::CountDistinct(c)
            } else {
                numeric_column(&schema, table, &c, kind, over.at, errs)?;
                if kind == "mean_of" {
                    Measure::Mean(c)
                } else {
                    Measure::Sum(c)
                }
            }
        },
        _ => return None,
    };
    let predicate = match &spec.predicate {
        None if matches!(measure, Measure::Share) => {
            errs.push(
                Diagnostic::new(format!("metric `{}`: `share_of` needs `where`", name.value), at)
                    .with_help("e.g. where: \"reassignments > 0\""),
            );
            return None;
        },
        None => None,
        Some(p) => Some(predicate_of(text, table, &schema, p, errs)?),
    };
    let default_unit = match measure {
        Measure::Share => Unit::Percent,
        Measure::Count | Measure::CountDistinct(_) => Unit::Count,
        Measure::Mean(_) | Measure::Sum(_) => Unit::Ratio,
    };
    let unit = unit_of(&spec, default_unit, errs)?;
    let direction = direction_of(&spec, errs)?;
    let (aggregate, filter) = match measure {
        Measure::Share => (Aggregate::Share { when: predicate.expect("a share has a predicate") }, None),
        Measure::Count => (Aggregate::Count, predicate),
        Measure::CountDistinct(c) => (Aggregate::CountDistinct(column_expr(table, &c, over.at)), predicate),
        Measure::Mean(c) => (Aggregate::Mean(column_expr(table, &c, over.at)), predicate),
        Measure::Sum(c) => (Aggregate::Sum(column_expr(table, &c, over.at)), predicate),
    };
    Some(KpiDefinition {
        name: name.value,
        catalog: DECLARED,
        table,
        filter,
        stats: vec![StatDef { stat: "value".into(), unit, aggregate }],
        direction,
        min_sample: 0,
        note: spec.description.clone(),
    })
}

const ONE_MEASURE: &str =
    "give exactly one of share_of, count_of (a table), count_distinct_of, mean_of, sum_of (table.column), ratio \
     ([measure, measure])";

/// The table a metric measures, by name: one whose rows fall in periods (`Table::event_column`), fed by a
/// source.
fn event_table(plan: &Plan, metric: &str, table_name: &str, at: Location, errs: &mut Vec<Diagnostic>) -> Option<Table> {
    let measurable = |t: &Table| t.event_column().is_some();
    let tables: Vec<&str> = Table::ALL.iter().filter(|t| measurable(t)).map(|t| t.name()).collect();
    let Some(table) = Table::from_name(table_name).filter(measurable) else {
        errs.push(
            Diagnostic::new(format!("metric `{metric}`: `{table_name}` is not a table a metric can measure"), at)
                .with_help(suggest::help(table_name, &tables)),
        );
        return None;
    };
    if !super::build::fed(plan, table) {
        errs.push(Diagnostic::new(format!("metric `{metric}` needs the `{table}` table, but no source feeds it"), at));
    } else if let Some(column) = table.event_column().filter(|c| !plan.has_column(table, c)) {
        errs.push(Diagnostic::new(
            format!("metric `{metric}` counts {table} in the period of their `{column}`, which no source maps"),
            at,
        ));
    }
    Some(table)
}

/// `column` is a column of `table` (canonical or an attribute), of any type.
fn known_column(schema: &Readable, table: Table, column: &str, at: Location, errs: &mut Vec<Diagnostic>) -> Option<()> {
    if schema.get(column).is_some() {
        return Some(());
    }
    let names = schema.names();
    let d = Diagnostic::new(format!("the {table} table has no column `{column}`"), at);
    errs.push(d.with_help(suggest::help(column, &names)));
    None
}

/// `column` is a number of `table` (or an attribute, typed at run time).
fn numeric_column(
    schema: &Readable,
    table: Table,
    column: &str,
    kind: &str,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Option<()> {
    known_column(schema, table, column, at, errs)?;
    if matches!(schema.get(column)?, None | Some(ColumnType::Integer | ColumnType::Float)) {
        return Some(());
    }
    errs.push(Diagnostic::new(format!("`{table}.{column}` is not a number: `{kind}` needs one"), at));
    None
}

/// A `ratio: [A, B]` metric: each side `count(TABLE)` or `sum(TABLE.COLUMN)`.
fn ratio_metric(
    plan: &Plan,
    name: Located<String>,
    spec: &MetricSpec,
    ratio: &Located<Vec<String>>,
    errs: &mut Vec<Diagnostic>,
) -> Option<KpiDefinition> {
    let others = [&spec.share_of, &spec.count_of, &spec.count_distinct_of, &spec.mean_of, &spec.sum_of];
    if others.iter().any(|o| o.is_some()) {
        let d = Diagnostic::new(format!("metric `{}` names more than one measure", name.value), ratio.at);
        errs.push(d.with_help(ONE_MEASURE));
        return None;
    }
    if let Some(p) = &spec.predicate {
        errs.push(
            Diagnostic::new(format!("metric `{}`: `where` does not apply to a ratio", name.value), p.at)
                .with_help("filter the tables under `filters:`, or declare a share_of metric"),
        );
        return None;
    }
    let [num, den] = &ratio.value[..] else {
        let what = format!("`ratio` of `{}` takes two measures: [numerator, denominator]", name.value);
        errs.push(Diagnostic::new(what, ratio.at));
        return None;
    };
    let before = errs.len();
    let (Some(num), Some(den)) = (side(plan, &name, num, ratio.at, errs), side(plan, &name, den, ratio.at, errs))
    else {
        if errs.len() == before {
            let what = format!("`ratio` of `{}`: each measure is count(TABLE) or sum(TABLE.COLUMN)", name.value);
            errs.push(Diagnostic::new(what, ratio.at).with_help("e.g. ratio: [count(surveys), count(tickets)]"));
        }
        return None;
    };
    if num.table == Table::Accounts && den.table == Table::Accounts {
        let what = format!("`ratio` of `{}` needs a side over a table with periods", name.value);
        errs.push(
            Diagnostic::new(what, ratio.at).with_help("e.g. ratio: [sum(accounts.annual_revenue), count(tickets)]"),
        );
        return None;
    }
    let unit = unit_of(spec, Unit::Ratio, errs)?;
    let direction = direction_of(spec, errs)?;
    // The KPI's table places its rows in periods: the side over events.
    let table = if num.table == Table::Accounts { den.table } else { num.table };
    Some(KpiDefinition {
        name: name.value,
        catalog: DECLARED,
        table,
        filter: None,
        stats: vec![StatDef { stat: "value".into(), unit, aggregate: Aggregate::Quotient { num, den } }],
        direction,
        min_sample: 0,
        note: spec.description.clone(),
    })
}

/// One side of a ratio, `count(TABLE)` or `sum(TABLE.COLUMN)`; `None` (with nothing reported) when it is
/// written otherwise.
fn side(plan: &Plan, metric: &str, text: &str, at: Location, errs: &mut Vec<Diagnostic>) -> Option<catalog::Side> {
    let (kind, inner) = text.trim().strip_suffix(')').and_then(|t| t.split_once('('))?;
    let inner = inner.trim();
    let (table_name, column) = match (kind.trim(), inner.split_once('.')) {
        ("count", None) => (inner, None),
        ("sum", Some((t, c))) => (t, Some(c)),
        _ => return None,
    };
    // Accounts have no period: a ratio may still divide by (or into) a group's accounts.
    let table = match Table::from_name(table_name) {
        Some(Table::Accounts) if super::build::fed(plan, Table::Accounts) => Table::Accounts,
        _ => event_table(plan, metric, table_name, at, errs)?,
    };
    let sum = match column {
        None => None,
        Some(c) => {
            numeric_column(&readable_schema(plan, table), table, c, "sum", at, errs)?;
            Some(column_expr(table, c, at))
        },
    };
    Some(catalog::Side { table, sum })
}

/// A column of `table` as a catalog expression: a canonical column, or an attribute (read through SQL,
/// which names columns at run time).
fn column_expr(table: Table, column: &str, at: Location) -> expr::Expr {
    match table.column(column) {
        Some(canonical) => expr::col(canonical.name),
        None => expr::Expr::Sql { text: format!("\"{column}\""), columns: Vec::new(), at },
    }
}

fn unit_of(spec: &MetricSpec, default: Unit, errs: &mut Vec<Diagnostic>) -> Option<Unit> {
    let Some(u) = &spec.unit else { return Some(default) };
    match UNITS.iter().find(|(n, _)| *n == u.as_str()) {
        Some((_, unit)) => Some(*unit),
        None => {
            let names: Vec<&str> = UNITS.iter().map(|(n, _)| *n).collect();
            errs.push(Diagnostic::new(format!("unknown unit `{}`", u.value), u.at).with_help(suggest::help(u, &names)));
            None
        },
    }
}

fn direction_of(spec: &MetricSpec, errs: &mut Vec<Diagnostic>) -> Option<Direction> {
    let Some(d) = &spec.direction else { return Some(Direction::Neutral) };
    match DIRECTIONS.iter().find(|(n, _)| *n == d.as_str()) {
        Some((_, dir)) => Some(*dir),
        None => {
            let names: Vec<&str> = DIRECTIONS.iter().map(|(n, _)| *n).collect();
            errs.push(
                Diagnostic::new(format!("unknown direction `{}`", d.value), d.at).with_help(suggest::help(d, &names)),
            );
            None
        },
    }
}

/// The columns SQL over a table may read (metrics, table filters), with their types: the canonical ones and
/// the sources' attributes (an attribute typed from its values is only known at run time: `None`).
pub struct Readable(pub Vec<(String, Option<ColumnType>)>);

impl Readable {
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The column's type (`Some(None)` when known only at run time), `None` when the table lacks it.
    pub fn get(&self, name: &str) -> Option<Option<ColumnType>> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, ty)| *ty)
    }
}

/// What SQL over `table` may read: its canonical columns, then the attributes its sources declare.
pub fn readable_schema(plan: &Plan, table: Table) -> Readable {
    let mut columns: Vec<(String, Option<ColumnType>)> =
        table.columns().iter().map(|c| (c.name.to_string(), Some(c.ty))).collect();
    // The derived columns the pipeline can give (SLA targets and verdicts, business and history seconds…).
    for (_, name) in crate::model::DERIVED.iter().filter(|(t, c)| *t == table && derivable(plan, c)) {
        columns.push((name.to_string(), Some(crate::model::derived_type(name))));
    }
    for (name, ty) in plan.attributes(table) {
        let ty = ty.map(|t| t.column_type());
        match columns.iter_mut().find(|(n, _)| n == name) {
            Some(c) => c.1 = ty,
            None => columns.push((name.to_string(), ty)),
        }
    }
    Readable(columns)
}

/// Whether the pipeline declares what a derived column is computed from.
fn derivable(plan: &Plan, column: &str) -> bool {
    let fed = |t: Table| super::build::fed(plan, t);
    let history = crate::model::DERIVED.iter().position(|d| d.1 == "requester_wait_seconds");
    let is_history = |c: &str| crate::model::DERIVED.iter().skip(history.unwrap_or(usize::MAX)).any(|d| d.1 == c);
    match column {
        "has_survey" => fed(Table::Surveys),
        "first_response_target" | "first_response_overdue" | "first_response_sla_seconds" => {
            !plan.sla.first_response.is_empty()
        },
        "resolution_target" | "resolution_sla_seconds" => !plan.sla.resolution.is_empty(),
        c if is_history(c) => fed(Table::TicketEvents),
        "first_response_business_seconds" | "resolution_business_seconds" => !plan.business_hours.is_empty(),
        _ => true,
    }
}

/// A `where` that parses and reads only the table's columns, as a catalog expression.
fn predicate_of(
    text: &str,
    table: Table,
    schema: &Readable,
    p: &Located<String>,
    errs: &mut Vec<Diagnostic>,
) -> Option<expr::Expr> {
    let sql = Sql { text: p.value.clone(), at: p.at };
    let what = format!("the {table} table (its canonical columns and attributes)");
    let parsed = super::sql::parse(&sql, text)
        .and_then(|_| super::sql::reading(&sql, &schema.names(), &what))
        .and_then(|names| super::sql::text_compared_with_typed(&sql, &|c| schema.get(c).flatten()).map(|_| names));
    let names = match parsed {
        Ok(names) => names,
        Err(d) => {
            errs.push(d);
            return None;
        },
    };
    // Canonical and derived columns by their static names: the segments compute the derived ones it reads.
    let derived = |n: &str| crate::model::DERIVED.iter().find(|(t, c)| *t == table && *c == n).map(|(_, c)| *c);
    let columns =
        names.iter().filter_map(|n| table.column(n.as_str()).map(|c| c.name).or_else(|| derived(n))).collect();
    Some(expr::Expr::Sql { text: p.value.clone(), columns, at: p.at })
}
