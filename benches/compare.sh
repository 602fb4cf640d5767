#!/usr/bin/env bash
# End-to-end comparison on generated dumps: deskpulse against two independent implementations of the same
# core KPIs (benches/reference_polars.py, benches/reference_duckdb.sql), with a check that all three agree;
# then deskpulse on the full catalog with benchmarks (benches/full_catalog.yaml) against a hand-written Polars
# script computing the same tables (benches/reference_catalog.py), with a check that both agree. Prints wall
# time and peak RSS of each. Usage: benches/compare.sh [TICKETS ...]   (default: 1000000 10000000)
# Then the whole catalog of the dump's own pipeline.yaml (the message log, NPS/CES/eNPS, spend; `--as-of` the
# window's end) against the same script in its `whole` mode and its DuckDB twin (reference_duckdb_catalog.py).
# FORMATS="csv parquet" (the default) sets the dumps' file formats; RUNS="core full whole" (the default) which
# comparisons run. Dumps are cached in $BENCH_DIR (default ~/.cache/deskpulse-bench/data); Python deps in a venv
# beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deskpulse-target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/deskpulse-bench/data}
VENV=$HOME/.cache/deskpulse-bench/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -r benches/requirements.txt
PY=$VENV/bin/python
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/deskpulse
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)

measure() { # label command... → "label wall_s peak_MiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" \
    || { echo "$label failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
  read -r wall kb < "$BENCH_DIR/time.txt"
  printf "%-28s %8.2f s %8.0f MiB\n" "$label" "$wall" "$((kb / 1024))"
}

mkdir -p "$BENCH_DIR"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -sr)"
for n in "${SIZES[@]}"; do
for format in ${FORMATS:-csv parquet}; do
  dump=$BENCH_DIR/tickets-$n; [ "$format" = csv ] || dump=$dump-$format
  if [ ! -f "$dump/pipeline-core.yaml" ]; then
    rm -rf "$dump"
    echo "== generating $n tickets ($format)"
    measure "generate" "$BIN" generate --tickets "$n" --seed 1 --format "$format" --out "$dump"
  fi
  if [[ " ${RUNS:-core full whole} " == *" core "* ]]; then
  echo "== $n tickets ($format): core KPIs by sector x channel x month"
  rm -rf "$BENCH_DIR/out-deskpulse" "$BENCH_DIR/polars.csv" "$BENCH_DIR/duckdb.csv"
  measure "deskpulse run" "$BIN" run "$dump/pipeline-core.yaml" --out "$BENCH_DIR/out-deskpulse"
  polars_csv=$BENCH_DIR/polars.csv
  if [ "$n" -le 20000000 ]; then
    measure "Python Polars (reference)" "$PY" benches/reference_polars.py "$dump" "$polars_csv"
  else # its percentiles hold the projected tables in memory: 2.8 GiB at 10M, beyond this machine at 100M
    echo "Python Polars (reference)    skipped above 20M tickets"
    polars_csv=-
  fi
  measure "DuckDB SQL (reference)" "$PY" benches/reference_duckdb.py "$dump" "$BENCH_DIR/duckdb.csv"
  "$PY" benches/agree.py "$BENCH_DIR/out-deskpulse" "$polars_csv" "$BENCH_DIR/duckdb.csv"
  fi
  if [[ " ${RUNS:-core full whole} " == *" full "* ]]; then
  echo "== $n tickets ($format): full catalog"
  # The core pipeline's sources (tickets, ratings, accounts) with benches/full_catalog.yaml's KPIs, segments
  # and benchmarks. (The generated pipeline.yaml adds the message log, NPS/CES/eNPS answers and spend.)
  { sed '/^kpis:/,$d' "$dump/pipeline-core.yaml"
    sed "s#REFERENCE#$PWD/sample_data/benchmarks/reference.csv#" benches/full_catalog.yaml; } > "$dump/pipeline-full.yaml"
  rm -rf "$BENCH_DIR/out-full" "$BENCH_DIR/out-catalog"
  measure "deskpulse run (full catalog)" "$BIN" run "$dump/pipeline-full.yaml" --out "$BENCH_DIR/out-full"
  if [ "$n" -le 20000000 ]; then # it holds the typed tables in memory
    measure "Python Polars (full catalog)" "$PY" benches/reference_catalog.py "$dump" "$BENCH_DIR/out-catalog"
    "$PY" benches/agree_catalog.py "$BENCH_DIR/out-full" "$BENCH_DIR/out-catalog" | tail -1
  fi
  fi
  if [[ " ${RUNS:-core full whole} " == *" whole "* ]]; then
  echo "== $n tickets ($format): whole catalog with the message log"
  asof=$(sed -n 's/.*window: { from: [^,]*, to: \([0-9-]*\) }.*/\1/p' "$dump/pipeline.yaml")
  rm -rf "$BENCH_DIR/out-whole" "$BENCH_DIR/out-whole-ref"
  measure "deskpulse run (whole)" "$BIN" run "$dump/pipeline.yaml" --out "$BENCH_DIR/out-whole" --as-of "$asof"
  if [ "$n" -le 20000000 ]; then
    measure "Python Polars (whole)" "$PY" benches/reference_catalog.py "$dump" "$BENCH_DIR/out-whole-ref" whole
    "$PY" benches/agree_catalog.py "$BENCH_DIR/out-whole" "$BENCH_DIR/out-whole-ref" whole | tail -1
  fi
  rm -rf "$BENCH_DIR/out-whole-duckdb"
  measure "DuckDB SQL (whole)" "$PY" benches/reference_duckdb_catalog.py "$dump" "$BENCH_DIR/out-whole-duckdb"
  "$PY" benches/agree_catalog.py "$BENCH_DIR/out-whole" "$BENCH_DIR/out-whole-duckdb" whole | tail -1
  fi
done
done
