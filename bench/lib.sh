# Shared by the bench scripts: a scratch directory removed on exit, a config
# writer, a server starter that waits for readiness, and a metrics reader.
# Source it after `set -euo pipefail`, with BUILD set to the build directory:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_config main 18580 '' $'[ingest]\nad_cache = "64MiB"'
#   bench_start main           # sets BENCH_PID; its log is $BENCH_TMP/main.log
#   bench_metric 18580 'adclick_clicks_total{outcome="counted"}'

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_TMP="$(mktemp -d)"
BENCH_TOKEN="bench-admin-token-0123456789"
BENCH_PID=""
bench_pids=()

bench_cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# bench_config NAME PORT [SERVER_LINES] [MORE_TOML] [SIGNING_LINES]: writes
# $BENCH_TMP/NAME.toml (data in $BENCH_TMP/NAME-data, the demo signing key, the
# bench admin token); SERVER_LINES and SIGNING_LINES go into their tables,
# MORE_TOML (whole tables) at the end.
bench_config() {
  local name="$1" port="$2" server_lines="${3:-}" more="${4:-}" signing_lines="${5:-}"
  {
    echo "[server]"
    echo "listen = \"127.0.0.1:$port\""
    if [ -n "$server_lines" ]; then echo "$server_lines"; fi
    echo "[storage]"
    echo "data_dir = \"$BENCH_TMP/$name-data\""
    echo "[signing]"
    echo "current_key = \"k1\""
    echo "keys = { k1 = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }"
    if [ -n "$signing_lines" ]; then echo "$signing_lines"; fi
    echo "[auth]"
    echo "admin_token = \"$BENCH_TOKEN\""
    if [ -n "$more" ]; then echo "$more"; fi
  } >"$BENCH_TMP/$name.toml"
}

# bench_start NAME: serves $BENCH_TMP/NAME.toml in the background, logging to
# $BENCH_TMP/NAME.log, and waits up to 60 s for readiness; sets BENCH_PID.
bench_start() {
  local name="$1"
  "$BUILD/src/app/adclick" serve --config "$BENCH_TMP/$name.toml" >"$BENCH_TMP/$name.log" 2>&1 &
  BENCH_PID=$!
  bench_pids+=("$BENCH_PID")
  for _ in $(seq 1 600); do
    grep -q "serve: ready" "$BENCH_TMP/$name.log" && return 0
    kill -0 "$BENCH_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$(basename "$0"): adclick ($name) did not start:" >&2
  tail -20 "$BENCH_TMP/$name.log" >&2
  exit 1
}

# bench_metric PORT NAME: the value of one line of /metrics, as an integer.
bench_metric() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k {printf "%d", $2}'
}

# bench_advertiser_total PORT ADVERTISER FROM TO: the advertiser's total clicks.
bench_advertiser_total() {
  curl -s -H "Authorization: Bearer $BENCH_TOKEN" \
    "http://127.0.0.1:$1/api/v1/advertisers/$2/ads/aggregates?from=$3&to=$4&limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

# bench_wait_counted PORT FROM TO: waits (up to 10 s) until adv-1's total over
# [FROM, TO) equals the clicks answered as counted; prints "COUNTED TOTAL".
bench_wait_counted() {
  local counted total=""
  counted="$(bench_metric "$1" 'adclick_clicks_total{outcome="counted"}')"
  for _ in $(seq 1 50); do
    total="$(bench_advertiser_total "$1" adv-1 "$2" "$3")"
    [ "$total" = "$counted" ] && break
    sleep 0.2
  done
  echo "$counted $total"
}

# bench_start_filled NAME PORT RECORDS: a log filled with RECORDS old clicks
# (recon_bench), served as NAME on PORT with loadgen's ads registered; waits
# until every shard has committed a watermark.
bench_start_filled() {
  local name=$1 port=$2 records=$3
  bench_config "$name" "$port"
  "$BUILD/bench/recon_bench" --dir "$BENCH_TMP/$name-data" --records "$records" --keep >/dev/null
  bench_start "$name"
  "$BUILD/bench/loadgen" --port "$port" --register --admin-token "$BENCH_TOKEN" --duration 0 >/dev/null
  sleep 2
}

# bench_open_loop PORT RATE SECONDS: loadgen at RATE clicks/s over 64
# connections; prints the rate, the latency percentiles and the 302 count.
bench_open_loop() {
  "$BUILD/bench/loadgen" --port "$1" --rate "$2" --duration "$3" --connections 64 |
    grep -E "requests/s|latency p(50|99|999)|status 302"
}
