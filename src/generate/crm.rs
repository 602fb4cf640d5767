//! The files beside the helpdesk's: the CRM's accounts (with the marketing channel that won each), the
//! marketing spend per month and channel, and the HR tool's quarterly eNPS survey of the agents.

use std::path::Path;

use super::{io_error, lognormal, rng, Account, Error, SECTORS, TEAMS};

/// The marketing channels that win accounts, with their share.
const LEAD_SOURCES: [(&str, f64); 4] = [("ads", 0.4), ("events", 0.2), ("referral", 0.25), ("outbound", 0.15)];

/// The CRM file, as a French CRM writes it: `;`, decimal commas, dd/mm/yyyy. A quarter of the accounts were
/// won during the generated years (the acquisitions CAC counts).
pub(super) fn write_accounts(seed: u64, accounts: &[Account], years: u32, path: &Path) -> Result<(), Error> {
    let mut r = rng(seed, u64::MAX - 1);
    // Drawn apart, so that the columns drawn above keep their values for a seed.
    let mut won = rng(seed, u64::MAX - 2);
    let mut text = String::from(
        "Account ID;Account Name;Industry;Region;Tier;Customer Since;Churn Date;Annual Revenue (EUR);Lead Source\n",
    );
    let regions = ["Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie", "Benelux", "DACH"];
    let tiers = ["gold", "silver", "bronze"];
    let day = |r: &mut fastrand::Rng, from: jiff::civil::Date, days: i64| {
        from.checked_add(jiff::Span::new().days(r.i64(0..days))).unwrap_or(from)
    };
    let text_of = |d: jiff::civil::Date| d.strftime("%d/%m/%Y").to_string();
    let generated_days = 365 * i64::from(years);
    for (i, a) in accounts.iter().enumerate() {
        let mut since = day(&mut r, jiff::civil::date(2018, 1, 1), 7 * 365);
        let churned = (r.f64() < 0.12).then(|| day(&mut r, jiff::civil::date(2025, 1, 1), generated_days));
        let revenue = format!("{:.2}", lognormal(&mut r, 60_000.0, 0.9)).replace('.', ",");
        let (region, tier) = (regions[r.usize(..regions.len())], tiers[r.usize(..tiers.len())]);
        // A won account churns after it was won, if at all.
        if won.f64() < 0.25 {
            let start = jiff::civil::date(2025, 1, 1);
            let until = churned.map_or(generated_days, |c| (c - start).get_days().into());
            since = day(&mut won, start, until.max(1));
        }
        let lead = super::pick(&mut won, &LEAD_SOURCES);
        let (since, churned) = (text_of(since), churned.map(text_of).unwrap_or_default());
        text.push_str(&format!(
            "ORG-{:06};Client {};{};{region};{tier};{since};{churned};{revenue};{lead}\n",
            i + 1,
            i + 1,
            SECTORS[a.sector].0,
        ));
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

/// Spend per month and channel over the generated years, in proportion to the accounts each channel wins.
pub(super) fn write_spend(seed: u64, years: u32, path: &Path) -> Result<(), Error> {
    let mut r = rng(seed, u64::MAX - 3);
    let mut text = String::from("month,channel,amount\n");
    for year in 2025..2025 + years {
        for month in 1..=12 {
            for (channel, share) in LEAD_SOURCES {
                let amount = lognormal(&mut r, 40_000.0 * share, 0.3);
                text.push_str(&format!("{year}-{month:02},{channel},{amount:.2}\n"));
            }
        }
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

/// Each quarter, four agents in five answer the eNPS question (0–10); returns the answers written.
pub(super) fn write_enps(seed: u64, agents: usize, years: u32, path: &Path) -> Result<u64, Error> {
    let mut r = rng(seed, u64::MAX - 4);
    let mut text = String::from("respondent,team,answer,answered_on\n");
    let mut n = 0;
    for year in 2025..2025 + years {
        for quarter in 0..4 {
            for agent in 0..agents {
                if r.f64() >= 0.8 {
                    continue;
                }
                let answer = (7.6 + 2.2 * super::normal(&mut r)).round().clamp(0.0, 10.0);
                let day = 10 + r.u32(0..10);
                text.push_str(&format!(
                    "agent{agent:04}@support.example,{},{answer},{year}-{:02}-{day}\n",
                    TEAMS[agent % TEAMS.len()],
                    quarter * 3 + 1,
                ));
                n += 1;
            }
        }
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))?;
    Ok(n)
}
