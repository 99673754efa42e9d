#!/usr/bin/env bash
# The Kafka backend against the embedded log on this machine, in one run:
# clicks/s and p99 through one adclick on the embedded log, then through two
# adclick nodes (each front + aggregate + query) sharing a topic of
# `adclick kafka-mock`, one loadgen per front end with half the connections
# each; then the exactness of what the two counted, and the rebalance time
# when one node is SIGKILLed (until the other holds every partition, with
# the default 6 s session timeout, and until its clicks are counted there).
#
# The mock cluster is librdkafka's in-memory test broker, in a process on
# the same 2 cores as the nodes and the load: its speed says nothing about a
# real Kafka cluster's, only what adclick's own Kafka path costs beside it.
#
#   bench/cluster_bench.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]    (build 10 32)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
secs="${2:-10}"
conns="${3:-32}"
. "$(dirname "$0")/lib.sh"
tmp="$BENCH_TMP"
ads=1000

mkfifo "$tmp/mock.in"
"$BUILD/src/app/adclick" kafka-mock --brokers 3 --partitions 8 --replication 3 >"$tmp/mock.out" 2>"$tmp/mock.err" \
  <"$tmp/mock.in" &
mock_pid=$!
bench_pids+=("$mock_pid")
exec 3>"$tmp/mock.in"
for _ in $(seq 1 100); do grep -q '^bootstrap_servers' "$tmp/mock.out" && break; sleep 0.1; done
servers_line="$(head -1 "$tmp/mock.out")"

load() {  # port connections: loadgen's JSON summary
  "$BUILD/bench/loadgen" --port "$1" --connections "$2" --duration "$secs" --warmup 1 --ads "$ads" --json
}
field() { python3 -c "import json,sys; j=json.load(open('$1')); print($2)"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"
cores() { echo "($2 - $1) / $hz / ($secs + 1)" | bc -l; }  # ticks before, after: cores over warmup + run

# The embedded log.
bench_config embedded 18600
bench_start embedded
embedded_pid="$BENCH_PID"
"$BUILD/bench/loadgen" --port 18600 --ads "$ads" --register --admin-token "$BENCH_TOKEN" --duration 0 >/dev/null
e0="$(cpu_ticks "$embedded_pid")"
load 18600 "$conns" >"$tmp/embedded.json"
e1="$(cpu_ticks "$embedded_pid")"
kill -TERM "$embedded_pid"; wait "$embedded_pid" 2>/dev/null || true

# Two nodes on the mock cluster.
kafka_toml() {  # name
  printf '[log]\nbackend = "kafka"\npartitions = 8\n[kafka]\n%s\n[node]\nid = "%s"\n' "$servers_line" "$1"
}
for n in 1 2; do
  bench_config "node$n" "1860$n" "" "$(kafka_toml "node$n")"
  bench_start "node$n"
  "$BUILD/bench/loadgen" --port "1860$n" --ads "$ads" --register --admin-token "$BENCH_TOKEN" --duration 0 >/dev/null
done
pid2="$BENCH_PID"
pid1="${bench_pids[-2]}"
for n in 1 2; do
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:1860$n/readyz" >/dev/null && break; sleep 0.1; done
done
m0="$(cpu_ticks "$mock_pid")"; a0="$(cpu_ticks "$pid1")"; b0="$(cpu_ticks "$pid2")"
load 18601 $((conns / 2)) >"$tmp/k1.json" &
l1=$!
load 18602 $((conns / 2)) >"$tmp/k2.json" &
l2=$!
wait "$l1" "$l2"
m1="$(cpu_ticks "$mock_pid")"; a1="$(cpu_ticks "$pid1")"; b1="$(cpu_ticks "$pid2")"

printf 'cluster_bench: embedded log, 1 node, %d connections, %ss: %8.0f clicks/s, p99 %s ms, adclick %.2f cores\n' \
  "$conns" "$secs" "$(field "$tmp/embedded.json" 'j["requests_per_sec"]')" \
  "$(field "$tmp/embedded.json" 'j["latency_ms"]["p99"]')" "$(cores "$e0" "$e1")"
r1="$(field "$tmp/k1.json" 'j["requests_per_sec"]')"
r2="$(field "$tmp/k2.json" 'j["requests_per_sec"]')"
printf 'cluster_bench: kafka-mock, 2 front ends, %d connections each, %ss: %8.0f clicks/s (%.0f + %.0f), p99 %s and %s ms\n' \
  $((conns / 2)) "$secs" "$(echo "$r1 + $r2" | bc -l)" "$r1" "$r2" \
  "$(field "$tmp/k1.json" 'j["latency_ms"]["p99"]')" "$(field "$tmp/k2.json" 'j["latency_ms"]["p99"]')"
printf 'cluster_bench: CPU meanwhile: kafka-mock %.2f cores, node 1 %.2f, node 2 %.2f (of %d)\n' \
  "$(cores "$m0" "$m1")" "$(cores "$a0" "$a1")" "$(cores "$b0" "$b1")" "$(nproc)"

# Exact: what both answered as counted is what each node's queries sum to.
now="$(date +%s)"
counted=$(( $(bench_metric 18601 'adclick_clicks_total{outcome="counted"}') + $(bench_metric 18602 'adclick_clicks_total{outcome="counted"}') ))
for port in 18601 18602; do
  total=""
  for _ in $(seq 1 100); do
    total="$(bench_advertiser_total "$port" adv-1 $((now - 3600)) $((now + 60)))"
    [ "$total" = "$counted" ] && break
    sleep 0.2
  done
  echo "cluster_bench: node on :$port answers $total clicks, $counted answered counted by the two front ends"
done

# Rebalance: node 2 SIGKILLed; node 1 takes its partitions.
partitions_of() {  # port: partitions its shards hold
  curl -s -H "Authorization: Bearer $BENCH_TOKEN" "http://127.0.0.1:$1/api/v1/status" |
    python3 -c 'import json,sys; print(sum(len(s["partitions"]) for s in json.load(sys.stdin)["shards"]))'
}
t0="$(date +%s.%N)"
echo "cluster_bench: SIGKILL at $(date -u +%H:%M:%S.%3N)"
kill -KILL "$pid2"
took=""
for _ in $(seq 1 600); do
  if [ "$(partitions_of 18601)" = 8 ]; then took="$(echo "$(date +%s.%N) - $t0" | bc -l)"; break; fi
  sleep 0.05
done
printf 'cluster_bench: node 2 SIGKILLed: node 1 holds all 8 partitions after %.1f s (session.timeout.ms 6000)\n' "${took:-nan}"
echo "cluster_bench: node 1's log since:"
grep -E 'kafka: group|agg: took over|dedup keys restored' "$tmp/node1.log" | tail -6 | sed 's/^/  /'

echo "cluster_bench: machine: $(nproc) cores; command: bench/cluster_bench.sh $BUILD $secs $conns"
