#!/usr/bin/env bash
# Nightly runs through the store, on a generated dump whose tickets and messages are split into monthly files
# (over YEARS years, default 3: 36 files each) with the generated pipeline (the whole catalog: the message log,
# CSAT/NPS/CES/eNPS, backlog, retention, CAC, four segments, sector benchmarks):
#   a first run without the last month, a rerun with no change, a night when the last month's tickets and
#   messages arrive, a night that brings one new day of tickets with their messages (new files) and
#   re-exports December, and a `--full` run on the same files beside it.
# Prints wall time and peak RSS of each, and checks that the incremental outputs equal the full run's.
# Usage: [SLA=1] benches/nightly.sh [TICKETS] [YEARS] [LAYOUT]   (default 1000000, 3 and single; the issue's figure is
# 10000000; LAYOUT hive writes one folder per period, so a night rewrites only the periods it recomputes)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deskpulse-target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/deskpulse-bench/data}
N=${1:-1000000}
YEARS=${2:-3}
LAYOUT=${3:-single}
END=$((2025 + YEARS)); LAST=$((2024 + YEARS))   # the window's end, and the last year (its December)
# DESKPULSE_BIN=path times another build (e.g. the last commit's, for a before/after figure).
BIN=${DESKPULSE_BIN:-$CARGO_TARGET_DIR/release/deskpulse}
[ -n "${DESKPULSE_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$BENCH_DIR"
measure() { # label command... → "label wall_s peak_MiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" \
    || { echo "$label failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
  read -r wall kb < "$BENCH_DIR/time.txt"
  printf "%-46s %8.2f s %8.0f MiB\n" "$label" "$wall" "$((kb / 1024))"
}
# split FILES PREFIX COLUMN: one file per month of the ISO timestamp in COLUMN, the header in each.
split() {
  awk -F, -v dir="$dump/zendesk" -v prefix="$2" -v c="$3" 'FNR == 1 { header = $0; next }
    { month = substr($c, 1, 7); f = dir "/" prefix month ".csv"
      if (!(f in seen)) { print header > f; seen[f] = 1 } print >> f }' $1
}
dump=$BENCH_DIR/nightly-log-$N-${YEARS}y
if [ ! -f "$dump/pipeline-full.yaml" ]; then
  rm -rf "$dump"
  "$BIN" generate --tickets "$N" --seed 3 --years "$YEARS" --out "$dump" >/dev/null
  split "$dump/zendesk/tickets-*.csv" monthly- 2            # created_at
  split "$dump/zendesk/ticket_messages-*.csv" messages-monthly- 3
  rm "$dump"/zendesk/tickets-*.csv "$dump"/zendesk/ticket_messages-*.csv
  sed -e 's#zendesk/tickets-\*#zendesk/monthly-*#' -e 's#zendesk/ticket_messages-\*#zendesk/messages-monthly-*#' \
    "$dump/pipeline.yaml" > "$dump/pipeline-full.yaml"
  mkdir -p "$dump/held"
  mv "$dump/zendesk/monthly-$LAST-12.csv" "$dump/zendesk/messages-monthly-$LAST-12.csv" "$dump/held/"
fi
sed "s/^outputs:/outputs:\n  layout: $LAYOUT/" "$dump/pipeline-full.yaml" > "$dump/pipeline-$LAYOUT.yaml"
# SLA=1: with every SLA metric the message log gives and their KPIs (benches/with_sla.awk).
if [ "${SLA:-0}" = 1 ]; then
  awk -f benches/with_sla.awk "$dump/pipeline-$LAYOUT.yaml" > "$dump/pipeline-$LAYOUT-sla.yaml"
  mv "$dump/pipeline-$LAYOUT-sla.yaml" "$dump/pipeline-$LAYOUT.yaml"
fi
rm -f "$dump/zendesk/"*"-$LAST-12"*.csv
out=$BENCH_DIR/nightly-out; full=$BENCH_DIR/nightly-full
rm -rf "$out" "$full"
echo "machine: $(nproc) cores; $N tickets and their messages in monthly files, whole catalog, layout $LAYOUT"
measure "first run (every file but December's staged)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
measure "rerun, nothing changed" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
cp "$dump/held/"*.csv "$dump/zendesk/"
measure "night: December's tickets and messages arrive" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
# The next night: a day of new tickets (a 31st of December's rows, under new ids, in files the pipeline's
# globs read) with their messages, and December's tickets re-exported (their last 1,000 rows dropped).
dec=$dump/zendesk/monthly-$LAST-12.csv
rows=$(( $(wc -l < "$dec") / 31 ))
{ head -1 "$dec"; tail -n "$rows" "$dec" | sed 's/^/new-/'; } > "$dump/zendesk/monthly-$LAST-12-31.csv"
awk -F, 'NR == FNR { if (FNR > 1) ids[$1] = 1; next }
  FNR == 1 { print; next } ("new-" $2) in ids { $2 = "new-" $2; print }' OFS=, \
  "$dump/zendesk/monthly-$LAST-12-31.csv" "$dump/zendesk/messages-monthly-$LAST-12.csv" \
  > "$dump/zendesk/messages-monthly-$LAST-12-31.csv"
head -n -1000 "$dec" > "$dec.tmp" && mv "$dec.tmp" "$dec"
measure "next night (a new day, December again)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$out" --as-of $END-01-01
measure "full run on the same files (--full)" "$BIN" run "$dump/pipeline-$LAYOUT.yaml" --out "$full" --full --as-of $END-01-01
diff -r -q -x _runs -x _store "$out" "$full" >/dev/null && echo "incremental outputs equal the full run's" \
  || { echo "incremental outputs differ from the full run's"; exit 1; }
