//! Quarantine: rows that break the spec's rules (an empty required value, a timestamp outside the
//! plausible range, a negative duration, a score outside its scale, an unknown
//! survey kind, a duplicate id, an unreadable value where the source says `on_error: quarantine`) are split
//! off with a `reason` and a `detail`, never used, and written to `DIR/_rejected/<table>.parquet`. Older
//! copies of an id under `duplicates: keep_latest` are superseded, not rejected.

use polars::prelude::*;

use crate::exec::normalise::{self, KEEP_LATEST, LATEST, SOURCE};
use crate::exec::read::{FILE, ROW};
use crate::model::{ColumnType, Fill, Table};
use crate::plan::Plan;

pub const REASON: &str = "reason";
pub const DETAIL: &str = "detail";
const SUPERSEDED: &str = "__superseded";
const IMPLAUSIBLE: &str = "implausible_timestamp";

/// Survey kinds the spec knows, and the scale of each (CSAT and CES as the pipeline declares them).
fn survey_scales(plan: &Plan) -> [(&'static str, (f64, f64)); 4] {
    plan.definitions.survey_kinds().map(|k| (k.name, k.scale))
}

/// The column whose copies are duplicates, for tables that have an id.
pub fn id_column(table: Table) -> Option<&'static str> {
    match table {
        Table::Tickets => Some("ticket_id"),
        Table::Surveys => Some("survey_id"),
        Table::Accounts => Some("account_id"),
        Table::Messages
        | Table::ReplyWaits
        | Table::SlaInstances
        | Table::Spend
        | Table::KbArticles
        | Table::TicketEvents => None,
    }
}

/// (condition, reason, detail) of each rule a row of `table` can break, first match wins.
/// Every rule in the order they are judged: the static ones, then the plausible range.
fn rules(plan: &Plan, table: Table) -> Vec<(Expr, &'static str, Expr)> {
    let mut all = static_rules(plan, table);
    all.extend(plausible_rules(plan, table));
    all
}

/// The rules timestamps outside `definitions.plausible` break: judged on every run (the range's end
/// follows the calendar), after the static ones.
fn plausible_rules(plan: &Plan, table: Table) -> Vec<(Expr, &'static str, Expr)> {
    let mut out = Vec::new();
    let (from, to) = plan.plausible_range();
    let instant = crate::exec::aggregate::period_exprs::instant_literal;
    for c in table.columns().iter().filter(|c| c.ty == ColumnType::Timestamp) {
        let outside = col(c.name).lt(instant(from)).or(col(c.name).gt_eq(instant(to)));
        let detail = concat_str(
            [
                lit(format!("{} = ", c.name)),
                col(c.name).dt().to_string("%Y-%m-%dT%H:%M:%SZ"),
                lit(format!(" is outside the plausible range {from} to {to} (definitions.plausible)")),
            ],
            "",
            true,
        );
        out.push((outside, IMPLAUSIBLE, detail));
    }
    out
}

/// The rules that depend on the row and the pipeline only, judged once, when a file is staged.
fn static_rules(plan: &Plan, table: Table) -> Vec<(Expr, &'static str, Expr)> {
    let mut out = Vec::new();
    let quarantining: Vec<&str> =
        plan.sources_of(table).filter(|s| s.quarantine_unreadable).map(|s| s.name.as_str()).collect();
    if !quarantining.is_empty() {
        let from_quarantining = crate::exec::aggregate::compile::one_of(col(SOURCE), &quarantining);
        for c in table.columns().iter().filter(|c| c.is_checked()) {
            let bad = col(normalise::bad(c.name));
            let detail = concat_str([lit(format!("{} = ", c.name)), bad.clone()], "", true);
            out.push((from_quarantining.clone().and(bad.is_not_null()), "unreadable_value", detail));
        }
    }
    for c in table.columns().iter().filter(|c| c.fill == Fill::Required) {
        let mut empty = col(c.name).is_null();
        // A message in a reply chain gets its ticket (the chain's root) later.
        if table == Table::Messages && c.name == "ticket_id" {
            empty = empty.and(col(crate::exec::facts::threads::MESSAGE_ID).is_null());
        }
        let reason = if c.name.ends_with("_id") { "missing_id" } else { "missing_value" };
        out.push((empty, reason, lit(format!("{} is empty", c.name))));
    }
    let before = |end: &str, start: &str| {
        (col(end).lt(col(start)), "negative_duration", lit(format!("{end} is before {start}")))
    };
    let negative = |c: &str| (col(c).lt(lit(0.0)), "negative_duration", lit(format!("{c} is negative")));
    match table {
        Table::Tickets => {
            for end in ["first_response_at", "resolved_at", "closed_at"] {
                out.push(before(end, "created_at"));
            }
            out.push(before("resolved_at", "first_response_at"));
            out.extend([negative("handle_seconds"), negative("wait_seconds")]);
        },
        Table::Surveys => {
            let scales = survey_scales(plan);
            let kinds: Vec<&str> = scales.iter().map(|(k, _)| *k).collect();
            let known = crate::exec::aggregate::compile::one_of(col("kind"), &kinds).fill_null(lit(false));
            let kind_detail = concat_str([lit("kind = "), col("kind").fill_null(lit("(empty)"))], "", true);
            out.push((known.not(), "unknown_survey_kind", kind_detail));
            // Whole scores as written (7, not 7.0).
            let score = col("score");
            let score_text = when(score.clone().eq(score.clone().floor()))
                .then(score.clone().cast(DataType::Int64).cast(DataType::String))
                .otherwise(score.cast(DataType::String));
            for (kind, (lo, hi)) in scales {
                let outside = col("kind").eq(lit(kind)).and(col("score").lt(lit(lo)).or(col("score").gt(lit(hi))));
                let detail = concat_str(
                    [lit(format!("{kind} score ")), score_text.clone(), lit(format!(" outside {lo}–{hi}"))],
                    "",
                    true,
                );
                out.push((outside, "score_out_of_scale", detail));
            }
        },
        Table::Accounts => out.push(before("churned_at", "customer_since")),
        Table::KbArticles => {
            for c in ["views", "sessions", "bounces", "helpful_votes", "unhelpful_votes"] {
                out.push((col(c).lt(lit(0.0)), "negative_count", lit(format!("{c} is negative"))));
            }
            out.push((col("bounces").gt(col("sessions")), "bounces_over_sessions", lit("more bounces than sessions")));
        },
        Table::Messages => {
            // A role the run does not know (`"true"`, `"end-user"`) would count neither as the customer's nor as
            // an agent's: such messages are set aside with their own reason, not kept silently.
            let mut roles: Vec<&str> = MESSAGE_ROLES.to_vec();
            let extra = plan.definitions.agent_roles.iter().map(String::as_str).filter(|r| !MESSAGE_ROLES.contains(r));
            roles.extend(extra);
            let known = crate::exec::aggregate::compile::one_of(col("author_role"), &roles).fill_null(lit(true));
            let detail = concat_str(
                [lit("author_role = "), col("author_role"), lit(format!(" is none of {}", roles.join(", ")))],
                "",
                true,
            );
            out.push((known.not(), "unknown_author_role", detail));
        },
        Table::ReplyWaits | Table::SlaInstances | Table::Spend | Table::TicketEvents => {},
    }
    out
}

/// The message authors' roles the run knows (`definitions.messages.agent_roles` adds others).
const MESSAGE_ROLES: [&str; 4] = ["customer", "agent", "bot", "system"];

/// One file's rows (`lf`, normalised) with `reason` set on rows that break a static rule, and `detail` left
/// empty: cheap comparisons, computed while the file is staged, so that the store holds them. The details,
/// text built from the row's values, are written for the quarantined rows only (`rejected`).
pub fn mark_static(plan: &Plan, table: Table, lf: LazyFrame) -> LazyFrame {
    // Neighbouring rules with the same reason are one test: each test is a pass that builds a text column.
    let mut tests: Vec<(Expr, &str)> = Vec::new();
    for (cond, why, _) in static_rules(plan, table) {
        let cond = cond.fill_null(lit(false));
        match tests.last_mut() {
            Some((any, last)) if *last == why => *any = any.clone().or(cond),
            _ => tests.push((cond, why)),
        }
    }
    let mut reason = lit(NULL).cast(DataType::String);
    for (cond, why) in tests.into_iter().rev() {
        reason = when(cond).then(lit(why)).otherwise(reason);
    }
    lf.with_columns([reason.alias(REASON), lit(NULL).cast(DataType::String).alias(DETAIL)])
}

/// Staged rows (`mark_static`) with the plausible range judged too, on this run's range.
pub fn mark_plausible(plan: &Plan, table: Table, lf: LazyFrame) -> LazyFrame {
    // The rules share their reason: one test for them all, not a text column per timestamp column.
    let outside =
        plausible_rules(plan, table).into_iter().map(|(cond, _, _)| cond.fill_null(lit(false))).reduce(Expr::or);
    let Some(outside) = outside else { return lf };
    lf.with_column(when(col(REASON).is_null().and(outside)).then(lit(IMPLAUSIBLE)).otherwise(col(REASON)).alias(REASON))
}

/// Rows as staged (`mark_static`, before `mark_plausible`) that break a rule, static or of the plausible
/// range, as filters on the columns as stored: a row breaks a rule when it passes one of them. Each is
/// checked by the Parquet reader against a row group's statistics apart; one `or` of them all is checked as
/// a whole, and a column without statistics (a `closed_at` no row has) then keeps every row group in.
pub fn rule_filters(plan: &Plan, table: Table) -> Vec<Expr> {
    let mut filters = vec![col(REASON).is_not_null()];
    filters.extend(plausible_rules(plan, table).into_iter().map(|(cond, _, _)| cond));
    filters
}

/// `mark_static` then `mark_plausible`: every rule, for frames that are not staged (checks, `explain`).
pub fn mark(plan: &Plan, table: Table, lf: LazyFrame) -> LazyFrame {
    mark_plausible(plan, table, mark_static(plan, table, lf))
}

/// The detail of the first rule a row breaks (see `mark`).
fn rule_detail(plan: &Plan, table: Table) -> Expr {
    let mut detail = lit(NULL).cast(DataType::String);
    for (cond, _, what) in rules(plan, table).into_iter().rev() {
        detail = when(cond.fill_null(lit(false))).then(what).otherwise(detail);
    }
    detail
}

/// A marked frame with copies of an id judged (`settle`).
pub struct Settled {
    pub judged: LazyFrame,
    /// Whether any row can be superseded: without, the kept rows are exactly those read and not rejected.
    pub may_supersede: bool,
    /// The verdicts on the repeated ids, when they were judged now (`settle_candidates`): any part of the
    /// same rows can be judged again with them (`CopyVerdicts::apply`).
    pub copies: Option<CopyVerdicts>,
}

/// The verdicts on the copies of repeated ids, found over every row of a table: per id, whether all its
/// copies are under `keep_latest` and which copy wins.
#[derive(Clone)]
pub struct CopyVerdicts {
    id: &'static str,
    verdicts: LazyFrame,
}

impl CopyVerdicts {
    /// `lf` (marked rows of the table, all or some) with its copies judged as the whole table's were.
    pub fn apply(&self, lf: LazyFrame) -> LazyFrame {
        apply_copy_verdicts(self.id, lf, self.verdicts.clone())
    }
}

/// A marked frame with copies of an id also judged: all copies rejected as `duplicate_id`, or, under
/// `keep_latest`, the older ones flagged `__superseded`.
/// The plan stays lazy (for checks and `explain`, which must not read the data); a run settles with
/// `settle_candidates`.
pub fn settle(table: Table, lf: LazyFrame) -> PolarsResult<Settled> {
    let Some(id) = id_column(table) else {
        return Ok(unique(lf));
    };
    // Ids with several usable copies are few: find them first, then settle only those (group-bys and joins,
    // which stream; windows over a high-cardinality id do not). By a 64-bit hash of the id: a collision only
    // makes a candidate, which the exact count below then clears.
    let key = crate::exec::hash::text_hash(col(id), 0).alias("__key");
    let keys = lf.clone().filter(usable(id)).select([key]);
    let repeated_keys = keys
        .group_by([col("__key")])
        .agg([len().alias("__copies")])
        .filter(col("__copies").gt(lit(1u32)))
        .select([col("__key")]);
    judge_copies(id, lf, repeated_keys, false)
}

/// `settle`, given the hashes of the ids that may be repeated (`id_index`: those repeated among all the rows
/// read, a superset of those repeated among the usable ones, which the exact count then clears). The few
/// repeated ids are judged now and joined in as a small table, so that the frames built on the result
/// stream without holding the whole table.
pub fn settle_candidates(table: Table, lf: LazyFrame, candidates: Vec<u64>) -> PolarsResult<Settled> {
    let Some(id) = id_column(table) else {
        return Ok(unique(lf));
    };
    // The usual case, no id repeated: nothing to settle.
    if candidates.is_empty() {
        return Ok(unique(lf));
    }
    let keys = DataFrame::new(candidates.len(), vec![Column::new("__key".into(), candidates)])?.lazy();
    judge_copies(id, lf, keys, true)
}

/// A row that counts as a copy of its id: no rule broken, an id.
fn usable(id: &str) -> Expr {
    col(REASON).is_null().and(col(id).is_not_null())
}

/// A marked frame whose ids are all unique, judged.
fn unique(lf: LazyFrame) -> Settled {
    Settled { judged: without_verdicts(lf), may_supersede: false, copies: None }
}

/// The copies of the ids whose hashes are in `repeated_keys` (`__key`) judged, and the verdicts joined in.
fn judge_copies(id: &'static str, lf: LazyFrame, repeated_keys: LazyFrame, eager: bool) -> PolarsResult<Settled> {
    let ok = usable(id);
    let key = crate::exec::hash::text_hash(col(id), 0).alias("__key");
    // The winning copy under keep_latest: highest `latest_by` as a number, else as text, else the last read.
    let order = SortMultipleOptions::default().with_order_descending(true).with_nulls_last(true);
    let verdicts = lf
        .clone()
        .filter(ok)
        .with_column(key)
        .join(repeated_keys, [col("__key")], [col("__key")], JoinArgs::new(JoinType::Inner))
        .group_by([col(id)])
        .agg([
            len().alias("__copies"),
            col(KEEP_LATEST).all(true).alias("__all_latest"),
            // A copy is known by its file and row; the last one read wins a tie.
            concat_str([col(FILE), col(ROW).cast(DataType::String)], "#", false)
                .sort_by([col(LATEST).cast(DataType::Float64), col(LATEST), col(FILE), col(ROW)], order)
                .first()
                .alias("__winner"),
        ])
        .filter(col("__copies").gt(lit(1u32)))
        .drop(cols(["__copies"]));
    if !eager {
        return Ok(Settled { judged: apply_copy_verdicts(id, lf, verdicts), may_supersede: true, copies: None });
    }
    let copies = CopyVerdicts { id, verdicts: verdicts.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy() };
    Ok(Settled { judged: copies.apply(lf), may_supersede: true, copies: Some(copies) })
}

/// Marked rows with the verdicts on the repeated ids joined in: the copies rejected as `duplicate_id`, or,
/// under `keep_latest`, the losing ones flagged `__superseded`.
fn apply_copy_verdicts(id: &str, lf: LazyFrame, verdicts: LazyFrame) -> LazyFrame {
    let repeated = usable(id).and(col("__winner").is_not_null());
    let duplicate = repeated.clone().and(col("__all_latest").not());
    let copy = concat_str([col(FILE), col(ROW).cast(DataType::String)], "#", false);
    let superseded = repeated.and(col("__all_latest")).and(copy.neq(col("__winner")));
    // The verdicts are the small side: build the join's hash table on them, never on the table.
    let mut args = JoinArgs::new(JoinType::Left);
    args.build_side = Some(JoinBuildSide::ForceRight);
    lf.join(verdicts, [col(id)], [col(id)], args)
        .with_columns([
            when(duplicate.clone()).then(lit("duplicate_id")).otherwise(col(REASON)).alias(REASON),
            when(duplicate)
                .then(concat_str([lit(format!("{id} = ")), col(id)], "", true))
                .otherwise(col(DETAIL))
                .alias(DETAIL),
            superseded.fill_null(lit(false)).alias(SUPERSEDED),
        ])
        .drop(cols(["__all_latest", "__winner"]))
}

/// Marked rows (all of a table's or some) judged with the verdicts that settling the whole table found
/// (`Settled::copies`); without any, no row is a repeated copy.
pub fn judge_copies_with(copies: Option<&CopyVerdicts>, lf: LazyFrame) -> LazyFrame {
    match copies {
        Some(copies) => copies.apply(lf),
        None => without_verdicts(lf),
    }
}

/// A marked frame with no verdicts: every row unsuperseded.
fn without_verdicts(lf: LazyFrame) -> LazyFrame {
    lf.with_column(lit(false).alias(SUPERSEDED))
}

/// Records of `table` that could not be read as rows (`prepare`), in the layout of `rejected`.
pub fn malformed_rows(table: Table, rows: &[&crate::exec::read::prepare::MalformedRow]) -> PolarsResult<LazyFrame> {
    let sources: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let files: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    let details: Vec<&str> = rows.iter().map(|r| r.detail.as_str()).collect();
    let row_numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    let mut columns = vec![
        Column::new("source".into(), sources),
        Column::new("file".into(), files),
        Column::new("row".into(), row_numbers),
        Column::new(REASON.into(), vec!["malformed_row"; rows.len()]),
        Column::new(DETAIL.into(), details),
    ];
    for c in table.columns() {
        columns.push(Column::full_null(c.name.into(), rows.len(), &normalise::dtype(c.ty)));
    }
    Ok(DataFrame::new(rows.len(), columns)?.lazy())
}

/// The rows to use, from a judged frame.
pub fn kept(judged: LazyFrame) -> LazyFrame {
    judged.filter(is_kept()).drop(cols([REASON, DETAIL, SUPERSEDED]))
}

/// Whether a judged row is kept: neither rejected nor a superseded copy.
pub fn is_kept() -> Expr {
    col(REASON).is_null().and(col(SUPERSEDED).not())
}

/// The quarantined rows, from a judged frame: where they came from, why, then their canonical columns.
pub fn rejected(plan: &Plan, table: Table, judged: LazyFrame) -> LazyFrame {
    // Duplicates carry their detail from `settle`; the others get their rule's, on these rows only.
    let detail = when(col(DETAIL).is_null()).then(rule_detail(plan, table)).otherwise(col(DETAIL));
    let mut columns = vec![
        col(SOURCE).alias("source"),
        col(FILE).alias("file"),
        col(ROW).alias("row"),
        col(REASON),
        detail.alias(DETAIL),
    ];
    columns.extend(table.columns().iter().map(|c| col(c.name)));
    judged.filter(col(REASON).is_not_null()).select(columns)
}
