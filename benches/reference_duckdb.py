"""Runs benches/reference_duckdb.sql on a generated dump. Usage: reference_duckdb.py GENERATED_DIR OUT.csv"""
import pathlib
import sys

import duckdb

src, out = sys.argv[1], sys.argv[2]
sql = (pathlib.Path(__file__).parent / "reference_duckdb.sql").read_text()
duckdb.connect().execute(sql.replace("__SRC__", src).replace("__OUT__", out))
