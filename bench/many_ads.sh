#!/usr/bin/env bash
# Many ads: N ads bulk-loaded with `adclick ads import`, then the click rate
# with clicks spread over all of them (uniform, and Zipf 1) against clicks
# over 1,000 of them, with the ad cache far smaller than the ads. The three
# loads run in ROUNDS interleaved rounds, so that a machine whose speed drifts
# during the run moves them alike; the medians are compared. Reports the
# import time (the ads snapshot included), the click rates (closed loop, 64
# connections), the cache's bytes and the snapshot's share against the
# budget, the hit ratio, how many misses the snapshot answered, and the
# server's peak RSS.
#
#   bench/many_ads.sh [BUILD_DIR] [ADS] [AD_CACHE] [SECONDS] [ROUNDS]   (build 10000000 64MiB 10 3)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
ads="${2:-10000000}"
cache="${3:-64MiB}"
secs="${4:-10}"
rounds="${5:-3}"
port=18680
. "$(dirname "$0")/lib.sh"
tmp="$BENCH_TMP"

bench_config main "$port" "" "[ingest]
ad_cache = \"$cache\""
awk -v n="$ads" 'BEGIN { print "adId,advertiserId,url"; for (i = 1; i <= n; i++) printf "%d,adv-%d,https://shop%d.example.com/landing?campaign=%d\n", i, i % 1000, i % 97, i }' >"$tmp/ads.csv"
start=$(date +%s.%N)
"$BUILD/src/app/adclick" ads import --config "$tmp/main.toml" "$tmp/ads.csv" | sed 's/^/many_ads: /'
echo "many_ads: import of $ads ads took $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') s, RocksDB $(du -sm "$tmp/main-data/state" | cut -f1) MiB, ads snapshot $(du -sm "$tmp/main-data/ads.snap" | cut -f1) MiB"
rm -f "$tmp/ads.csv"

bench_start main
server_pid="$BENCH_PID"
metric() { bench_metric "$port" "$1"; }
run() {  # key label loadgen-args...: prints a line, appends the rate to $tmp/KEY.rates
  local key="$1" label="$2"
  shift 2
  local h0 m0 s0 out
  h0="$(metric adclick_ad_cache_hits_total)"
  m0="$(metric adclick_ad_cache_misses_total)"
  s0="$(metric adclick_ads_snapshot_reads_total)"
  out="$("$BUILD/bench/loadgen" --port "$port" --json --connections 64 --duration "$secs" "$@")"
  local h1 m1 s1
  h1="$(metric adclick_ad_cache_hits_total)"
  m1="$(metric adclick_ad_cache_misses_total)"
  s1="$(metric adclick_ads_snapshot_reads_total)"
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests_per_sec"])' "$out" >>"$tmp/$key.rates"
  python3 - "$label" "$out" "$((h1 - h0))" "$((m1 - m0))" "$((s1 - s0))" "$(metric adclick_ad_cache_bytes)" \
    "$(metric adclick_ad_cache_capacity_bytes)" "$(metric adclick_ads_snapshot_bytes)" <<'PY'
import json, sys
label, j = sys.argv[1], json.loads(sys.argv[2])
hits, misses, snap_reads, used, cap, snap = (int(float(x)) for x in sys.argv[3:9])
l = j["latency_ms"]
ratio = hits / (hits + misses) if hits + misses else 0
print(f"many_ads: {label:<28} {j['requests_per_sec']:>8.0f} clicks/s  p50 {l['p50']:.1f} ms  p99 {l['p99']:.1f} ms  "
      f"302: {j['status']['302']} 404: {j['status']['404']}  cache hit ratio {ratio:.3f}, "
      f"{snap_reads} of {misses} misses from the snapshot  "
      f"cache {used / 2**20:.1f} of {cap / 2**20:.1f} MiB + snapshot {snap / 2**20:.1f} MiB")
PY
}
one() {  # round index: runs that load of the round
  case "$2" in
    0) run few "#$1 1,000 ads (Zipf 1)" --ads 1000 ;;
    1) run uniform "#$1 $ads ads, uniform" --ads "$ads" --zipf 0 ;;
    2) run zipf "#$1 $ads ads, Zipf 1" --ads "$ads" --zipf 1 ;;
  esac
}
# Each run adds its clicks' dedup keys and counts to the state, so a run is a
# little slower than the one before it. The order rotates from round to round
# so that no load always runs first.
for r in $(seq 1 "$rounds"); do
  for i in 0 1 2; do one "$r" $(((r - 1 + i) % 3)); done
done
python3 - "$tmp" "$ads" <<'PY'
import statistics, sys
tmp, ads = sys.argv[1], sys.argv[2]
rates = {k: [float(x) for x in open(f"{tmp}/{k}.rates")] for k in ("few", "uniform", "zipf")}
med = {k: statistics.median(v) for k, v in rates.items()}
for k, label in (("uniform", f"{ads} ads, uniform"), ("zipf", f"{ads} ads, Zipf 1")):
    per_round = sorted(100 * a / b for a, b in zip(rates[k], rates["few"]))
    print(f"many_ads: median {label:<24} {med[k]:>8.0f} clicks/s = {100 * med[k] / med['few']:.0f}% of 1,000 ads ({med['few']:.0f}); "
          f"per round {per_round[0]:.0f}-{per_round[-1]:.0f}%, median {statistics.median(per_round):.0f}%")
PY
echo "many_ads: $("$BUILD/src/app/adclick" version)"
echo "many_ads: server peak RSS $(( $(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status") / 1024 )) MiB; machine $(nproc) cores"
