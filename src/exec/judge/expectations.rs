//! Expectations (`expectations:`) judged on every table's rows as read and mapped, before quarantine: how many
//! rows fail each check, the failing rows (the first `KEPT_ROWS`) in `DIR/_expectations/<name>.parquet`, and
//! whether the failures stay within what the expectation tolerates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::Error;
use crate::exec::read;
use crate::model::Table;
use crate::plan::{Check, Expectation, Plan};

/// The failing rows kept per expectation.
const KEPT_ROWS: u32 = 1_000;

/// What an expectation found.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub name: String,
    pub error: bool,
    pub failed: u64,
    pub rows: u64,
    pub passed: bool,
    /// A few failing values, for the message.
    pub examples: Vec<String>,
}

impl Outcome {
    pub(crate) fn line(&self, table: Table) -> String {
        let examples = match self.examples.is_empty() {
            true => String::new(),
            false => format!(" (e.g. {})", self.examples.join(", ")),
        };
        format!(
            "expectation `{}` ({}) failed on {} of {} {table} rows{examples}; rows in _expectations/{}.parquet",
            self.name,
            if self.error { "error" } else { "warn" },
            self.failed,
            self.rows,
            self.name
        )
    }
}

/// Every expectation judged on `judged` (each table's rows before quarantine); failing rows written under
/// `dir` (`DIR/_expectations`), and the files of expectations that now pass removed.
pub(crate) fn judge(
    plan: &Plan,
    judged: &BTreeMap<Table, LazyFrame>,
    dir: &Path,
) -> Result<Vec<(Table, Outcome)>, Error> {
    let mut out = Vec::new();
    for e in &plan.expectations {
        let Some(rows) = judged.get(&e.table) else { continue };
        let total = count(rows.clone())?;
        let out_dir = dir.parent().unwrap_or(dir);
        let (failed, failing) = match failing(plan, e, rows, judged, out_dir)? {
            Failing::Rows(lf) => {
                let lf = lf.cache();
                (count(lf.clone())?, Some(lf))
            },
            Failing::Whole(bad) => (u64::from(bad), None),
        };
        let tolerated = if e.tolerate < 1.0 { e.tolerate * total as f64 } else { e.tolerate };
        let passed = failed as f64 <= tolerated;
        let path = dir.join(format!("{}.parquet", e.name));
        let mut examples = Vec::new();
        match (&failing, failed > 0) {
            (Some(lf), true) => examples = kept_rows(e, lf.clone(), &path)?,
            _ => {
                let _ = std::fs::remove_file(&path);
            },
        }
        out.push((e.table, Outcome { name: e.name.clone(), error: e.error, failed, rows: total, passed, examples }));
    }
    Ok(out)
}

enum Failing {
    Rows(Box<LazyFrame>),
    /// A check on the whole table (freshness, row count): whether it failed.
    Whole(bool),
}

fn count(lf: LazyFrame) -> PolarsResult<u64> {
    let df = lf.select([len().cast(DataType::UInt64).alias("n")]).collect()?;
    Ok(df.column("n")?.u64()?.get(0).unwrap_or(0))
}

/// The rows of `table` the last successful run in `out_dir` read, from its run record.
fn last_count(out_dir: &Path, table: Table) -> Option<u64> {
    let records = crate::exec::run_records(out_dir).ok()?;
    let last = records.iter().rev().find(|r| r.status == "ok" && !r.tables.is_empty())?;
    last.tables.iter().find(|t| t.table == table.name()).map(|t| t.read)
}

fn failing(
    plan: &Plan,
    e: &Expectation,
    rows: &LazyFrame,
    judged: &BTreeMap<Table, LazyFrame>,
    out_dir: &Path,
) -> Result<Failing, Error> {
    let rows = rows.clone();
    Ok(match &e.check {
        Check::NotNull(c) => Failing::Rows(Box::new(rows.filter(col(c.as_str()).is_null()))),
        Check::Unique(cols) => {
            let keys: Vec<Expr> = cols.iter().map(|c| col(c.as_str())).collect();
            let set = cols.iter().map(|c| col(c.as_str()).is_not_null()).reduce(|a, b| a.and(b)).expect("a column");
            let repeated = rows
                .clone()
                .filter(set.clone())
                .group_by(keys.clone())
                .agg([len().alias("__copies")])
                .filter(col("__copies").gt(lit(1)))
                .select(keys.clone());
            let mut args = JoinArgs::new(JoinType::Semi);
            args.nulls_equal = false;
            Failing::Rows(Box::new(rows.filter(set).join(repeated, keys.clone(), keys, args)))
        },
        Check::AcceptedValues(c, values) => {
            let value = col(c.as_str()).cast(DataType::String);
            let known = values.iter().map(|v| value.clone().eq(lit(v.as_str()))).reduce(|a, b| a.or(b));
            let outside = match known {
                Some(k) => value.clone().is_not_null().and(k.not()),
                None => value.is_not_null(),
            };
            Failing::Rows(Box::new(rows.filter(outside)))
        },
        Check::Range { column, min, max } => {
            let v = col(column.as_str()).cast(DataType::Float64);
            let mut outside = lit(false);
            if let Some(min) = min {
                outside = outside.or(v.clone().lt(lit(*min)));
            }
            if let Some(max) = max {
                outside = outside.or(v.gt(lit(*max)));
            }
            Failing::Rows(Box::new(rows.filter(outside.fill_null(lit(false)))))
        },
        Check::Relationship { column, to, field } => {
            let Some(theirs) = judged.get(to) else { return Ok(Failing::Whole(false)) };
            let theirs = theirs
                .clone()
                .select([col(field.as_str()).cast(DataType::String).alias("__ref")])
                .unique(None, UniqueKeepStrategy::Any);
            let mine = rows
                .filter(col(column.as_str()).is_not_null())
                .with_column(col(column.as_str()).cast(DataType::String).alias("__ref"));
            Failing::Rows(Box::new(
                mine.join(theirs, [col("__ref")], [col("__ref")], JoinArgs::new(JoinType::Anti)).drop(cols(["__ref"])),
            ))
        },
        Check::Freshness(c, seconds) => {
            let newest = rows
                .select([col(c.as_str())
                    .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                    .dt()
                    .timestamp(TimeUnit::Milliseconds)
                    .max()
                    .alias("m")])
                .collect()?;
            let newest = newest.column("m")?.i64()?.get(0);
            let limit = plan.as_of.as_millisecond() - (seconds * 1000.0) as i64;
            Failing::Whole(newest.is_none_or(|n| n < limit))
        },
        Check::RowCount { min, max, max_change } => {
            let n = count(rows)?;
            let changed = max_change.zip(last_count(out_dir, e.table)).is_some_and(|(share, last)| {
                let change = (n as f64 - last as f64).abs() / (last as f64).max(1.0);
                change > share
            });
            Failing::Whole(min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) || changed)
        },
        Check::Expr(sql) => {
            let what = format!("the {} table (expectations read canonical columns and attributes)", e.table);
            let schema = crate::exec::normalise::readable_schema(plan, e.table);
            let holds = crate::exec::normalise::sql_on(sql, &schema, &what)
                .map_err(|d| crate::exec::normalise::plan_error(plan, d))?;
            Failing::Rows(Box::new(rows.filter(holds.not().fill_null(lit(false)))))
        },
    })
}

/// The first failing rows (the columns checked, the file and row they came from) written to `path`, and up to
/// three distinct failing values of the first column, for the message.
fn kept_rows(e: &Expectation, failing: LazyFrame, path: &PathBuf) -> Result<Vec<String>, Error> {
    let checked: Vec<&str> = match &e.check {
        Check::NotNull(c) | Check::AcceptedValues(c, _) | Check::Freshness(c, _) => vec![c.as_str()],
        Check::Range { column, .. } | Check::Relationship { column, .. } => vec![column.as_str()],
        Check::Unique(cols) => cols.iter().map(String::as_str).collect(),
        Check::RowCount { .. } | Check::Expr(_) => Vec::new(),
    };
    let schema = failing.clone().collect_schema()?;
    let mut columns: Vec<Expr> = Vec::new();
    for c in [read::FILE, read::ROW].into_iter().filter(|c| schema.contains(c)) {
        columns.push(col(c).alias(c.trim_start_matches("__")));
    }
    if checked.is_empty() {
        // A predicate over any columns: the table's own.
        columns.extend(schema.iter_names().filter(|n| !n.starts_with("__")).map(|n| col(n.clone())));
    } else {
        columns.extend(checked.iter().map(|c| col(*c)));
    }
    let mut df = failing.select(columns).limit(KEPT_ROWS).collect()?;
    let examples = match checked.first() {
        Some(c) => {
            let values = df.column(c)?.cast(&DataType::String)?;
            let mut seen: Vec<String> = Vec::new();
            for v in values.str()?.iter() {
                let v = v.map(|v| format!("'{v}'")).unwrap_or_else(|| "null".into());
                if !seen.contains(&v) && seen.len() < 3 {
                    seen.push(v);
                }
            }
            seen
        },
        None => Vec::new(),
    };
    let failed = |e: std::io::Error| Error::Output { path: path.clone(), message: e.to_string() };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let partial = path.with_extension("parquet.partial");
    let file = std::fs::File::create(&partial).map_err(failed)?;
    ParquetWriter::new(file).finish(&mut df)?;
    std::fs::rename(&partial, path).map_err(failed)?;
    Ok(examples)
}
