//! `deskpulse generate`: a deterministic synthetic dump in the sample's vendor layout (Zendesk-like ticket
//! files, their message log, satisfaction ratings, a survey tool's NPS and CES answers, an HR eNPS survey,
//! a `;`-separated CRM account file and the marketing spend) plus a matching `pipeline.yaml` computing the
//! whole catalog they feed, for scale tests and benchmarks. Tickets are made in fixed-size chunks, each from its own seeded generator, in
//! parallel: the same seed gives the same files, and memory does not grow with N.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Error;

mod conversation;
mod crm;

/// The published sector figures the sample pipeline compares with, for the generated pipeline's benchmarks.
const REFERENCE: &str = include_str!("../../sample_data/benchmarks/reference.csv");

/// Tickets per file; also the unit of parallel work and of memory.
const CHUNK: u64 = 250_000;
/// 2025-01-01T00:00:00Z, the start of the generated years.
const YEAR_START_MS: i64 = 1_735_689_600_000;
const YEAR_MS: i64 = 365 * 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Parquet,
}

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// Sector, share of accounts, response-speed factor, satisfaction shift.
pub(super) const SECTORS: [(&str, f64, f64, f64); 8] = [
    ("Retail", 0.20, 1.0, 0.0),
    ("Software", 0.18, 0.7, 0.05),
    ("Healthcare", 0.12, 1.3, -0.05),
    ("Financial Services", 0.14, 0.9, 0.02),
    ("Telecommunications", 0.12, 1.5, -0.10),
    ("Manufacturing", 0.10, 1.2, 0.0),
    ("Education", 0.07, 1.1, 0.03),
    ("Travel", 0.07, 1.4, -0.04),
];

/// Vendor channel name, share of tickets, median first response (s), median handling after it (s).
const CHANNELS: [(&str, f64, f64, f64); 4] = [
    ("web", 0.45, 4.0 * 3600.0, 20.0 * 3600.0),
    ("chat", 0.25, 60.0, 900.0),
    ("voice", 0.20, 30.0, 600.0),
    ("twitter", 0.10, 2.0 * 3600.0, 8.0 * 3600.0),
];

const PRIORITIES: [(&str, f64); 4] = [("low", 0.3), ("normal", 0.5), ("high", 0.15), ("urgent", 0.05)];
const TYPES: [&str; 5] = ["question", "incident", "problem", "task", "billing"];
pub(super) const TEAMS: [&str; 4] = ["Tier 1", "Tier 2", "Billing", "Technical"];

/// A generator seeded from the run's seed and a stream number (chunk, accounts), so chunks are independent.
pub(super) fn rng(seed: u64, stream: u64) -> fastrand::Rng {
    // SplitMix64 finaliser: nearby streams get unrelated seeds.
    let mut z = seed.wrapping_add(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    fastrand::Rng::with_seed(z ^ (z >> 31))
}

/// A standard normal draw (Box–Muller).
pub(super) fn normal(r: &mut fastrand::Rng) -> f64 {
    let u = r.f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * r.f64()).cos()
}

pub(super) fn lognormal(r: &mut fastrand::Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(r)).exp()
}

pub(super) fn pick<T: Copy>(r: &mut fastrand::Rng, weighted: &[(T, f64)]) -> T {
    let mut x = r.f64() * weighted.iter().map(|w| w.1).sum::<f64>();
    for (v, w) in weighted {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

pub(super) struct Account {
    pub sector: usize,
}

fn accounts(seed: u64, count: usize) -> Vec<Account> {
    let mut r = rng(seed, u64::MAX);
    let weights: Vec<(usize, f64)> = SECTORS.iter().enumerate().map(|(i, s)| (i, s.1)).collect();
    (0..count).map(|_| Account { sector: pick(&mut r, &weights) }).collect()
}

/// What `generate` wrote.
#[derive(Debug)]
pub struct Generated {
    pub tickets: u64,
    pub ratings: u64,
    pub messages: u64,
    /// NPS, CES and eNPS answers.
    pub answers: u64,
    pub accounts: usize,
    pub files: usize,
    pub pipeline: PathBuf,
}

pub(super) fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes `tickets` synthetic tickets and their satisfaction ratings, accounts and a pipeline into `out`,
/// which must not exist or be empty.
/// Tickets are spread over `years` years from 2025-01-01 (one: the default dump).
pub fn generate(tickets: u64, seed: u64, years: u32, out: &Path, format: FileFormat) -> Result<Generated, Error> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| io_error(out, e))?.next().is_some() {
        return Err(io_error(out, "the directory is not empty; generate writes into a new or empty one"));
    }
    for sub in ["zendesk", "crm", "surveys", "hr", "marketing", "benchmarks"] {
        std::fs::create_dir_all(out.join(sub)).map_err(|e| io_error(out, e))?;
    }
    let n_accounts = (tickets / 2_000).clamp(40, 20_000) as usize;
    let accounts = accounts(seed, n_accounts);
    let n_agents = (tickets / 20_000).clamp(20, 2_000) as usize;
    let chunks = tickets.div_ceil(CHUNK);
    // Draw one chunk per core in parallel, then write them one by one (the writer runs on Polars' own pool).
    // Writing outside rayon's workers matters: a worker waiting on another pool steals more chunks, and
    // memory would grow with N.
    let batch = rayon::current_num_threads() as u64;
    let (mut ratings, mut messages, mut answers) = (0, 0, 0);
    for start in (0..chunks).step_by(batch as usize) {
        let drawn: Vec<(u64, DataFrame, DataFrame, conversation::Conversations)> = (start..(start + batch).min(chunks))
            .into_par_iter()
            .map(|c| {
                let first = c * CHUNK;
                let span = (first, CHUNK.min(tickets - first), years);
                let (t, r, drawn) = draw_chunk(seed, c, span, &accounts, n_agents)?;
                Ok((c, t, r, conversation::draw(seed, c, &drawn)?))
            })
            .collect::<Result<_, Error>>()?;
        for (c, mut t, mut r, mut talk) in drawn {
            let ext = format.extension();
            ratings += r.height() as u64;
            messages += talk.messages.height() as u64;
            answers += talk.answers.height() as u64;
            write_frame(&mut t, &out.join(format!("zendesk/tickets-{c:05}.{ext}")), format)?;
            write_frame(&mut r, &out.join(format!("zendesk/satisfaction_ratings-{c:05}.{ext}")), format)?;
            write_frame(&mut talk.messages, &out.join(format!("zendesk/ticket_messages-{c:05}.{ext}")), format)?;
            write_frame(&mut talk.answers, &out.join(format!("surveys/responses-{c:05}.{ext}")), format)?;
        }
    }
    let reference = out.join("benchmarks/reference.csv");
    std::fs::write(&reference, REFERENCE).map_err(|e| io_error(&reference, e))?;
    crm::write_accounts(seed, &accounts, years, &out.join("crm/accounts.csv"))?;
    crm::write_spend(seed, years, &out.join("marketing/spend.csv"))?;
    answers += crm::write_enps(seed, n_agents, years, &out.join("hr/enps.csv"))?;
    let pipeline = out.join("pipeline.yaml");
    std::fs::write(&pipeline, pipeline_yaml(format, years, true)).map_err(|e| io_error(&pipeline, e))?;
    let core = out.join("pipeline-core.yaml");
    std::fs::write(&core, pipeline_yaml(format, years, false)).map_err(|e| io_error(&core, e))?;
    let files = 4 * chunks as usize + 5;
    Ok(Generated { tickets, ratings, messages, answers, accounts: n_accounts, files, pipeline })
}

/// One chunk's tickets and ratings, drawn from the chunk's own generator.
/// `span`: the chunk's first ticket number, its ticket count, and the years tickets are spread over.
/// The columns of a chunk's tickets and ratings, as drawn.
#[derive(Default)]
struct ChunkColumns {
    id: Vec<u64>,
    created: Vec<i64>,
    first_reply: Vec<Option<i64>>,
    solved: Vec<Option<i64>>,
    status: Vec<&'static str>,
    via: Vec<&'static str>,
    priority: Vec<&'static str>,
    kind: Vec<&'static str>,
    assignee: Vec<String>,
    group: Vec<&'static str>,
    org: Vec<String>,
    tags: Vec<String>,
    reopens: Vec<i64>,
    replies: Vec<i64>,
    talk: Vec<Option<f64>>,
    hold: Vec<Option<f64>>,
    r_id: Vec<u64>,
    r_ticket: Vec<u64>,
    r_score: Vec<&'static str>,
    r_at: Vec<i64>,
    r_agent: Vec<String>,
}

impl ChunkColumns {
    /// The tickets (`n` rows) and ratings frames, named as the ticket export's columns.
    fn frames(self, n: usize) -> Result<(DataFrame, DataFrame), Error> {
        let ts = |name: &str, v: Vec<i64>| {
            Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        };
        let ts_opt = |name: &str, v: Vec<Option<i64>>| {
            Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        };
        let tickets = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), self.id),
                ts("created_at", self.created)?,
                ts_opt("first_replied_at", self.first_reply)?,
                ts_opt("solved_at", self.solved)?,
                Column::new("status".into(), self.status),
                Column::new("via".into(), self.via),
                Column::new("priority".into(), self.priority),
                Column::new("type".into(), self.kind),
                Column::new("assignee_email".into(), self.assignee),
                Column::new("group".into(), self.group),
                Column::new("organization_id".into(), self.org),
                Column::new("tags".into(), self.tags),
                Column::new("reopens".into(), self.reopens),
                Column::new("replies".into(), self.replies),
                Column::new("talk_time_sec".into(), self.talk),
                Column::new("hold_time_sec".into(), self.hold),
            ],
        )?;
        let rated = self.r_id.len();
        let ratings = DataFrame::new(
            rated,
            vec![
                Column::new("id".into(), self.r_id),
                Column::new("ticket_id".into(), self.r_ticket),
                Column::new("score".into(), self.r_score),
                ts("created_at", self.r_at)?,
                Column::new("assignee_email".into(), self.r_agent),
            ],
        )?;
        Ok((tickets, ratings))
    }
}

fn draw_chunk(
    seed: u64,
    chunk: u64,
    (first, count, years): (u64, u64, u32),
    accounts: &[Account],
    n_agents: usize,
) -> Result<(DataFrame, DataFrame, Vec<conversation::Drawn>), Error> {
    let mut r = rng(seed, chunk);
    let n = count as usize;
    let mut c = ChunkColumns::default();
    let mut drawn = Vec::with_capacity(n);
    let channel_weights: Vec<(usize, f64)> = CHANNELS.iter().enumerate().map(|(i, c)| (i, c.1)).collect();
    for i in 0..count {
        let ticket = first + i + 1;
        let account = r.usize(..accounts.len());
        let (_, _, speed, shift) = SECTORS[accounts[account].sector];
        let agent = r.usize(..n_agents);
        // Agents differ: a fixed factor per agent, from its number.
        let agent_speed = 0.75 + ((agent as u64).wrapping_mul(2_654_435_761) % 1000) as f64 / 1666.0;
        let ch = pick(&mut r, &channel_weights);
        let (channel, _, frt_median, work_median) = CHANNELS[ch];
        let live = matches!(channel, "chat" | "voice");
        let opened = YEAR_START_MS + (r.f64() * (YEAR_MS * i64::from(years)) as f64) as i64;
        let abandoned = live && r.f64() < 0.06;
        let answered = !abandoned && r.f64() < 0.96;
        let frt = lognormal(&mut r, frt_median * speed * agent_speed, 1.0).max(1.0);
        let reply_at = answered.then(|| opened + (frt * 1000.0) as i64);
        let resolved = answered && r.f64() < 0.88;
        let solve_at =
            reply_at.filter(|_| resolved).map(|t| t + (lognormal(&mut r, work_median * speed, 0.9) * 1000.0) as i64);
        let st = if abandoned {
            "closed"
        } else if resolved {
            if r.f64() < 0.5 {
                "solved"
            } else {
                "closed"
            }
        } else if r.bool() {
            "open"
        } else {
            "pending"
        };
        let mut tag = String::new();
        if r.f64() < 0.08 * speed {
            tag.push_str("escalated");
        }
        if abandoned {
            tag.push_str(if tag.is_empty() { "abandoned" } else { " abandoned" });
        }
        c.id.push(ticket);
        c.created.push(opened);
        c.first_reply.push(reply_at);
        c.solved.push(solve_at);
        c.status.push(st);
        c.via.push(channel);
        c.priority.push(pick(&mut r, &PRIORITIES));
        c.kind.push(TYPES[r.usize(..TYPES.len())]);
        c.assignee.push(format!("agent{agent:04}@support.example"));
        c.group.push(TEAMS[agent % TEAMS.len()]);
        c.org.push(format!("ORG-{:06}", account + 1));
        c.tags.push(tag);
        c.reopens.push(i64::from(resolved && r.f64() < 0.06 * speed));
        let reply_count = if answered { 1 + (-r.f64().max(1e-12).ln() / 0.9) as i64 } else { 0 };
        c.replies.push(reply_count);
        drawn.push(conversation::Drawn {
            ticket,
            opened,
            reply_at,
            solve_at,
            replies: reply_count,
            agent,
            account,
            sector: accounts[account].sector,
            chat: channel == "chat",
            typical_wait_ms: frt_median * speed * agent_speed * 1000.0,
        });
        c.talk.push(live.then(|| lognormal(&mut r, 300.0, 0.6).round()));
        c.hold.push(live.then(|| lognormal(&mut r, 45.0, 0.8).round()));
        // About a third of resolved tickets get a good / bad rating; slow first responses lower the odds.
        if let Some(at) = solve_at.filter(|_| r.f64() < 0.33) {
            let p_good = (0.88 + shift - 0.08 * (frt / frt_median / speed).ln().max(0.0)).clamp(0.2, 0.98);
            c.r_id.push(ticket);
            c.r_ticket.push(ticket);
            c.r_score.push(if r.f64() < p_good { "good" } else { "bad" });
            c.r_at.push(at + (r.f64() * 48.0 * 3_600_000.0) as i64);
            c.r_agent.push(format!("agent{agent:04}@support.example"));
        }
    }
    let (tickets, ratings) = c.frames(n)?;
    Ok((tickets, ratings, drawn))
}

pub(super) fn write_frame(df: &mut DataFrame, path: &Path, format: FileFormat) -> Result<(), Error> {
    let mut file = std::fs::File::create(path).map_err(|e| io_error(path, e))?;
    match format {
        FileFormat::Csv => CsvWriter::new(&mut file)
            .include_header(true)
            .with_datetime_format(Some("%Y-%m-%dT%H:%M:%SZ".into()))
            .finish(df),
        FileFormat::Parquet => {
            ParquetWriter::new(&mut file).with_compression(ParquetCompression::Zstd(None)).finish(df).map(|_| ())
        },
    }
    .map_err(|e| io_error(path, e))
}

/// The generated pipelines: `pipeline.yaml`, every KPI the generated files feed in four segments with sector
/// benchmarks; `pipeline-core.yaml`, the core KPIs by sector × channel × month from the tickets, ratings and
/// accounts alone (what `benches/compare.sh` times against hand-written scripts).
/// (`wait_time` stands after `csat` with a comment, so that a check adding it after a bare `  - csat` line
/// finds it there already.)
fn pipeline_yaml(format: FileFormat, years: u32, whole: bool) -> String {
    let ext = format.extension();
    let end = 2025 + years;
    let span = if years == 1 { "a synthetic year".to_string() } else { format!("{years} synthetic years") };
    let mut text = match whole {
        true => format!(
            "# Generated by `deskpulse generate`: a synthetic Zendesk-like dump (tickets, their message log, \
             satisfaction\n# ratings), a survey tool's NPS and CES answers, an HR eNPS survey, CRM accounts and the \
             marketing spend.\nname: generated\ndescription: The whole catalog by sector, channel, agent and month \
             over {span}.\n"
        ),
        false => format!(
            "# Generated by `deskpulse generate`: a synthetic Zendesk-like dump and its CRM accounts.\nname: \
             generated\ndescription: Core support KPIs by sector, channel and month over {span}.\n"
        ),
    };
    text.push_str(&format!(
        r#"
sources:
  tickets:
    table: tickets
    path: zendesk/tickets-*.{ext}
    columns:
      ticket_id: id
      created_at: created_at
      first_response_at: first_replied_at
      resolved_at: solved_at
      status: status
      channel: {{ column: via, map: {{ voice: phone, web: email, twitter: social }} }}
      priority: priority
      category: type
      agent_id: assignee_email
      team: group
      account_id: organization_id
      reopens: reopens
      agent_replies: replies
      escalated: {{ expr: "tags LIKE '%escalated%'" }}
      abandoned: {{ expr: "tags LIKE '%abandoned%'" }}
      handle_seconds: talk_time_sec
      wait_seconds: hold_time_sec
  ratings:
    table: surveys
    path: zendesk/satisfaction_ratings-*.{ext}
    columns:
      survey_id: id
      ticket_id: ticket_id
      agent_id: assignee_email
      kind: {{ constant: csat }}
      score: {{ column: score, map: {{ good: "5", bad: "1" }} }}
      submitted_at: created_at
  accounts:
    table: accounts
    path: crm/accounts.csv
    csv: {{ delimiter: ";", decimal_comma: true }}
    columns:
      account_id: Account ID
      name: Account Name
      sector: Industry
      region: Region
      tier: Tier
      customer_since: {{ column: Customer Since, format: "%d/%m/%Y" }}
      churned_at: {{ column: Churn Date, format: "%d/%m/%Y" }}
      annual_revenue: Annual Revenue (EUR)
"#
    ));
    if whole {
        text.push_str(&format!(
            r#"      acquisition_channel: Lead Source
  messages:
    table: messages
    path: zendesk/ticket_messages-*.{ext}
    columns:
      ticket_id: ticket_id
      created_at: created_at
      author_role: {{ column: author_type, map: {{ end-user: customer }} }}
      author_id: author
      is_public: public
  survey_tool:
    table: surveys
    path: surveys/responses-*.{ext}
    columns:
      survey_id: Response ID
      kind: {{ column: Survey Type, map: {{ NPS: nps, Customer Effort: ces }} }}
      score: Score
      submitted_at: Submitted
      account_id: Company ID
      ticket_id: Ticket
  enps:
    table: surveys
    path: hr/enps.csv
    columns:
      kind: {{ constant: enps }}
      score: answer
      submitted_at: answered_on
      agent_id: respondent
  spend:
    table: spend
    path: marketing/spend.csv
    columns:
      period: {{ expr: "month || '-01'" }}
      channel: channel
      amount: amount
"#
        ));
    }
    text.push_str("\ndefinitions:\n  resolved_when: { statuses: [solved, closed] }\n");
    text.push_str(if whole { WHOLE_CATALOG } else { CORE_KPIS });
    text.push_str(&format!(
        "\nfilters:\n  window: {{ from: 2025-01-01, to: {end}-01-01 }}\n\noutputs:\n  dir: out\n  formats: [parquet, csv]\n"
    ));
    text
}

const CORE_KPIS: &str = "
kpis:
  - ticket_volume
  - first_response_time
  - resolution_time
  - handle_time
  - resolution_rate
  - fcr_rate
  - escalation_rate
  - reopen_rate
  - abandonment_rate
  - csat

segments:
  sector_channel_month: { by: [sector, channel], grain: month }
";

const WHOLE_CATALOG: &str = "  ces: { scale: [1, 7], easy_min: 6 }

kpis:
  - ticket_volume
  - first_response_time
  - name: resolution_time
    stats: [mean, median, p90]
  - handle_time
  - resolution_rate
  - fcr_rate
  - escalation_rate
  - reopen_rate
  - abandonment_rate
  - csat                 # satisfied share of the good/bad ratings
  - wait_time
  - nps
  - ces
  - enps
  - next_reply_time
  - exchanges_per_resolution
  - tickets_per_agent_day
  - survey_response_rate
  - channel_mix
  - category_mix
  - frt_csat_correlation
  - sla_attainment
  - resolution_sla_attainment
  - backlog
  - retention_rate
  - churn_rate
  - cac
  - clv

sla:
  first_response:
    - { channel: chat, target: 60s }
    - { channel: phone, target: 2m }
    - { channel: social, target: 4h }
    - { channel: email, target: 24h }
  resolution:
    - { target: 2d }

segments:
  sector_channel_month:
    by: [sector, channel]
    grain: month
    kpis: [ticket_volume, first_response_time, resolution_time, handle_time, wait_time, resolution_rate, fcr_rate,
           escalation_rate, reopen_rate, abandonment_rate, csat, next_reply_time, sla_attainment,
           resolution_sla_attainment]
  sector_month: { by: [sector], grain: month }
  agent_month:
    by: [agent_id]
    grain: month
    kpis: [ticket_volume, first_response_time, resolution_time, handle_time, fcr_rate, csat, next_reply_time,
           tickets_per_agent_day, enps]
  overall_month: { by: [], grain: month }

benchmarks:
  reference: benchmarks/reference.csv
";
