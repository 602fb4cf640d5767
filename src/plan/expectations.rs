//! Planning `expectations:`: each check on a table's rows as read, with its column(s) resolved against what
//! the table can hold, its severity and the failures it tolerates, every problem reported with its line.

use crate::model::Table;
use crate::spec::{ExpectationSpec, Located, Location, UniqueSpec};
use crate::suggest;

use super::{parse_duration, Diagnostic, Plan, Sql};

#[derive(Clone, Debug)]
pub struct Expectation {
    pub name: String,
    pub table: Table,
    pub check: Check,
    pub error: bool,
    /// Failures tolerated: a share of the rows (below 1) or a count.
    pub tolerate: f64,
    pub at: Location,
}

#[derive(Clone, Debug)]
pub enum Check {
    NotNull(String),
    Unique(Vec<String>),
    AcceptedValues(String, Vec<String>),
    Range {
        column: String,
        min: Option<f64>,
        max: Option<f64>,
    },
    Relationship {
        column: String,
        to: Table,
        field: String,
    },
    /// The newest value within this many seconds of as-of.
    Freshness(String, f64),
    /// Bounds, and the largest change (a share) against the last successful run's rows read.
    RowCount {
        min: Option<u64>,
        max: Option<u64>,
        max_change: Option<f64>,
    },
    /// Rows where the predicate is false fail.
    Expr(Sql),
}

impl Check {
    fn kind(&self) -> &'static str {
        match self {
            Check::NotNull(_) => "not_null",
            Check::Unique(_) => "unique",
            Check::AcceptedValues(..) => "accepted_values",
            Check::Range { .. } => "range",
            Check::Relationship { .. } => "relationships",
            Check::Freshness(..) => "freshness",
            Check::RowCount { .. } => "row_count",
            Check::Expr(_) => "expr",
        }
    }
}

/// Every expectation, checked.
pub(super) fn expectations_of(
    plan: &Plan,
    specs: Vec<Located<ExpectationSpec>>,
    errs: &mut Vec<Diagnostic>,
) -> Vec<Expectation> {
    let mut out: Vec<Expectation> = Vec::new();
    for spec in specs {
        if let Some(e) = expectation(plan, spec, errs) {
            if out.iter().any(|o| o.name == e.name) {
                errs.push(
                    Diagnostic::new(format!("two expectations are named `{}`", e.name), e.at)
                        .with_help("give one of them its own `name:`"),
                );
                continue;
            }
            out.push(e);
        }
    }
    out
}

fn expectation(plan: &Plan, spec: Located<ExpectationSpec>, errs: &mut Vec<Diagnostic>) -> Option<Expectation> {
    let at = spec.at;
    let s = spec.value;
    let tables: Vec<&str> = Table::ALL.iter().filter(|t| !t.is_derived()).map(|t| t.name()).collect();
    let Some(table) = Table::from_name(&s.table).filter(|t| !t.is_derived()) else {
        errs.push(
            Diagnostic::new(format!("expectation on unknown table `{}`", s.table.value), s.table.at)
                .with_help(suggest::help(&s.table, &tables)),
        );
        return None;
    };
    if plan.sources_of(table).next().is_none() {
        errs.push(Diagnostic::new(format!("expectation on `{table}`, which no source feeds"), s.table.at));
        return None;
    }
    let check = the_check(plan, table, &s, at, errs)?;
    let error = severity_is_error(&s, errs);
    let tolerate = match &s.tolerate {
        Some(t) if t.value < 0.0 || !t.value.is_finite() => {
            errs.push(Diagnostic::new("`tolerate` is a share below 1 or a count of rows", t.at));
            0.0
        },
        Some(t) => t.value,
        None => 0.0,
    };
    let name = name_of(&s, table, &check, errs)?;
    Some(Expectation { name, table, check, error, tolerate, at })
}

/// The one check an expectation makes, its columns checked against the table's.
fn the_check(
    plan: &Plan,
    table: Table,
    s: &ExpectationSpec,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Option<Check> {
    let tables: Vec<&str> = Table::ALL.iter().filter(|t| !t.is_derived()).map(|t| t.name()).collect();
    let readable = super::readable_schema(plan, table);
    let names = readable.names();
    let known = |c: &Located<String>, errs: &mut Vec<Diagnostic>| -> Option<String> {
        if names.contains(&c.as_str()) {
            return Some(c.value.clone());
        }
        errs.push(
            Diagnostic::new(format!("`{table}` has no column `{}`", c.value), c.at).with_help(suggest::help(c, &names)),
        );
        None
    };
    let column = || s.column.clone();
    let needs_column = |what: &str, errs: &mut Vec<Diagnostic>| -> Option<String> {
        match column() {
            Some(c) => known(&c, errs),
            None => {
                errs.push(Diagnostic::new(format!("`{what}` checks a `column:`, and this expectation has none"), at));
                None
            },
        }
    };
    let mut checks: Vec<Option<Check>> = Vec::new();
    if s.not_null {
        checks.push(needs_column("not_null", errs).map(Check::NotNull));
    }
    if let Some(u) = &s.unique {
        checks.push(match &u.value {
            UniqueSpec::Column(true) => needs_column("unique", errs).map(|c| Check::Unique(vec![c])),
            UniqueSpec::Column(false) => None,
            UniqueSpec::Columns(list) => {
                let cols: Vec<Option<String>> =
                    list.iter().map(|c| known(&Located::new(c.clone(), u.at), errs)).collect();
                cols.into_iter().collect::<Option<Vec<_>>>().map(Check::Unique)
            },
        });
    }
    if let Some(values) = &s.accepted_values {
        checks.push(needs_column("accepted_values", errs).map(|c| Check::AcceptedValues(c, values.value.clone())));
    }
    if let Some(r) = &s.range {
        if r.min.is_none() && r.max.is_none() {
            errs.push(Diagnostic::new("`range` needs a `min`, a `max` or both", r.at));
        }
        checks.push(needs_column("range", errs).map(|c| Check::Range { column: c, min: r.min, max: r.max }));
    }
    if let Some(rel) = &s.relationships {
        let to = Table::from_name(&rel.to).filter(|t| !t.is_derived() && plan.sources_of(*t).next().is_some());
        match (needs_column("relationships", errs), to) {
            (Some(c), Some(to)) => {
                let field = rel.field.clone().unwrap_or_else(|| c.clone());
                let theirs = super::readable_schema(plan, to);
                if theirs.names().contains(&field.as_str()) {
                    checks.push(Some(Check::Relationship { column: c, to, field }));
                } else {
                    errs.push(
                        Diagnostic::new(format!("`{to}` has no column `{field}`"), rel.at)
                            .with_help(suggest::help(&field, &theirs.names())),
                    );
                }
            },
            (_, None) => errs.push(
                Diagnostic::new(format!("`relationships` refers to `{}`, which no source feeds", rel.to), rel.at)
                    .with_help(suggest::help(&rel.to, &tables)),
            ),
            _ => {},
        }
    }
    if let Some(f) = &s.freshness {
        match parse_duration(f) {
            Some(seconds) => checks.push(needs_column("freshness", errs).map(|c| Check::Freshness(c, seconds))),
            None => errs.push(
                Diagnostic::new(format!("`{}` is not a duration", f.value), f.at).with_help("write it as 2h, 1d, 30m"),
            ),
        }
    }
    if let Some(r) = &s.row_count {
        if r.min.is_none() && r.max.is_none() && r.max_change.is_none() {
            errs.push(Diagnostic::new("`row_count` needs `min`, `max` or `max_change`", r.at));
        }
        checks.push(Some(Check::RowCount { min: r.min, max: r.max, max_change: r.max_change }));
    }
    if let Some(e) = &s.expr {
        checks.push(Some(Check::Expr(Sql { text: e.value.clone(), at: e.at })));
    }
    let (check, more) = (checks.pop(), checks.len());
    if more > 0 {
        errs.push(
            Diagnostic::new("an expectation makes one check", at)
                .with_help("write one list entry per check (not_null, unique, accepted_values, range, …)"),
        );
        return None;
    }
    let Some(Some(check)) = check else {
        if check.is_none() {
            errs.push(Diagnostic::new("this expectation checks nothing", at).with_help(
                "give it one of not_null, unique, accepted_values, range, relationships, freshness, row_count, expr",
            ));
        }
        return None;
    };
    Some(check)
}

/// `severity`: error (the default) or warn.
fn severity_is_error(s: &ExpectationSpec, errs: &mut Vec<Diagnostic>) -> bool {
    match s.severity.as_ref().map(|s| s.as_str()) {
        None | Some("error") => true,
        Some("warn") => false,
        Some(other) => {
            let sev = s.severity.as_ref().expect("matched");
            errs.push(
                Diagnostic::new(format!("unknown severity `{other}`"), sev.at)
                    .with_help(suggest::help(other, &["error", "warn"])),
            );
            true
        },
    }
}

/// The expectation's `name`, else `<table>_<column>_<kind>`.
fn name_of(s: &ExpectationSpec, table: Table, check: &Check, errs: &mut Vec<Diagnostic>) -> Option<String> {
    match &s.name {
        Some(n) if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && !n.is_empty() => {
            Some(n.value.clone())
        },
        Some(n) => {
            errs.push(Diagnostic::new(
                format!("expectation name `{}` must use letters, digits, `_` or `-`", n.value),
                n.at,
            ));
            None
        },
        None => {
            let column = match check {
                Check::Unique(cols) => cols.join("_"),
                Check::NotNull(c)
                | Check::AcceptedValues(c, _)
                | Check::Range { column: c, .. }
                | Check::Relationship { column: c, .. }
                | Check::Freshness(c, _) => c.clone(),
                Check::RowCount { .. } | Check::Expr(_) => String::new(),
            };
            let parts: Vec<&str> =
                [table.name(), column.as_str(), check.kind()].into_iter().filter(|p| !p.is_empty()).collect();
            Some(parts.join("_"))
        },
    }
}

/// The expectations' SQL, parsed and resolved against their tables' columns.
pub(super) fn sql_errors(plan: &Plan, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for e in &plan.expectations {
        let Check::Expr(sql) = &e.check else { continue };
        if let Err(d) = super::sql::checked_on(plan, e.table, sql, text, "expectations") {
            out.push(d);
        }
    }
    out
}
