"""Runs benches/reference_duckdb.sql on a generated dump (CSV or Parquet). Usage: reference_duckdb.py GENERATED_DIR OUT.csv"""
import glob
import pathlib
import sys

import duckdb

src, out = sys.argv[1], sys.argv[2]
if glob.glob(f"{src}/zendesk/tickets-*.parquet"):
    tickets = f"read_parquet('{src}/zendesk/tickets-*.parquet')"
    ratings = f"read_parquet('{src}/zendesk/satisfaction_ratings-*.parquet')"
else:
    tickets = (f"read_csv('{src}/zendesk/tickets-*.csv', types = {{'id': 'VARCHAR', 'organization_id': 'VARCHAR', "
               "'created_at': 'TIMESTAMP', 'first_replied_at': 'TIMESTAMP', 'solved_at': 'TIMESTAMP', 'tags': 'VARCHAR'})")
    ratings = (f"read_csv('{src}/zendesk/satisfaction_ratings-*.csv', "
               "types = {'ticket_id': 'VARCHAR', 'created_at': 'TIMESTAMP'})")
sql = (pathlib.Path(__file__).parent / "reference_duckdb.sql").read_text()
sql = sql.replace("__TICKETS__", tickets).replace("__RATINGS__", ratings)
duckdb.connect().execute(sql.replace("__SRC__", src).replace("__OUT__", out))
