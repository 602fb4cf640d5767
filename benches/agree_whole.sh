#!/usr/bin/env bash
# The whole catalog of a generated dump (message log, NPS/CES/eNPS, spend) computed three ways, deskpulse, a
# hand-written Python Polars script and its DuckDB SQL twin, checked row by row (agree_catalog.py). CI runs it on
# a small dump; benches/compare.sh times the same on large ones.
# Usage: benches/agree_whole.sh DESKPULSE_BINARY PYTHON [TICKETS]   (PYTHON: with polars and duckdb)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 PY=$2 N=${3:-20000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" generate --tickets "$N" --seed 5 --years 2 --out "$T/dump" >/dev/null
asof=$(sed -n 's/.*window: { from: [^,]*, to: \([0-9-]*\) }.*/\1/p' "$T/dump/pipeline.yaml")
"$BIN" run "$T/dump/pipeline.yaml" --out "$T/deskpulse" --as-of "$asof" --quiet
"$PY" benches/reference_catalog.py "$T/dump" "$T/polars" whole
"$PY" benches/reference_duckdb_catalog.py "$T/dump" "$T/duckdb"
"$PY" benches/agree_catalog.py "$T/deskpulse" "$T/polars" whole
"$PY" benches/agree_catalog.py "$T/deskpulse" "$T/duckdb" whole
