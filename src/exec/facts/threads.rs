//! Conversation logs without ticket ids (`thread:` on a messages source, e.g. a brand's tweets): each message
//! names the message it replies to. A conversation is a reply chain's root: every message takes its root's id
//! as `ticket_id`, and each root becomes a ticket opened at the root's time. A reply to a message missing from
//! the log starts its own conversation.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::exec::normalise::{dtype, SOURCE};
use crate::exec::read::{FILE, ROW};
use crate::model::{Fill, Table};
use crate::plan::{Plan, Source};

/// A thread message's own id, and the id it replies to (null outside `thread:` sources).
pub const MESSAGE_ID: &str = "__message_id";
pub const REPLY_TO: &str = "__reply_to";

/// Pointer jumping halves every chain's depth each round: 64 rounds cover any chain a log can hold.
const MAX_ROUNDS: usize = 64;

/// The two thread columns of a messages source's frame. Ids written as floats by pandas (`8.0`) are read
/// as the whole number, as a reply id column with gaps always is.
pub fn columns(source: &Source) -> [Expr; 2] {
    let id = |c: &str| {
        col(crate::exec::read::file_column(c)).cast(DataType::String).str().strip_chars(lit(NULL)).str().replace(
            lit(r"^(-?\d+)\.0+$"),
            lit("$1"),
            false,
        )
    };
    match &source.thread {
        Some(t) => [id(&t.id).alias(MESSAGE_ID), id(&t.in_reply_to).alias(REPLY_TO)],
        None => [lit(NULL).cast(DataType::String).alias(MESSAGE_ID), lit(NULL).cast(DataType::String).alias(REPLY_TO)],
    }
}

/// Kept rows with reply chains resolved: messages get their root as `ticket_id`, and the roots are added to
/// the tickets. Without `thread:` sources, the frames as they are.
pub fn resolve(plan: &Plan, mut frames: BTreeMap<Table, LazyFrame>) -> PolarsResult<BTreeMap<Table, LazyFrame>> {
    let Some(messages) = frames.get(&Table::Messages).filter(|_| plan.has_threads()).cloned() else {
        return Ok(frames);
    };
    let roots = roots(messages.clone())?;
    let messages = messages
        .left_join(roots.clone().lazy(), col(MESSAGE_ID), col("__id"))
        .with_column(
            when(col("ticket_id").is_null()).then(col("__root")).otherwise(col("ticket_id")).alias("ticket_id"),
        )
        .drop(cols(["__root"]));
    let conversations = messages
        .clone()
        .filter(col(MESSAGE_ID).is_not_null().and(col(MESSAGE_ID).eq(col("ticket_id"))))
        .select(ticket_columns());
    let tickets = match frames.remove(&Table::Tickets) {
        Some(t) => concat([t, conversations], UnionArgs { diagonal: true, ..Default::default() })?,
        None => conversations,
    };
    frames.insert(Table::Messages, messages);
    frames.insert(Table::Tickets, tickets);
    Ok(frames)
}

/// Each thread message's id (`__id`) and its chain's root (`__root`).
fn roots(messages: LazyFrame) -> PolarsResult<DataFrame> {
    let edges = messages
        .filter(col(MESSAGE_ID).is_not_null())
        .select([col(MESSAGE_ID).alias("__id"), col(REPLY_TO).alias("__parent")])
        .unique_stable(Some(cols(["__id"])), UniqueKeepStrategy::First)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    // A reply to a message the log lacks starts its own conversation.
    let known = edges.clone().lazy().select([col("__id").alias("__parent"), lit(true).alias("__known")]);
    let mut up = edges
        .lazy()
        .left_join(known, col("__parent"), col("__parent"))
        .select([
            col("__id"),
            when(col("__known").fill_null(lit(false))).then(col("__parent")).otherwise(col("__id")).alias("__root"),
        ])
        .collect()?;
    for _ in 0..MAX_ROUNDS {
        let next = up
            .clone()
            .lazy()
            .left_join(
                up.clone().lazy().select([col("__id").alias("__root"), col("__root").alias("__next")]),
                col("__root"),
                col("__root"),
            )
            .select([col("__id"), col("__root"), col("__next").fill_null(col("__root"))])
            .collect()?;
        let changed = next
            .clone()
            .lazy()
            .select([col("__next").neq(col("__root")).sum().cast(DataType::UInt64).alias("n")])
            .collect()?;
        up = next.lazy().select([col("__id"), col("__next").alias("__root")]).collect()?;
        if changed.column("n")?.u64()?.get(0).unwrap_or(0) == 0 {
            break;
        }
    }
    Ok(up)
}

/// A conversation's root message as a ticket row: its id and time; every other column as a source that
/// does not map it would leave it.
fn ticket_columns() -> Vec<Expr> {
    let mut out = vec![col(FILE), col(ROW), col(SOURCE)];
    for c in Table::Tickets.columns() {
        let value = match c.name {
            "ticket_id" | "created_at" => col(c.name),
            _ => match c.fill {
                Fill::Int(i) => lit(i).cast(dtype(c.ty)),
                Fill::Bool(b) => lit(b).cast(dtype(c.ty)),
                Fill::Null | Fill::Required | Fill::Column(_) => lit(NULL).cast(dtype(c.ty)),
            },
        };
        out.push(value.alias(c.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_finds_its_chain_root() {
        // 1 <- 2 <- 3 <- 4, 5 alone, 7 replies to 6, which the log lacks, 8 <- 7.
        let messages = df!(
            MESSAGE_ID => ["4", "3", "2", "1", "5", "7", "8"],
            REPLY_TO => [Some("3"), Some("2"), Some("1"), None, None, Some("6"), Some("7")],
        )
        .unwrap();
        let out = roots(messages.lazy()).unwrap().sort(["__id"], Default::default()).unwrap();
        let root: Vec<&str> = out.column("__root").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(root, ["1", "1", "1", "1", "5", "7", "7"]);
    }
}
