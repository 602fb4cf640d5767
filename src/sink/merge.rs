//! Merging the rows a run recomputed for some periods into the table an earlier run wrote.

use polars::prelude::*;

use super::PERIOD;

/// Merges a backfill's rows into a segment's earlier table: the earlier rows of periods outside
/// `[from, to)`, this run's rows of the periods inside, in the table's order (dimensions, then period; the
/// rows of one period keep the order they had).
pub fn merge_window(
    earlier: Option<DataFrame>,
    new: DataFrame,
    from: Option<i32>,
    to: Option<i32>,
) -> PolarsResult<DataFrame> {
    let day = col(PERIOD).cast(DataType::Int32);
    let mut inside = day.clone().is_not_null();
    if let Some(f) = from {
        inside = inside.and(day.clone().gt_eq(lit(f)));
    }
    if let Some(t) = to {
        inside = inside.and(day.lt(lit(t)));
    }
    Ok(merge_periods(earlier, new, inside)?.table)
}

/// A table merged from an earlier output and rows recomputed for some periods.
pub struct Merged {
    pub table: DataFrame,
    /// For each row, its row in the earlier table, or null for a recomputed row.
    pub earlier_rows: Option<IdxCa>,
}

const EARLIER_ROW: &str = "__earlier_row";

/// Merges rows recomputed for some periods (`inside`, an expression over `period_start`) into the earlier
/// table, as `merge_window` does for a window: the table sorted by its dimensions, then period, stably, as a
/// sort of the earlier rows kept followed by the new rows would order them.
pub fn merge_periods(earlier: Option<DataFrame>, new: DataFrame, inside: Expr) -> PolarsResult<Merged> {
    let position = new.get_column_names().iter().position(|c| c.as_str() == PERIOD).unwrap_or(0);
    let mut order: Vec<PlSmallStr> = new.get_column_names()[..position].iter().map(|c| (*c).clone()).collect();
    order.push(PERIOD.into());
    let fresh = new.lazy().filter(inside.clone());
    let Some(earlier) = earlier else { return Ok(Merged { table: fresh.collect()?, earlier_rows: None }) };
    let fresh = fresh.collect()?.sort(order.clone(), stable_order())?;
    let kept_mask = earlier.clone().lazy().select([inside.clone().not().alias("kept")]).collect()?;
    let kept: Vec<IdxSize> = kept_mask
        .column("kept")?
        .bool()?
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == Some(true))
        .map(|(i, _)| i as IdxSize)
        .collect();
    let keys = |df: &DataFrame| -> PolarsResult<BinaryOffsetChunked> {
        let columns: Vec<Column> = order.iter().map(|c| df.column(c).cloned()).collect::<PolarsResult<_>>()?;
        let flags = vec![false; columns.len()];
        row_encode::_get_rows_encoded_ca("keys".into(), &columns, &flags, &vec![true; columns.len()], false)
    };
    let (earlier_keys, fresh_keys) = (keys(&earlier)?, keys(&fresh)?);
    let (earlier_keys, fresh_keys) = (earlier_keys.downcast_as_array(), fresh_keys.downcast_as_array());
    let key = |at: IdxSize| earlier_keys.value(at as usize);
    if kept.windows(2).any(|w| key(w[0]) > key(w[1])) {
        // An earlier table that is not in the table's order (written otherwise): sort it whole.
        return merge_by_sorting(earlier, fresh, inside, order);
    }
    // Walk both sorted lists; on equal keys the earlier row comes first, as in a stable sort of both.
    let earlier_height = earlier.height() as IdxSize;
    let mut rows: Vec<IdxSize> = Vec::with_capacity(kept.len() + fresh.height());
    let (mut i, mut j) = (0, 0);
    while i < kept.len() || j < fresh.height() {
        if j == fresh.height() || (i < kept.len() && key(kept[i]) <= fresh_keys.value(j)) {
            rows.push(kept[i]);
            i += 1;
        } else {
            rows.push(earlier_height + j as IdxSize);
            j += 1;
        }
    }
    let rows = IdxCa::from_vec("rows".into(), rows);
    let table = earlier.vstack(&fresh)?.take(&rows)?;
    let earlier_rows: IdxCa = rows.iter().map(|r| r.filter(|r| *r < earlier_height)).collect();
    Ok(Merged { table, earlier_rows: Some(earlier_rows) })
}

/// A table's order: dimensions, then period, nulls last, rows of equal keys as they came.
fn stable_order() -> SortMultipleOptions {
    SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true).with_multithreaded(true)
}

/// `merge_periods` by a stable sort of the earlier rows kept followed by the new rows.
pub(super) fn merge_by_sorting(
    earlier: DataFrame,
    fresh: DataFrame,
    inside: Expr,
    order: Vec<PlSmallStr>,
) -> PolarsResult<Merged> {
    let kept = earlier.with_row_index(EARLIER_ROW.into(), None)?.lazy().filter(inside.not());
    let mut all = kept.collect()?;
    let mut fresh = fresh;
    fresh.insert_column(0, Column::full_null(EARLIER_ROW.into(), fresh.height(), &IDX_DTYPE))?;
    all.vstack_mut(&fresh)?;
    all.rechunk_mut_par();
    let mut table = all.sort(order, stable_order())?;
    let earlier_rows = table.drop_in_place(EARLIER_ROW)?.idx()?.clone();
    Ok(Merged { table, earlier_rows: Some(earlier_rows) })
}
