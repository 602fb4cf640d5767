//! A table's rows as a cluster reads them itself: SQL over the store's parts, instead of rows the client
//! reads and hands over. The query keeps the rows a local run keeps and gives them the same columns:
//!
//! 1. kept: the rule each row broke when it was staged (the part's `reason`), the plausible range on this
//!    run's dates, and the places of the rows that the verdicts over the whole table drop (copies of
//!    repeated ids, rows whose references resolve nothing), which the client found from the id files
//!    (`judge::dropped_by_table_verdicts`) and hands over;
//! 2. derived: the tickets' resolution rules (`derive`);
//! 3. in the window and the table's filters, with the tickets' SLA targets and wall-clock durations;
//! 4. the accounts' dimensions and whether an answer rates each ticket joined (lookups the client hands
//!    over, as they are small), the dimensions the table cannot fill null.
//!
//! A table whose rows need more (reply chains, tickets filled from messages or histories, answers placed by
//! their tickets, business calendars, a filter or rule without an SQL form) gets `None`: its rows are handed
//! over as before.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::compile::quoted;
use crate::exec::aggregate::rows;
use crate::exec::cluster::to_sql::row_sql;
use crate::exec::Staged;
use crate::model::{self, ColumnType, Table};
use crate::plan::{Plan, Segment};

/// Where the query reads the parts and its lookups (the accounts' dimensions, the tickets some answer
/// rates): the cluster registers each and puts its name in place of these.
pub const PARTS: &str = "{parts}";
pub const ACCOUNTS: &str = "{accounts}";
pub const ANSWERED: &str = "{answered}";
/// Where the query says that a row is not among those dropped: the cluster puts `not_dropped(name)` there,
/// or `TRUE` when none is (Ballista waits forever on a stage that reads an empty file).
pub const NOT_DROPPED: &str = "{not_dropped}";

/// That a row of the parts (`p`) is not among the dropped rows in table `dropped`.
pub fn not_dropped(dropped: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM {dropped} AS d WHERE d.\"__file\" = p.\"__file\" AND d.\"__row\" = p.\"__row\")")
}

/// Columns of a part that only the staging and judging read.
const BOOKKEEPING: [&str; 2] = [crate::exec::judge::quarantine::REASON, crate::exec::judge::quarantine::DETAIL];

/// The rows of a table as the executors read them from its staged parts.
pub struct StoreRows {
    pub table: Table,
    pub parts: Vec<PathBuf>,
    /// `__file` and `__row` of the rows the whole table's verdicts drop.
    pub dropped: LazyFrame,
    /// Small tables the rows are joined to, each with the name the query reads it by: `ACCOUNTS` (`account_id`
    /// and the accounts' dimensions the rows take), `ANSWERED` (the `ticket_id`s some answer rates).
    pub lookups: Vec<(&'static str, LazyFrame)>,
    /// The query, over `PARTS` and the lookups, and `NOT_DROPPED`.
    pub query: String,
    pub columns: Vec<String>,
}

/// What the cluster needs to read tables from the store: each table's parts and its dropped rows.
#[derive(Default)]
pub struct StoreReads {
    pub parts: BTreeMap<Table, Vec<PathBuf>>,
    pub dropped: BTreeMap<Table, LazyFrame>,
}

/// The rows `table_frame(plan, table, seg, staged)` gives, restricted to `columns`, as a query over the
/// table's parts; `None` when they need a step this query does not take.
pub fn store_rows(
    plan: &Plan,
    staged: &Staged,
    reads: &StoreReads,
    table: Table,
    seg: &Segment,
    columns: &[&str],
) -> Result<Option<StoreRows>, Error> {
    let (Some(parts), Some(dropped)) = (reads.parts.get(&table), reads.dropped.get(&table)) else { return Ok(None) };
    if needs_the_client(plan, table, seg).is_some() || !staged.only.is_empty() || parts.is_empty() {
        return Ok(None);
    }
    let period = table.period_column().and_then(|p| table.column(p)).expect("needs_the_client checks it");
    let Some(schema) = one_schema(parts)? else { return Ok(None) };
    let Some(derived) = derived_columns(plan, staged, table, &schema) else { return Ok(None) };
    let Some(enriched) = enriched_columns(plan, staged, table, seg) else { return Ok(None) };
    let Some(filters) = filters(plan, table, period.name) else { return Ok(None) };

    let has = |c: &str| schema.contains(c) || enriched.iter().any(|(n, _)| n == c);
    let attributes: Vec<&str> = model::FROM_ACCOUNT
        .iter()
        .copied()
        .filter(|a| seg.dimensions.contains(a) && !has(a) && table != Table::Accounts)
        .collect();
    // Any answer counts, whenever it came: the tickets some answer rates, found once for every segment.
    let answered = staged.answered.as_ref().filter(|_| table == Table::Tickets && columns.contains(&"has_survey"));
    let mut items = Vec::new();
    for c in columns {
        let item = if has(c) {
            format!("r.{}", quoted(c))
        } else if attributes.contains(c) {
            format!("a.{}", quoted(c))
        } else if *c == "has_survey" && table == Table::Tickets && answered.is_some() {
            format!("(s.\"ticket_id\" IS NOT NULL) AS {}", quoted(c))
        } else if seg.dimensions.contains(c) && !plan.has_attribute(table, c) {
            format!("CAST(NULL AS VARCHAR) AS {}", quoted(c))
        } else {
            return Ok(None);
        };
        items.push(item);
    }
    let mut lookups = Vec::new();
    let mut joins = String::new();
    if !attributes.is_empty() {
        if !schema.contains("account_id") {
            return Ok(None);
        }
        let mut keep = vec![col("account_id")];
        keep.extend(attributes.iter().map(|a| col(*a)));
        lookups.push((ACCOUNTS, staged.scan(Table::Accounts)?.select(keep).filter(col("account_id").is_not_null())));
        joins.push_str(&format!(" LEFT JOIN {ACCOUNTS} AS a ON r.\"account_id\" = a.\"account_id\""));
    }
    if let Some(answered) = answered {
        lookups.push((ANSWERED, answered.clone().lazy()));
        joins.push_str(&format!(" LEFT JOIN {ANSWERED} AS s ON r.\"ticket_id\" = s.\"ticket_id\""));
    }

    let kept = format!(
        "SELECT * FROM {PARTS} AS p WHERE p.\"reason\" IS NULL AND {} AND {NOT_DROPPED}",
        plausible(plan, table)
    );
    let derived = format!("SELECT {} FROM ({kept}) AS k", derived.join(", "));
    let mut in_window = vec!["e.*".to_string()];
    in_window.extend(enriched.iter().map(|(name, sql)| format!("{sql} AS {}", quoted(name))));
    let mut query = format!("SELECT {} FROM ({derived}) AS e WHERE {}", in_window.join(", "), filters.join(" AND "));
    query = format!("SELECT {} FROM ({query}) AS r{joins}", items.join(", "));
    Ok(Some(StoreRows {
        table,
        parts: parts.clone(),
        dropped: dropped.clone(),
        lookups,
        query,
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }))
}

/// Why the rows of `table` that `seg` reduces cannot be read from the store by the executors, if they
/// cannot: a step this module does not lower. Known from the plan alone, so that `validate --engine
/// ballista` says it before any work.
pub fn needs_the_client(plan: &Plan, table: Table, seg: &Segment) -> Option<&'static str> {
    let reads = kpi_reads(plan, table, seg);
    let has = |t: Table| plan.sources_of(t).next().is_some();
    let period = table.period_column().and_then(|p| table.column(p));
    Some(match table {
        Table::Surveys => "answers take their tickets' columns, a join on the client",
        Table::ReplyWaits => "waits are derived from the messages",
        Table::SlaInstances => "SLA instances are walked ticket by ticket on the client",
        _ if plan.has_threads() => "reply chains are resolved on the client",
        _ if !period.is_some_and(|p| matches!(p.ty, ColumnType::Timestamp | ColumnType::Date)) => "no period column",
        Table::Tickets if has(Table::Messages) => "tickets are completed from their messages",
        Table::Tickets if has(Table::TicketEvents) => "reopens and resolutions are read from the ticket histories",
        Table::Tickets if reads.contains(&"has_survey") && !has(Table::Surveys) => "no survey source",
        Table::Tickets
            if reads.contains(&"first_response_overdue")
                && !plan.business_hours.is_empty()
                && plan.sla.first_response.iter().any(|r| r.business) =>
        {
            "business calendars"
        },
        Table::Tickets
            if reads.iter().any(|c| {
                crate::exec::facts::history::MEASURES.contains(c)
                    || crate::exec::facts::history::ASSIGNMENT_MEASURES.contains(c)
            }) =>
        {
            "ticket histories"
        },
        Table::Tickets if !plan.business_hours.is_empty() && reads.iter().any(|c| BUSINESS.contains(c)) => {
            "business calendars"
        },
        _ => return None,
    })
}

/// The tickets' columns that business calendars measure.
const BUSINESS: [&str; 4] = [
    "first_response_business_seconds",
    "resolution_business_seconds",
    "first_response_sla_seconds",
    "resolution_sla_seconds",
];

/// The columns that `seg`'s KPIs over `table` read.
fn kpi_reads<'p>(plan: &'p Plan, table: Table, seg: &Segment) -> Vec<&'p str> {
    seg.kpis.iter().filter(|k| plan.kpis[**k].table == table).flat_map(|k| plan.kpis[*k].columns()).collect()
}

/// The parts' schema, when they all have the same (attributes typed from their values may differ between
/// files, and a local run widens them).
fn one_schema(parts: &[PathBuf]) -> Result<Option<Schema>, Error> {
    let mut first: Option<Schema> = None;
    for part in parts {
        let schema = crate::exec::scan_file(part)?.collect_schema()?;
        match &first {
            Some(s) if s != schema.as_ref() => return Ok(None),
            Some(_) => {},
            None => first = Some(schema.as_ref().clone()),
        }
    }
    Ok(first)
}

/// Every column of the parts but the bookkeeping, as `derive` and `table_frame` give it: the tickets'
/// resolution rules applied, a day's period as its first instant.
fn derived_columns(plan: &Plan, staged: &Staged, table: Table, schema: &Schema) -> Option<Vec<String>> {
    let rules: Vec<Expr> = match table {
        Table::Tickets if staged.underived.contains_key(&Table::Tickets) => {
            crate::exec::facts::derive::ticket_rules(plan)
        },
        _ => Vec::new(),
    };
    let period = table.period_column();
    let mut items = Vec::new();
    for name in schema.iter_names().filter(|n| !BOOKKEEPING.contains(&n.as_str())) {
        let rule = rules.iter().find(|e| (*e).clone().meta().output_name().is_ok_and(|n| n == *name));
        items.push(match rule {
            Some(e) => format!("{} AS {}", row_sql(e)?.sql, quoted(name)),
            // A day stands for its first instant, as in `table_frame`.
            None if Some(name.as_str()) == period && schema.get(name) == Some(&DataType::Date) => {
                format!("arrow_cast(k.{0}, 'Timestamp(Millisecond, None)') AS {0}", quoted(name))
            },
            None => format!("k.{}", quoted(name)),
        });
    }
    Some(items)
}

/// The columns `rows::enriched` adds to tickets that `seg` reads (SLA targets, elapsed durations), as SQL
/// over the derived columns.
fn enriched_columns(plan: &Plan, staged: &Staged, table: Table, seg: &Segment) -> Option<Vec<(String, String)>> {
    if table != Table::Tickets {
        return Some(Vec::new());
    }
    let reads = kpi_reads(plan, table, seg);
    let mut out = Vec::new();
    for (name, expr) in rows::row_enrichments(plan, staged, &reads)? {
        out.push((name.to_string(), row_sql(&expr)?.sql));
    }
    if reads.contains(&"first_response_overdue") {
        out.push(("first_response_overdue".to_string(), overdue(plan)?));
    }
    Some(out)
}

/// Whether a ticket had no first response at the as-of instant, though its target had passed (around the
/// clock): `rows::first_response_overdue` lowered to SQL.
fn overdue(plan: &Plan) -> Option<String> {
    let target = rows::sla_target(&plan.sla.first_response);
    Some(row_sql(&rows::first_response_overdue(rows::wall_age(plan), target))?.sql)
}

/// The conditions a row must meet, as SQL: the window on the period column and the table's filters.
fn filters(plan: &Plan, table: Table, period: &str) -> Option<Vec<String>> {
    let mut out = vec!["TRUE".to_string()];
    if let Some(from) = plan.window.from {
        out.push(format!("e.{} >= {}", quoted(period), instant(from)));
    }
    if let Some(to) = plan.window.to {
        out.push(format!("e.{} < {}", quoted(period), instant(to)));
    }
    for (t, sql) in plan.table_filters.iter().filter(|(t, _)| *t == table) {
        let what = format!("the {t} table");
        let e =
            crate::exec::normalise::sql_on(sql, &crate::exec::normalise::readable_schema(plan, table), &what).ok()?;
        out.push(format!("COALESCE({}, FALSE)", row_sql(&e)?.sql));
    }
    Some(out)
}

/// The plausible range on every timestamp column, as `quarantine::mark_plausible` judges it.
fn plausible(plan: &Plan, table: Table) -> String {
    let (from, to) = plan.plausible_range();
    let mut out = vec!["TRUE".to_string()];
    for c in table.columns().iter().filter(|c| c.ty == ColumnType::Timestamp) {
        let c = quoted(c.name);
        out.push(format!("NOT COALESCE(p.{c} < {} OR p.{c} >= {}, FALSE)", instant(from), instant(to)));
    }
    out.join(" AND ")
}

/// The first instant of day `d`, in the store's unit.
fn instant(d: jiff::civil::Date) -> String {
    format!("arrow_cast('{d}T00:00:00', 'Timestamp(Millisecond, None)')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_reads_from_the_store_only_rows_it_can_prepare() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sample = crate::load_plan(&root.join("pipelines/support_kpis.yaml")).unwrap();
        let why: BTreeMap<Table, Option<&str>> = crate::exec::row_sources(&sample).into_iter().collect();
        assert_eq!(why[&Table::KbArticles], None);
        assert_eq!(why[&Table::Tickets], Some("tickets are completed from their messages"));
        assert_eq!(why[&Table::Surveys], Some("answers take their tickets' columns, a join on the client"));
        assert_eq!(why[&Table::ReplyWaits], Some("waits are derived from the messages"));
        // The catalog's fixture: tickets alone, whose answered ids are a lookup.
        let catalog = crate::load_plan(&root.join("tests/fixtures/catalog/pipeline.yaml")).unwrap();
        let why: BTreeMap<Table, Option<&str>> = crate::exec::row_sources(&catalog).into_iter().collect();
        assert_eq!(why[&Table::Tickets], None);
    }

    #[test]
    fn cluster_bounds_are_instants_in_the_stores_unit() {
        let d = jiff::civil::date(2025, 1, 31);
        assert_eq!(instant(d), "arrow_cast('2025-01-31T00:00:00', 'Timestamp(Millisecond, None)')");
    }
}
