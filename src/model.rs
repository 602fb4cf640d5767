//! The canonical data model: the logical tables every source is mapped onto (see `docs/pipeline-format.md`).
//! Pure description; no I/O and no engine types here.

use std::fmt;

/// A canonical table a source can feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Tickets,
    Surveys,
    Accounts,
    /// One row per message of a conversation; fills tickets' first response and agent replies.
    Messages,
    /// Derived from messages, never fed by a source: one row per customer wait that an agent reply ended.
    ReplyWaits,
    /// Sales and marketing spend per month (and acquisition channel): the numerator of CAC.
    Spend,
    /// Help-center article statistics per day or period (views, sessions, bounces, votes).
    KbArticles,
    /// A ticket's history: one row per change of a field (status changes from an audit log or a
    /// ticket-metric-events export); fills the tickets' wait, hold and resolution measures.
    TicketEvents,
    /// Derived from tickets, messages and the history, never fed by a source: one row per SLA instance
    /// (a ticket's first reply, each next reply, each update interval, its waits and its resolution).
    SlaInstances,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::Tickets,
        Table::Surveys,
        Table::Accounts,
        Table::Messages,
        Table::ReplyWaits,
        Table::Spend,
        Table::KbArticles,
        Table::TicketEvents,
        Table::SlaInstances,
    ];

    /// Computed by deskpulse from other tables; no source may feed it.
    pub fn is_derived(self) -> bool {
        matches!(self, Table::ReplyWaits | Table::SlaInstances)
    }

    /// Takes the attributes of its ticket (channel, team…) through `ticket_id`.
    pub fn inherits_ticket(self) -> bool {
        matches!(self, Table::Surveys | Table::ReplyWaits | Table::SlaInstances)
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Tickets => "tickets",
            Table::Surveys => "surveys",
            Table::Accounts => "accounts",
            Table::Messages => "messages",
            Table::ReplyWaits => "reply_waits",
            Table::Spend => "spend",
            Table::KbArticles => "kb_articles",
            Table::TicketEvents => "ticket_events",
            Table::SlaInstances => "sla_instances",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Tickets => TICKETS,
            Table::Surveys => SURVEYS,
            Table::Accounts => ACCOUNTS,
            Table::Messages => MESSAGES,
            Table::ReplyWaits => REPLY_WAITS,
            Table::Spend => SPEND,
            Table::KbArticles => KB_ARTICLES,
            Table::TicketEvents => TICKET_EVENTS,
            Table::SlaInstances => SLA_INSTANCES,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The timestamp that places a row in a reporting period.
    pub fn period_column(self) -> Option<&'static str> {
        match self {
            Table::Tickets => Some("created_at"),
            Table::Surveys => Some("submitted_at"),
            // Accounts are measured at period boundaries; spend carries its month as a date.
            Table::Accounts | Table::Messages | Table::Spend | Table::TicketEvents => None,
            // A wait and an SLA instance belong to the period of their ticket.
            Table::ReplyWaits | Table::SlaInstances => Some("created_at"),
            // A date: the day (or first day of the period) the statistics cover.
            Table::KbArticles => Some("date"),
        }
    }

    /// The column that places a row of a KPI over this table in a period: the period column, and for the
    /// tables only declared metrics measure, messages and history rows by their own instant, spend by its
    /// month, accounts by the day they became customers.
    pub fn event_column(self) -> Option<&'static str> {
        self.period_column().or(match self {
            Table::Messages => Some("created_at"),
            Table::TicketEvents => Some("at"),
            Table::Spend => Some("period"),
            Table::Accounts => Some("customer_since"),
            _ => None,
        })
    }

    /// The key other tables join on, when this table is the lookup side.
    pub fn key(self) -> &'static str {
        match self {
            Table::Tickets => "ticket_id",
            Table::Surveys => "survey_id",
            Table::Accounts => "account_id",
            Table::Messages => "message_id",
            Table::ReplyWaits | Table::SlaInstances => "ticket_id",
            Table::Spend => "period",
            Table::KbArticles => "article_id",
            Table::TicketEvents => "ticket_id",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The logical type of a canonical column. Timestamps are instants in UTC; dates are calendar days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Timestamp,
    Date,
    Integer,
    Float,
    Boolean,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Date => "date",
            ColumnType::Integer => "integer",
            ColumnType::Float => "number",
            ColumnType::Boolean => "boolean",
        }
    }
}

/// What a canonical column holds when a pipeline does not map it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Must be mapped.
    Required,
    /// Null when not mapped.
    Null,
    Int(i64),
    Bool(bool),
    /// Takes another column's value (applied in `exec`, e.g. `closed_at` defaults to `resolved_at`).
    Column(&'static str),
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub fill: Fill,
    /// Can be used as a segment dimension.
    pub dimension: bool,
    pub doc: &'static str,
}

impl Column {
    /// Can hold a value that does not read as the column's type: typed columns, and ids (which a mapping
    /// may read as whole numbers, `integer: true`). Such values are reported or quarantined with their row.
    pub fn is_checked(&self) -> bool {
        self.ty != ColumnType::Text || self.name.ends_with("_id")
    }
}

const fn col(name: &'static str, ty: ColumnType, fill: Fill, dimension: bool, doc: &'static str) -> Column {
    Column { name, ty, fill, dimension, doc }
}

use ColumnType::*;
use Fill::*;

const TICKETS: &[Column] = &[
    col("ticket_id", Text, Required, false, "unique ticket id"),
    col("created_at", Timestamp, Required, false, "when the customer opened it; places the ticket in a period"),
    col("first_response_at", Timestamp, Null, false, "first public agent reply"),
    col("resolved_at", Timestamp, Null, false, "when it was resolved; kept only for statuses in `resolved_when`"),
    col(
        "closed_at",
        Timestamp,
        Column("resolved_at"),
        false,
        "when it stopped needing work for any reason; defaults to resolved_at",
    ),
    col("status", Text, Null, true, "vendor status"),
    col("channel", Text, Null, true, "email, chat, phone, social, …"),
    col("priority", Text, Null, true, "vendor priority"),
    col("category", Text, Null, true, "ticket type or category"),
    col("agent_id", Text, Null, true, "assignee"),
    col("team", Text, Null, true, "assignee's group or team"),
    col("account_id", Text, Null, true, "customer account; joins accounts"),
    col("reopens", Integer, Int(0), false, "times the ticket was reopened"),
    col("agent_replies", Integer, Null, false, "public agent replies"),
    col("escalated", Boolean, Bool(false), false, "escalated to a higher level"),
    col("abandoned", Boolean, Bool(false), false, "the customer left the queue before being served"),
    col("wait_seconds", Float, Null, false, "time in queue before being served (phone, chat)"),
    col("handle_seconds", Float, Null, false, "agent handling time (talk + hold + wrap-up)"),
    col(
        "responder",
        Text,
        Null,
        true,
        "who answered first (e.g. the brand's account); from messages, the author of the first public agent reply",
    ),
    col("instance", Text, Null, true, "the helpdesk instance the ticket comes from (a source's `instance:`)"),
    col(
        "solver",
        Text,
        Null,
        true,
        "the assignee when the ticket was solved: from the history's last assignee change up to `resolved_at`, else \
         `agent_id`; empty while unresolved",
    ),
];

const SURVEYS: &[Column] = &[
    col("survey_id", Text, Null, false, "response id"),
    col("ticket_id", Text, Null, false, "the ticket it rates; joins tickets"),
    col("account_id", Text, Null, true, "the customer account; falls back to the ticket's"),
    col("agent_id", Text, Null, true, "the agent rated; falls back to the ticket's"),
    col("kind", Text, Required, false, "csat, nps, ces or enps"),
    col("score", Float, Required, false, "the answer on the kind's scale"),
    col("submitted_at", Timestamp, Required, false, "when it was answered; places the answer in a period"),
    col("comment", Text, Null, false, "free text"),
    col("instance", Text, Null, true, "the helpdesk instance; falls back to the ticket's"),
];

const ACCOUNTS: &[Column] = &[
    col("account_id", Text, Required, true, "unique account id"),
    col("name", Text, Null, false, "account name"),
    col("sector", Text, Null, true, "business sector (industry)"),
    col("region", Text, Null, true, "region"),
    col("tier", Text, Null, true, "commercial tier or plan"),
    col("customer_since", Date, Null, false, "first day as a customer"),
    col("churned_at", Date, Null, false, "day the account churned"),
    col("annual_revenue", Float, Null, false, "yearly revenue from the account"),
    col(
        "acquisition_channel",
        Text,
        Null,
        true,
        "the marketing channel that won the account; matches spend.channel for CAC by channel",
    ),
    col("instance", Text, Null, true, "the instance (CRM or helpdesk) the account comes from"),
];

const KB_ARTICLES: &[Column] = &[
    col("article_id", Text, Required, true, "help-center article id"),
    col("title", Text, Null, false, "article title"),
    col("section", Text, Null, true, "help-center section or category"),
    col("locale", Text, Null, true, "language of the article (fr, en-us, …)"),
    col("date", Date, Required, false, "day (or first day of the period) the figures cover; places them in a period"),
    col("views", Float, Required, false, "page views"),
    col("sessions", Float, Null, false, "sessions that landed on the article"),
    col("bounces", Float, Null, false, "sessions that left without another page"),
    col("helpful_votes", Float, Null, false, "\"was this helpful?\" yes votes"),
    col("unhelpful_votes", Float, Null, false, "\"was this helpful?\" no votes"),
];

const SPEND: &[Column] = &[
    col("period", Date, Required, false, "the month the money was spent (any day of it)"),
    col("channel", Text, Null, false, "acquisition channel (ads, events, …); the `acquisition_channel` dimension"),
    col("amount", Float, Required, false, "sales and marketing spend"),
];

const MESSAGES: &[Column] = &[
    col("ticket_id", Text, Required, false, "the conversation's ticket"),
    col("created_at", Timestamp, Required, false, "when the message was sent"),
    col("author_role", Text, Required, false, "customer, agent, bot or system (map vendor roles onto these)"),
    col("author_id", Text, Null, false, "who wrote it"),
    col("is_public", Boolean, Bool(true), false, "false for internal notes"),
    col("instance", Text, Null, false, "the helpdesk instance"),
];

const TICKET_EVENTS: &[Column] = &[
    col("ticket_id", Text, Required, false, "the ticket that changed"),
    col("at", Timestamp, Required, false, "when it changed"),
    col("field", Text, Required, false, "the field that changed (`status` for the wait and hold measures)"),
    col("value", Text, Null, false, "its new value (a status: new, open, pending, hold, solved, closed)"),
    col("instance", Text, Null, false, "the helpdesk instance"),
];

const REPLY_WAITS: &[Column] = &[
    col("ticket_id", Text, Required, false, "the conversation's ticket"),
    col("created_at", Timestamp, Required, false, "the ticket's opening; places the wait in a period"),
    col("waiting_since", Timestamp, Required, false, "the customer message that started the wait"),
    col("answered_at", Timestamp, Required, false, "the public agent message that ended it"),
];

const SLA_INSTANCES: &[Column] = &[
    col("ticket_id", Text, Required, false, "the ticket"),
    col("created_at", Timestamp, Required, false, "the ticket's opening; places the instance in a period"),
    col(
        "metric",
        Text,
        Required,
        false,
        "first_response, next_reply, periodic_update, pausable_update, requester_wait, agent_work or resolution",
    ),
    col("sla_instance", Integer, Required, false, "1, 2, … within the ticket and metric (`instance` in `DIR/sla`)"),
    col("target_seconds", Float, Required, false, "the target of the ticket's rule, on its clock"),
    col("elapsed_seconds", Float, Required, false, "time counted on the rule's clock, up to fulfilment or as-of"),
    col("breached", Boolean, Required, false, "the counted time exceeded the target"),
    col("breach_at", Timestamp, Null, false, "the instant the counted time reached the target (breaches only)"),
    col("started_at", Timestamp, Required, false, "when the instance started"),
    col("fulfilled_at", Timestamp, Null, false, "when it was fulfilled; null while it runs at as-of"),
    col("clock", Text, Required, false, "calendar or business"),
];

/// Columns computed from other tables through the model's joins, never mapped.
pub const DERIVED: &[(Table, &str)] = &[
    (Table::Tickets, "has_survey"),
    (Table::Tickets, "first_response_target"),
    (Table::Tickets, "first_response_overdue"),
    (Table::Tickets, "resolution_target"),
    // Seconds to first response and to resolution while the ticket's business calendar is open.
    (Table::Tickets, "first_response_business_seconds"),
    (Table::Tickets, "resolution_business_seconds"),
    // The same durations on the clock of the ticket's SLA rule (business or elapsed).
    (Table::Tickets, "first_response_sla_seconds"),
    (Table::Tickets, "resolution_sla_seconds"),
    (Table::Surveys, "first_response_seconds"),
    // From the ticket's status history (`ticket_events`), over tickets solved at least once.
    (Table::Tickets, "requester_wait_seconds"),
    (Table::Tickets, "agent_wait_seconds"),
    (Table::Tickets, "on_hold_seconds"),
    (Table::Tickets, "first_resolution_seconds"),
    (Table::Tickets, "full_resolution_seconds"),
    // The same while the ticket's business calendar is open.
    (Table::Tickets, "requester_wait_business_seconds"),
    (Table::Tickets, "agent_wait_business_seconds"),
    (Table::Tickets, "on_hold_business_seconds"),
    (Table::Tickets, "first_resolution_business_seconds"),
    (Table::Tickets, "full_resolution_business_seconds"),
    // Zendesk's agent work time (new and open), and the assignments, from the history too.
    (Table::Tickets, "agent_work_seconds"),
    (Table::Tickets, "agent_work_business_seconds"),
    (Table::Tickets, "assignee_stations"),
    (Table::Tickets, "group_stations"),
    (Table::Tickets, "reassignments"),
    (Table::Tickets, "first_assignment_to_resolution_seconds"),
    (Table::Tickets, "last_assignment_to_resolution_seconds"),
    (Table::Tickets, "unassigned_seconds"),
];

/// The type of a derived column: flags are booleans, the rest seconds.
pub fn derived_type(column: &str) -> ColumnType {
    match column {
        "has_survey" | "first_response_overdue" => ColumnType::Boolean,
        "assignee_stations" | "group_stations" | "reassignments" => ColumnType::Integer,
        _ => ColumnType::Float,
    }
}

pub fn is_derived(table: Table, column: &str) -> bool {
    DERIVED.contains(&(table, column))
}

/// An SLA metric, as Zendesk defines it (`sla:` in the pipeline; `docs/pipeline-format.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaMetric {
    /// From the ticket's opening to the first public agent comment.
    FirstResponse,
    /// From each customer comment after an agent's public reply to the next public agent comment.
    NextReply,
    /// Between public agent comments.
    PeriodicUpdate,
    /// Between public agent comments, paused while the ticket is pending.
    PausableUpdate,
    /// Time in new, open and on-hold, from the opening to the solve.
    RequesterWait,
    /// Time in new and open, from the opening to the solve.
    AgentWork,
    /// From the opening to the resolution.
    Resolution,
}

impl SlaMetric {
    pub const ALL: [SlaMetric; 7] = [
        SlaMetric::FirstResponse,
        SlaMetric::NextReply,
        SlaMetric::PeriodicUpdate,
        SlaMetric::PausableUpdate,
        SlaMetric::RequesterWait,
        SlaMetric::AgentWork,
        SlaMetric::Resolution,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SlaMetric::FirstResponse => "first_response",
            SlaMetric::NextReply => "next_reply",
            SlaMetric::PeriodicUpdate => "periodic_update",
            SlaMetric::PausableUpdate => "pausable_update",
            SlaMetric::RequesterWait => "requester_wait",
            SlaMetric::AgentWork => "agent_work",
            SlaMetric::Resolution => "resolution",
        }
    }

    /// Measured between comments: needs a message log.
    pub fn needs_messages(self) -> bool {
        matches!(self, SlaMetric::NextReply | SlaMetric::PeriodicUpdate | SlaMetric::PausableUpdate)
    }

    /// Paused by the ticket's statuses: needs a ticket history.
    pub fn needs_history(self) -> bool {
        matches!(self, SlaMetric::PausableUpdate | SlaMetric::RequesterWait | SlaMetric::AgentWork)
    }
}

/// Ticket attributes a survey inherits through `ticket_id` when it has none of its own.
pub const SURVEY_FROM_TICKET: &[&str] =
    &["channel", "priority", "category", "team", "status", "agent_id", "account_id", "instance", "responder", "solver"];

/// Account attributes any table with an `account_id` inherits.
pub const FROM_ACCOUNT: &[&str] = &["sector", "region", "tier"];

/// The dimensions a segment over `table` may use, through the joins the model implies.
pub fn dimensions_of(table: Table) -> Vec<&'static str> {
    let own = table.columns().iter().filter(|c| c.dimension).map(|c| c.name);
    let mut dims: Vec<&'static str> = match table {
        Table::Tickets => own.chain(FROM_ACCOUNT.iter().copied()).collect(),
        Table::Surveys | Table::ReplyWaits | Table::SlaInstances => {
            own.chain(SURVEY_FROM_TICKET.iter().copied()).chain(FROM_ACCOUNT.iter().copied()).collect()
        },
        Table::Accounts | Table::Messages | Table::KbArticles | Table::TicketEvents => own.collect(),
        // Spend meets the accounts it bought on their acquisition channel.
        Table::Spend => vec!["acquisition_channel"],
    };
    let mut seen = std::collections::HashSet::new();
    dims.retain(|d| seen.insert(*d));
    dims
}

/// Every dimension any table offers, in a stable order (for suggestions and docs).
pub fn all_dimensions() -> Vec<&'static str> {
    let mut all = Vec::new();
    for t in Table::ALL {
        for d in dimensions_of(t) {
            if !all.contains(&d) {
                all.push(d);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surveys_reach_ticket_and_account_dimensions() {
        let dims = dimensions_of(Table::Surveys);
        for d in ["channel", "agent_id", "sector", "account_id", "team"] {
            assert!(dims.contains(&d), "{d} missing from {dims:?}");
        }
        assert_eq!(dims.iter().filter(|d| **d == "agent_id").count(), 1);
    }

    #[test]
    fn accounts_do_not_reach_ticket_dimensions() {
        assert!(!dimensions_of(Table::Accounts).contains(&"channel"));
    }
}
