#!/usr/bin/env bash
# Soak: clicks at RATE/s (open loop) for MINUTES, with a query every second,
# an advertiser ranking every 10 s, periodic reconciliations every 5 minutes
# and one asked for over the API halfway. Every 10 s it samples the server's
# RSS, open file descriptors, and the size of RocksDB and of the log, into
# a CSV; bench/plot_soak.py draws them. At the end: every click answered as
# counted is in the counts, and the reconciliations found no drift; and the
# slow clicks per 10 s of the run, with whether a reconciliation was running
# then, into OUT_PREFIX-latency.csv.
#
#   bench/soak.sh [BUILD_DIR] [MINUTES] [RATE] [OUT_PREFIX]   (build 30 10000 bench/soak)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
minutes="${2:-30}"
rate="${3:-10000}"
out="${4:-$(cd "$(dirname "$0")" && pwd)/soak}"
port=18780
. "$(dirname "$0")/lib.sh"
tmp="$BENCH_TMP"

bench_config main "$port" "" '[reconcile]
interval = "5m"
lookback = "10m"' 'max_validity = "10m"'
bench_start main
server_pid="$BENCH_PID"
auth="Authorization: Bearer $BENCH_TOKEN"
"$BUILD/bench/loadgen" --port "$port" --register --admin-token "$BENCH_TOKEN" --duration 0 >/dev/null

secs=$((minutes * 60))
interval=10  # seconds per row of the latency CSV
# Links valid for 5 minutes, so dedup keys expire during the run.
"$BUILD/bench/loadgen" --port "$port" --json --rate "$rate" --connections 64 --duration "$secs" \
  --warmup 0 --ttl 300 --interval "$interval" >"$tmp/loadgen.json" &
load_pid=$!
load_start_ms=$(date +%s%3N)

(  # queries: one ad's last 24 h every second, the ranking every 10 s
  i=0
  while kill -0 "$load_pid" 2>/dev/null; do
    now=$(date +%s)
    curl -s -o /dev/null -H "$auth" "http://127.0.0.1:$port/api/v1/ads/$((RANDOM % 1000 + 1))/aggregates?from=$((now - 86400))&to=$now"
    if [ $((i % 10)) -eq 0 ]; then
      curl -s -o /dev/null -H "$auth" "http://127.0.0.1:$port/api/v1/advertisers/adv-1/ads/aggregates?from=$((now - 3600))&to=$now"
    fi
    i=$((i + 1))
    sleep 1
  done
) &

echo "seconds,rss_mib,fds,rocksdb_mib,log_mib,clicks_counted" >"$out.csv"
start=$(date +%s)
asked=0
while kill -0 "$load_pid" 2>/dev/null; do
  t=$(($(date +%s) - start))
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
  fds=$(ls "/proc/$server_pid/fd" | wc -l)
  rocks=$(du -sk "$tmp/main-data/state" | awk '{printf "%.1f", $1 / 1024}')
  logm=$(du -sk "$tmp/main-data/log" | awk '{printf "%.1f", $1 / 1024}')
  counted=$(bench_metric "$port" 'adclick_clicks_total{outcome="counted"}')
  echo "$t,$rss,$fds,$rocks,$logm,$counted" >>"$out.csv"
  if [ "$asked" -eq 0 ] && [ "$t" -ge $((secs / 2)) ]; then
    now=$(date +%s)
    curl -s -o /dev/null -H "$auth" -X POST --data "{\"from\":$((start - 60)),\"to\":$now}" \
      "http://127.0.0.1:$port/api/v1/reconciliations"
    asked=1
  fi
  sleep 10
done
wait "$load_pid" || true

python3 - "$tmp/loadgen.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
l = j["latency_ms"]
print(f"soak: {j['requests_per_sec']:.0f} clicks/s over {j['duration_s']:.0f} s, p50 {l['p50']:.1f} ms, "
      f"p99 {l['p99']:.1f} ms, p999 {l['p999']:.1f} ms, max {l['max']:.0f} ms, 302: {j['status']['302']}, "
      f"errors: {j['errors']['total']}")
PY
now=$(date +%s)
read -r counted total < <(bench_wait_counted "$port" $((start - 3600)) $((now + 3600)))
echo "soak: clicks answered counted $counted, in the counts $total ($([ "$total" = "$counted" ] && echo exact || echo MISMATCH))"
curl -s -H "$auth" "http://127.0.0.1:$port/api/v1/reconciliations?limit=20" >"$tmp/recons.json"
python3 - "$tmp/recons.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["reconciliations"]
done = [r for r in runs if r.get("state") == "done"]
total = lambda k: sum(r.get(k, 0) for r in done)
print(f"soak: reconciliations done {len(done)} of {len(runs)}, rows corrected {total('rowsCorrected')}, "
      f"drift {total('driftAbs')} clicks, records read {total('recordsRead')}")
PY
python3 - "$tmp/loadgen.json" "$tmp/recons.json" "$load_start_ms" "$out-latency.csv" "$interval" <<'PY'
import json, sys
intervals = json.load(open(sys.argv[1]))["intervals"]
runs = json.load(open(sys.argv[2]))["reconciliations"]
t0, path, step = int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
end_s = intervals[-1]["start_s"] + step if intervals else 0
spans = []  # seconds of the run during which a reconciliation ran
for r in runs:
    if not r.get("startedMs"):
        continue
    a = (r["startedMs"] - t0) / 1000
    b = a + r["durationMs"] / 1000 if r.get("state") == "done" else end_s
    spans.append((a, b))
slow = {True: [0, 0, 0], False: [0, 0, 0]}  # over 250 ms: clicks, intervals, intervals with any
with open(path, "w") as f:
    f.write("start_s,responses,over_50ms,over_250ms,over_1s,max_ms,reconciling\n")
    for v in intervals:
        s0 = v["start_s"]
        busy = any(a < s0 + step and b > s0 for a, b in spans)
        f.write(f"{s0:.0f},{v['responses']},{v['over_50ms']},{v['over_250ms']},{v['over_1s']},{v['max_ms']:.1f},{int(busy)}\n")
        slow[busy][0] += v["over_250ms"]
        slow[busy][1] += 1
        slow[busy][2] += v["over_250ms"] > 0
for busy, label in ((True, "while a reconciliation ran"), (False, "with none running")):
    c, n, k = slow[busy]
    print(f"soak: clicks over 250 ms {label}: {c} in {n} intervals of {step} s ({k} of them with any)")
for v in sorted(intervals, key=lambda v: -v["over_250ms"])[:5]:
    print(f"soak:   at {v['start_s']:.0f} s: {v['over_250ms']} over 250 ms, {v['over_1s']} over 1 s, max {v['max_ms']:.0f} ms")
PY
echo "soak: server warnings and errors (count, message with numbers as N):"
grep -E " (warning|error) " "$tmp/main.log" | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/soak:   /'
grep -E "sealing segment .* took" "$tmp/main.log" | sed 's/^/soak: /' | tail -20 || true
python3 "$BENCH_ROOT/bench/plot_soak.py" "$out.csv" "$out.svg"
echo "soak: samples in $out.csv and $out-latency.csv, plot in $out.svg; machine $(nproc) cores"
