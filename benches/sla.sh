#!/usr/bin/env bash
# What Zendesk-grade SLAs cost on a generated dump that looks like a user's: 1M tickets (default) with their
# message log (about five messages a ticket), CSAT/NPS/CES/eNPS answers, four segments and the whole catalog
# (the generated pipeline.yaml). Runs it as generated (first-response and resolution SLAs per ticket), then with
# next-reply and periodic-update SLAs, their attainment KPIs and `sla_breaches` in every segment, and
# `outputs: { sla: true, replies: true }`; prints wall time and peak RSS of each, the SLA instances written,
# and the time of the "SLA instances" stage (DESKPULSE_TRACE).
# Usage: benches/sla.sh [TICKETS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deskpulse-target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/deskpulse-bench/data}
N=${1:-1000000}
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
dump=$BENCH_DIR/tickets-$N
[ -f "$dump/pipeline.yaml" ] || "$BIN" generate --tickets "$N" --seed 1 --out "$dump" >/dev/null
asof=$(sed -n 's/.*window: { from: [^,]*, to: \([0-9-]*\) }.*/\1/p' "$dump/pipeline.yaml")
# The generated pipeline with every SLA metric a message log gives, their KPIs, and the SLA and reply tables.
awk -v tables=1 -f benches/with_sla.awk "$dump/pipeline.yaml" > "$dump/pipeline-sla.yaml"
grep -q "^outputs:" "$dump/pipeline-sla.yaml" || printf 'outputs:\n  sla: true\n  replies: true\n' >> "$dump/pipeline-sla.yaml"
"$BIN" validate "$dump/pipeline-sla.yaml" --no-data >/dev/null
echo "== $N tickets: the whole catalog with the message log, as of $asof"
rm -rf "$BENCH_DIR/out-sla-before" "$BENCH_DIR/out-sla"
measure "deskpulse run (first response, resolution SLA)" "$BIN" run "$dump/pipeline.yaml" --out "$BENCH_DIR/out-sla-before" --full --as-of "$asof"
measure "deskpulse run (+ every SLA, sla and replies)" "$BIN" run "$dump/pipeline-sla.yaml" --out "$BENCH_DIR/out-sla" --full --as-of "$asof"
DESKPULSE_TRACE=1 "$BIN" run "$dump/pipeline-sla.yaml" --out "$BENCH_DIR/out-sla" --full --as-of "$asof" 2>&1 \
  | grep -E "SLA instances|write sla|write replies" | sed 's/^/  stage: /' || true
for t in sla replies; do
  printf "  %-8s %s rows\n" "$t" "$(($(wc -l < "$BENCH_DIR/out-sla/$t/$t.csv") - 1))"
done
