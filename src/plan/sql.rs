//! SQL written in the pipeline (source `filter`, `expr:` mappings, `filters.<table>`), parsed while planning:
//! a syntax error is reported at its line and column in the pipeline file, by `validate --no-data` too, every
//! snippet's error at once, and so is a column the snippet reads that its table lacks. The parser is the one
//! polars' SQL front end uses, with the same options; the plan knows only what the SQL reads, by name: the
//! engine compiles it (`exec::compile_sql`).

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions, Expr as SqlExpr};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::Token;

use super::{Diagnostic, Sql};
use crate::model::ColumnType;
use crate::spec::Location;

/// The column names the expression `sql` reads, or what is wrong with its syntax, at its place in the
/// pipeline (`pipeline` is the file's text, to find where inside a quoted value the error is).
pub fn parse(sql: &Sql, pipeline: &str) -> Result<Vec<String>, Diagnostic> {
    let options = ParserOptions { trailing_commas: true, ..Default::default() };
    let syntax = Parser::new(&GenericDialect).with_options(options).try_with_sql(&sql.text).and_then(|mut p| {
        let e = p.parse_expr()?;
        let next = p.peek_token();
        match next.token {
            Token::EOF => Ok(e),
            other => Err(sqlparser::parser::ParserError::ParserError(format!(
                "unexpected `{other}` after the expression{}",
                next.span.start
            ))),
        }
    });
    match syntax {
        Ok(e) => Ok(columns_read(&e)),
        Err(e) => {
            let message = e.to_string();
            let (text, place) = split_place(&message);
            let at = place.map(|(line, column)| inside(sql.at, pipeline, line, column)).unwrap_or(sql.at);
            let text = text.trim_start_matches("sql parser error: ");
            Err(Diagnostic::new(format!("invalid SQL `{}`: {text}", sql.text), at).with_help(help(&sql.text, text)))
        },
    }
}

/// A comparison of a boolean or number column with quoted text (`escalated = 'True'`, `score IN ('4', '5')`):
/// a boolean is equal to no text but exactly `'true'` or `'false'` (the comparison keeps no row, silently), a
/// number to no text at all (the engine fails at run time). `type_of` gives a column's
/// type where it is known (canonical columns; a typed file's columns).
pub fn text_compared_with_typed(sql: &Sql, type_of: &dyn Fn(&str) -> Option<ColumnType>) -> Result<(), Diagnostic> {
    let options = ParserOptions { trailing_commas: true, ..Default::default() };
    let Ok(e) =
        Parser::new(&GenericDialect).with_options(options).try_with_sql(&sql.text).and_then(|mut p| p.parse_expr())
    else {
        return Ok(());
    };
    let column = |e: &SqlExpr| match e {
        SqlExpr::Identifier(i) => Some(i.value.clone()),
        SqlExpr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    };
    let text = |e: &SqlExpr| match e {
        SqlExpr::Value(v) => match &v.value {
            sqlparser::ast::Value::SingleQuotedString(t) | sqlparser::ast::Value::DoubleQuotedString(t) => {
                Some(t.clone())
            },
            _ => None,
        },
        _ => None,
    };
    let mut found: Option<(String, String, ColumnType)> = None;
    let _ = visit_expressions(&e, |e| {
        let pairs: Vec<(&SqlExpr, &SqlExpr)> = match e {
            SqlExpr::BinaryOp { left, right, .. } => vec![(left, right), (right, left)],
            SqlExpr::InList { expr, list, .. } => list.iter().map(|item| (expr.as_ref(), item)).collect(),
            _ => Vec::new(),
        };
        for (c, t) in pairs {
            let (Some(c), Some(t)) = (column(c), text(t)) else { continue };
            match type_of(&c) {
                // The engine reads exactly `'true'` and `'false'` as booleans.
                Some(ColumnType::Boolean) if t == "true" || t == "false" => {},
                Some(ty @ (ColumnType::Boolean | ColumnType::Integer | ColumnType::Float)) => {
                    found = Some((c, t, ty));
                    return ControlFlow::Break(());
                },
                _ => {},
            }
        }
        ControlFlow::Continue(())
    });
    let Some((column, text, ty)) = found else { return Ok(()) };
    let written = match ty {
        ColumnType::Boolean => match text.trim().to_lowercase().as_str() {
            "true" | "1" | "yes" | "t" | "y" => format!("{column} = true (or {column} alone)"),
            "false" | "0" | "no" | "f" | "n" => format!("{column} = false (or NOT {column})"),
            _ => format!("{column} = true or {column} = false"),
        },
        _ => format!("{column} = {}", text.trim()),
    };
    let outcome = match ty {
        ColumnType::Boolean => "which is neither 'true' nor 'false': the comparison keeps no row",
        _ => "which the engine cannot compare with a number",
    };
    Err(Diagnostic::new(
        format!("`{}` compares `{column}`, a {} column, with the text '{text}', {outcome}", sql.text, ty.name()),
        sql.at,
    )
    .with_help(format!("compare it with a {} without quotes: {written}", ty.name())))
}

/// The distinct column names an expression reads, in order of first appearance (`t.c` reads `c`).
fn columns_read(e: &SqlExpr) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let _ = visit_expressions(e, |e| {
        let name = match e {
            SqlExpr::Identifier(i) => Some(&i.value),
            SqlExpr::CompoundIdentifier(parts) => parts.last().map(|i| &i.value),
            _ => None,
        };
        if let Some(n) = name.filter(|n| !out.contains(n)) {
            out.push(n.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// `sql` parsed, every column it reads among `available` (a table's or a file's columns), or what is wrong
/// with it: a column it lacks is reported at the SQL's line with the closest one. `what` names the columns'
/// owner for the message ("the tickets table", a file's path).
/// A predicate over `table`'s rows (a filter's, an expectation's) parsed, reading only columns the table can
/// hold, and comparing no typed column with text.
pub(super) fn checked_on(
    plan: &super::Plan,
    table: crate::model::Table,
    sql: &Sql,
    text: &str,
    what: &str,
) -> Result<(), Diagnostic> {
    let readable = super::readable_schema(plan, table);
    let what = format!("the {table} table ({what} read canonical columns and attributes)");
    parse(sql, text)
        .and_then(|_| reading(sql, &readable.names(), &what))
        .and_then(|_| text_compared_with_typed(sql, &|c| readable.get(c).flatten()))
        .map(|_| ())
}

pub fn reading(sql: &Sql, available: &[&str], what: &str) -> Result<Vec<String>, Diagnostic> {
    let quote_help = |c: &str| format!("a column name with spaces must be double-quoted in SQL: \"{c}\"");
    let unquoted_spaced =
        available.iter().find(|a| a.contains(' ') && sql.text.contains(**a) && !sql.text.contains(&format!("\"{a}\"")));
    let names = parse(sql, "").map_err(|d| match unquoted_spaced {
        Some(c) => d.with_help(quote_help(c)),
        None => d,
    })?;
    for name in &names {
        if available.contains(&name.as_str()) {
            continue;
        }
        let help = match available.iter().find(|a| a.contains(' ') && a.split(' ').any(|w| w == name)) {
            Some(spaced) => quote_help(spaced),
            None => crate::suggest::help(name, available),
        };
        return Err(Diagnostic::new(
            format!("`{}` reads column `{name}`, which {what} does not have", sql.text),
            sql.at,
        )
        .with_help(help));
    }
    Ok(names)
}

/// A word right after another (`first reply IS NOT NULL`) is most often a column name with a space.
fn help(sql: &str, error: &str) -> String {
    let general = "SQL expressions as in a WHERE clause: 'text' in single quotes, column names with spaces in \
                   double quotes (\"Date received\")";
    let Some(word) = error.strip_prefix("unexpected `").and_then(|r| r.split('`').next()) else {
        return general.to_string();
    };
    let before = sql.split(word).next().unwrap_or("").split_whitespace().last().unwrap_or("");
    if before.is_empty() || !before.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return general.to_string();
    }
    format!("a column name with spaces must be double-quoted in SQL: \"{before} {word}\"")
}

/// `"… at Line: 1, Column: 25"` → (`"…"`, (1, 25)).
fn split_place(message: &str) -> (&str, Option<(u64, u64)>) {
    let Some(i) = message.rfind(" at Line: ") else { return (message, None) };
    let rest = &message[i + " at Line: ".len()..];
    let place = rest.split_once(", Column: ").and_then(|(l, c)| {
        let c: String = c.chars().take_while(char::is_ascii_digit).collect();
        Some((l.trim().parse().ok()?, c.parse().ok()?))
    });
    (&message[..i], place)
}

/// The pipeline location of (line, column) of a SQL snippet written at `at`: on the value's own line, past
/// an opening quote; further lines of a block value count from the line after.
fn inside(at: Location, pipeline: &str, line: u64, column: u64) -> Location {
    if !at.is_known() {
        return at;
    }
    let quoted = at.offset.and_then(|o| pipeline.as_bytes().get(o)).is_some_and(|b| *b == b'"' || *b == b'\'');
    if line <= 1 {
        let column = at.column + column.saturating_sub(1) + u64::from(quoted);
        return Location { line: at.line, column, offset: None, len: 0 };
    }
    Location { line: at.line + line - 1, column, offset: None, len: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str, line: u64, column: u64) -> Sql {
        Sql { text: text.into(), at: Location { line, column, offset: None, len: 0 } }
    }

    #[test]
    fn a_syntax_error_points_into_the_snippet() {
        let d = parse(&sql("CASE WHEN category = THEN 1 END", 10, 20), "").unwrap_err();
        assert_eq!(d.at.line, 10);
        assert!(d.at.column > 20, "{d:?}");
        assert!(d.message.contains("CASE WHEN category = THEN 1 END"), "{}", d.message);
        let d = parse(&sql("channel ==", 3, 12), "").unwrap_err();
        assert_eq!(d.at.line, 3);
    }

    #[test]
    fn trailing_tokens_are_errors() {
        assert!(parse(&sql("a = 1 b", 1, 1), "").is_err());
        assert!(parse(&sql("a = 1 AND \"Date received\" IS NOT NULL", 1, 1), "").is_ok());
    }

    #[test]
    fn the_columns_read_are_named_once_each() {
        let read = parse(&sql("a = 1 AND (\"Date received\" IS NOT NULL OR lower(a) LIKE 'x%') AND t.b > 2", 1, 1), "");
        assert_eq!(read.unwrap(), ["a", "Date received", "b"]);
        let d = reading(&sql("chanel = 'chat'", 4, 9), &["channel", "team"], "the tickets table").unwrap_err();
        assert!(d.message.contains("`chanel`") && d.message.contains("the tickets table"), "{}", d.message);
        assert_eq!(d.at.line, 4);
        assert!(reading(&sql("channel = 'chat'", 1, 1), &["channel"], "t").is_ok());
    }

    #[test]
    fn places_are_read_from_the_parser_message() {
        assert_eq!(
            split_place("Expected: x, found: y at Line: 1, Column: 16"),
            ("Expected: x, found: y", Some((1, 16)))
        );
        assert_eq!(split_place("no place"), ("no place", None));
    }
}
