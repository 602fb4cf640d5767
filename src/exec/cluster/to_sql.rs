//! Row expressions (Polars) as SQL that Apache DataFusion evaluates the same way, so that a cluster computes
//! the reductions' row inputs from the columns themselves. Only the shapes the KPI compiler builds are
//! lowered; anything else (a hash, a function without a DataFusion twin) gives `None`, and the client
//! computes that input instead. Each lowered shape keeps Polars' semantics: three-valued logic, true
//! division as floats, half-to-even rounding, durations truncated to whole milliseconds.

use std::collections::BTreeSet;

use polars::prelude::*;

use crate::exec::aggregate::compile::quoted;

/// A row expression as SQL, and the columns it reads.
#[derive(Debug, PartialEq)]
pub struct RowSql {
    pub sql: String,
    pub columns: BTreeSet<String>,
}

/// `e` as SQL over its columns, or `None` when it holds a shape this lowering does not know.
pub fn row_sql(e: &Expr) -> Option<RowSql> {
    let mut columns = BTreeSet::new();
    let sql = lower(e, &mut columns)?;
    Some(RowSql { sql, columns })
}

fn lower(e: &Expr, columns: &mut BTreeSet<String>) -> Option<String> {
    let mut go = |e: &Expr| lower(e, columns);
    Some(match e {
        Expr::Alias(inner, _) => go(inner)?,
        Expr::Column(name) => {
            columns.insert(name.to_string());
            quoted(name)
        },
        Expr::Literal(value) => literal(value)?,
        Expr::BinaryExpr { left, op, right } => {
            let (l, r) = (go(left)?, go(right)?);
            match op {
                Operator::TrueDivide => format!("(TRY_CAST({l} AS DOUBLE) / TRY_CAST({r} AS DOUBLE))"),
                op => format!("({l} {} {r})", operator(op)?),
            }
        },
        // The store's timestamps: milliseconds, no time zone (SQL's TIMESTAMP is nanoseconds).
        Expr::Cast { expr, dtype: DataTypeExpr::Literal(DataType::Datetime(TimeUnit::Milliseconds, None)), .. } => {
            format!("arrow_cast({}, 'Timestamp(Millisecond, None)')", go(expr)?)
        },
        Expr::Cast { expr, dtype: DataTypeExpr::Literal(dtype), .. } => {
            format!("TRY_CAST({} AS {})", go(expr)?, sql_type(dtype)?)
        },
        Expr::Ternary { predicate, truthy, falsy } => {
            format!("(CASE WHEN {} THEN {} ELSE {} END)", go(predicate)?, go(truthy)?, go(falsy)?)
        },
        Expr::Function { input, function } => function_sql(function, input, columns)?,
        _ => return None,
    })
}

fn function_sql(function: &FunctionExpr, input: &[Expr], columns: &mut BTreeSet<String>) -> Option<String> {
    let arg = |i: usize, columns: &mut BTreeSet<String>| lower(input.get(i)?, columns);
    Some(match function {
        FunctionExpr::Boolean(BooleanFunction::Not) => format!("(NOT {})", arg(0, columns)?),
        FunctionExpr::Boolean(BooleanFunction::IsNull) => format!("({} IS NULL)", arg(0, columns)?),
        FunctionExpr::Boolean(BooleanFunction::IsNotNull) => format!("({} IS NOT NULL)", arg(0, columns)?),
        FunctionExpr::FillNull => format!("COALESCE({}, {})", arg(0, columns)?, arg(1, columns)?),
        FunctionExpr::Abs => format!("ABS({})", arg(0, columns)?),
        FunctionExpr::Floor => format!("FLOOR({})", arg(0, columns)?),
        // SQL's ROUND rounds halves away from zero; Polars here to the even neighbour.
        FunctionExpr::Round { decimals: 0, mode: RoundMode::HalfToEven } => {
            let x = arg(0, columns)?;
            format!("(CASE WHEN ({x} - FLOOR({x})) = 0.5 THEN 2.0 * ROUND({x} / 2.0) ELSE ROUND({x}) END)")
        },
        // The calendar day of a timestamp (UTC, as the store keeps them).
        FunctionExpr::TemporalExpr(TemporalFunction::Date) => format!("CAST({} AS DATE)", arg(0, columns)?),
        // The start of a timestamp's calendar period (the grains): Polars' weeks start on Monday, as
        // DataFusion's (ISO) do.
        FunctionExpr::TemporalExpr(TemporalFunction::Truncate) => {
            let Some(Expr::Literal(every)) = input.get(1) else { return None };
            let unit = match every.extract_str()? {
                "1w" => "week",
                "1mo" => "month",
                "1q" => "quarter",
                "1y" => "year",
                _ => return None,
            };
            format!("date_trunc('{unit}', {})", arg(0, columns)?)
        },
        // `(end - start).dt.total_milliseconds()`: whole milliseconds, truncated toward zero. Either end is a
        // timestamp column or an instant (a literal cast to a timestamp, e.g. the as-of instant).
        FunctionExpr::TemporalExpr(TemporalFunction::TotalMilliseconds { fractional: false }) => {
            let Some(Expr::BinaryExpr { left, op: Operator::Minus, right }) = input.first() else { return None };
            let timestamp = |e: &Expr, columns: &mut BTreeSet<String>| match e {
                Expr::Column(_) | Expr::Cast { .. } => lower(e, columns),
                _ => None,
            };
            let (end, start) = (timestamp(left, columns)?, timestamp(right, columns)?);
            let micros = |x: &str| format!("CAST(arrow_cast({x}, 'Timestamp(Microsecond, None)') AS BIGINT)");
            format!("(({} - {}) / 1000)", micros(&end), micros(&start))
        },
        _ => return None,
    })
}

fn operator(op: &Operator) -> Option<&'static str> {
    Some(match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::EqValidity => "IS NOT DISTINCT FROM",
        Operator::NotEqValidity => "IS DISTINCT FROM",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        Operator::Plus => "+",
        Operator::Minus => "-",
        Operator::Multiply => "*",
        // Integers divide as integers (truncated), floats as floats: as in SQL.
        Operator::RustDivide => "/",
        Operator::And | Operator::LogicalAnd => "AND",
        Operator::Or | Operator::LogicalOr => "OR",
        _ => return None,
    })
}

fn sql_type(dtype: &DataType) -> Option<&'static str> {
    Some(match dtype {
        DataType::Float64 => "DOUBLE",
        DataType::Int64 => "BIGINT",
        DataType::Int32 => "INT",
        DataType::Boolean => "BOOLEAN",
        DataType::String => "VARCHAR",
        _ => return None,
    })
}

fn literal(value: &LiteralValue) -> Option<String> {
    let float = |f: f64| f.is_finite().then(|| format!("{f:?}"));
    match value {
        // Untyped literals (`lit(2)`, `lit(1000.0)`) take the other side's type, as SQL's do. A list has
        // no scalar value.
        LiteralValue::Dyn(_) if format!("{value:?}").contains("List") => None,
        LiteralValue::Dyn(_) => match value.to_any_value()? {
            AnyValue::Float64(f) => float(f),
            AnyValue::String(s) => Some(text(s)),
            v if v.is_integer() => Some(v.to_string()),
            _ => None,
        },
        LiteralValue::Scalar(scalar) => match scalar.value() {
            AnyValue::Null => Some("NULL".into()),
            AnyValue::Boolean(b) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
            AnyValue::Int32(i) => Some(format!("CAST({i} AS INT)")),
            AnyValue::Int64(i) => Some(format!("CAST({i} AS BIGINT)")),
            AnyValue::Float64(f) => float(*f).map(|f| format!("CAST({f} AS DOUBLE)")),
            AnyValue::String(s) => Some(text(s)),
            AnyValue::StringOwned(s) => Some(text(s)),
            _ => None,
        },
        _ => None,
    }
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(e: Expr) -> Option<String> {
        row_sql(&e).map(|r| r.sql)
    }

    #[test]
    fn the_compiler_shapes_lower_to_sql() {
        let masked = when(col("channel").eq(lit("chat")).fill_null(lit(false)))
            .then(col("score").cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64));
        assert_eq!(
            sql(masked).unwrap(),
            "(CASE WHEN COALESCE((\"channel\" = 'chat'), FALSE) THEN TRY_CAST(\"score\" AS DOUBLE) \
             ELSE TRY_CAST(NULL AS DOUBLE) END)"
        );
        let duration = (col("resolved_at") - col("created_at")).dt().total_milliseconds(false);
        let lowered = row_sql(&duration.cast(DataType::Float64)).unwrap();
        assert!(lowered.sql.contains("arrow_cast(\"resolved_at\", 'Timestamp(Microsecond, None)')"), "{}", lowered.sql);
        assert_eq!(lowered.columns, ["created_at", "resolved_at"].map(String::from).into());
        // From an instant: the age of a ticket at the as-of time.
        let as_of = lit(1_767_225_600_000i64).cast(DataType::Datetime(TimeUnit::Milliseconds, None));
        let age = row_sql(&(as_of - col("created_at")).dt().total_milliseconds(false)).unwrap();
        assert_eq!(
            age.sql,
            "((CAST(arrow_cast(arrow_cast(1767225600000, 'Timestamp(Millisecond, None)'), 'Timestamp(Microsecond, \
             None)') AS BIGINT) - CAST(arrow_cast(\"created_at\", 'Timestamp(Microsecond, None)') AS BIGINT)) / 1000)"
        );
        let rounded = (col("x") * lit(1000.0)).round(0, RoundMode::HalfToEven);
        assert_eq!(
            sql(rounded).unwrap(),
            "(CASE WHEN ((\"x\" * 1000.0) - FLOOR((\"x\" * 1000.0))) = 0.5 THEN 2.0 * ROUND((\"x\" * 1000.0) / 2.0) \
             ELSE ROUND((\"x\" * 1000.0)) END)"
        );
        assert_eq!(sql(col("a").is_not_null().not()).unwrap(), "(NOT (\"a\" IS NOT NULL))");
        assert_eq!(sql(lit("it's")).unwrap(), "'it''s'");
        assert_eq!(sql(col("created_at").dt().date()).unwrap(), "CAST(\"created_at\" AS DATE)");
        // The grains' period starts.
        let month = crate::exec::aggregate::period_exprs::period_start(
            crate::plan::Grain::Month,
            col("created_at"),
            &crate::plan::Window::default(),
        );
        assert_eq!(sql(month).unwrap(), "CAST(date_trunc('month', \"created_at\") AS DATE)");
        assert_eq!(sql(col("t").dt().truncate(lit("1w"))).unwrap(), "date_trunc('week', \"t\")");
        let no_instant = lit(NULL).cast(DataType::Datetime(TimeUnit::Milliseconds, None));
        assert_eq!(sql(no_instant).unwrap(), "arrow_cast(NULL, 'Timestamp(Millisecond, None)')");
        assert_eq!(sql(col("t").dt().truncate(lit("2w"))), None, "no SQL twin for other spans");
    }

    #[test]
    fn unknown_shapes_are_left_to_the_client() {
        assert_eq!(sql(crate::exec::hash::text_hash(col("agent_id"), 0)), None);
        assert_eq!(sql(col("created_at").dt().year()), None);
        assert_eq!(sql(col("a").cast(DataType::UInt8)), None);
        assert_eq!(sql(col("a") % lit(2)), None);
    }
}
