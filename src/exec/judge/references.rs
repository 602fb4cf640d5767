//! References between tables: a message or survey whose `ticket_id` matches no ticket, a ticket whose
//! `account_id` matches no account. Such rows join nothing, so they would silently count nowhere; they are
//! quarantined (`orphan_ticket_id`, `orphan_account_id`), or, where the source says `references: keep`, kept
//! and counted. The ids referred to are every id read, quarantined or not: a message of a quarantined ticket
//! is not an orphan.
//!
//! Ids are compared by a 64-bit hash (`hash::text_hash`) held in a sorted vector, 8 bytes an id, so that 10M
//! tickets cost 80 MB; two different ids sharing a hash (odds about 1 in 10^12 for 10M × 5M ids) would let
//! an orphan pass as resolved, never the reverse.

use std::sync::Arc;

use polars::prelude::*;

use crate::exec::hash::{hash, hash_in};
use crate::exec::judge::quarantine::{DETAIL, REASON};
use crate::exec::normalise::SOURCE;
use crate::model::Table;
use crate::plan::Plan;

/// A reference from one table's column to another table's key.
struct Reference {
    from: Table,
    column: &'static str,
    to: Table,
    reason: &'static str,
}

const REFERENCES: [Reference; 4] = [
    Reference { from: Table::Messages, column: "ticket_id", to: Table::Tickets, reason: "orphan_ticket_id" },
    Reference { from: Table::TicketEvents, column: "ticket_id", to: Table::Tickets, reason: "orphan_ticket_id" },
    Reference { from: Table::Surveys, column: "ticket_id", to: Table::Tickets, reason: "orphan_ticket_id" },
    Reference { from: Table::Tickets, column: "account_id", to: Table::Accounts, reason: "orphan_account_id" },
];

/// Marks the rows of `judged` whose references resolve nothing; `known` holds the sorted hashes of every id
/// read (quarantined or not) and of the referring values. Returns, per table, what the user should look at (a share above 1 %, ids that
/// differ only by a trailing `.0`), and the values that resolve nothing, to mark other frames of the same rows.
pub fn judge(
    plan: &Plan,
    known: &std::collections::BTreeMap<(Table, &'static str), Vec<u64>>,
    judged: &mut std::collections::BTreeMap<Table, LazyFrame>,
) -> PolarsResult<Judgement> {
    let mut warnings = Vec::new();
    let mut found_orphans = Vec::new();
    for r in &REFERENCES {
        // The keys read (`known`: sorted with repeats, from the parts' id files).
        let (Some(all), Some(frame)) = (known.get(&(r.to, r.to.key())), judged.get(&r.from)) else { continue };
        if !plan.has_column(r.from, r.column) {
            continue;
        }
        let mut ids = all.clone();
        ids.dedup();
        let ids = Arc::new(ids);
        // With the referring values' hashes known too, those that resolve nothing are found by comparing the
        // two sorted lists; none (the usual case) and there is nothing to mark.
        let unmatched = match known.get(&(r.from, r.column)) {
            Some(values) => {
                let unmatched = missing(values, &ids);
                if unmatched.is_empty() {
                    continue;
                }
                hash_in(col(r.column), &Arc::new(unmatched))
            },
            None => hash_in(col(r.column), &ids).not(),
        };
        let keep: Vec<&str> = plan.sources_of(r.from).filter(|s| s.keep_orphans).map(|s| s.name.as_str()).collect();
        let mut unresolved = col(REASON).is_null().and(col(r.column).is_not_null()).and(unmatched);
        // Messages of reply chains get their ticket (the chain's root) from the chain itself.
        if r.from == Table::Messages {
            unresolved = unresolved.and(col(crate::exec::facts::threads::MESSAGE_ID).is_null());
        }
        // The rows that resolve nothing are few: their distinct values are found in one pass, and only when
        // there are some does the table's plan get a (small) join that marks them, so that the usual run's
        // segments read the table as before.
        let by_value = frame
            .clone()
            .filter(unresolved)
            .group_by([col(r.column)])
            .agg([len().cast(DataType::UInt64).alias("__rows")])
            .sort([r.column], SortMultipleOptions::default())
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        if by_value.height() == 0 {
            continue;
        }
        let orphans: u64 = by_value.column("__rows")?.u64()?.sum().unwrap_or(0);
        let set = frame
            .clone()
            .select([col(r.column).is_not_null().and(col(REASON).is_null()).sum().cast(DataType::UInt64).alias("n")])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let set = set.column("n")?.u64()?.get(0).unwrap_or(0);
        let examples: Vec<String> =
            by_value.column(r.column)?.str()?.iter().flatten().take(1_000).map(str::to_string).collect();
        let kept = !keep.is_empty() && keep.len() == plan.sources_of(r.from).count();
        warnings.extend(warning(plan, r, set, orphans, &examples, &ids, kept).map(|w| (r.from, w)));

        let values: Vec<u64> = by_value.column(r.column)?.str()?.iter().flatten().map(|v| hash(0, v)).collect();
        let orphans = Orphans {
            reference: r,
            values: by_value.select([r.column])?,
            hashes: Arc::new(sorted(values)),
            keep: keep.iter().map(|k| k.to_string()).collect(),
        };
        judged.insert(r.from, mark(frame.clone(), &orphans));
        found_orphans.push(orphans);
    }
    Ok(Judgement { warnings, orphans: found_orphans })
}

/// What `judge` found: per table, what the user should look at, and the values that resolve nothing.
pub struct Judgement {
    pub warnings: Vec<(Table, String)>,
    pub orphans: Vec<Orphans>,
}

/// The values of a reference that resolve nothing, found by `judge`.
pub struct Orphans {
    reference: &'static Reference,
    /// The distinct values, as read.
    values: DataFrame,
    /// Their sorted hashes.
    hashes: Arc<Vec<u64>>,
    /// The sources that keep such rows (`references: keep`).
    keep: Vec<String>,
}

impl Orphans {
    pub fn table(&self) -> Table {
        self.reference.from
    }

    /// The rows that hold one of the values (a superset of those `mark` quarantines, by hash).
    pub fn rows(&self) -> Expr {
        hash_in(col(self.reference.column), &self.hashes).fill_null(lit(false))
    }
}

/// `frame` (of the referring table) with the rows that hold an orphan value and break no other rule
/// quarantined, unless their source keeps them.
pub fn mark(frame: LazyFrame, orphans: &Orphans) -> LazyFrame {
    let r = orphans.reference;
    let verdicts = orphans.values.clone().lazy().select([col(r.column), lit(true).alias("__orphan")]);
    let mut args = JoinArgs::new(JoinType::Left);
    args.build_side = Some(JoinBuildSide::ForceRight);
    let mut quarantine = col(REASON).is_null().and(col("__orphan").fill_null(lit(false)));
    quarantine = quarantine.and(crate::exec::aggregate::compile::one_of(col(SOURCE), &orphans.keep).not());
    if r.from == Table::Messages {
        quarantine = quarantine.and(col(crate::exec::facts::threads::MESSAGE_ID).is_null());
    }
    let detail = concat_str(
        [lit(format!("{} = ", r.column)), col(r.column), lit(format!(" matches no {}", r.to.name()))],
        "",
        true,
    );
    frame
        .join(verdicts, [col(r.column)], [col(r.column)], args)
        .with_columns([
            when(quarantine.clone()).then(lit(r.reason)).otherwise(col(REASON)).alias(REASON),
            when(quarantine).then(detail).otherwise(col(DETAIL)).alias(DETAIL),
        ])
        .drop(cols(["__orphan"]))
}

fn sorted(mut values: Vec<u64>) -> Vec<u64> {
    values.sort_unstable();
    values.dedup();
    values
}

/// The columns whose values refer to tickets, for the tables that hold them: worth an id file each, as a
/// lookup among millions of ticket ids costs a pass of binary searches (2.7M answers: 0.4 s). A lookup among
/// the accounts, a few thousand, is cheaper than merging the tickets' files of account ids.
pub fn referring_columns(plan: &Plan) -> Vec<(Table, &'static str)> {
    let to_tickets = |r: &&Reference| r.to == Table::Tickets && plan.has_column(r.from, r.column);
    REFERENCES.iter().filter(to_tickets).map(|r| (r.from, r.column)).collect()
}

/// The values of sorted `values` (repeats allowed) that sorted, distinct `ids` lack, each once.
fn missing(values: &[u64], ids: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut j = 0;
    for &v in values {
        while j < ids.len() && ids[j] < v {
            j += 1;
        }
        if (j == ids.len() || ids[j] != v) && out.last() != Some(&v) {
            out.push(v);
        }
    }
    out
}

/// A warning when the unresolved share is above 1 %, or when the ids would resolve written another way
/// (`3.0` for `3`, as pandas writes an integer column with gaps, or the reverse).
fn warning(
    plan: &Plan,
    r: &Reference,
    set: u64,
    orphans: u64,
    examples: &[String],
    ids: &[u64],
    kept: bool,
) -> Option<String> {
    let known = |id: &str| ids.binary_search(&hash(0, id)).is_ok();
    let as_whole = |id: &str| id.strip_suffix(".0").or_else(|| id.split_once('.').map(|(w, _)| w)).map(str::to_string);
    let float_written = examples
        .iter()
        .filter(|id| whole_number_written_as_float(id))
        .filter(|id| as_whole(id).is_some_and(|w| known(&w)))
        .count();
    let target_float = examples.iter().filter(|id| known(&format!("{id}.0"))).count();
    let share = orphans as f64 / set.max(1) as f64;
    let what = if kept { "kept: references: keep" } else { "quarantined" };
    let mut message = format!(
        "{}: {orphans} of {set} row(s) ({:.2} %) have a {} matching no {} ({what}), e.g. {}",
        r.from,
        100.0 * share,
        r.column,
        r.to.name().trim_end_matches('s'),
        examples.iter().take(3).map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", ")
    );
    let sources = |t: Table| plan.sources_of(t).map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    if float_written > 0 {
        message.push_str(&format!(
            "; {} are written as floats (3.0) where the {} say 3: set `{}: {{ column: …, integer: true }}` on \
             source(s) {}",
            r.column,
            r.to.name(),
            r.column,
            sources(r.from)
        ));
    } else if target_float > 0 {
        message.push_str(&format!(
            "; the {} write {} as floats (3.0) where the {} say 3: set `{}: {{ column: …, integer: true }}` on \
             source(s) {}",
            r.to.name(),
            r.to.key(),
            r.from,
            r.to.key(),
            sources(r.to)
        ));
    } else if share <= 0.01 {
        return None;
    }
    Some(message)
}

/// `3.0`, `-12.000`: a whole number with a zero fraction.
pub fn whole_number_written_as_float(text: &str) -> bool {
    let t = text.trim().strip_prefix('-').unwrap_or(text.trim());
    match t.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && !fraction.is_empty()
                && fraction.bytes().all(|b| b == b'0')
        },
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_lists_each_value_the_ids_lack_once() {
        assert_eq!(missing(&[1, 2, 2, 5, 7, 7, 9], &[2, 5, 8]), vec![1, 7, 9]);
        assert!(missing(&[2, 2, 5], &[1, 2, 5]).is_empty());
        assert_eq!(missing(&[3], &[]), vec![3]);
    }

    #[test]
    fn whole_numbers_written_as_floats_are_recognised() {
        for yes in ["3.0", "-12.000", " 7.0 "] {
            assert!(whole_number_written_as_float(yes), "{yes}");
        }
        for no in ["3", "3.5", ".0", "3.", "a.0", "1e3"] {
            assert!(!whole_number_written_as_float(no), "{no}");
        }
    }

    #[test]
    fn found_tells_known_ids_from_others() {
        let ids = Arc::new({
            let mut v = vec![hash(0, "1"), hash(0, "2")];
            v.sort_unstable();
            v
        });
        let df = df!("id" => [Some("1"), Some("3"), None, Some("2")]).unwrap();
        let out = df.lazy().select([hash_in(col("id"), &ids).alias("f")]).collect().unwrap();
        let f: Vec<Option<bool>> = out.column("f").unwrap().bool().unwrap().iter().collect();
        assert_eq!(f, [Some(true), Some(false), None, Some(true)]);
    }
}
