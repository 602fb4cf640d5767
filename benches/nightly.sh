#!/usr/bin/env bash
# Nightly runs through the store, on a generated dump whose tickets are split into monthly files (over
# YEARS years, default 3: 36 files) with the full catalog pipeline (benches/full_catalog.yaml):
#   a first run (every file staged), a rerun with no change, a night that brings one new day of tickets (a
#   new file) and re-exports the current month's file, and a `--full` run on the same files beside it.
# Prints wall time and peak RSS of each, and checks that the incremental outputs equal the full run's.
# Usage: benches/nightly.sh [TICKETS] [YEARS] [LAYOUT]   (default 1000000, 3 and single; the issue's figure is
# 10000000; LAYOUT hive writes one folder per period, so a night rewrites only the periods it recomputes)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deskpulse-target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/deskpulse-bench/data}
N=${1:-1000000}
YEARS=${2:-3}
LAYOUT=${3:-single}
END=$((2025 + YEARS)); LAST=$((2024 + YEARS))   # the window's end, and the last year (its December)
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/deskpulse
mkdir -p "$BENCH_DIR"
measure() { # label command... → "label wall_s peak_MiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" \
    || { echo "$label failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
  read -r wall kb < "$BENCH_DIR/time.txt"
  printf "%-40s %8.2f s %8.0f MiB\n" "$label" "$wall" "$((kb / 1024))"
}
dump=$BENCH_DIR/nightly-$N-${YEARS}y
if [ ! -f "$dump/pipeline-full.yaml" ]; then
  rm -rf "$dump"
  "$BIN" generate --tickets "$N" --seed 3 --years "$YEARS" --out "$dump" >/dev/null
  # One file per month of creation (column 2, ISO timestamps), the header in each.
  awk -F, -v dir="$dump/zendesk" 'FNR == 1 { header = $0; next }
    { month = substr($2, 1, 7); f = dir "/monthly-" month ".csv"
      if (!(f in seen)) { print header > f; seen[f] = 1 } print >> f }' "$dump"/zendesk/tickets-*.csv
  rm "$dump"/zendesk/tickets-*.csv
  sed -i 's#zendesk/tickets-\*#zendesk/monthly-*#' "$dump/pipeline.yaml"
  { sed '/^kpis:/,$d' "$dump/pipeline.yaml"
    sed "s#REFERENCE#$PWD/sample_data/benchmarks/reference.csv#; s#to: 2026-01-01#to: $END-01-01#" benches/full_catalog.yaml
  } > "$dump/pipeline-full.yaml"
  cp "$dump/zendesk/monthly-$LAST-12.csv" "$dump/december.orig"
fi
sed "s/^outputs:/outputs:\n  layout: $LAYOUT/" "$dump/pipeline-full.yaml" > "$dump/pipeline-$LAYOUT.yaml"
cp "$dump/december.orig" "$dump/zendesk/monthly-$LAST-12.csv"
rm -f "$dump/zendesk/day-"*.csv "$dump/zendesk/monthly-$LAST-12-31.csv"
out=$BENCH_DIR/nightly-out; full=$BENCH_DIR/nightly-full
rm -rf "$out" "$full"
echo "machine: $(nproc) cores; $N tickets in $(ls "$dump"/zendesk/monthly-*.csv | wc -l) monthly files, full catalog, layout $LAYOUT"
measure "first run (every file staged)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
measure "rerun, nothing changed" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
# The next night: a day of new tickets (a 31st of December's rows, under new ids, in a file the pipeline's
# glob reads) and December re-exported (its last 1,000 rows dropped, as if they had moved).
dec=$dump/zendesk/monthly-$LAST-12.csv
rows=$(( $(wc -l < "$dec") / 31 ))
{ head -1 "$dec"; tail -n "$rows" "$dec" | sed 's/^/new-/'; } > "$dump/zendesk/monthly-$LAST-12-31.csv"
head -n -1000 "$dec" > "$dec.tmp" && mv "$dec.tmp" "$dec"
measure "next night (a new day, December again)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
measure "full run on the same files (--full)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$full" --full --as-of $END-01-01
diff -r -q -x _runs -x _store "$out" "$full" >/dev/null && echo "incremental outputs equal the full run's" \
  || { echo "incremental outputs differ from the full run's"; exit 1; }
