"""For analysts and BI builders: query a deskpulse run with DuckDB SQL through the views of views.sql.

Creates the views over OUT_DIR (single layout, or hive with --hive), then asks two questions a support manager
asks: first contact resolution per channel over the whole run, rolled up from numerators and denominators, and
the months where CSAT fell from the month before.

Usage: python examples/analyst_duckdb.py OUT_DIR [--hive]
"""
import pathlib
import sys

import duckdb

out = sys.argv[1]
hive = "--hive" in sys.argv[2:]
here = pathlib.Path(__file__).parent
con = duckdb.connect()
con.execute(f"SET VARIABLE out_dir = '{out}'")
con.execute((here / ("views_hive.sql" if hive else "views.sql")).read_text())

fcr = con.sql(
    """
    SELECT channel, sum(numerator) AS first_contact, sum(denominator) AS resolved,
           round(100 * sum(numerator) / sum(denominator), 1) AS fcr_percent
    FROM kpi_channel_month WHERE kpi = 'fcr_rate' AND stat = 'value'
    GROUP BY channel ORDER BY fcr_percent DESC
    """
)
print("First contact resolution per channel, all months:")
print(fcr)
rows = fcr.fetchall()
assert rows and all(0 <= r[3] <= 100 for r in rows), rows

drops = con.sql(
    """
    SELECT period_start, round(value, 1) AS csat, round(value - lag(value) OVER (ORDER BY period_start), 1) AS change
    FROM kpi_overall_month WHERE kpi = 'csat' AND stat = 'value'
    QUALIFY change < 0 ORDER BY period_start
    """
)
print("Months where CSAT fell:")
print(drops)
