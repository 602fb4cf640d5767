"""Core KPIs by sector x channel x month, hand-written in Python Polars: an independent reference for deskpulse.

Same definitions as docs/kpis.md: tickets placed by created_at, ratings by their own time; resolved = solved_at
set, status solved or closed, not abandoned; FCR = resolved with at most one reply and no reopen; percentiles
interpolate linearly. Usage: reference_polars.py GENERATED_DIR OUT.csv
"""
import glob
import sys

import polars as pl

src, out = sys.argv[1], sys.argv[2]
if glob.glob(f"{src}/zendesk/tickets-*.parquet"):  # typed already
    tickets = pl.scan_parquet(f"{src}/zendesk/tickets-*.parquet").with_columns(pl.col("id").cast(pl.String))
    ratings = pl.scan_parquet(f"{src}/zendesk/satisfaction_ratings-*.parquet").with_columns(pl.col("ticket_id").cast(pl.String))
    parse = lambda c: pl.col(c).cast(pl.Datetime("ms"))
else:
    tickets = pl.scan_csv(f"{src}/zendesk/tickets-*.csv", schema_overrides={"id": pl.String, "organization_id": pl.String})
    ratings = pl.scan_csv(f"{src}/zendesk/satisfaction_ratings-*.csv", schema_overrides={"ticket_id": pl.String})
    parse = lambda c: pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms")
accounts = pl.scan_csv(f"{src}/crm/accounts.csv", separator=";").select(
    pl.col("Account ID").alias("organization_id"), pl.col("Industry").alias("sector")
)
t = (
    tickets.with_columns(
        created=parse("created_at"),
        replied=parse("first_replied_at"),
        solved=parse("solved_at"),
        channel=pl.col("via").replace({"voice": "phone", "web": "email", "twitter": "social"}),
        tags=pl.col("tags").fill_null(""),
    )
    .filter((pl.col("created") >= pl.datetime(2025, 1, 1, time_unit="ms")) & (pl.col("created") < pl.datetime(2026, 1, 1, time_unit="ms")))
    .join(accounts, on="organization_id", how="left")
    .with_columns(
        period_start=pl.col("created").dt.truncate("1mo").dt.date(),
        resolved=pl.col("solved").is_not_null()
        & pl.col("status").is_in(["solved", "closed"])
        & ~pl.col("tags").str.contains("abandoned"),
        frt=(pl.col("replied") - pl.col("created")).dt.total_milliseconds() / 1000.0,
    )
    .with_columns(rt=pl.when(pl.col("resolved")).then((pl.col("solved") - pl.col("created")).dt.total_milliseconds() / 1000.0))
)
keys = ["sector", "channel", "period_start"]
resolved = pl.col("resolved")
agg = t.group_by(keys).agg(
    ticket_volume__value=pl.len().cast(pl.Float64),
    first_response_time__mean=pl.col("frt").mean(),
    first_response_time__median=pl.col("frt").quantile(0.5, "linear"),
    first_response_time__p90=pl.col("frt").quantile(0.9, "linear"),
    resolution_time__mean=pl.col("rt").mean(),
    resolution_time__median=pl.col("rt").quantile(0.5, "linear"),
    resolution_time__p90=pl.col("rt").quantile(0.9, "linear"),
    resolution_rate__value=100.0 * resolved.sum() / pl.len(),
    fcr_rate__value=100.0 * (resolved & (pl.col("replies") <= 1) & (pl.col("reopens") == 0)).sum() / resolved.sum(),
    escalation_rate__value=100.0 * pl.col("tags").str.contains("escalated").sum() / pl.len(),
)
csat = (
    ratings.with_columns(at=parse("created_at"), ticket_id=pl.col("ticket_id"))
    .filter((pl.col("at") >= pl.datetime(2025, 1, 1, time_unit="ms")) & (pl.col("at") < pl.datetime(2026, 1, 1, time_unit="ms")))
    .join(t.select(pl.col("id").alias("ticket_id"), "sector", "channel"), on="ticket_id", how="left")
    .with_columns(period_start=pl.col("at").dt.truncate("1mo").dt.date())
    .group_by(keys)
    .agg(csat__value=100.0 * (pl.col("score") == "good").sum() / pl.len())
)
long = pl.concat(
    [
        agg.unpivot(index=keys, variable_name="kpi_stat", value_name="value"),
        csat.unpivot(index=keys, variable_name="kpi_stat", value_name="value"),
    ]
).drop_nulls("value")
long.with_columns(
    kpi=pl.col("kpi_stat").str.split("__").list.get(0), stat=pl.col("kpi_stat").str.split("__").list.get(1)
).drop("kpi_stat").collect(engine="streaming").write_csv(out)
