//! What a ticket's conversation leaves besides the ticket row: its message log (customer and agent messages,
//! public replies and internal notes, a bot's greeting on chat) and the survey tool's NPS and CES answers.
//! Drawn from a generator of their own, so that the tickets and ratings of a seed stay what they were.

use polars::prelude::*;

use super::{lognormal, rng, Error, SECTORS};

/// The generator streams of the conversations start here (chunks use 0.., accounts the top values).
const STREAM: u64 = 1 << 40;

/// What a ticket's draw decided that its conversation follows.
pub(super) struct Drawn {
    pub ticket: u64,
    pub opened: i64,
    pub reply_at: Option<i64>,
    pub solve_at: Option<i64>,
    /// Public agent replies, as the ticket row counts them.
    pub replies: i64,
    pub agent: usize,
    pub account: usize,
    pub sector: usize,
    pub chat: bool,
    /// The typical wait for an agent on this ticket's channel, sector and agent (ms).
    pub typical_wait_ms: f64,
}

/// One chunk's message log and survey-tool answers.
pub(super) struct Conversations {
    pub messages: DataFrame,
    pub answers: DataFrame,
}

#[derive(Default)]
struct Messages {
    id: Vec<String>,
    ticket: Vec<u64>,
    at: Vec<i64>,
    role: Vec<&'static str>,
    author: Vec<Option<String>>,
    public: Vec<bool>,
}

impl Messages {
    fn push(&mut self, ticket: u64, at: i64, role: &'static str, author: Option<String>, public: bool) {
        let n = self.ticket.iter().rev().take_while(|t| **t == ticket).count();
        self.id.push(format!("{ticket}-{}", n + 1));
        self.ticket.push(ticket);
        self.at.push(at);
        self.role.push(role);
        self.author.push(author);
        self.public.push(public);
    }
}

/// The survey tool's answers: an id, the survey, the score, when, the account, and the ticket for CES (NPS
/// is about the company, not a ticket).
#[derive(Default)]
struct Answers {
    id: Vec<String>,
    kind: Vec<&'static str>,
    score: Vec<i64>,
    at: Vec<i64>,
    account: Vec<String>,
    ticket: Vec<Option<u64>>,
}

impl Answers {
    fn push(&mut self, t: &Drawn, kind: &'static str, score: f64, at: i64, about_ticket: bool) {
        self.id.push(format!("R{}-{}", t.ticket, &kind[..1]));
        self.kind.push(kind);
        self.score.push(score as i64);
        self.at.push(at);
        self.account.push(format!("ORG-{:06}", t.account + 1));
        self.ticket.push(about_ticket.then_some(t.ticket));
    }
}

pub(super) fn draw(seed: u64, chunk: u64, tickets: &[Drawn]) -> Result<Conversations, Error> {
    let mut r = rng(seed, STREAM + chunk);
    let mut m = Messages::default();
    let mut a = Answers::default();
    for t in tickets {
        let agent = format!("agent{:04}@support.example", t.agent);
        let mut log: Vec<(i64, &'static str, bool)> = vec![(t.opened, "end-user", true)];
        if t.chat && r.f64() < 0.5 {
            log.push((t.opened + 2_000, "bot", true));
        }
        match t.reply_at {
            Some(first) => {
                log.push((first, "agent", true));
                // Each further public reply answers a customer message; a solved ticket's exchanges fall
                // before its resolution.
                let mut at = first;
                for _ in 1..t.replies {
                    let (asked, answered) = match t.solve_at {
                        Some(end) if end > at + 2 => {
                            let asked = at + 1 + (r.f64() * (end - at - 1) as f64 * 0.5) as i64;
                            (asked, asked + 1 + (r.f64() * (end - asked - 1) as f64 * 0.5) as i64)
                        },
                        _ => {
                            let asked = at + (lognormal(&mut r, 7_200_000.0, 1.0)) as i64 + 1;
                            (asked, asked + lognormal(&mut r, t.typical_wait_ms, 1.0) as i64 + 1)
                        },
                    };
                    log.push((asked, "end-user", true));
                    log.push((answered, "agent", true));
                    at = answered;
                }
            },
            // An unanswered customer often writes again.
            None if r.f64() < 0.3 => {
                log.push((t.opened + lognormal(&mut r, 86_400_000.0, 0.8) as i64, "end-user", true))
            },
            None => {},
        }
        let last = log.iter().map(|e| e.0).max().unwrap_or(t.opened);
        // A thank-you after the last reply of a solved ticket starts a wait no reply ends.
        if t.solve_at.is_some() && t.reply_at.is_some() && r.f64() < 0.3 {
            log.push((last + 1 + lognormal(&mut r, 600_000.0, 1.0) as i64, "end-user", true));
        }
        for p in [0.8, 0.4] {
            if r.f64() < p {
                log.push((t.opened + 1 + (r.f64() * (last - t.opened).max(1) as f64) as i64, "agent", false));
            }
        }
        log.sort_by_key(|e| e.0);
        for (at, role, public) in log {
            let author = match role {
                "agent" => Some(agent.clone()),
                "end-user" => Some(format!("user{}@customer.example", t.account + 1)),
                _ => None,
            };
            m.push(t.ticket, at, role, author, public);
        }
        let Some(solved) = t.solve_at else { continue };
        let shift = SECTORS[t.sector].3;
        if r.f64() < 0.06 {
            // Likelihood to recommend, 0–10: most answers high, a sector's shift moves them.
            let score = (8.3 + 10.0 * shift + 2.0 * super::normal(&mut r)).round().clamp(0.0, 10.0);
            let at = solved + (r.f64() * 72.0 * 3_600_000.0) as i64;
            a.push(t, "NPS", score, at, false);
        }
        if r.f64() < 0.05 {
            let score = (5.6 + 5.0 * shift + 1.2 * super::normal(&mut r)).round().clamp(1.0, 7.0);
            let at = solved + (r.f64() * 24.0 * 3_600_000.0) as i64;
            a.push(t, "Customer Effort", score, at, true);
        }
    }
    let ts =
        |name: &str, v: Vec<i64>| Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None));
    let n = m.id.len();
    let messages = DataFrame::new(
        n,
        vec![
            Column::new("id".into(), m.id),
            Column::new("ticket_id".into(), m.ticket),
            ts("created_at", m.at)?,
            Column::new("author_type".into(), m.role),
            Column::new("author".into(), m.author),
            Column::new("public".into(), m.public),
        ],
    )?;
    let answers = DataFrame::new(
        a.id.len(),
        vec![
            Column::new("Response ID".into(), a.id),
            Column::new("Survey Type".into(), a.kind),
            Column::new("Score".into(), a.score),
            ts("Submitted", a.at)?,
            Column::new("Company ID".into(), a.account),
            Column::new("Ticket".into(), a.ticket),
        ],
    )?;
    Ok(Conversations { messages, answers })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(replies: i64, solve_at: Option<i64>) -> Drawn {
        Drawn {
            ticket: 7,
            opened: 1_000_000,
            reply_at: Some(1_060_000),
            solve_at,
            replies,
            agent: 3,
            account: 4,
            sector: 0,
            chat: false,
            typical_wait_ms: 60_000.0,
        }
    }

    #[test]
    fn the_log_agrees_with_the_ticket_row() {
        for solve_at in [Some(9_000_000), None] {
            let c = draw(1, 0, &[ticket(3, solve_at)]).unwrap();
            let m = &c.messages;
            let role = m.column("author_type").unwrap().str().unwrap();
            let public = m.column("public").unwrap().bool().unwrap();
            let at: Vec<i64> = m
                .column("created_at")
                .unwrap()
                .cast(&DataType::Int64)
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect();
            let public_agent: Vec<i64> = (0..m.height())
                .filter(|i| role.get(*i) == Some("agent") && public.get(*i) == Some(true))
                .map(|i| at[i])
                .collect();
            // Three public replies, the first at the ticket's first reply, the log in time order, and (when
            // solved) every reply before the resolution.
            assert_eq!(public_agent.len(), 3);
            assert_eq!(public_agent[0], 1_060_000);
            assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
            assert_eq!(role.get(0), Some("end-user"));
            if let Some(end) = solve_at {
                assert!(public_agent.iter().all(|t| *t <= end));
            }
        }
    }
}
