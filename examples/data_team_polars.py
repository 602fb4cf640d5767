"""For data teams: read a deskpulse run with Polars, roll a ratio up correctly, and plot a trend.

Every ratio or mean row carries its `numerator` and `denominator`. To combine rows (all sectors of a month, a
quarter from its months), sum both and divide: the mean of the rows' rates weighs a sector with 10 answers like
one with 1,000. This script rolls CSAT up across sectors, checks the result against the run's own overall
table, shows how far the naive mean of rates is, and draws the monthly trend as text.

Usage: python examples/data_team_polars.py OUT_DIR     (either output layout: single or hive)
"""
import os
import sys

import polars as pl

out = sys.argv[1]


def scan(table: str) -> pl.LazyFrame:
    """A KPI table in either layout: OUT/<table>.parquet, or OUT/<table>/period_start=…/part-0.parquet."""
    single = os.path.join(out, f"{table}.parquet")
    if os.path.exists(single):
        return pl.scan_parquet(single)
    return pl.scan_parquet(os.path.join(out, table, "**", "*.parquet"), hive_partitioning=True).with_columns(
        pl.col("period_start").cast(pl.Date)
    )


csat_by_sector = scan("sector_month").filter(pl.col("kpi") == "csat", pl.col("stat") == "value")
rolled = (
    csat_by_sector.group_by("period_start")
    .agg(
        csat=100 * pl.col("numerator").sum() / pl.col("denominator").sum(),  # right: sum, then divide
        mean_of_sector_rates=pl.col("value").mean(),  # wrong: every sector weighs the same
        answers=pl.col("denominator").sum(),
    )
    .sort("period_start")
    .collect()
)
overall = (
    scan("overall_month")
    .filter(pl.col("kpi") == "csat", pl.col("stat") == "value")
    .select("period_start", overall_csat="value")
    .collect()
)
check = rolled.join(overall, on="period_start", how="left")
off = check.filter((pl.col("csat") - pl.col("overall_csat")).abs() > 1e-9)
if off.height or check["overall_csat"].null_count():
    sys.exit(f"the rolled-up CSAT differs from overall_month:\n{off}")
print("CSAT per month, rolled up across sectors (equal to overall_month), and the naive mean of sector rates:")
print(check.select("period_start", "answers", "csat", "mean_of_sector_rates"))

# The trend, as a bar per month (CSAT in percent).
print("\nCSAT trend")
for period, csat in rolled.select("period_start", "csat").iter_rows():
    print(f"{period}  {'#' * round(csat / 2):<50} {csat:5.1f} %")
