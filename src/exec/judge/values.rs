//! Values that fail the run rather than the row: a column whose values do not read as its type (when the
//! source does not quarantine them), and declared metrics' SQL that cannot be evaluated on the staged rows.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::{BadValue, DataError, Error};
use crate::exec::aggregate::compile;
use crate::exec::{normalise, read, short, Staged};
use crate::model::Table;
use crate::plan::Plan;

/// Fails on the first column with values that do not read as their type.
pub(crate) fn check_values(plan: &Plan, raw: &BTreeMap<Table, LazyFrame>) -> Result<(), Error> {
    for (table, lf) in raw {
        // Sources that quarantine unreadable values leave them to `quarantine`.
        let quarantining: Vec<&str> =
            plan.sources_of(*table).filter(|s| s.quarantine_unreadable).map(|s| s.name.as_str()).collect();
        let failing = compile::one_of(col(normalise::SOURCE), &quarantining).not();
        let typed: Vec<&str> = table.columns().iter().filter(|c| c.is_checked()).map(|c| c.name).collect();
        let counts: Vec<Expr> = typed
            .iter()
            .map(|c| col(normalise::bad(c)).is_not_null().and(failing.clone()).sum().cast(DataType::UInt64).alias(*c))
            .collect();
        if counts.is_empty() {
            continue;
        }
        // Rows with some bad value first: a column chunk whose statistics count only nulls is skipped unread.
        let any_bad = typed.iter().map(|c| col(normalise::bad(c)).is_not_null()).reduce(|a, b| a.or(b));
        let rows = match any_bad {
            Some(any) => lf.clone().filter(any),
            None => lf.clone(),
        };
        let df = rows.select(counts).collect_with_engine(Engine::Streaming)?.unwrap_single();
        let get = |name: &str| -> u64 { df.column(name).ok().and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0) };
        for column in typed {
            let total = get(column);
            if total == 0 {
                continue;
            }
            let bad = normalise::bad(column);
            let sample = lf
                .clone()
                .filter(col(bad.as_str()).is_not_null().and(failing.clone()))
                .select([col(normalise::SOURCE), col(read::FILE), col(read::ROW), col(bad.as_str())])
                .limit(5)
                .collect()?;
            let text = |name: &str, i: usize| -> String {
                sample.column(name).ok().and_then(|c| c.str().ok()?.get(i)).unwrap_or("").to_string()
            };
            // The mapping of the source the first bad value came from: its line, and its column's name as the
            // file has it.
            let first_source = text(normalise::SOURCE, 0);
            let mapping = plan
                .sources_of(*table)
                .filter(|s| s.name == first_source)
                .flat_map(|s| s.columns.iter())
                .find(|m| m.canonical.name == column);
            let source_column = mapping.map(normalise::source_column_name).unwrap_or_else(|| column.to_string());
            let examples = (0..sample.height())
                .map(|i| BadValue {
                    file: text(read::FILE, i),
                    row: sample.column(read::ROW).ok().and_then(|c| c.u64().ok()?.get(i)).unwrap_or(0),
                    column: if text(normalise::SOURCE, i) == first_source {
                        source_column.clone()
                    } else {
                        column.to_string()
                    },
                    value: text(&bad, i),
                })
                .collect();
            let at = mapping.map(|m| m.at).unwrap_or_default();
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
    Ok(())
}

/// The optimised Polars plan of each output, computed straight from the sources.
/// The declared metrics' SQL evaluated on the first staged rows of their tables: an attribute typed as text
/// (some file's values were not numbers) compared with a number is the pipeline's mistake, reported at the
/// SQL's line before the segments run, not an engine failure in the middle of them.
pub(crate) fn check_metric_sql(plan: &Plan, staged: &Staged) -> Result<(), Error> {
    for kpi in &plan.kpis {
        for (table, e) in kpi.sql() {
            let crate::catalog::expr::Expr::Sql { text, at, .. } = e else { continue };
            let Ok(mut rows) = staged.scan(table) else { continue };
            // Derived columns (SLA verdicts, history seconds) are computed later, for the segments: typed here.
            let schema = rows.collect_schema()?;
            let derived: Vec<Expr> = crate::model::DERIVED
                .iter()
                .filter(|(t, c)| *t == table && !schema.contains(c))
                .map(|(_, c)| lit(NULL).cast(normalise::dtype(crate::model::derived_type(c))).alias(*c))
                .collect();
            let rows = rows.with_columns(derived);
            let Err(err) = rows.limit(1_000).select([compile::expr(e).alias("__sql")]).collect() else { continue };
            let d = crate::plan::Diagnostic::new(
                format!("`{text}` cannot be evaluated on the {table} table: {}", short(&err.to_string())),
                *at,
            )
            .with_help(
                "an attribute typed from its values is text when some file's values are not all numbers: declare its \
                 `type` under `attributes:`, or compare it with a quoted text",
            );
            return Err(normalise::plan_error(plan, d));
        }
    }
    Ok(())
}
