#!/bin/bash
# The click path's latency at a fixed rate with and without an online backup
# running. Fills a log with RECORDS clicks (recon_bench), starts adclick on
# it, runs loadgen open loop twice: once alone, once while POST
# /api/v1/backups copies the data dir into a directory on the same file
# system (sealed segments hard-linked, every file checksummed and fsynced).
# Prints both summaries and what the backup took.
#
#   bench/backup_load.sh [BUILD_DIR] [RECORDS] [RATE] [SECONDS] [MAX_RATE]
# MAX_RATE: the backup's maxRate ("64MiB"/s by default; "0B": no limit).
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
records=${2:-5000000}
rate=${3:-10000}
seconds=${4:-20}
max_rate=${5:-64MiB}
port=18181
. "$(dirname "$0")/lib.sh"
token="$BENCH_TOKEN"

echo "backup_load: filling $records records (recon_bench) ..."
bench_start_filled main "$port" "$records"
echo "data dir: $(du -sh "$BENCH_TMP/main-data" | cut -f1)"

run_load() { bench_open_loop "$port" "$rate" "$seconds"; }

echo "== clicks alone: $rate/s open loop, $seconds s, 64 connections"
run_load
echo "== the same while a backup runs (maxRate $max_rate/s)"
run_load &
load=$!
sleep 2
start=$(date +%s.%N)
answer=$(curl -s -X POST -H "Authorization: Bearer $token" -d "{\"path\":\"$BENCH_TMP/backup\",\"maxRate\":\"$max_rate\"}" \
  "127.0.0.1:$port/api/v1/backups")
end=$(date +%s.%N)
wait $load
echo "== backup"
echo "$answer" | grep -oE '"(records|fileCount|hardLinkedFiles|tookMs)":[0-9]+|"bytes":[0-9]+,"createdAt"' |
  sed 's/,"createdAt"//' | tr '\n' ' '
echo
echo "wall: $(echo "$end - $start" | bc) s (the load ran ${seconds} s from 2 s before it)"
"$BUILD/src/app/adclick" backup verify "$BENCH_TMP/backup"
