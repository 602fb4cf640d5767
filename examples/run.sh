#!/usr/bin/env bash
# Runs every example on the sample pipeline's outputs, in both layouts, from a venv with requirements.txt.
# Usage: examples/run.sh DESKPULSE_BINARY   (CI: .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1
VENV=${DESKPULSE_EXAMPLES_VENV:-$HOME/.cache/deskpulse-examples/venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -r examples/requirements.txt
OUT=$(mktemp -d)
HIVE=pipelines/.examples-hive.yaml # beside the sample, so that its relative paths hold
trap 'rm -rf "$OUT" "$HIVE"' EXIT
sed 's/^  formats: \[parquet, csv\]$/  formats: [parquet, csv]\n  layout: hive/' pipelines/support_kpis.yaml > "$HIVE"
grep -q "layout: hive" "$HIVE"
"$BIN" run pipelines/support_kpis.yaml --out "$OUT/single" -q
"$BIN" run "$HIVE" --out "$OUT/hive" -q
for layout in single hive; do
  echo "== examples on the $layout layout"
  "$VENV/bin/python" examples/data_team_polars.py "$OUT/$layout"
  "$VENV/bin/python" examples/analyst_duckdb.py "$OUT/$layout" $([ $layout = hive ] && echo --hive)
done
