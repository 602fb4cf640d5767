"""Checks that deskpulse and the two references agree on every core KPI row.

Usage: agree.py DESKPULSE_OUT_DIR POLARS.csv DUCKDB.csv (POLARS.csv `-` when that reference was not run).
Prints the number of rows compared; exits 1 on the first disagreement beyond 1e-9 relative (percentiles and
means of exact milliseconds agree to rounding).
"""
import sys

import polars as pl

keys = ["sector", "channel", "period_start", "kpi", "stat"]
references = [(name, path) for name, path in (("Python Polars", sys.argv[2]), ("DuckDB", sys.argv[3])) if path != "-"]
core = pl.read_csv(references[0][1], schema_overrides={"period_start": pl.String})
dp = (
    pl.read_parquet(f"{sys.argv[1]}/sector_channel_month.parquet")
    .with_columns(pl.col("period_start").cast(pl.String))
    .select(*keys, "value")
    .join(core.select(keys), on=keys, how="semi")
)
for name, path in references:
    ref = pl.read_csv(path, schema_overrides={"period_start": pl.String}).select(*keys, "value")
    both = dp.join(ref, on=keys, how="full", suffix=f"_{name}", coalesce=True)
    missing = both.filter(pl.col("value").is_null() | pl.col(f"value_{name}").is_null())
    if missing.height:
        print(f"DISAGREE with {name}: {missing.height} rows only on one side:\n{missing.head(5)}")
        sys.exit(1)
    off = both.filter(
        (pl.col("value") - pl.col(f"value_{name}")).abs() > 1e-9 * pl.max_horizontal(pl.col("value").abs(), pl.lit(1.0))
    )
    if off.height:
        print(f"DISAGREE with {name}: {off.height} rows differ:\n{off.head(5)}")
        sys.exit(1)
print(f"agree: {dp.height} KPI rows identical in deskpulse, {' and '.join(n for n, _ in references)}")
