#!/usr/bin/env bash
# Many ads: N ads bulk-loaded with `adclick ads import`, then the click rate
# with clicks spread over all of them (uniform, and Zipf 1) against clicks
# over 1,000 of them, with the ad cache far smaller than the ads. Reports the
# import time, the click rates (closed loop, 64 connections), the cache's
# bytes against its budget, its hit ratio, and the server's peak RSS.
#
#   bench/many_ads.sh [BUILD_DIR] [ADS] [AD_CACHE] [SECONDS]   (build 10000000 64MiB 10)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
ads="${2:-10000000}"
cache="${3:-64MiB}"
secs="${4:-10}"
tmp="$(mktemp -d)"
port=18680
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
[ingest]
ad_cache = "$cache"
CFG
awk -v n="$ads" 'BEGIN { print "adId,advertiserId,url"; for (i = 1; i <= n; i++) printf "%d,adv-%d,https://shop%d.example.com/landing?campaign=%d\n", i, i % 1000, i % 97, i }' >"$tmp/ads.csv"
start=$(date +%s.%N)
"$build/src/app/adclick" ads import --config "$tmp/adclick.toml" "$tmp/ads.csv" | sed 's/^/many_ads: /'
echo "many_ads: import of $ads ads took $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') s, RocksDB $(du -sm "$tmp/data/state" | cut -f1) MiB"
rm -f "$tmp/ads.csv"

"$build/src/app/adclick" serve --config "$tmp/adclick.toml" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do grep -q "serve: ready" "$tmp/server.log" && break; sleep 0.1; done
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k {printf "%d", $2}'; }
run() {  # label loadgen-args...
  local label="$1"
  shift
  local h0 m0 out
  h0="$(metric adclick_ad_cache_hits_total)"
  m0="$(metric adclick_ad_cache_misses_total)"
  out="$("$build/bench/loadgen" --port "$port" --json --connections 64 --duration "$secs" "$@")"
  local h1 m1
  h1="$(metric adclick_ad_cache_hits_total)"
  m1="$(metric adclick_ad_cache_misses_total)"
  python3 - "$label" "$out" "$((h1 - h0))" "$((m1 - m0))" "$(metric adclick_ad_cache_bytes)" "$(metric adclick_ad_cache_capacity_bytes)" <<'PY'
import json, sys
label, j, hits, misses, used, cap = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
l = j["latency_ms"]
ratio = hits / (hits + misses) if hits + misses else 0
print(f"many_ads: {label:<28} {j['requests_per_sec']:>8.0f} clicks/s  p50 {l['p50']:.1f} ms  p99 {l['p99']:.1f} ms  "
      f"302: {j['status']['302']} 404: {j['status']['404']}  cache hit ratio {ratio:.3f}  "
      f"cache {used / 2**20:.1f} of {cap / 2**20:.0f} MiB")
PY
}
run "1,000 ads (Zipf 1)" --ads 1000
run "$ads ads, uniform" --ads "$ads" --zipf 0
run "$ads ads, Zipf 1" --ads "$ads" --zipf 1
run "1,000 ads again (Zipf 1)" --ads 1000
echo "many_ads: server peak RSS $(( $(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status") / 1024 )) MiB; machine $(nproc) cores"
