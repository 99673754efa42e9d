#!/usr/bin/env bash
# The click path over HTTPS against plain HTTP, and the cost of a full TLS
# handshake. Two adclick servers on this machine (one plain, one with a
# self-signed P-256 certificate), 100 ads imported into each, the same signed
# click paths sent to each with wrk (keep-alive, closed loop), then
# `openssl s_time -new` (a full handshake per connection, no resumption) with
# the server's CPU time per handshake read from /proc.
#
#   bench/tls_bench.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]    (build 10 64)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
secs="${2:-10}"
conns="${3:-64}"
. "$(dirname "$0")/lib.sh"
tmp="$BENCH_TMP"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 2>/dev/null
for i in $(seq 1 100); do echo "$i,adv-1,https://example.com/landing?ad=$i"; done >"$tmp/ads.csv"

start_server() {  # name port extra-server-lines: 100 ads imported, then served
  bench_config "$1" "$2" "$3"
  "$BUILD/src/app/adclick" ads import --config "$tmp/$1.toml" "$tmp/ads.csv" >/dev/null
  bench_start "$1"
}
start_server plain 18480 ""
plain_pid="$BENCH_PID"
start_server tls 18443 "tls_cert = \"$tmp/cert.pem\"
tls_key = \"$tmp/key.pem\""
tls_pid="$BENCH_PID"

"$BUILD/bench/loadgen" --emit-urls 2000000 --ads 100 --out "$tmp/urls.txt" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

run_wrk() {  # label url pid
  local before after out rps p99
  before="$(cpu_ticks "$3")"
  out="$(CLICKS_FILE="$tmp/urls.txt" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$BENCH_ROOT/bench/wrk/clicks.lua" "$2")"
  after="$(cpu_ticks "$3")"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
  printf 'tls_bench: %-5s keep-alive, %d connections, %ss: %8s clicks/s, p99 %s, server CPU %.2f cores\n' \
    "$1" "$conns" "$secs" "$rps" "$p99" "$(echo "($after - $before) / $hz / $secs" | bc -l)"
}
run_wrk http "http://127.0.0.1:18480" "$plain_pid"
run_wrk https "https://127.0.0.1:18443" "$tls_pid"

before="$(cpu_ticks "$tls_pid")"
out="$(openssl s_time -connect 127.0.0.1:18443 -new -time "$secs" 2>/dev/null || true)"
after="$(cpu_ticks "$tls_pid")"
n="$(echo "$out" | awk '/connections in/ && /real seconds/ {print $1; exit}')"
real="$(echo "$out" | awk '/connections in/ && /real seconds/ {print $4; exit}')"
if [ -n "$n" ] && [ "$n" -gt 0 ]; then
  printf 'tls_bench: full handshakes (openssl s_time -new, one client): %d in %ss = %.0f/s, server CPU %.0f us per handshake\n' \
    "$n" "$real" "$(echo "$n / $real" | bc -l)" "$(echo "($after - $before) * 1000000 / $hz / $n" | bc -l)"
else
  echo "tls_bench: openssl s_time gave no figure:" >&2
  echo "$out" >&2
fi
echo "tls_bench: cipher: $(echo | openssl s_client -connect 127.0.0.1:18443 2>/dev/null | awk '/Cipher is/ {print $NF; exit}'), machine: $(nproc) cores"
