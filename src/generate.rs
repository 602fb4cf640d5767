//! `deskpulse generate`: a deterministic synthetic dump in the sample's vendor layout (Zendesk-like ticket
//! files, satisfaction ratings, a `;`-separated CRM account file) plus a matching `pipeline.yaml`, for scale
//! tests and benchmarks. Tickets are made in fixed-size chunks, each from its own seeded generator, in
//! parallel: the same seed gives the same files, and memory does not grow with N.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Error;

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
const SECTORS: [(&str, f64, f64, f64); 8] = [
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
const TEAMS: [&str; 4] = ["Tier 1", "Tier 2", "Billing", "Technical"];

/// A generator seeded from the run's seed and a stream number (chunk, accounts), so chunks are independent.
fn rng(seed: u64, stream: u64) -> fastrand::Rng {
    // SplitMix64 finaliser: nearby streams get unrelated seeds.
    let mut z = seed.wrapping_add(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    fastrand::Rng::with_seed(z ^ (z >> 31))
}

/// A standard normal draw (Box–Muller).
fn normal(r: &mut fastrand::Rng) -> f64 {
    let u = r.f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * r.f64()).cos()
}

fn lognormal(r: &mut fastrand::Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(r)).exp()
}

fn pick<T: Copy>(r: &mut fastrand::Rng, weighted: &[(T, f64)]) -> T {
    let mut x = r.f64() * weighted.iter().map(|w| w.1).sum::<f64>();
    for (v, w) in weighted {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

struct Account {
    sector: usize,
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
    pub accounts: usize,
    pub files: usize,
    pub pipeline: PathBuf,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes `tickets` synthetic tickets and their satisfaction ratings, accounts and a pipeline into `out`,
/// which must not exist or be empty.
/// Tickets are spread over `years` years from 2025-01-01 (one: the default dump).
pub fn generate(tickets: u64, seed: u64, years: u32, out: &Path, format: FileFormat) -> Result<Generated, Error> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| io_error(out, e))?.next().is_some() {
        return Err(io_error(out, "the directory is not empty; generate writes into a new or empty one"));
    }
    for sub in ["zendesk", "crm"] {
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
    let mut ratings = 0;
    for start in (0..chunks).step_by(batch as usize) {
        let drawn: Vec<(u64, DataFrame, DataFrame)> = (start..(start + batch).min(chunks))
            .into_par_iter()
            .map(|c| {
                let first = c * CHUNK;
                let span = (first, CHUNK.min(tickets - first), years);
                let (t, r) = draw_chunk(seed, c, span, &accounts, n_agents)?;
                Ok((c, t, r))
            })
            .collect::<Result<_, Error>>()?;
        for (c, mut t, mut r) in drawn {
            let ext = format.extension();
            ratings += r.height() as u64;
            write_frame(&mut t, &out.join(format!("zendesk/tickets-{c:05}.{ext}")), format)?;
            write_frame(&mut r, &out.join(format!("zendesk/satisfaction_ratings-{c:05}.{ext}")), format)?;
        }
    }
    write_accounts(seed, &accounts, years, &out.join("crm/accounts.csv"))?;
    let pipeline = out.join("pipeline.yaml");
    std::fs::write(&pipeline, pipeline_yaml(format, years)).map_err(|e| io_error(&pipeline, e))?;
    Ok(Generated { tickets, ratings, accounts: n_accounts, files: 2 * chunks as usize + 2, pipeline })
}

/// One chunk's tickets and ratings, drawn from the chunk's own generator.
/// `span`: the chunk's first ticket number, its ticket count, and the years tickets are spread over.
fn draw_chunk(
    seed: u64,
    chunk: u64,
    (first, count, years): (u64, u64, u32),
    accounts: &[Account],
    n_agents: usize,
) -> Result<(DataFrame, DataFrame), Error> {
    let mut r = rng(seed, chunk);
    let n = count as usize;
    let mut id = Vec::with_capacity(n);
    let (mut created, mut first_reply, mut solved) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut status, mut via, mut priority, mut kind) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut assignee, mut group, mut org, mut tags) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut reopens, mut replies, mut talk, mut hold) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut r_id, mut r_ticket, mut r_score, mut r_at, mut r_agent) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
        id.push(ticket);
        created.push(opened);
        first_reply.push(reply_at);
        solved.push(solve_at);
        status.push(st);
        via.push(channel);
        priority.push(pick(&mut r, &PRIORITIES));
        kind.push(TYPES[r.usize(..TYPES.len())]);
        assignee.push(format!("agent{agent:04}@support.example"));
        group.push(TEAMS[agent % TEAMS.len()]);
        org.push(format!("ORG-{:06}", account + 1));
        tags.push(tag);
        reopens.push(i64::from(resolved && r.f64() < 0.06 * speed));
        replies.push(if answered { 1 + (-r.f64().max(1e-12).ln() / 0.9) as i64 } else { 0 });
        talk.push(live.then(|| lognormal(&mut r, 300.0, 0.6).round()));
        hold.push(live.then(|| lognormal(&mut r, 45.0, 0.8).round()));
        // About a third of resolved tickets get a good / bad rating; slow first responses lower the odds.
        if let Some(at) = solve_at.filter(|_| r.f64() < 0.33) {
            let p_good = (0.88 + shift - 0.08 * (frt / frt_median / speed).ln().max(0.0)).clamp(0.2, 0.98);
            r_id.push(ticket);
            r_ticket.push(ticket);
            r_score.push(if r.f64() < p_good { "good" } else { "bad" });
            r_at.push(at + (r.f64() * 48.0 * 3_600_000.0) as i64);
            r_agent.push(format!("agent{agent:04}@support.example"));
        }
    }
    let ts =
        |name: &str, v: Vec<i64>| Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None));
    let ts_opt = |name: &str, v: Vec<Option<i64>>| {
        Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
    };
    let tickets = DataFrame::new(
        n,
        vec![
            Column::new("id".into(), id),
            ts("created_at", created)?,
            ts_opt("first_replied_at", first_reply)?,
            ts_opt("solved_at", solved)?,
            Column::new("status".into(), status),
            Column::new("via".into(), via),
            Column::new("priority".into(), priority),
            Column::new("type".into(), kind),
            Column::new("assignee_email".into(), assignee),
            Column::new("group".into(), group),
            Column::new("organization_id".into(), org),
            Column::new("tags".into(), tags),
            Column::new("reopens".into(), reopens),
            Column::new("replies".into(), replies),
            Column::new("talk_time_sec".into(), talk),
            Column::new("hold_time_sec".into(), hold),
        ],
    )?;
    let rated = r_id.len();
    let ratings = DataFrame::new(
        rated,
        vec![
            Column::new("id".into(), r_id),
            Column::new("ticket_id".into(), r_ticket),
            Column::new("score".into(), r_score),
            ts("created_at", r_at)?,
            Column::new("assignee_email".into(), r_agent),
        ],
    )?;
    Ok((tickets, ratings))
}

fn write_frame(df: &mut DataFrame, path: &Path, format: FileFormat) -> Result<(), Error> {
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

/// The CRM file, as a French CRM writes it: `;`, decimal commas, dd/mm/yyyy.
fn write_accounts(seed: u64, accounts: &[Account], years: u32, path: &Path) -> Result<(), Error> {
    let mut r = rng(seed, u64::MAX - 1);
    let mut text =
        String::from("Account ID;Account Name;Industry;Region;Tier;Customer Since;Churn Date;Annual Revenue (EUR)\n");
    let regions = ["Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie", "Benelux", "DACH"];
    let tiers = ["gold", "silver", "bronze"];
    let day = |r: &mut fastrand::Rng, from: jiff::civil::Date, days: i64| {
        from.checked_add(jiff::Span::new().days(r.i64(0..days))).unwrap_or(from).strftime("%d/%m/%Y").to_string()
    };
    for (i, a) in accounts.iter().enumerate() {
        let since = day(&mut r, jiff::civil::date(2018, 1, 1), 7 * 365);
        let churn_days = 365 * i64::from(years);
        let churned =
            if r.f64() < 0.12 { day(&mut r, jiff::civil::date(2025, 1, 1), churn_days) } else { String::new() };
        let revenue = format!("{:.2}", lognormal(&mut r, 60_000.0, 0.9)).replace('.', ",");
        text.push_str(&format!(
            "ORG-{:06};Client {};{};{};{};{since};{churned};{revenue}\n",
            i + 1,
            i + 1,
            SECTORS[a.sector].0,
            regions[r.usize(..regions.len())],
            tiers[r.usize(..tiers.len())],
        ));
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

fn pipeline_yaml(format: FileFormat, years: u32) -> String {
    let ext = format.extension();
    let end = 2025 + years;
    let span = if years == 1 { "a synthetic year".to_string() } else { format!("{years} synthetic years") };
    format!(
        r#"# Generated by `deskpulse generate`: a synthetic Zendesk-like dump and its CRM accounts.
name: generated
description: Core support KPIs by sector, channel and month over {span}.

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

definitions:
  resolved_when: {{ statuses: [solved, closed] }}

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
  sector_channel_month: {{ by: [sector, channel], grain: month }}

filters:
  window: {{ from: 2025-01-01, to: {end}-01-01 }}

outputs:
  dir: out
  formats: [parquet, csv]
"#
    )
}
