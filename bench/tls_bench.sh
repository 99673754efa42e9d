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
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
secs="${2:-10}"
conns="${3:-64}"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 2>/dev/null
for i in $(seq 1 100); do echo "$i,adv-1,https://example.com/landing?ad=$i"; done >"$tmp/ads.csv"

start_server() {  # name port extra-server-lines
  local name="$1" port="$2" extra="$3"
  cat >"$tmp/$name.toml" <<CFG
[server]
listen = "127.0.0.1:$port"
$extra
[storage]
data_dir = "$tmp/$name-data"
[signing]
current_key = "k1"
keys = { k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
[auth]
admin_token = "bench-admin-token-0123456789"
CFG
  "$build/src/app/adclick" ads import --config "$tmp/$name.toml" "$tmp/ads.csv" >/dev/null
  "$build/src/app/adclick" serve --config "$tmp/$name.toml" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "serve: ready" "$tmp/$name.log" && return 0
    sleep 0.1
  done
  echo "tls_bench: $name did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}
start_server plain 18480 ""
plain_pid="${pids[-1]}"
start_server tls 18443 "tls_cert = \"$tmp/cert.pem\"
tls_key = \"$tmp/key.pem\""
tls_pid="${pids[-1]}"

"$build/bench/loadgen" --emit-urls 2000000 --ads 100 --out "$tmp/urls.txt" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

run_wrk() {  # label url pid
  local before after out rps p99
  before="$(cpu_ticks "$3")"
  out="$(CLICKS_FILE="$tmp/urls.txt" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/bench/wrk/clicks.lua" "$2")"
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
