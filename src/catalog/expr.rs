//! Engine-neutral row expressions used by KPI definitions. Each execution backend lowers them to its own
//! engine (`exec::aggregate::compile` for Polars); nothing here may depend on an engine.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Col(&'static str),
    Int(i64),
    Float(f64),
    Text(String),
    /// `end - start` in seconds (fractional), null when either side is null.
    SecondsBetween {
        start: &'static str,
        end: &'static str,
    },
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    IsNotNull(Box<Expr>),
    /// Membership in a list of text values.
    InList(Box<Expr>, Vec<String>),
    /// SQL from the pipeline (a metric's `where`, at `at`), checked against its table when the plan was
    /// built; `columns` are the canonical and derived columns it reads (attributes are not canonical).
    Sql {
        text: String,
        columns: Vec<&'static str>,
        at: crate::spec::Location,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

pub fn col(name: &'static str) -> Expr {
    Expr::Col(name)
}

pub fn text(value: &str) -> Expr {
    Expr::Text(value.to_string())
}

impl Expr {
    fn cmp(self, op: CmpOp, other: Expr) -> Expr {
        Expr::Cmp(Box::new(self), op, Box::new(other))
    }
    pub fn eq(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Eq, other)
    }
    pub fn lt_eq(self, other: Expr) -> Expr {
        self.cmp(CmpOp::LtEq, other)
    }
    pub fn gt(self, other: Expr) -> Expr {
        self.cmp(CmpOp::Gt, other)
    }
    pub fn gt_eq(self, other: Expr) -> Expr {
        self.cmp(CmpOp::GtEq, other)
    }
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    pub fn is_in(self, values: &[String]) -> Expr {
        Expr::InList(Box::new(self), values.to_vec())
    }
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut all) => {
                all.push(other);
                Expr::And(all)
            },
            first => Expr::And(vec![first, other]),
        }
    }

    /// The pipeline's SQL inside the expression (metrics), to check on data before a run computes.
    pub fn sql(&self) -> Vec<&Expr> {
        match self {
            Expr::Sql { .. } => vec![self],
            Expr::Cmp(a, _, b) => a.sql().into_iter().chain(b.sql()).collect(),
            Expr::And(all) | Expr::Or(all) => all.iter().flat_map(Expr::sql).collect(),
            Expr::Not(e) | Expr::IsNotNull(e) | Expr::InList(e, _) => e.sql(),
            Expr::Col(_) | Expr::Int(_) | Expr::Float(_) | Expr::Text(_) | Expr::SecondsBetween { .. } => Vec::new(),
        }
    }

    /// Canonical columns the expression reads.
    pub fn columns(&self, out: &mut Vec<&'static str>) {
        let mut push = |c: &'static str| {
            if !out.contains(&c) {
                out.push(c)
            }
        };
        match self {
            Expr::Col(c) => push(c),
            Expr::SecondsBetween { start, end } => {
                push(start);
                push(end);
            },
            Expr::Int(_) | Expr::Float(_) | Expr::Text(_) => {},
            Expr::Cmp(a, _, b) => {
                a.columns(out);
                b.columns(out);
            },
            Expr::And(all) | Expr::Or(all) => all.iter().for_each(|e| e.columns(out)),
            Expr::Not(e) | Expr::IsNotNull(e) | Expr::InList(e, _) => e.columns(out),
            Expr::Sql { columns, .. } => columns.iter().for_each(|c| push(c)),
        }
    }
}

/// SQL-like text, used in `deskpulse kpis`, the docs and `explain`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Col(c) => f.write_str(c),
            Expr::Int(v) => write!(f, "{v}"),
            Expr::Float(v) => write!(f, "{v}"),
            Expr::Text(v) => write!(f, "'{}'", v.replace('\'', "''")),
            Expr::SecondsBetween { start, end } => write!(f, "seconds({end} - {start})"),
            Expr::Cmp(a, op, b) => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Lt => "<",
                    CmpOp::LtEq => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::GtEq => ">=",
                };
                write!(f, "{a} {op} {b}")
            },
            Expr::And(all) => join(f, all, " AND "),
            Expr::Or(all) => {
                f.write_str("(")?;
                join(f, all, " OR ")?;
                f.write_str(")")
            },
            Expr::Not(e) => write!(f, "NOT ({e})"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::InList(e, values) => {
                write!(f, "{e} IN (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "'{}'", v.replace('\'', "''"))?;
                }
                f.write_str(")")
            },
            Expr::Sql { text, .. } => write!(f, "({text})"),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, all: &[Expr], sep: &str) -> fmt::Result {
    for (i, e) in all.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_sql_and_lists_columns() {
        let e = col("resolved_at").is_not_null().and(col("agent_replies").lt_eq(Expr::Int(1)));
        assert_eq!(e.to_string(), "resolved_at IS NOT NULL AND agent_replies <= 1");
        let mut cols = Vec::new();
        e.columns(&mut cols);
        assert_eq!(cols, ["resolved_at", "agent_replies"]);
    }
}
