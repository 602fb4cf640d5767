"""Check that deskpulse's full catalog and benches/reference_catalog.py agree: the same rows (dimensions, period,
KPI, stat), the same `n`, values equal to 1e-9 relative, and for account x quarter the same peer columns.
Usage: agree_catalog.py DESKPULSE_OUT REFERENCE_OUT [full|whole]   (the reference's mode)
"""
import sys

import polars as pl

ours, ref = sys.argv[1], sys.argv[2]
WHOLE = len(sys.argv) > 3 and sys.argv[3] == "whole"
SEGMENTS = {"sector_channel_month": ["sector", "channel"], "sector_month": ["sector"], "agent_month": ["agent_id"],
            "overall_month": []} if WHOLE else {
    "sector_channel_month": ["sector", "channel"],
    "sector_month": ["sector"],
    "overall_week": [],
    "agent_month": ["agent_id"],
    "account_quarter": ["sector", "account_id"],
}
PEERS = ["n_peers", "peer_p25", "peer_median", "peer_p75", "percentile_rank"]
TOL = 1e-9


def close(a, b):
    both_null = a.is_null() & b.is_null()
    near = (a - b).abs() <= TOL * pl.max_horizontal(a.abs(), b.abs(), pl.lit(1.0))
    return both_null | near.fill_null(False)


failures = 0
for name, by in SEGMENTS.items():
    keys = by + ["period_start", "kpi", "stat"]
    peers = "account_id" in by
    path = f"{ours}/benchmarks/{name}.parquet" if peers else f"{ours}/{name}.parquet"
    cols = keys + ["value", "n"] + (PEERS if peers else [])
    a = pl.read_parquet(path, columns=cols)
    b = pl.read_parquet(f"{ref}/{name}.parquet", columns=cols)
    joined = a.join(b, on=keys, how="full", nulls_equal=True, suffix="_ref", coalesce=True)
    only_ours = joined.filter(pl.col("value_ref").is_null() & pl.col("value").is_not_null())
    only_ref = joined.filter(pl.col("value").is_null() & pl.col("value_ref").is_not_null())
    checks = [close(pl.col("value"), pl.col("value_ref")), pl.col("n").eq_missing(pl.col("n_ref"))]
    checks += [close(pl.col(c).cast(pl.Float64), pl.col(f"{c}_ref").cast(pl.Float64)) for c in PEERS if peers]
    differ = joined.filter(pl.col("value").is_not_null() & pl.col("value_ref").is_not_null() & ~pl.all_horizontal(checks))
    bad = only_ours.height + only_ref.height + differ.height
    failures += bad
    print(f"{name}: {a.height} rows here, {b.height} in the reference, {bad} disagreeing")
    for label, rows in [("only in deskpulse", only_ours), ("only in the reference", only_ref), ("different", differ)]:
        if rows.height:
            print(f"  {label} ({rows.height}), by KPI:", dict(rows.group_by("kpi").len().iter_rows()))
            print(rows.head(5))
if failures:
    sys.exit(f"{failures} rows disagree")
print("deskpulse and the reference catalog agree")
