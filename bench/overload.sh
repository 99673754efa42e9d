#!/usr/bin/env bash
# Overload: open-loop clicks at twice the sustainable rate for 60 s, then
# back to a normal rate. Reports the sustainable rate (closed loop), a
# baseline at NORMAL clicks/s, the overload run (throughput achieved, latency
# from the intended send time, statuses), the server's peak RSS, the recovery
# run, and whether every click answered as counted is in the counts.
#
#   bench/overload.sh [BUILD_DIR] [OVERLOAD_SECONDS] [NORMAL_RATE]   (build 60 10000)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
secs="${2:-60}"
normal="${3:-10000}"
port=18580
. "$(dirname "$0")/lib.sh"

bench_config main "$port"
bench_start main
server_pid="$BENCH_PID"
lg=("$BUILD/bench/loadgen" --port "$port" --json)
"${lg[@]}" --register --admin-token "$BENCH_TOKEN" --duration 0 >/dev/null

summary() {  # label json
  python3 - "$1" "$2" <<'PY'
import json, sys
label, j = sys.argv[1], json.loads(sys.argv[2])
l = j["latency_ms"]; s = j["status"]; e = j["errors"]
print(f"overload: {label:<22} {j['requests_per_sec']:>9.0f} clicks/s  p50 {l['p50']:.1f} ms  p99 {l['p99']:.1f} ms  "
      f"max {l['max']:.0f} ms  302: {s['302']}  other: {s['other']}  errors: {e['total']}  "
      f"unsent: {j.get('unsent', 0)}")
PY
}

out="$("${lg[@]}" --connections 64 --duration 10)"
summary "closed loop (64 conns)" "$out"
sustainable="$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["requests_per_sec"]))' "$out")"
summary "baseline ${normal}/s" "$("${lg[@]}" --connections 256 --rate "$normal" --duration 10)"
over=$((sustainable * 2))
summary "overload ${over}/s ${secs}s" "$("${lg[@]}" --connections 256 --rate "$over" --duration "$secs" --warmup 0)"
rss_peak_kb="$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")"
echo "overload: server peak RSS $((rss_peak_kb / 1024)) MiB, open fds $(ls "/proc/$server_pid/fd" | wc -l)"
for i in 1 2 3; do
  summary "recovery ${normal}/s #$i" "$("${lg[@]}" --connections 256 --rate "$normal" --duration 5 --warmup 0)"
done

# Every click answered as counted is in the counts (once the shards flushed).
now=$(date +%s)
read -r counted total < <(bench_wait_counted "$port" $((now - 3600)) $((now + 3600)))
unrecorded="$(bench_metric "$port" 'adclick_clicks_total{outcome="unrecorded"}')"
echo "overload: clicks answered counted $counted, unrecorded $unrecorded, in the counts $total" \
  "($([ "$total" = "$counted" ] && echo exact || echo MISMATCH))"
echo "overload: server warnings and errors (count, message):"
grep -E " (warning|error) " "$BENCH_TMP/main.log" | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 | sed 's/^/overload:   /'
echo "overload: machine $(nproc) cores; loadgen and adclick on the same machine"
