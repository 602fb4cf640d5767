"""The full catalog of benches/full_catalog.yaml, or (with `whole`) the whole catalog of the dump's own
pipeline.yaml with its message log, hand-written in Python Polars: an independent reference.

Written from docs/kpis.md, docs/pipeline-format.md and docs/benchmarks.md, not from the engine's code: 22 KPIs
over five segments (sector x channel x month, sector x month, overall x week, agent x month, account x quarter),
the backlog at each period end, retention and churn from the accounts, and the peer distribution and percentile
rank of every account x quarter row. What it leaves out, as cheap beside the rest: the published-reference
columns (a join with a 40-row table) and confidence intervals.
Reads a dump written by `deskpulse generate` (CSV or Parquet). Writes OUT_DIR/<segment>.parquet, long format:
the segment's dimensions, period_start, kpi, stat, value, n; account_quarter also has the peer columns.
`whole` adds what the generated pipeline.yaml computes beyond that: next reply time from the message log (and
first responses and replies filled from it where the ticket export has none), NPS, CES and eNPS from a survey
tool's and an HR tool's answers, CAC and CLV from the marketing spend; its window and as-of instant are those
`benches/nightly.sh` and the acceptance checks use (the pipeline's window, `--as-of` its end).
Usage: reference_catalog.py GENERATED_DIR OUT_DIR [full|whole]
"""
import glob
import os
import re
import sys
from datetime import datetime, timedelta

import polars as pl

src, out = sys.argv[1], sys.argv[2]
WHOLE = len(sys.argv) > 3 and sys.argv[3] == "whole"
os.makedirs(out, exist_ok=True)
if WHOLE:
    window = re.search(r"window: \{ from: (\S+), to: (\S+) \}", open(f"{src}/pipeline.yaml").read())
    FROM, TO = (datetime.fromisoformat(d) for d in window.groups())
    AS_OF = TO  # run with --as-of the window's end
else:
    FROM, TO = datetime(2025, 1, 1), datetime(2026, 1, 1)
    AS_OF = datetime.now()  # deskpulse's default as-of: the run's start
# Timestamps outside [2000-01-01, the day after the later of now and the as-of day) are quarantined.
PLAUSIBLE = (datetime(2000, 1, 1), datetime.combine(max(datetime.now(), AS_OF).date() + timedelta(days=1), datetime.min.time()))
MIN_SAMPLE, MIN_PEERS = 30, 5
QUEUE = ["phone", "chat"]
FRT_TARGET = {"chat": 60, "phone": 120, "social": 4 * 3600, "email": 24 * 3600}
RESOLUTION_TARGET = 2 * 86400
GRAIN = {"week": "1w", "month": "1mo", "quarter": "1q"}
LOWER, HIGHER = "lower", "higher"
DIRECTION = {"first_response_time": LOWER, "resolution_time": LOWER, "resolution_rate": HIGHER,
             "fcr_rate": HIGHER, "csat": HIGHER}


def scan(pattern, **csv):
    """A glob of the dump's CSV or Parquet files, with timestamps typed."""
    if glob.glob(f"{src}/{pattern}.parquet"):
        return pl.scan_parquet(f"{src}/{pattern}.parquet")
    return pl.scan_csv(f"{src}/{pattern}.csv", **csv)


def instant(c):
    e = pl.col(c)
    return e.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms") if csv_dump else e.cast(pl.Datetime("ms"))


csv_dump = not glob.glob(f"{src}/zendesk/tickets-*.parquet")
ids = {"id": pl.String, "organization_id": pl.String, "ticket_id": pl.String} if csv_dump else {}
plausible = lambda *cs: pl.all_horizontal([pl.col(c).is_null() | pl.col(c).is_between(*PLAUSIBLE, closed="left") for c in cs])
accounts = (
    pl.scan_csv(f"{src}/crm/accounts.csv", separator=";", schema_overrides={"Account ID": pl.String, "Annual Revenue (EUR)": pl.String})
    .select(
        account_id=pl.col("Account ID"),
        sector=pl.col("Industry"),
        since=pl.col("Customer Since").str.to_date("%d/%m/%Y"),
        churned=pl.col("Churn Date").str.to_date("%d/%m/%Y"),
        revenue=pl.col("Annual Revenue (EUR)").str.replace(",", ".").cast(pl.Float64),
        acquisition_channel=pl.col("Lead Source"),
    )
    .collect()
)
raw = scan("zendesk/tickets-*", schema_overrides={k: v for k, v in ids.items() if k != "ticket_id"})
raw_surveys = scan("zendesk/satisfaction_ratings-*", schema_overrides={"ticket_id": pl.String} if csv_dump else {})
# Every ticket, typed: resolved only when solved or closed and not abandoned (otherwise its solved time is cleared).
all_tickets = raw.select(
    ticket_id=pl.col("id").cast(pl.String),
    created=instant("created_at"),
    replied=instant("first_replied_at"),
    solved=instant("solved_at"),
    status="status",
    channel=pl.col("via").replace({"voice": "phone", "web": "email", "twitter": "social"}),
    category="type",
    agent_id="assignee_email",
    account_id=pl.col("organization_id").cast(pl.String),
    escalated=pl.col("tags").fill_null("").str.contains("escalated"),
    abandoned=pl.col("tags").fill_null("").str.contains("abandoned"),
    reopens="reopens",
    replies="replies",
    handle=pl.col("talk_time_sec").cast(pl.Float64),
    wait=pl.col("hold_time_sec").cast(pl.Float64),
).filter(plausible("created", "replied", "solved"))
if WHOLE:
    # The message log, public customer and agent messages in the order the export lists them (file, then row).
    ext = "csv" if csv_dump else "parquet"
    files = sorted(glob.glob(f"{src}/zendesk/ticket_messages-*.{ext}"))
    read = lambda f: pl.scan_csv(f, schema_overrides={"ticket_id": pl.String, "public": pl.String}) if csv_dump else pl.scan_parquet(f)
    messages = pl.concat([
        read(f).select(
            ticket_id=pl.col("ticket_id").cast(pl.String), at=instant("created_at"),
            role=pl.col("author_type").replace({"end-user": "customer"}),
            public=pl.col("public").cast(pl.String).str.to_lowercase() == "true")
        for f in files
    ]).with_row_index("order").filter(plausible("at"))
    messages = messages.join(all_tickets.select("ticket_id"), on="ticket_id", how="semi")  # orphans quarantined
    talk = messages.filter(pl.col("public") & pl.col("role").is_in(["customer", "agent"])).sort("ticket_id", "at", "order")
    # First replies and reply counts from the log fill the tickets where the export has none.
    from_log = talk.filter(pl.col("role") == "agent").join(all_tickets.select("ticket_id", "created"), on="ticket_id").group_by("ticket_id").agg(
        log_replied=pl.col("at").filter(pl.col("at") > pl.col("created")).min(), log_replies=pl.len())
    all_tickets = all_tickets.join(from_log, on="ticket_id", how="left").with_columns(
        replied=pl.coalesce("replied", "log_replied"), replies=pl.coalesce("replies", pl.col("log_replies").fill_null(0))
    ).drop("log_replied", "log_replies")
    # A wait starts at a customer message that opens the ticket's talk or follows an agent reply, and ends at the
    # next agent message; open waits are left out.
    agent = pl.col("role") == "agent"
    reply_waits = talk.with_columns(
        starts=~agent & pl.col("role").shift(1).over("ticket_id").fill_null("agent").eq("agent"),
        answered=pl.when(agent).then(pl.col("at")).backward_fill().over("ticket_id"),
    ).filter(pl.col("starts") & pl.col("answered").is_not_null()).select(
        "ticket_id", nrt=(pl.col("answered") - pl.col("at")).dt.total_milliseconds() / 1000.0)
all_tickets = all_tickets.with_columns(
    resolved_at=pl.when(pl.col("status").is_in(["solved", "closed"]) & ~pl.col("abandoned")).then("solved")
).join(accounts.lazy().select("account_id", "sector"), on="account_id", how="left")
# Held in memory once, as a notebook would: every segment then reads them, not the files.
all_tickets = all_tickets.collect().lazy()
ratings = raw_surveys.select(
    ticket_id=pl.col("ticket_id").cast(pl.String),
    agent_id="assignee_email",
    account_id=pl.lit(None, pl.String),
    kind=pl.lit("csat"),
    score=pl.col("score").replace_strict({"good": 5.0, "bad": 1.0}, default=None, return_dtype=pl.Float64),
    submitted=instant("created_at"),
)
if WHOLE:
    tool = scan("surveys/responses-*", schema_overrides={"Ticket": pl.String, "Company ID": pl.String}).select(
        ticket_id=pl.col("Ticket").cast(pl.String), agent_id=pl.lit(None, pl.String), account_id=pl.col("Company ID").cast(pl.String),
        kind=pl.col("Survey Type").replace({"NPS": "nps", "Customer Effort": "ces"}),
        score=pl.col("Score").cast(pl.Float64), submitted=instant("Submitted"))
    enps = pl.scan_csv(f"{src}/hr/enps.csv").select(
        ticket_id=pl.lit(None, pl.String), agent_id="respondent", account_id=pl.lit(None, pl.String), kind=pl.lit("enps"),
        score=pl.col("answer").cast(pl.Float64), submitted=pl.col("answered_on").str.to_datetime("%Y-%m-%d", time_unit="ms"))
    ratings = pl.concat([ratings, tool, enps])
# Answers with a plausible date whose ticket, when they name one, is known (others are quarantined).
answers = ratings.filter(plausible("submitted")).join(
    all_tickets.select("ticket_id", known=pl.lit(True)), on="ticket_id", how="left"
).filter(pl.col("ticket_id").is_null() | pl.col("known")).drop("known").collect().lazy()
surveyed = answers.select("ticket_id").drop_nulls().unique()
seconds = lambda a, b: (pl.col(a) - pl.col(b)).dt.total_milliseconds() / 1000.0
target = pl.col("channel").replace_strict(FRT_TARGET, default=None, return_dtype=pl.Float64)
tickets = (
    all_tickets.filter(pl.col("created").is_between(FROM, TO, closed="left"))
    .join(surveyed.with_columns(has_survey=pl.lit(True)), on="ticket_id", how="left")
    .with_columns(
        resolved=pl.col("resolved_at").is_not_null(),
        frt=seconds("replied", "created"),
        rt=seconds("resolved_at", "created"),
        queue=pl.col("channel").is_in(QUEUE),
        has_survey=pl.col("has_survey").fill_null(False),
        frt_target=target,
    )
    .with_columns(
        # Answered tickets count; unanswered ones once older than their target at the as-of time.
        sla_counted=pl.col("frt_target").is_not_null()
        & (pl.col("replied").is_not_null() | (pl.col("created") + pl.duration(seconds=pl.col("frt_target")) < AS_OF)),
        sla_met=pl.col("replied").is_not_null() & (pl.col("frt") <= pl.col("frt_target")),
    )
).collect().lazy()
if WHOLE:
    # Waits belong to their ticket's period and dimensions.
    reply_waits = reply_waits.join(tickets.select("ticket_id", "created", "sector", "channel", "agent_id"), on="ticket_id").collect().lazy()
ticket_dims = all_tickets.select("ticket_id", "channel", "agent_id", "account_id", replied_frt=seconds("replied", "created"))
# An answer reaches its ticket's channel (and agent and account where it has none of its own), and its account's sector.
surveys = (
    answers.filter(pl.col("submitted").is_between(FROM, TO, closed="left"))
    .join(ticket_dims, on="ticket_id", how="left", suffix="_ticket")
    .with_columns(agent_id=pl.coalesce("agent_id", "agent_id_ticket"), account_id=pl.coalesce("account_id", "account_id_ticket"))
    .join(accounts.lazy().select("account_id", "sector"), on="account_id", how="left")
).collect().lazy()


def stats(kpi, expr, where, quantiles=True):
    """mean (and median, p90) of expr over the rows where `where` holds, with their count."""
    x = expr.filter(where)
    out = {f"{kpi}|mean": x.mean(), f"{kpi}|n": x.count()}
    if quantiles:
        out[f"{kpi}|median"] = x.quantile(0.5, "linear")
        out[f"{kpi}|p90"] = x.quantile(0.9, "linear")
    return out


def rate(kpi, hit, where=None):
    if where is None:
        hits, den = hit.sum(), pl.len()
    else:
        hits, den = (hit & where).sum(), where.sum()
    return {f"{kpi}|value": 100.0 * hits / den, f"{kpi}|n": den}


def ticket_measures(kpis):
    c = pl.col
    m = {}
    if "ticket_volume" in kpis:
        m |= {"ticket_volume|value": pl.len().cast(pl.Float64), "ticket_volume|n": pl.len()}
    if "first_response_time" in kpis:
        m |= stats("first_response_time", c("frt"), c("replied").is_not_null())
    if "resolution_time" in kpis:
        m |= stats("resolution_time", c("rt"), c("resolved"))
    if "handle_time" in kpis:
        m |= stats("handle_time", c("handle"), c("handle").is_not_null(), quantiles=False)
    if "wait_time" in kpis:
        m |= stats("wait_time", c("wait"), c("queue") & c("wait").is_not_null(), quantiles=False)
    if "resolution_rate" in kpis:
        m |= rate("resolution_rate", c("resolved"))
    if "fcr_rate" in kpis:
        m |= rate("fcr_rate", (c("replies") <= 1) & (c("reopens") == 0), c("resolved"))
    if "escalation_rate" in kpis:
        m |= rate("escalation_rate", c("escalated"))
    if "reopen_rate" in kpis:
        m |= rate("reopen_rate", c("reopens") > 0, c("resolved"))
    if "abandonment_rate" in kpis:
        m |= rate("abandonment_rate", c("abandoned"), c("queue"))
    if "exchanges_per_resolution" in kpis:
        x = c("replies").filter(c("resolved") & c("replies").is_not_null())
        m |= {"exchanges_per_resolution|value": x.mean(), "exchanges_per_resolution|n": x.count()}
    if "tickets_per_agent_day" in kpis:
        agents = c("agent_id").drop_nulls().n_unique()
        m |= {
            "tickets_per_agent_day|value": c("agent_id").count() / (agents * c("days").first()),
            "tickets_per_agent_day|n": c("agent_id").count(),
        }
    if "survey_response_rate" in kpis:
        m |= rate("survey_response_rate", c("has_survey"), c("resolved"))
    if "sla_attainment" in kpis:
        m |= rate("sla_attainment", c("sla_met"), c("sla_counted"))
    if "resolution_sla_attainment" in kpis:
        m |= rate("resolution_sla_attainment", c("rt") <= RESOLUTION_TARGET, c("resolved"))
    return m


def longer(wide, keys):
    """One row per kpi and stat from the wide aggregation: `kpi|stat` value columns and a `kpi|n` count each."""
    cols = [c for c in wide.collect_schema().names() if "|" in c and not c.endswith("|n")]
    parts = [
        wide.select(*keys, kpi=pl.lit(c.split("|")[0]), stat=pl.lit(c.split("|")[1]),
                    value=pl.col(c).cast(pl.Float64), n=pl.col(c.split("|")[0] + "|n").cast(pl.Int64))
        for c in cols
    ]
    return pl.concat(parts).filter(pl.col("value").is_not_null() & pl.col("value").is_finite())


def placed(frame, at, grain):
    every = GRAIN[grain]
    start = pl.col(at).dt.truncate(every)
    return frame.with_columns(period_start=start.dt.date(), days=(start.dt.offset_by(every) - start).dt.total_days())


def mix(by, grain, column, kpi):
    keys = by + ["period_start"]
    counts = placed(tickets, "created", grain).group_by(keys + [column]).agg(k=pl.len())
    return counts.select(
        *keys, kpi=pl.lit(kpi), stat=pl.col(column).fill_null("(none)"),
        value=100.0 * pl.col("k") / pl.col("k").sum().over(keys), n=pl.col("k").sum().over(keys).cast(pl.Int64),
    )


def survey_measures(by, grain, kpis):
    keys = by + ["period_start"]
    s = placed(surveys, "submitted", grain)
    csat = s.filter(pl.col("kind") == "csat")
    parts = []
    if "csat" in kpis:
        wide = csat.group_by(keys).agg(
            **{"csat|value": 100.0 * (pl.col("score") >= 4).sum() / pl.len(), "csat|mean": pl.col("score").mean(),
               "csat|n": pl.len()})
        parts.append(longer(wide, keys))
    for kind in ["nps", "enps"]:
        if kind in kpis:
            n = pl.len()
            plus, minus = (pl.col("score") >= 9).sum() / n, (pl.col("score") <= 6).sum() / n
            wide = s.filter(pl.col("kind") == kind).group_by(keys).agg(**{
                f"{kind}|value": 100.0 * (plus - minus),
                f"{kind}|margin_of_error": 1.96 * ((plus + minus - (plus - minus) ** 2) / n).sqrt() * 100.0,
                f"{kind}|n": n})
            parts.append(longer(wide, keys))
    if "ces" in kpis:
        wide = s.filter(pl.col("kind") == "ces").group_by(keys).agg(**{
            "ces|value": pl.col("score").mean(), "ces|easy_share": 100.0 * (pl.col("score") >= 6).sum() / pl.len(),
            "ces|n": pl.len()})
        parts.append(longer(wide, keys))
    if "frt_csat_correlation" in kpis:
        pairs = csat.filter(pl.col("replied_frt").is_not_null())
        wide = pairs.group_by(keys).agg(
            r=pl.corr(pl.col("replied_frt").rank("average"), pl.col("score").rank("average")), k=pl.len())
        # No row with fewer than 2 pairs or when either variable is constant (no correlation then).
        parts.append(wide.filter((pl.col("k") >= 2) & pl.col("r").is_finite()).select(
            *keys, kpi=pl.lit("frt_csat_correlation"), stat=pl.lit("value"), value="r", n=pl.col("k").cast(pl.Int64)))
    if "next_reply_time" in kpis:
        w = placed(reply_waits, "created", grain)
        parts.append(longer(w.group_by(keys).agg(**stats("next_reply_time", pl.col("nrt"), pl.lit(True))), keys))
    return parts


def acquisition(grain):
    """CAC (the period's spend / accounts acquired in it) and CLV (mean annual revenue of the customers at the
    period end x mean length of the relationships ended before it, in years, - CAC), for the whole company."""
    periods = period_ends(grain).with_columns(pl.col("period_start", "period_end").dt.date())
    spend = pl.read_csv(f"{src}/marketing/spend.csv").select(
        period=(pl.col("month") + "-01").str.to_date(), amount=pl.col("amount").cast(pl.Float64))
    rows = []
    for start, end in periods.select("period_start", "period_end").iter_rows():
        acquired = accounts.filter(pl.col("since").is_between(start, end, closed="left")).height
        if acquired == 0:
            continue
        cac = spend.filter(pl.col("period").is_between(start, end, closed="left"))["amount"].sum() / acquired
        rows.append({"period_start": start, "kpi": "cac", "stat": "value", "value": cac, "n": acquired})
        customers = accounts.filter((pl.col("since") < end) & (pl.col("churned").is_null() | (pl.col("churned") >= end)))
        revenue = customers["revenue"].drop_nulls()
        ended = accounts.filter(pl.col("churned") < end)
        if revenue.len() and ended.height:
            years = ((ended["churned"] - ended["since"]).dt.total_days() / 365.25).mean()
            rows.append({"period_start": start, "kpi": "clv", "stat": "value", "value": revenue.mean() * years - cac,
                         "n": revenue.len()})
    schema = {"period_start": pl.Date, "kpi": pl.String, "stat": pl.String, "value": pl.Float64, "n": pl.Int64}
    return pl.DataFrame(rows, schema=schema).lazy()


def period_ends(grain):
    """The periods the tickets fall in (the boundary KPIs' periods), sorted, with their ends."""
    every = GRAIN[grain]
    return (
        tickets.select(period_start=pl.col("created").dt.truncate(every)).unique().sort("period_start")
        .with_columns(period_end=pl.col("period_start").dt.offset_by(every)).collect()
    )


def backlog(by, grain):
    """Tickets created before each period end and not resolved by it, from every ticket, by counting events:
    a ticket is open from the first end after its creation to the first end at or after its resolution."""
    periods = period_ends(grain)
    ends = periods["period_end"]
    dims = by or ["_all"]  # one group when the segment has no dimension
    t = all_tickets.with_columns(_all=pl.lit(0)).select(
        *dims,
        opened=pl.lit(ends).search_sorted(pl.col("created"), side="right"),
        closed=pl.when(pl.col("resolved_at").is_null())
        .then(len(ends))
        .otherwise(pl.lit(ends).search_sorted(pl.col("resolved_at"), side="left")),
    ).with_columns(closed=pl.max_horizontal("opened", "closed"))
    deltas = pl.concat([
        t.group_by(*dims, i="opened").agg(d_open=pl.len().cast(pl.Int64), d_n=pl.len().cast(pl.Int64)),
        t.group_by(*dims, i="closed").agg(d_open=-pl.len().cast(pl.Int64), d_n=pl.lit(0, pl.Int64)),
    ]).group_by(*dims, "i").agg(pl.col("d_open").sum(), pl.col("d_n").sum())
    grid = periods.lazy().with_row_index("i").with_columns(pl.col("i").cast(pl.UInt32))
    keys = dims + ["i"]
    counts = (
        t.select(dims).unique().join(grid, how="cross")
        .join(deltas, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("d_open", "d_n").fill_null(0))
        .sort(keys, nulls_last=True)
        .with_columns(value=pl.col("d_open").cum_sum().over(dims), n=pl.col("d_n").cum_sum().over(dims))
    )
    return counts.select(*by, period_start=pl.col("period_start").dt.date(), kpi=pl.lit("backlog"),
                         stat=pl.lit("value"), value=pl.col("value").cast(pl.Float64), n="n")


def accounts_at_boundaries(by, grain):
    """Retention ((E - N) / S) and churn (churned in the period among S) of the accounts, per period."""
    periods = period_ends(grain).with_columns(pl.col("period_start", "period_end").dt.date())
    a = accounts.join(periods, how="cross")
    customer = lambda d: (pl.col("since") < pl.col(d)) & (pl.col("churned").is_null() | (pl.col("churned") >= pl.col(d)))
    keys = by + ["period_start"]
    w = a.group_by(keys).agg(
        S=customer("period_start").sum(),
        E=customer("period_end").sum(),
        N=pl.col("since").is_between(pl.col("period_start"), pl.col("period_end"), closed="left").sum(),
        C=(customer("period_start") & pl.col("churned").is_between(pl.col("period_start"), pl.col("period_end"), closed="left")).sum(),
    ).filter(pl.col("S") > 0)
    n = pl.col("S").cast(pl.Int64)
    return pl.concat([
        w.select(*keys, kpi=pl.lit("retention_rate"), stat=pl.lit("value"), value=100.0 * (pl.col("E") - pl.col("N")) / pl.col("S"), n=n),
        w.select(*keys, kpi=pl.lit("churn_rate"), stat=pl.lit("value"), value=100.0 * pl.col("C") / pl.col("S"), n=n),
    ]).lazy()


def segment(by, grain, kpis):
    keys = by + ["period_start"]
    wide = placed(tickets, "created", grain).group_by(keys).agg(**ticket_measures(kpis))
    parts = [longer(wide, keys)] + survey_measures(by, grain, kpis)
    if "channel_mix" in kpis:
        parts.append(mix(by, grain, "channel", "channel_mix"))
    if "category_mix" in kpis:
        parts.append(mix(by, grain, "category", "category_mix"))
    if "backlog" in kpis:
        parts.append(backlog(by, grain))
    if "retention_rate" in kpis:
        parts.append(accounts_at_boundaries(by, grain))
    if "cac" in kpis:
        parts.append(acquisition(grain))
    return pl.concat(parts, how="vertical_relaxed")


def with_peers(rows, by):
    """The peer set of an account row: the same sector, period, KPI and stat, accounts not low_sample."""
    low = pl.col("n") < MIN_SAMPLE
    direction = pl.col("kpi").replace_strict(DIRECTION, default=None)
    rows = rows.with_columns(low_sample=low & (pl.col("kpi") != "ticket_volume"), direction=direction)
    group = [k for k in by if k != "account_id"] + ["period_start", "kpi", "stat"]
    peer = pl.col("value").filter(~pl.col("low_sample"))
    peers = rows.group_by(group).agg(
        n_peers=peer.count(), peer_p25=peer.quantile(0.25, "linear"), peer_median=peer.quantile(0.5, "linear"),
        peer_p75=peer.quantile(0.75, "linear"))
    ranked = rows.filter(~pl.col("low_sample")).with_columns(
        # Values equal to 12 significant digits tie (docs/benchmarks.md).
        worse=pl.when(pl.col("direction") == LOWER).then(pl.len() - pl.col("value").round_sig_figs(12).rank("max"))
        .when(pl.col("direction") == HIGHER).then(pl.col("value").round_sig_figs(12).rank("min") - 1).over(group)
    ).select(*by, "period_start", "kpi", "stat", "worse")
    enough = pl.col("n_peers") >= MIN_PEERS
    return (
        rows.join(peers, on=group, how="left").join(ranked, on=by + ["period_start", "kpi", "stat"], how="left")
        .with_columns(
            pl.when(enough).then(pl.col("peer_p25", "peer_median", "peer_p75")),
            percentile_rank=pl.when(enough & (pl.col("n_peers") >= 2)).then(100.0 * pl.col("worse") / (pl.col("n_peers") - 1)),
        )
        .drop("worse", "direction", "low_sample")
    )


ALL = ["ticket_volume", "first_response_time", "resolution_time", "handle_time", "wait_time", "resolution_rate",
       "fcr_rate", "escalation_rate", "reopen_rate", "abandonment_rate", "exchanges_per_resolution",
       "tickets_per_agent_day", "survey_response_rate", "channel_mix", "category_mix", "sla_attainment",
       "resolution_sla_attainment", "backlog", "csat", "frt_csat_correlation", "retention_rate", "churn_rate"]
if WHOLE:
    SURVEYS = ["nps", "ces", "enps", "next_reply_time"]
    SEGMENTS = {
        "sector_channel_month": (["sector", "channel"], "month", [
            "ticket_volume", "first_response_time", "resolution_time", "handle_time", "wait_time", "resolution_rate",
            "fcr_rate", "escalation_rate", "reopen_rate", "abandonment_rate", "csat", "next_reply_time",
            "sla_attainment", "resolution_sla_attainment"]),
        "sector_month": (["sector"], "month", ALL + SURVEYS),
        "agent_month": (["agent_id"], "month", [
            "ticket_volume", "first_response_time", "resolution_time", "handle_time", "fcr_rate", "csat",
            "next_reply_time", "tickets_per_agent_day", "enps"]),
        "overall_month": ([], "month", ALL + SURVEYS + ["cac", "clv"]),
    }
else:
    SEGMENTS = {
        "sector_channel_month": (["sector", "channel"], "month", [
            "ticket_volume", "first_response_time", "resolution_time", "handle_time", "wait_time", "resolution_rate",
            "fcr_rate", "escalation_rate", "reopen_rate", "abandonment_rate", "sla_attainment",
            "resolution_sla_attainment", "csat"]),
        "sector_month": (["sector"], "month", ALL),
        "overall_week": ([], "week", ALL),
        "agent_month": (["agent_id"], "month", [
            "ticket_volume", "first_response_time", "resolution_time", "handle_time", "fcr_rate",
            "tickets_per_agent_day", "csat"]),
        "account_quarter": (["sector", "account_id"], "quarter", [
            "ticket_volume", "first_response_time", "resolution_time", "resolution_rate", "fcr_rate", "csat"]),
    }
names = list(SEGMENTS)
plans = []
for name in names:
    by, grain, kpis = SEGMENTS[name]
    rows = segment(by, grain, kpis)
    plans.append(with_peers(rows, by) if "account_id" in by else rows)
for name, table in zip(names, pl.collect_all(plans, engine="streaming")):
    table.write_parquet(f"{out}/{name}.parquet")
