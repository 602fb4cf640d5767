//! The KPI catalog: one engine-neutral definition per KPI (inputs, row filter, aggregates, unit, direction,
//! doc). `deskpulse kpis`, `docs/kpis.md`, validation and output metadata are all generated from here.
//! No engine types: `exec` lowers these definitions to Polars.

pub mod expr;

use crate::model::{SlaMetric, Table};
use expr::{col, text, Expr};
use serde::Serialize;

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Neutral,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher",
            Direction::LowerIsBetter => "lower",
            Direction::Neutral => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Percent,
    Seconds,
    Count,
    Points,
    Score,
    /// A correlation coefficient, −1..1.
    Coefficient,
    /// Money, in the currency of the sources.
    Currency,
    /// A plain quotient (e.g. views per ticket).
    Ratio,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Seconds => "seconds",
            Unit::Count => "count",
            Unit::Points => "points",
            Unit::Score => "score",
            Unit::Coefficient => "coefficient",
            Unit::Currency => "currency",
            Unit::Ratio => "ratio",
        }
    }
}

/// How one output row of a KPI is aggregated over the KPI's rows in a segment and period.
#[derive(Clone, Debug, PartialEq)]
pub enum Aggregate {
    /// value = n = number of rows.
    Count,
    /// value = n = number of distinct non-empty values of the measure.
    CountDistinct(Expr),
    /// value = 100 × numerator / denominator; numerator = rows where `when` holds, denominator = n = rows.
    Share { when: Expr },
    /// value = numerator / denominator: sum and count of the non-null measure; n = that count.
    Mean(Expr),
    /// Linear-interpolation quantile of the non-null measure; n = its count.
    Quantile(Expr, f64),
    /// value = 100 × (promoters − detractors) / n; numerator = promoters − detractors, denominator = n.
    NetScore { promoter: Expr, detractor: Expr },
    /// 95 % margin of error of the net score: 1.96 × sqrt((p+ + p− − (p+ − p−)²) / n) × 100.
    NetScoreMargin { promoter: Expr, detractor: Expr },
    /// One row per value of column `of` (its `stat`): rows with that value / rows × 100.
    Mix { of: &'static str },
    /// Rows with an agent / (distinct agents × calendar days in the period).
    PerAgentDay { agent: &'static str },
    /// Spearman rank correlation of two measures over the rows where both are set (average ranks for ties).
    Spearman(Expr, Expr),
    /// Tickets open at the period end (its first instant): created before it and neither resolved nor closed
    /// before it. n = tickets created before it. Counts every ticket, not only the window's.
    OpenAtPeriodEnd,
    /// Customer retention over accounts, ((E − N) / S) × 100 with S customers at the period start, E at its
    /// end, N acquired during it; numerator E − N, denominator S.
    Retention,
    /// Accounts counted in S whose `churned_at` falls in the period / S × 100.
    Churn,
    /// Customer acquisition cost: spend of the period / accounts acquired in it (`customer_since` in the
    /// period); numerator spend, denominator = n = acquired accounts.
    Cac,
    /// Customer lifetime value: mean `annual_revenue` of the customers at the period end × average
    /// relationship length in years − the period's CAC. The length is `relationship_years` when declared,
    /// else the mean length of the relationships that ended (churned) before the period end.
    Clv { relationship_years: Option<f64> },
    /// value = numerator = sum of the measure; n = rows with it (an exact total, never a low sample).
    Sum(Expr),
    /// value = 100 × sum(num) / sum(den); numerator and denominator those sums, n = the denominator.
    Ratio { num: Expr, den: Expr },
    /// value = 100 × sum(yes) / (sum(yes) + sum(no)); n = the votes.
    Proportion { yes: Expr, no: Expr },
    /// A bound of the 95 % Wilson score interval of `Proportion`, × 100: (p̂ + z²/2n ∓ z·sqrt(p̂(1−p̂)/n +
    /// z²/4n²)) / (1 + z²/n) with z = 1.96.
    Wilson { yes: Expr, no: Expr, upper: bool },
    /// Sum of the measure per ticket created in the same period and segment: numerator the sum, denominator
    /// = n = the tickets.
    PerTicket(Expr),
    /// value = numerator / denominator, each side measured over its own table's rows in the same group and
    /// period (a declared `ratio`); n = the denominator's rows.
    Quotient { num: Side, den: Side },
}

/// One side of a `Quotient`: the rows of `table`, counted, or the sum of a measure over them.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    pub table: Table,
    pub sum: Option<Expr>,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sum {
            None => write!(f, "count({})", self.table),
            Some(e) => write!(f, "sum({}.{e})", self.table),
        }
    }
}

impl Aggregate {
    /// Evaluated at period boundaries over the whole history, instead of over the rows placed in the period.
    pub fn is_snapshot(&self) -> bool {
        matches!(
            self,
            Aggregate::OpenAtPeriodEnd
                | Aggregate::Retention
                | Aggregate::Churn
                | Aggregate::Cac
                | Aggregate::Clv { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatDef {
    pub stat: String,
    pub unit: Unit,
    pub aggregate: Aggregate,
}

/// A KPI as compiled for one pipeline: its definition options already applied.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiDefinition {
    /// The name in the outputs: the catalog's, or a variant's (`as:`).
    pub name: String,
    /// The catalog entry it is defined by.
    pub catalog: &'static str,
    pub table: Table,
    /// Rows the KPI is computed over (all rows of `table` in the segment when `None`).
    pub filter: Option<Expr>,
    pub stats: Vec<StatDef>,
    pub direction: Direction,
    pub min_sample: u64,
    /// What a KPI the pipeline declares means, in its words (`description:`).
    pub note: Option<String>,
}

impl KpiDefinition {
    /// The pipeline's SQL the definition holds (declared metrics), with the table whose rows it reads (a
    /// ratio's side may read another table than the KPI's), to check on data before a run computes.
    pub fn sql(&self) -> Vec<(Table, &Expr)> {
        let mut own: Vec<&Expr> = self.filter.iter().flat_map(Expr::sql).collect();
        let mut sides = Vec::new();
        for s in &self.stats {
            let out = &mut own;
            match &s.aggregate {
                Aggregate::Share { when: e } | Aggregate::Mean(e) | Aggregate::Quantile(e, _) => out.extend(e.sql()),
                Aggregate::CountDistinct(e) => out.extend(e.sql()),
                Aggregate::Sum(e) | Aggregate::PerTicket(e) => out.extend(e.sql()),
                Aggregate::Quotient { num, den } => {
                    for side in [num, den] {
                        sides.extend(side.sum.iter().flat_map(Expr::sql).map(|e| (side.table, e)));
                    }
                },
                Aggregate::NetScore { promoter: a, detractor: b }
                | Aggregate::NetScoreMargin { promoter: a, detractor: b }
                | Aggregate::Spearman(a, b)
                | Aggregate::Ratio { num: a, den: b }
                | Aggregate::Proportion { yes: a, no: b }
                | Aggregate::Wilson { yes: a, no: b, .. } => out.extend(a.sql().into_iter().chain(b.sql())),
                Aggregate::Count
                | Aggregate::Mix { .. }
                | Aggregate::PerAgentDay { .. }
                | Aggregate::OpenAtPeriodEnd
                | Aggregate::Retention
                | Aggregate::Churn
                | Aggregate::Cac
                | Aggregate::Clv { .. } => {},
            }
        }
        own.into_iter().map(|e| (self.table, e)).chain(sides).collect()
    }

    /// The tables the definition reads rows of: its own, and a ratio's other side.
    pub fn tables(&self) -> Vec<Table> {
        let mut out = vec![self.table];
        for s in &self.stats {
            if let Aggregate::Quotient { num, den } = &s.aggregate {
                out.extend([num.table, den.table].into_iter().filter(|t| *t != self.table));
            }
        }
        out
    }

    /// Canonical columns the definition reads.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Some(f) = &self.filter {
            f.columns(&mut out);
        }
        for s in &self.stats {
            match &s.aggregate {
                Aggregate::Count => {},
                Aggregate::CountDistinct(e) => e.columns(&mut out),
                Aggregate::Share { when } => when.columns(&mut out),
                Aggregate::Mean(e) | Aggregate::Quantile(e, _) => e.columns(&mut out),
                Aggregate::NetScore { promoter, detractor } | Aggregate::NetScoreMargin { promoter, detractor } => {
                    promoter.columns(&mut out);
                    detractor.columns(&mut out);
                },
                Aggregate::Mix { of } | Aggregate::PerAgentDay { agent: of } => expr::col(of).columns(&mut out),
                Aggregate::Spearman(a, b) => {
                    a.columns(&mut out);
                    b.columns(&mut out);
                },
                Aggregate::OpenAtPeriodEnd => {
                    for c in ["created_at", "resolved_at", "closed_at"] {
                        expr::col(c).columns(&mut out);
                    }
                },
                Aggregate::Retention | Aggregate::Churn => {
                    for c in ["customer_since", "churned_at"] {
                        expr::col(c).columns(&mut out);
                    }
                },
                Aggregate::Sum(e) | Aggregate::PerTicket(e) => e.columns(&mut out),
                // Columns of the KPI's own table (the numerator's).
                Aggregate::Quotient { num, den } => {
                    for side in [num, den].into_iter().filter(|side| side.table == self.table) {
                        side.sum.iter().for_each(|e| e.columns(&mut out));
                    }
                },
                Aggregate::Ratio { num: a, den: b }
                | Aggregate::Proportion { yes: a, no: b }
                | Aggregate::Wilson { yes: a, no: b, .. } => {
                    a.columns(&mut out);
                    b.columns(&mut out);
                },
                // Over spend; the accounts it reads are `lookups`.
                Aggregate::Cac | Aggregate::Clv { .. } => {
                    for c in ["period", "amount"] {
                        expr::col(c).columns(&mut out);
                    }
                },
            }
        }
        out
    }
}

/// Definition choices a pipeline states once (`definitions:`), with the spec's defaults.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Definitions {
    /// Vendor statuses that mean resolved; empty means "any ticket with `resolved_at`".
    pub resolved_statuses: Vec<String>,
    /// Abandoned tickets count as resolved only when this is set.
    pub abandoned_can_resolve: bool,
    pub fcr_max_agent_replies: i64,
    pub fcr_reopened_counts: bool,
    pub csat_scale: (f64, f64),
    pub csat_satisfied_min: f64,
    pub ces_scale: (f64, f64),
    pub ces_easy_min: f64,
    pub queue_channels: Vec<String>,
    /// Message author roles that count as agents (bots and system messages never do).
    pub agent_roles: Vec<String>,
    /// CLV's average relationship length in years; `None` measures it from churned accounts.
    pub clv_relationship_years: Option<f64>,
    /// Ticket histories: vendor status → Zendesk status (new, open, pending, hold, solved, closed).
    pub history_statuses: Vec<(String, String)>,
    /// Which period a survey answer counts in.
    pub survey_period: SurveyPeriod,
    /// Which calendar an SLA instance counts on when the history changes a ticket's schedule.
    pub schedule_rule: ScheduleRule,
}

/// When a ticket's business schedule changes during an SLA instance (history rows with `field: schedule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleRule {
    /// Zendesk's: the schedule in force when the instance is fulfilled (or judged at as-of) counts for all of it.
    #[default]
    AtCompletion,
    /// Each stretch of the instance on the schedule in force during it.
    PerSchedule,
}

/// A kind of survey answer and the cut-offs its KPIs, quarantine, follow-up list and benchmarks read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurveyKind {
    /// The `kind` value of its answers.
    pub name: &'static str,
    /// Scores outside it are quarantined (`score_out_of_scale`).
    pub scale: (f64, f64),
    /// A good answer scores this or more: satisfied (CSAT), easy (CES), promoter (NPS, eNPS).
    pub good_from: f64,
    /// A bad answer scores this or less: detractor (NPS, eNPS); unsatisfied (CSAT) or high effort (CES),
    /// the scale's bottom two points.
    pub bad_to: f64,
    /// Reported as promoters minus detractors (points), rather than as a mean score or a share.
    pub net_score: bool,
    /// The follow-up list's reason for a bad answer.
    pub bad_reason: &'static str,
}

impl Definitions {
    /// Every survey kind the spec knows, with the scales and thresholds this pipeline declares.
    pub fn survey_kinds(&self) -> [SurveyKind; 4] {
        let net = |name| SurveyKind {
            name,
            scale: (0.0, 10.0),
            good_from: 9.0,
            bad_to: 6.0,
            net_score: true,
            bad_reason: "detractor",
        };
        [
            SurveyKind {
                name: "csat",
                scale: self.csat_scale,
                good_from: self.csat_satisfied_min,
                bad_to: self.csat_scale.0 + 1.0,
                net_score: false,
                bad_reason: "unsatisfied",
            },
            net("nps"),
            SurveyKind {
                name: "ces",
                scale: self.ces_scale,
                good_from: self.ces_easy_min,
                bad_to: self.ces_scale.0 + 1.0,
                net_score: false,
                bad_reason: "high_effort",
            },
            net("enps"),
        ]
    }

    /// The survey kind `name` (one of `survey_kinds`).
    pub fn survey_kind(&self, name: &str) -> SurveyKind {
        self.survey_kinds().into_iter().find(|k| k.name == name).expect("a survey kind the spec knows")
    }
}

/// The instant that places a survey answer in a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyPeriod {
    /// The answer's `submitted_at`.
    #[default]
    Submitted,
    /// Its ticket's `created_at` (answers about no known ticket keep their `submitted_at`).
    TicketCreated,
}

impl Default for Definitions {
    fn default() -> Self {
        Definitions {
            resolved_statuses: Vec::new(),
            abandoned_can_resolve: false,
            fcr_max_agent_replies: 1,
            fcr_reopened_counts: false,
            csat_scale: (1.0, 5.0),
            csat_satisfied_min: 4.0,
            ces_scale: (1.0, 7.0),
            ces_easy_min: 6.0,
            queue_channels: vec!["phone".into(), "chat".into()],
            agent_roles: vec!["agent".into()],
            clv_relationship_years: None,
            history_statuses: Vec::new(),
            survey_period: SurveyPeriod::Submitted,
            schedule_rule: ScheduleRule::AtCompletion,
        }
    }
}

/// Statistics a duration KPI may report.
pub const DURATION_STATS: &[&str] = &["mean", "median", "p75", "p90", "p95", "p99"];

/// Per-KPI options from the pipeline file, already validated.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiOptions {
    /// For duration KPIs: which of `DURATION_STATS`, in order; `None` for the KPI's default.
    pub stats: Option<Vec<String>>,
    pub min_sample: u64,
    /// Measure durations in business seconds (`clock: business`).
    pub business: bool,
}

/// Durations that have a business-hours measure, and the derived column holding it.
const BUSINESS_MEASURES: [(&str, &str); 2] =
    [("first_response_at", "first_response_business_seconds"), ("resolved_at", "resolution_business_seconds")];

/// History measures (`ticket_events`) and the derived column holding each in business seconds.
const HISTORY_BUSINESS_MEASURES: [(&str, &str); 6] = [
    ("requester_wait_seconds", "requester_wait_business_seconds"),
    ("agent_work_seconds", "agent_work_business_seconds"),
    ("agent_wait_seconds", "agent_wait_business_seconds"),
    ("on_hold_seconds", "on_hold_business_seconds"),
    ("first_resolution_seconds", "first_resolution_business_seconds"),
    ("full_resolution_seconds", "full_resolution_business_seconds"),
];

fn business_measure(measure: &Expr) -> Option<&'static str> {
    match measure {
        Expr::SecondsBetween { start: "created_at", end } => {
            BUSINESS_MEASURES.iter().find(|(e, _)| e == end).map(|(_, c)| *c)
        },
        Expr::Col(c) => HISTORY_BUSINESS_MEASURES.iter().find(|(wall, _)| wall == c).map(|(_, b)| *b),
        _ => None,
    }
}

/// A pipeline section a KPI needs declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Rules for an SLA metric.
    Sla(crate::model::SlaMetric),
}

impl Section {
    pub fn as_str(self) -> String {
        match self {
            Section::Sla(metric) => format!("sla.{}", metric.name()),
        }
    }
}

/// A catalog entry: documentation plus the builder that applies a pipeline's choices.
pub struct KpiInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub table: Table,
    pub direction: Direction,
    pub unit: Unit,
    /// Canonical columns that must be mapped (beyond the table's required ones).
    pub inputs: &'static [&'static str],
    pub definition: &'static str,
    /// Options the pipeline can set for it, in words.
    pub options: &'static str,
    /// Default stats for duration KPIs (empty for others).
    pub default_stats: &'static [&'static str],
    /// Columns of other tables it reads through the model's joins (e.g. surveys.ticket_id).
    pub lookups: &'static [(Table, &'static str)],
    /// Pipeline sections it needs declared.
    pub config: &'static [Section],
    build: fn(&Definitions) -> (Option<Expr>, Vec<StatDef>),
}

impl KpiInfo {
    pub fn is_duration(&self) -> bool {
        !self.default_stats.is_empty()
    }

    /// Can be measured in business seconds (`clock: business`).
    pub fn has_business_clock(&self) -> bool {
        let (_, stats) = (self.build)(&Definitions::default());
        matches!(&stats[..], [StatDef { aggregate: Aggregate::Mean(m), .. }, ..] if business_measure(m).is_some())
    }

    /// Canonical columns of its table that `def` (this KPI compiled) reads, then its declared inputs.
    pub fn columns_read(&self, def: &KpiDefinition) -> Vec<&'static str> {
        let mut columns = def.columns();
        for i in self.inputs {
            if !columns.contains(i) {
                columns.push(i);
            }
        }
        columns
    }

    pub fn define(&self, defs: &Definitions, options: &KpiOptions) -> KpiDefinition {
        let (filter, mut stats) = (self.build)(defs);
        if self.is_duration() {
            let wanted: Vec<String> =
                options.stats.clone().unwrap_or_else(|| self.default_stats.iter().map(|s| s.to_string()).collect());
            let mut measure = match &stats[0].aggregate {
                Aggregate::Mean(e) => e.clone(),
                _ => unreachable!("duration KPIs are built with a mean"),
            };
            if options.business {
                if let Some(column) = business_measure(&measure) {
                    measure = col(column);
                }
            }
            stats = wanted.iter().map(|s| duration_stat(s, measure.clone())).collect();
        }
        KpiDefinition {
            name: self.name.to_string(),
            catalog: self.name,
            table: self.table,
            filter,
            stats,
            direction: self.direction,
            min_sample: options.min_sample,
            note: None,
        }
    }
}

fn duration_stat(stat: &str, measure: Expr) -> StatDef {
    let aggregate = match stat {
        "mean" => Aggregate::Mean(measure),
        "median" => Aggregate::Quantile(measure, 0.5),
        p => {
            let q: f64 = p.trim_start_matches('p').parse().expect("validated duration stat");
            Aggregate::Quantile(measure, q / 100.0)
        },
    };
    StatDef { stat: stat.to_string(), unit: Unit::Seconds, aggregate }
}

/// A KPI over a ticket-history measure (`ticket_events`): a duration over the tickets that have it.
const fn history_kpi(
    name: &'static str,
    title: &'static str,
    definition: &'static str,
    build: fn(&Definitions) -> (Option<Expr>, Vec<StatDef>),
) -> KpiInfo {
    KpiInfo {
        name,
        title,
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &[],
        definition,
        options: "`definitions.history.statuses` maps other vendors' statuses; `stats`: any of mean, median, p75, \
                  p90, p95, p99 (default mean, median, p90); `clock: business` counts only the seconds while the \
                  ticket's business calendar is open.",
        default_stats: &["mean", "median", "p90"],
        lookups: &[(Table::TicketEvents, "value")],
        config: &[],
        build,
    }
}

fn history_measure(column: &'static str) -> (Option<Expr>, Vec<StatDef>) {
    (Some(col(column).is_not_null()), vec![one("mean", Unit::Seconds, Aggregate::Mean(col(column)))])
}

/// NPS and eNPS: promoters minus detractors of the kind's answers, with the margin of error.
fn net_score_kpi(k: SurveyKind) -> (Option<Expr>, Vec<StatDef>) {
    let whole = |v: f64| Expr::Int(v as i64);
    (Some(kind(k.name)), net_score_stats(col("score").gt_eq(whole(k.good_from)), col("score").lt_eq(whole(k.bad_to))))
}

fn one(stat: &str, unit: Unit, aggregate: Aggregate) -> StatDef {
    StatDef { stat: stat.to_string(), unit, aggregate }
}

/// SLA instances judged: fulfilled, or breached while still running at the as-of instant (one still within
/// its target is not judged yet).
fn sla_judged() -> Expr {
    Expr::Or(vec![col("fulfilled_at").is_not_null(), col("breached")])
}

/// A metric's SLA instances judged, and the share met.
fn attainment_of(metric: SlaMetric) -> (Option<Expr>, Vec<StatDef>) {
    let met = Expr::Not(Box::new(col("breached")));
    (
        Some(col("metric").eq(text(metric.name())).and(sla_judged())),
        vec![one("value", Unit::Percent, Aggregate::Share { when: met })],
    )
}

/// A catalog entry for a share of resolved tickets by their number of public agent replies.
macro_rules! touch_kpi {
    ($name:literal, $title:literal, $direction:ident, $definition:expr, $touches:expr) => {
        KpiInfo {
            name: $name,
            title: $title,
            table: Table::Tickets,
            direction: Direction::$direction,
            unit: Unit::Percent,
            inputs: &["resolved_at", "agent_replies"],
            definition: $definition,
            options: "`definitions.messages.agent_roles` (with a message log, `agent_replies` counts public agent \
                      comments).",
            default_stats: &[],
            lookups: &[],
            config: &[],
            build: |_| {
                let touches: fn(Expr) -> Expr = $touches;
                (
                    Some(resolved().and(col("agent_replies").is_not_null())),
                    vec![one("value", Unit::Percent, Aggregate::Share { when: touches(col("agent_replies")) })],
                )
            },
        }
    };
}

/// A catalog entry for the attainment of an SLA metric measured per instance (`DIR/sla`).
macro_rules! sla_attainment_entry {
    ($name:literal, $title:literal, $metric:ident, $definition:expr) => {
        KpiInfo {
            name: $name,
            title: $title,
            table: Table::SlaInstances,
            direction: Direction::HigherIsBetter,
            unit: Unit::Percent,
            inputs: &[],
            definition: concat!(
                $definition,
                " Met: the time counted on the rule's clock (calendar, or the ticket's business hours for \
                 `clock: business`) is within (≤) the target. Judged: fulfilled, or breached while still running \
                 at the run's as-of instant; an instance placed in its ticket's period."
            ),
            options: concat!(
                "`sla.",
                stringify!($metric),
                "` rules (most specific match of channel, priority and group); `deskpulse run --as-of`."
            ),
            default_stats: &[],
            lookups: &[],
            config: &[Section::Sla(SlaMetric::$metric)],
            build: |_| attainment_of(SlaMetric::$metric),
        }
    };
}

fn resolved() -> Expr {
    col("resolved_at").is_not_null()
}

fn kind(k: &str) -> Expr {
    col("kind").eq(text(k))
}

fn seconds_mean(start: &'static str, end: &'static str) -> Vec<StatDef> {
    vec![one("mean", Unit::Seconds, Aggregate::Mean(Expr::SecondsBetween { start, end }))]
}

fn net_score_stats(promoter: Expr, detractor: Expr) -> Vec<StatDef> {
    vec![
        one("value", Unit::Points, Aggregate::NetScore { promoter: promoter.clone(), detractor: detractor.clone() }),
        one("margin_of_error", Unit::Points, Aggregate::NetScoreMargin { promoter, detractor }),
    ]
}

/// The `catalog` field of a KPI the pipeline declares (`metrics:`), not one of the catalog's.
pub const DECLARED: &str = "declared";

pub static CATALOG: &[KpiInfo] = &[
    KpiInfo {
        name: "ticket_volume",
        title: "Ticket volume",
        table: Table::Tickets,
        direction: Direction::Neutral,
        unit: Unit::Count,
        inputs: &[],
        definition: "Tickets created in the period.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Count, Aggregate::Count)]),
    },
    KpiInfo {
        name: "first_response_time",
        title: "First response time",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &["first_response_at"],
        definition: "`first_response_at - created_at` in seconds, over tickets with a response.",
        options: "`stats`: any of mean, median, p75, p90, p95, p99 (default mean, median, p90); `clock: business` \
                  counts only the seconds the ticket's business calendar is open (`calendars`, `business_hours`).",
        default_stats: &["mean", "median", "p90"],
        lookups: &[],
        config: &[],
        build: |_| (Some(col("first_response_at").is_not_null()), seconds_mean("created_at", "first_response_at")),
    },
    KpiInfo {
        name: "resolution_time",
        title: "Resolution time",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &["resolved_at"],
        definition: "`resolved_at - created_at` in seconds, over resolved tickets.",
        options: "`stats`: any of mean, median, p75, p90, p95, p99 (default mean, median, p90); `clock: business` \
                  counts only the seconds the ticket's business calendar is open (`calendars`, `business_hours`).",
        default_stats: &["mean", "median", "p90"],
        lookups: &[],
        config: &[],
        build: |_| (Some(resolved()), seconds_mean("created_at", "resolved_at")),
    },
    KpiInfo {
        name: "handle_time",
        title: "Average handle time (AHT)",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &["handle_seconds"],
        definition: "Mean `handle_seconds` over tickets that have it.",
        options: "`stats`: any of mean, median, p75, p90, p95, p99 (default mean).",
        default_stats: &["mean"],
        lookups: &[],
        config: &[],
        build: |_| {
            (
                Some(col("handle_seconds").is_not_null()),
                vec![one("mean", Unit::Seconds, Aggregate::Mean(col("handle_seconds")))],
            )
        },
    },
    history_kpi(
        "requester_wait_time",
        "Requester wait time",
        "Mean, over tickets solved at least once, of the seconds their status history (`ticket_events`) spent in new, open or hold before the last solve (Zendesk's requester wait time).",
        |_| history_measure("requester_wait_seconds"),
    ),
    history_kpi(
        "agent_wait_time",
        "Agent wait time",
        "Mean, over tickets solved at least once, of the seconds their status history spent in pending (waiting on the customer) before the last solve (Zendesk's agent wait time).",
        |_| history_measure("agent_wait_seconds"),
    ),
    history_kpi(
        "on_hold_time",
        "On-hold time",
        "Mean, over tickets solved at least once, of the seconds their status history spent in hold (waiting on a third party) before the last solve (Zendesk's on-hold time).",
        |_| history_measure("on_hold_seconds"),
    ),
    history_kpi(
        "agent_work_time",
        "Agent work time",
        "Mean, over tickets solved at least once, of the seconds their status history spent in new or open before the last solve (Zendesk's agent work time: the time the ticket waits on an agent, not counting pending and on-hold).",
        |_| history_measure("agent_work_seconds"),
    ),
    history_kpi(
        "first_resolution_time",
        "First resolution time",
        "Mean, over tickets solved at least once, of the seconds from `created_at` to the first change of status to solved in their history (Zendesk's first resolution time; a reopened ticket keeps its first solve).",
        |_| history_measure("first_resolution_seconds"),
    ),
    history_kpi(
        "full_resolution_time",
        "Full resolution time",
        "Mean, over tickets solved at least once, of the seconds from `created_at` to the last change of status to solved in their history (Zendesk's full resolution time: a reopened ticket counts until its last solve).",
        |_| history_measure("full_resolution_seconds"),
    ),
    KpiInfo {
        name: "resolution_rate",
        title: "Resolution rate",
        table: Table::Tickets,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["resolved_at"],
        definition: "Resolved tickets / tickets × 100.",
        options: "`definitions.resolved_when` decides what counts as resolved.",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Percent, Aggregate::Share { when: resolved() })]),
    },
    KpiInfo {
        name: "fcr_rate",
        title: "First contact resolution rate",
        table: Table::Tickets,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["resolved_at", "agent_replies"],
        definition:
            "Resolved tickets with `agent_replies <= max_agent_replies` and no reopen / resolved tickets × 100.",
        options:
            "`definitions.fcr.max_agent_replies` (default 1), `definitions.fcr.reopened_counts_as_fcr` (default false).",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| {
            let mut when = col("agent_replies").lt_eq(Expr::Int(d.fcr_max_agent_replies));
            if !d.fcr_reopened_counts {
                when = when.and(col("reopens").eq(Expr::Int(0)));
            }
            (Some(resolved()), vec![one("value", Unit::Percent, Aggregate::Share { when })])
        },
    },
    KpiInfo {
        name: "escalation_rate",
        title: "Escalation rate",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &["escalated"],
        definition: "Escalated tickets / tickets × 100.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Percent, Aggregate::Share { when: col("escalated") })]),
    },
    KpiInfo {
        name: "reopen_rate",
        title: "Reopen rate",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &["resolved_at", "reopens"],
        definition: "Resolved tickets with `reopens > 0` / resolved tickets × 100.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| {
            (
                Some(resolved()),
                vec![one("value", Unit::Percent, Aggregate::Share { when: col("reopens").gt(Expr::Int(0)) })],
            )
        },
    },
    KpiInfo {
        name: "abandonment_rate",
        title: "Abandonment rate",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &["abandoned", "channel"],
        definition: "Abandoned tickets / tickets on queue channels × 100.",
        options: "`definitions.queue_channels` (default phone, chat).",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| {
            (
                Some(col("channel").is_in(&d.queue_channels)),
                vec![one("value", Unit::Percent, Aggregate::Share { when: col("abandoned") })],
            )
        },
    },
    KpiInfo {
        name: "csat",
        title: "Customer satisfaction (CSAT)",
        table: Table::Surveys,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &[],
        definition: "CSAT answers scoring `satisfied_min` or more / CSAT answers × 100 (stat `value`); \
                     the mean score (stat `mean`).",
        options: "`definitions.csat.scale` (default [1, 5]), `definitions.csat.satisfied_min` (default 4).",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| {
            (
                Some(kind("csat")),
                vec![
                    one(
                        "value",
                        Unit::Percent,
                        Aggregate::Share { when: col("score").gt_eq(Expr::Float(d.survey_kind("csat").good_from)) },
                    ),
                    one("mean", Unit::Score, Aggregate::Mean(col("score"))),
                ],
            )
        },
    },
    KpiInfo {
        name: "nps",
        title: "Net Promoter Score (NPS)",
        table: Table::Surveys,
        direction: Direction::HigherIsBetter,
        unit: Unit::Points,
        inputs: &[],
        definition: "% of NPS answers scoring 9–10 minus % scoring 0–6, in points (−100..100) (stat `value`), \
                     with its 95 % margin of error `1.96 × sqrt((p+ + p− − (p+ − p−)²) / n) × 100` \
                     (stat `margin_of_error`).",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| net_score_kpi(d.survey_kind("nps")),
    },
    KpiInfo {
        name: "ces",
        title: "Customer effort score (CES)",
        table: Table::Surveys,
        direction: Direction::HigherIsBetter,
        unit: Unit::Score,
        inputs: &[],
        definition: "Mean score of CES answers on the declared scale, higher = easier (stat `value`); \
                     share of \"easy\" answers, scoring `easy_min` or more, × 100 (stat `easy_share`).",
        options:
            "`definitions.ces.scale` (default [1, 7]), `definitions.ces.easy_min` (default 6: the top two points).",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| {
            (
                Some(kind("ces")),
                vec![
                    one("value", Unit::Score, Aggregate::Mean(col("score"))),
                    one(
                        "easy_share",
                        Unit::Percent,
                        Aggregate::Share { when: col("score").gt_eq(Expr::Float(d.survey_kind("ces").good_from)) },
                    ),
                ],
            )
        },
    },
    KpiInfo {
        name: "wait_time",
        title: "Wait time",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &["wait_seconds", "channel"],
        definition: "Mean `wait_seconds` over tickets on queue channels (phone and chat by default) that have it.",
        options: "`definitions.queue_channels`; `stats`: any of mean, median, p75, p90, p95, p99 (default mean).",
        default_stats: &["mean"],
        lookups: &[],
        config: &[],
        build: |d| {
            (
                Some(col("channel").is_in(&d.queue_channels).and(col("wait_seconds").is_not_null())),
                vec![one("mean", Unit::Seconds, Aggregate::Mean(col("wait_seconds")))],
            )
        },
    },
    KpiInfo {
        name: "exchanges_per_resolution",
        title: "Exchanges per resolution",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Count,
        inputs: &["resolved_at", "agent_replies"],
        definition: "Mean `agent_replies` over resolved tickets that have it.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| {
            (
                Some(resolved().and(col("agent_replies").is_not_null())),
                vec![one("value", Unit::Count, Aggregate::Mean(col("agent_replies")))],
            )
        },
    },
    touch_kpi!(
        "one_touch_resolution_rate",
        "One-touch resolution rate",
        HigherIsBetter,
        "Resolved tickets with exactly one public agent reply / resolved tickets with `agent_replies` × 100 \
         (Zendesk's one-touch tickets; zero-touch tickets count in the denominator only).",
        |r| r.eq(Expr::Int(1))
    ),
    touch_kpi!(
        "two_touch_resolution_rate",
        "Two-touch resolution rate",
        Neutral,
        "Resolved tickets with exactly two public agent replies / resolved tickets with `agent_replies` × 100.",
        |r| r.eq(Expr::Int(2))
    ),
    touch_kpi!(
        "multi_touch_resolution_rate",
        "Multi-touch resolution rate",
        LowerIsBetter,
        "Resolved tickets with more than two public agent replies / resolved tickets with `agent_replies` × 100.",
        |r| r.gt(Expr::Int(2))
    ),
    KpiInfo {
        name: "reassignment_rate",
        title: "Reassignment rate",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &[],
        definition: "Tickets reassigned at least once (their assignee changed from one agent to another in the \
                     history, `reassignments` > 0) / tickets the history assigns (`assignee_stations` > 0) × 100.",
        options: "Assignee changes are history rows whose `field` is assignee, assignee_id, agent, agent_id or owner \
                  (any case); an empty value unassigns.",
        default_stats: &[],
        lookups: &[(Table::TicketEvents, "value")],
        config: &[],
        build: |_| {
            (
                Some(col("assignee_stations").gt(Expr::Int(0))),
                vec![one("value", Unit::Percent, Aggregate::Share { when: col("reassignments").gt(Expr::Int(0)) })],
            )
        },
    },
    KpiInfo {
        name: "assignee_stations",
        title: "Assignee stations",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Count,
        inputs: &[],
        definition: "Mean number of distinct assignees a ticket had in its history (Zendesk's assignee stations), \
                     over tickets the history assigns.",
        options: "Assignee changes as for `reassignment_rate`.",
        default_stats: &[],
        lookups: &[(Table::TicketEvents, "value")],
        config: &[],
        build: |_| {
            (
                Some(col("assignee_stations").gt(Expr::Int(0))),
                vec![one("value", Unit::Count, Aggregate::Mean(col("assignee_stations")))],
            )
        },
    },
    KpiInfo {
        name: "group_stations",
        title: "Group stations",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Count,
        inputs: &[],
        definition: "Mean number of distinct groups a ticket went through in its history (Zendesk's group \
                     stations), over tickets the history puts in a group.",
        options: "Group changes are history rows whose `field` is group, group_id, team or team_id (any case).",
        default_stats: &[],
        lookups: &[(Table::TicketEvents, "value")],
        config: &[],
        build: |_| {
            (
                Some(col("group_stations").gt(Expr::Int(0))),
                vec![one("value", Unit::Count, Aggregate::Mean(col("group_stations")))],
            )
        },
    },
    KpiInfo {
        name: "tickets_per_agent_day",
        title: "Tickets per agent per day",
        table: Table::Tickets,
        direction: Direction::Neutral,
        unit: Unit::Count,
        inputs: &["agent_id"],
        definition: "Tickets with an agent / (distinct agents × calendar days in the period). For grain `all` the \
                     days are the window's, or those from the first to the last ticket without a window. Split by \
                     `agent_id` it is each agent's daily productivity.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Count, Aggregate::PerAgentDay { agent: "agent_id" })]),
    },
    KpiInfo {
        name: "survey_response_rate",
        title: "Survey response rate",
        table: Table::Tickets,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["resolved_at"],
        definition: "Resolved tickets with at least one survey answer (any kind, any date) / resolved tickets × 100.",
        options: "",
        default_stats: &[],
        lookups: &[(Table::Surveys, "ticket_id")],
        config: &[],
        build: |_| (Some(resolved()), vec![one("value", Unit::Percent, Aggregate::Share { when: col("has_survey") })]),
    },
    KpiInfo {
        name: "channel_mix",
        title: "Channel mix",
        table: Table::Tickets,
        direction: Direction::Neutral,
        unit: Unit::Percent,
        inputs: &["channel"],
        definition: "Share of the segment's ticket volume per channel × 100: one row per channel, whose name is the \
                     row's `stat` (tickets without a channel: `(none)`).",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("mix", Unit::Percent, Aggregate::Mix { of: "channel" })]),
    },
    KpiInfo {
        name: "category_mix",
        title: "Category mix",
        table: Table::Tickets,
        direction: Direction::Neutral,
        unit: Unit::Percent,
        inputs: &["category"],
        definition: "Share of the segment's ticket volume per category × 100: one row per category, whose name is \
                     the row's `stat` (tickets without a category: `(none)`).",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("mix", Unit::Percent, Aggregate::Mix { of: "category" })]),
    },
    KpiInfo {
        name: "enps",
        title: "Employee Net Promoter Score (eNPS)",
        table: Table::Surveys,
        direction: Direction::HigherIsBetter,
        unit: Unit::Points,
        inputs: &[],
        definition: "NPS computed on surveys of kind `enps` (employee surveys): % scoring 9–10 minus % scoring 0–6, \
                     in points, with its 95 % margin of error.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |d| net_score_kpi(d.survey_kind("enps")),
    },
    KpiInfo {
        name: "frt_csat_correlation",
        title: "First response time / CSAT correlation",
        table: Table::Surveys,
        direction: Direction::Neutral,
        unit: Unit::Coefficient,
        inputs: &[],
        definition: "Spearman rank correlation between the first response time of the rated ticket and the CSAT \
                     score, one pair per CSAT answer on a replied ticket, ties given average ranks. No row with fewer \
                     than 2 pairs or when either variable is constant. Negative means faster answers, happier \
                     customers.",
        options: "",
        default_stats: &[],
        lookups: &[(Table::Surveys, "ticket_id"), (Table::Tickets, "first_response_at")],
        config: &[],
        build: |_| {
            (
                Some(kind("csat").and(col("first_response_seconds").is_not_null())),
                vec![one("value", Unit::Coefficient, Aggregate::Spearman(col("first_response_seconds"), col("score")))],
            )
        },
    },
    KpiInfo {
        name: "backlog",
        title: "Backlog",
        table: Table::Tickets,
        direction: Direction::LowerIsBetter,
        unit: Unit::Count,
        inputs: &["resolved_at"],
        definition: "Tickets created before the period end and still open at it: neither resolved nor closed by \
                     then (a ticket resolved at the very instant the period ends is no longer open). The period end \
                     is the first instant of the next period. Every ticket counts, including those created before \
                     the window; `n` is the number of tickets created before the period end.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Count, Aggregate::OpenAtPeriodEnd)]),
    },
    KpiInfo {
        name: "retention_rate",
        title: "Customer retention rate (CRR)",
        table: Table::Accounts,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["customer_since", "churned_at"],
        definition: "((E − N) / S) × 100 with S customers at the period start, E at the period end, N acquired \
                     during the period. An account is a customer on day d when `customer_since < d` and \
                     (`churned_at` is empty or `churned_at >= d`); for a period [start, next start), S counts \
                     customers on `start`, E customers on `next start`, N accounts with `start <= customer_since < \
                     next start`. Example: S = 100, E = 90, N = 15 gives 75. Split only by account dimensions \
                     (sector, region, tier, acquisition_channel).",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Percent, Aggregate::Retention)]),
    },
    KpiInfo {
        name: "churn_rate",
        title: "Churn rate",
        table: Table::Accounts,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &["customer_since", "churned_at"],
        definition: "Accounts counted in S (customers at the period start) whose `churned_at` falls in the period / \
                     S × 100. Split only by account dimensions (sector, region, tier, acquisition_channel).",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Percent, Aggregate::Churn)]),
    },
    KpiInfo {
        name: "cac",
        title: "Customer acquisition cost (CAC)",
        table: Table::Spend,
        direction: Direction::LowerIsBetter,
        unit: Unit::Currency,
        inputs: &[],
        definition: "Sales and marketing spend in the period / customers acquired in the period (accounts with \
                     `start <= customer_since < next start`); numerator the spend, denominator and `n` the acquired \
                     accounts. Spend is monthly, so the grain is month, quarter, year or all. Split only by \
                     `acquisition_channel` (spend by its `channel`, accounts by their `acquisition_channel`), or not \
                     at all. \
                     Example: 10,000 spent, 20,000 acquired gives 0.50. No row for a period with no acquisition.",
        options: "",
        default_stats: &[],
        lookups: &[(Table::Accounts, "customer_since")],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Currency, Aggregate::Cac)]),
    },
    KpiInfo {
        name: "clv",
        title: "Customer lifetime value (CLV)",
        table: Table::Spend,
        direction: Direction::HigherIsBetter,
        unit: Unit::Currency,
        inputs: &[],
        definition: "Annual revenue per customer × average relationship length in years − CAC, per period. Annual \
                     revenue per customer is the mean `annual_revenue` of the customers at the period end (those \
                     counted in E of `retention_rate`) that have one; `n` is their number. The average relationship \
                     length is `definitions.clv.relationship_years` when declared, else the mean of `churned_at − \
                     customer_since` (days / 365.25) over the accounts that churned before the period end (the \
                     historical relationships that are complete). CAC is the same period's `cac`, so CLV splits \
                     the way CAC does. No row when CAC or the relationship length is undefined.",
        options: "`definitions.clv.relationship_years`: a fixed average relationship length in years.",
        default_stats: &[],
        lookups: &[
            (Table::Accounts, "customer_since"),
            (Table::Accounts, "churned_at"),
            (Table::Accounts, "annual_revenue"),
        ],
        config: &[],
        build: |d| {
            let years = d.clv_relationship_years;
            (None, vec![one("value", Unit::Currency, Aggregate::Clv { relationship_years: years })])
        },
    },
    KpiInfo {
        name: "kb_views",
        title: "Help-center views",
        table: Table::KbArticles,
        direction: Direction::Neutral,
        unit: Unit::Count,
        inputs: &[],
        definition: "Sum of help-center article `views` over the rows dated in the period.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Count, Aggregate::Sum(col("views")))]),
    },
    KpiInfo {
        name: "kb_bounce_rate",
        title: "Help-center bounce rate",
        table: Table::KbArticles,
        direction: Direction::LowerIsBetter,
        unit: Unit::Percent,
        inputs: &["sessions", "bounces"],
        definition: "Bounces / sessions × 100, summed over the rows dated in the period that give both; `n` is the \
                     sessions.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| {
            (
                Some(col("sessions").is_not_null().and(col("bounces").is_not_null())),
                vec![one("value", Unit::Percent, Aggregate::Ratio { num: col("bounces"), den: col("sessions") })],
            )
        },
    },
    KpiInfo {
        name: "article_helpfulness",
        title: "Article helpfulness",
        table: Table::KbArticles,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["helpful_votes", "unhelpful_votes"],
        definition: "Helpful votes / (helpful + unhelpful votes) × 100, with the 95 % Wilson score interval \
                     (`wilson_low`, `wilson_high`: (p̂ + z²/2n ∓ z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), z = 1.96), \
                     which stays inside 0–100 and widens for few votes. `n` is the votes: an article with fewer \
                     votes than `min_sample` is `low_sample`, one with none has no row.",
        options: "",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| {
            let (yes, no) = (col("helpful_votes"), col("unhelpful_votes"));
            let filter = Some(yes.clone().is_not_null().and(no.clone().is_not_null()));
            let wilson = |upper| Aggregate::Wilson { yes: yes.clone(), no: no.clone(), upper };
            (
                filter,
                vec![
                    one("value", Unit::Percent, Aggregate::Proportion { yes: yes.clone(), no: no.clone() }),
                    one("wilson_low", Unit::Percent, wilson(false)),
                    one("wilson_high", Unit::Percent, wilson(true)),
                ],
            )
        },
    },
    KpiInfo {
        name: "self_service_ratio",
        title: "Self-service ratio",
        table: Table::KbArticles,
        direction: Direction::HigherIsBetter,
        unit: Unit::Ratio,
        inputs: &[],
        definition: "Help-center views / tickets created in the same period and segment: the deflection proxy \
                     (views per ticket). Numerator the views, denominator and `n` the tickets. Splits only by \
                     dimensions both tables have (in practice none: an overall figure per period).",
        options: "",
        default_stats: &[],
        lookups: &[(Table::Tickets, "created_at")],
        config: &[],
        build: |_| (None, vec![one("value", Unit::Ratio, Aggregate::PerTicket(col("views")))]),
    },
    KpiInfo {
        name: "sla_attainment",
        title: "First response SLA attainment",
        table: Table::Tickets,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["channel"],
        definition: "Tickets whose first response came within (≤) the target declared for their channel (and \
                     priority) / tickets with a target × 100. An unanswered ticket older than its target at the \
                     run's as-of time counts as a breach; one still within it is left out of both. \
                     `first_response_sla_seconds` is the time to first response on the clock of the ticket's rule: \
                     elapsed seconds, or business seconds of the ticket's calendar for a `clock: business` rule.",
        options: "`sla.first_response` rules (the most specific match applies; `clock: business` measures the \
                  response and the target in the ticket's business hours); `deskpulse run --as-of`.",
        default_stats: &[],
        lookups: &[],
        config: &[Section::Sla(SlaMetric::FirstResponse)],
        build: |_| {
            let target = col("first_response_target");
            let answered = col("first_response_at").is_not_null();
            (
                Some(target.clone().is_not_null().and(Expr::Or(vec![answered.clone(), col("first_response_overdue")]))),
                vec![one(
                    "value",
                    Unit::Percent,
                    Aggregate::Share { when: answered.and(col("first_response_sla_seconds").lt_eq(target)) },
                )],
            )
        },
    },
    KpiInfo {
        name: "resolution_sla_attainment",
        title: "Resolution SLA attainment",
        table: Table::Tickets,
        direction: Direction::HigherIsBetter,
        unit: Unit::Percent,
        inputs: &["resolved_at", "channel"],
        definition:
            "Resolved tickets resolved within (≤) the resolution target declared for their channel (and \
                     priority) / resolved tickets with a target × 100. `resolution_sla_seconds` is the time to \
                     resolution on the clock of the ticket's rule (elapsed, or business seconds for `clock: business`).",
        options: "`sla.resolution` rules (the most specific match applies; `clock: business` measures in the \
                  ticket's business hours).",
        default_stats: &[],
        lookups: &[],
        config: &[Section::Sla(SlaMetric::Resolution)],
        build: |_| {
            let target = col("resolution_target");
            (
                Some(resolved().and(target.clone().is_not_null())),
                vec![one(
                    "value",
                    Unit::Percent,
                    Aggregate::Share { when: col("resolution_sla_seconds").lt_eq(target) },
                )],
            )
        },
    },
    sla_attainment_entry!(
        "next_reply_sla_attainment",
        "Next reply SLA attainment",
        NextReply,
        "Next-reply SLA instances met / instances judged × 100. An instance starts at the first customer comment \
         after a public agent reply (not the ticket's opening comment) and is fulfilled by the next public agent \
         comment; more customer comments meanwhile do not restart it."
    ),
    sla_attainment_entry!(
        "periodic_update_sla_attainment",
        "Periodic update SLA attainment",
        PeriodicUpdate,
        "Periodic-update SLA instances met / instances judged × 100. An instance runs from each public agent \
         comment to the next."
    ),
    sla_attainment_entry!(
        "pausable_update_sla_attainment",
        "Pausable update SLA attainment",
        PausableUpdate,
        "Pausable-update SLA instances met / instances judged × 100. An instance runs from each public agent \
         comment to the next, not counting the time the ticket is pending (from the ticket history)."
    ),
    sla_attainment_entry!(
        "requester_wait_sla_attainment",
        "Requester wait SLA attainment",
        RequesterWait,
        "Tickets whose requester wait (time in new, open and on-hold, from the opening to the resolution, from \
         the ticket history) stayed within the target / tickets judged × 100."
    ),
    sla_attainment_entry!(
        "agent_work_sla_attainment",
        "Agent work SLA attainment",
        AgentWork,
        "Tickets whose agent work time (time in new and open, from the opening to the resolution, from the \
         ticket history) stayed within the target / tickets judged × 100."
    ),
    KpiInfo {
        name: "sla_breaches",
        title: "SLA breaches",
        table: Table::SlaInstances,
        direction: Direction::LowerIsBetter,
        unit: Unit::Count,
        inputs: &[],
        definition: "Breached SLA instances of every declared metric (see `DIR/sla`): the sum over the instances \
                     judged (fulfilled, or breached while running at the as-of instant), which `n` counts. An \
                     instance is breached when the time counted on its rule's clock exceeds the target.",
        options: "`sla.<metric>` rules; `deskpulse run --as-of`.",
        default_stats: &[],
        lookups: &[],
        config: &[],
        build: |_| (Some(sla_judged()), vec![one("value", Unit::Count, Aggregate::Sum(col("breached")))]),
    },
    KpiInfo {
        name: "next_reply_time",
        title: "Next reply time",
        table: Table::ReplyWaits,
        direction: Direction::LowerIsBetter,
        unit: Unit::Seconds,
        inputs: &[],
        definition: "From messages: a wait starts at the first customer message after the ticket opens or after an \
                     agent's public reply, and ends at the next public agent message (more customer messages \
                     meanwhile do not restart it; bots, system messages and internal notes are ignored). Messages \
                     with the same timestamp count in the order the export lists them (file, then row). Seconds \
                     over ended waits, attributed to the ticket's period; open waits are left out.",
        options: "`stats`: any of mean, median, p75, p90, p95, p99 (default mean, median, p90); \
                  `definitions.messages.agent_roles`.",
        default_stats: &["mean", "median", "p90"],
        lookups: &[(Table::Messages, "author_role")],
        config: &[],
        build: |_| (None, seconds_mean("waiting_since", "answered_at")),
    },
];
pub fn lookup(name: &str) -> Option<&'static KpiInfo> {
    CATALOG.iter().find(|k| k.name == name)
}

pub fn names() -> Vec<&'static str> {
    CATALOG.iter().map(|k| k.name).collect()
}

/// The catalog as data, for `deskpulse kpis --format json` and tests.
#[derive(Serialize)]
pub struct KpiDoc {
    pub name: String,
    pub title: String,
    pub table: &'static str,
    pub unit: &'static str,
    pub direction: &'static str,
    pub inputs: Vec<&'static str>,
    pub definition: String,
    pub options: String,
    pub stats: Vec<String>,
    /// The default compiled form (SQL-like text), one entry per stat.
    pub formula: Vec<String>,
}

/// The docs of the KPIs a pipeline declares (`metrics:`), in the catalog's shape.
pub fn declared_docs(kpis: &[KpiDefinition]) -> Vec<KpiDoc> {
    kpis.iter()
        .filter(|k| k.catalog == DECLARED)
        .map(|k| {
            let filter = k.filter.as_ref().map(|f| format!(" WHERE {f}")).unwrap_or_default();
            KpiDoc {
                name: k.name.clone(),
                title: k.name.replace('_', " "),
                table: k.table.name(),
                unit: k.stats.first().map(|s| s.unit.as_str()).unwrap_or("ratio"),
                direction: k.direction.as_str(),
                inputs: k.columns(),
                definition: k.note.clone().unwrap_or_else(|| "Declared by the pipeline (`metrics:`).".into()),
                options: String::new(),
                stats: k.stats.iter().map(|s| s.stat.clone()).collect(),
                formula: k.stats.iter().map(|s| format!("{} = {}{filter}", s.stat, describe(&s.aggregate))).collect(),
            }
        })
        .collect()
}

pub fn docs() -> Vec<KpiDoc> {
    let defs = Definitions::default();
    CATALOG
        .iter()
        .map(|k| {
            let compiled = k.define(&defs, &KpiOptions { stats: None, min_sample: 30, business: false });
            let inputs = k.columns_read(&compiled);
            let filter = compiled.filter.as_ref().map(|f| format!(" WHERE {f}")).unwrap_or_default();
            KpiDoc {
                name: k.name.to_string(),
                title: k.title.to_string(),
                table: k.table.name(),
                unit: k.unit.as_str(),
                direction: k.direction.as_str(),
                inputs,
                definition: k.definition.to_string(),
                options: k.options.to_string(),
                stats: compiled.stats.iter().map(|s| s.stat.clone()).collect(),
                formula: compiled
                    .stats
                    .iter()
                    .map(|s| format!("{} = {}{filter}", s.stat, describe(&s.aggregate)))
                    .collect(),
            }
        })
        .collect()
}

/// The aggregate as SQL-like text.
pub fn describe(a: &Aggregate) -> String {
    match a {
        Aggregate::Count => "count(*)".into(),
        Aggregate::CountDistinct(e) => format!("count(DISTINCT {e})"),
        Aggregate::Share { when } => format!("100 * count(*) FILTER ({when}) / count(*)"),
        Aggregate::Mean(e) => format!("avg({e})"),
        Aggregate::Quantile(e, q) => format!("quantile_linear({e}, {q})"),
        Aggregate::NetScore { promoter, detractor } => {
            format!("100 * (count(*) FILTER ({promoter}) - count(*) FILTER ({detractor})) / count(*)")
        },
        Aggregate::NetScoreMargin { promoter, detractor } => format!(
            "1.96 * sqrt((p+ + p- - (p+ - p-)^2) / n) * 100 with p+ = share of {promoter}, p- = share of {detractor}"
        ),
        Aggregate::Mix { of } => format!("100 * count(*) / sum(count(*)) per {of}, one row per {of} (stat = the {of})"),
        Aggregate::PerAgentDay { agent } => {
            format!("count({agent}) / (count(DISTINCT {agent}) * calendar days in the period)")
        },
        Aggregate::Spearman(a, b) => format!("spearman_rank_correlation({a}, {b}) with average ranks for ties"),
        Aggregate::OpenAtPeriodEnd => "count(*) FILTER (created_at < period_end AND NOT resolved_at <= period_end \
                                       AND NOT closed_at <= period_end)"
            .into(),
        Aggregate::Retention => "100 * (E - N) / S with S = customers on period_start, E = customers on \
                                 period_end, N = accounts with period_start <= customer_since < period_end; a \
                                 customer on day d has customer_since < d and (churned_at IS NULL OR churned_at >= d)"
            .into(),
        Aggregate::Churn => "100 * count(S) FILTER (period_start <= churned_at < period_end) / S".into(),
        Aggregate::Cac => "sum(spend.amount) FILTER (period_start <= period < period_end) / count(accounts) FILTER \
                           (period_start <= customer_since < period_end)"
            .into(),
        Aggregate::Sum(e) => format!("sum({e})"),
        Aggregate::Ratio { num, den } => format!("100 * sum({num}) / sum({den})"),
        Aggregate::Proportion { yes, no } => format!("100 * sum({yes}) / (sum({yes}) + sum({no}))"),
        Aggregate::Wilson { yes, no, upper } => format!(
            "100 * (p + z^2/2n {} z * sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n) with p = sum({yes}) / n, n = sum({yes}) \
             + sum({no}), z = 1.96",
            if *upper { "+" } else { "-" }
        ),
        Aggregate::PerTicket(e) => format!("sum({e}) / count(tickets created in the period and segment)"),
        Aggregate::Quotient { num, den } => {
            format!("{num} / {den}, each over its table's rows in the period and group")
        },
        Aggregate::Clv { relationship_years } => {
            let years = match relationship_years {
                Some(y) => format!("{y}"),
                None => "avg(churned_at - customer_since) / 365.25 FILTER (churned_at < period_end)".into(),
            };
            format!("avg(annual_revenue) FILTER (customer on period_end) * {years} - cac")
        },
    }
}

/// `docs/kpis.md`, generated; a test keeps the committed file equal to this.
/// `docs` as `docs/kpis.md`: the catalog's, and a pipeline's declared KPIs after them when given.
pub fn markdown(docs: &[KpiDoc]) -> String {
    let mut md = String::from(
        "# KPI catalog\n\n<!-- Generated from src/catalog/mod.rs by `deskpulse kpis --format markdown`; \
         do not edit by hand. -->\n\n\
         Every KPI below is computed per segment and period. Rates and shares are percentages (0–100), NPS-like \
         scores are points (−100..100), durations are seconds. Each output row carries `numerator`, \
         `denominator` and `n` where the KPI is a ratio or a mean, so that BI tools can roll results up \
         (sum the numerators, sum the denominators, divide) instead of averaging ratios. A KPI with no \
         observation in a segment and period yields no row. Percentiles interpolate linearly between the \
         closest ranks (numpy's default). Sums and means add values as whole thousandths (durations as \
         whole milliseconds), which is exact and so independent of the order the engine adds rows in: the same \
         input gives the same bytes. Boundary KPIs (backlog, retention, churn, CAC, CLV) are measured for each \
         period in which the pipeline's timeline table (tickets, else surveys, else spend) has rows; a period \
         without any gets no row, so that one stray old timestamp costs one period, not every period \
         between it and the rest.\n\n\
         | kpi | table | unit | better | stats |\n|---|---|---|---|---|\n",
    );
    for d in docs {
        md.push_str(&format!(
            "| [`{}`](#{}) | {} | {} | {} | {} |\n",
            d.name,
            d.name,
            d.table,
            d.unit,
            d.direction,
            d.stats.join(", ")
        ));
    }
    for d in docs {
        md.push_str(&format!("\n## {}\n\n{}\n\n{}\n\n", d.name, d.title, d.definition));
        md.push_str(&format!(
            "- table: `{}`; unit: {}; better: {}\n- inputs: {}\n",
            d.table,
            d.unit,
            d.direction,
            d.inputs.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
        ));
        if !d.options.is_empty() {
            md.push_str(&format!("- options: {}\n", d.options));
        }
        md.push_str("- formula (default options):\n");
        for f in &d.formula {
            md.push_str(&format!("  - `{f}`\n"));
        }
    }
    md.push_str(&derived_columns_markdown());
    md
}

/// The columns the per-instance SLA KPIs read (`sla_instances`, written as `DIR/sla`) and the ticket columns
/// derived from the message log and the history, with what each holds.
fn derived_columns_markdown() -> String {
    let mut md = String::from(
        "\n## Columns of the SLA instances\n\nThe per-instance SLA KPIs count rows of `sla_instances`, one per \
         ticket, SLA metric and instance (`outputs.sla` writes them as `DIR/sla`, where `sla_instance` is \
         `instance`); see docs/pipeline-format.md for when each metric's instances start and end.\n\n\
         | column | type | meaning |\n|---|---|---|\n",
    );
    for c in Table::SlaInstances.columns() {
        md.push_str(&format!("| `{}` | {} | {} |\n", c.name, c.ty.name(), c.doc));
    }
    md.push_str(
        "\n## Ticket columns from the log and the history\n\n| column | meaning |\n|---|---|\n\
         | `agent_replies` | public agent comments after the opening (an agent's opening comment is not a reply) |\n\
         | `responder` | the author of the first public agent reply after the opening |\n\
         | `solver` | the assignee when the ticket was solved: the history's last assignee change up to `resolved_at`, else `agent_id`; empty while unresolved |\n\
         | `agent_work_seconds` | time in new and open before the last solve |\n\
         | `assignee_stations`, `group_stations` | distinct assignees and groups the history gives the ticket |\n\
         | `reassignments` | changes from one assignee to another (the first assignment is not one) |\n\
         | `first_assignment_to_resolution_seconds` | from the first change to an assignee to `resolved_at` |\n\
         | `last_assignment_to_resolution_seconds` | from the last change to a new assignee to `resolved_at` |\n\
         | `unassigned_seconds` | time without an assignee up to `resolved_at`: from the opening to the first assignee change, and after a change that empties it |\n",
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
    }

    #[test]
    fn fcr_options_change_the_definition() {
        let fcr = lookup("fcr_rate").unwrap();
        let opts = KpiOptions { stats: None, min_sample: 30, business: false };
        let strict = fcr.define(&Definitions::default(), &opts);
        let lenient = fcr
            .define(&Definitions { fcr_max_agent_replies: 2, fcr_reopened_counts: true, ..Default::default() }, &opts);
        assert_eq!(
            describe(&strict.stats[0].aggregate),
            "100 * count(*) FILTER (agent_replies <= 1 AND reopens = 0) / count(*)"
        );
        assert_eq!(describe(&lenient.stats[0].aggregate), "100 * count(*) FILTER (agent_replies <= 2) / count(*)");
    }

    #[test]
    fn duration_stats_follow_options() {
        let frt = lookup("first_response_time").unwrap();
        let d = frt.define(
            &Definitions::default(),
            &KpiOptions { stats: Some(vec!["p95".into(), "mean".into()]), min_sample: 5, business: false },
        );
        assert_eq!(d.stats.iter().map(|s| s.stat.as_str()).collect::<Vec<_>>(), ["p95", "mean"]);
        assert!(matches!(d.stats[0].aggregate, Aggregate::Quantile(_, q) if (q - 0.95).abs() < 1e-12));
    }
}
