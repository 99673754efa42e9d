#!/usr/bin/env bash
# Overload: open-loop clicks at twice the sustainable rate for 60 s, then
# back to a normal rate. Reports the sustainable rate (closed loop), a
# baseline at NORMAL clicks/s, the overload run (throughput achieved, latency
# from the intended send time, statuses), the server's peak RSS, the recovery
# run, and whether every click answered as counted is in the counts.
#
#   bench/overload.sh [BUILD_DIR] [OVERLOAD_SECONDS] [NORMAL_RATE]   (build 60 10000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
secs="${2:-60}"
normal="${3:-10000}"
tmp="$(mktemp -d)"
port=18580
token="bench-admin-token-0123456789"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

cat >"$tmp/adclick.toml" <<CFG
[server]
listen = "127.0.0.1:$port"
[storage]
data_dir = "$tmp/data"
[signing]
current_key = "k1"
keys = { k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
[auth]
admin_token = "$token"
CFG
"$build/src/app/adclick" serve --config "$tmp/adclick.toml" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "serve: ready" "$tmp/server.log" && break; sleep 0.1; done
lg=("$build/bench/loadgen" --port "$port" --json)
"${lg[@]}" --register --admin-token "$token" --duration 0 >/dev/null

metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
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
counted="$(metric 'adclick_clicks_total{outcome="counted"}')"
unrecorded="$(metric 'adclick_clicks_total{outcome="unrecorded"}')"
now=$(date +%s)
for _ in $(seq 1 50); do
  total="$(curl -s -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/advertisers/adv-1/ads/aggregates?from=$((now - 3600))&to=$((now + 3600))&limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
  [ "$total" = "${counted%.*}" ] && break
  sleep 0.2
done
echo "overload: clicks answered counted ${counted%.*}, unrecorded ${unrecorded%.*}, in the counts $total" \
  "($([ "$total" = "${counted%.*}" ] && echo exact || echo MISMATCH))"
echo "overload: server warnings and errors (count, message):"
grep -E " (warning|error) " "$tmp/server.log" | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 | sed 's/^/overload:   /'
echo "overload: machine $(nproc) cores; loadgen and adclick on the same machine"
