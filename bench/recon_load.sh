#!/bin/bash
# The click path's latency at a fixed rate with and without a reconciliation
# running. Fills a log with --records clicks of an old day (recon_bench),
# starts adclick on it, runs loadgen open loop twice: once alone, once while
# a reconciliation recounts the filled range. Prints both summaries and the
# reconciliation's report.
#
#   bench/recon_load.sh [BUILD_DIR] [RECORDS] [RATE] [SECONDS]
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
records=${2:-10000000}
rate=${3:-10000}
seconds=${4:-20}
port=18181
. "$(dirname "$0")/lib.sh"
token="$BENCH_TOKEN"

echo "recon_load: filling $records records (recon_bench) ..."
bench_start_filled main "$port" "$records"

run_load() { bench_open_loop "$port" "$rate" "$seconds"; }

echo "== clicks alone: $rate/s open loop, $seconds s, 64 connections"
run_load
echo "== the same while a reconciliation recounts the $records filled records"
run_load &
load=$!
sleep 1
# recon_bench's clicks start at 1,700,000,000 s (Unix) and run at 10,000/s.
to=$((1700000000 + records / 10000 + 120))
id=$(curl -s -X POST -H "Authorization: Bearer $token" \
  -d "{\"from\":1700000000,\"to\":$to}" "127.0.0.1:$port/api/v1/reconciliations" |
  sed -E 's/.*"id":([0-9]+).*/\1/')
wait $load
for _ in $(seq 600); do
  report=$(curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/api/v1/reconciliations/$id")
  echo "$report" | grep -q '"state":"done"' && break
  sleep 0.5
done
echo "== reconciliation report"
echo "$report" | tr ',' '\n' | grep -E '"(state|durationMs|recordsRead|bytesRead|rowsCorrected|clicksCounted)"'
