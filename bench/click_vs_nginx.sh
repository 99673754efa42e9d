#!/usr/bin/env bash
# The click path against nginx's bare 302, side by side in one run: adclick
# on its default settings (durability "sync", HMAC verification, dedup,
# exactly-once counting), 1,000 ads imported, every request a distinct
# validly signed click; then nginx with one worker answering
# `location /click { return 302 ...; }`. Both get the same click paths from
# wrk (-t1 -c64, closed loop), alternating ROUNDS times. Prints each run's
# rate and p99, the medians, and adclick's rate as a fraction of nginx's.
# Installs nginx and wrk from Debian when missing.
#
#   bench/click_vs_nginx.sh [BUILD_DIR] [SECONDS] [ROUNDS]    (build 6 2)
set -euo pipefail
BUILD="$(cd "${1:-$(dirname "$0")/../build}" && pwd)"
secs="${2:-6}"
rounds="${3:-2}"
. "$(dirname "$0")/lib.sh"
tmp="$BENCH_TMP"

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

# nginx: one worker, no access log, the bare redirect.
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:18980;
    location /click { return 302 https://example.com/landing; }
  }
}
CONF
"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
bench_pids+=($!)

# adclick: the default config (config/adclick.toml), on its own port and data dir.
sed -e 's|^listen = .*|listen = "127.0.0.1:18981"|' -e "s|^data_dir = .*|data_dir = \"$tmp/adclick-data\"|" \
  "$BENCH_ROOT/config/adclick.toml" >"$tmp/adclick.toml"
for i in $(seq 1 1000); do echo "$i,adv-1,https://example.com/landing?ad=$i"; done >"$tmp/ads.csv"
"$BUILD/src/app/adclick" ads import --config "$tmp/adclick.toml" "$tmp/ads.csv" >/dev/null
"$BUILD/src/app/adclick" serve --config "$tmp/adclick.toml" >"$tmp/adclick.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:18981/readyz >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18980/click && break; sleep 0.1; done

# Distinct signed clicks for each round, more than a run can send (wrk sends a
# file from its start: a path sent again would be a duplicate, cheaper).
for r in $(seq 1 "$rounds"); do
  "$BUILD/bench/loadgen" --emit-urls 2000000 --ads 1000 --seed "$r" --out "$tmp/urls$r.txt" >/dev/null
done

run() {  # label port round: "RATE P99_MS"
  local out rate p99
  out="$(CLICKS_FILE="$tmp/urls$3.txt" wrk -t1 -c64 -d"${secs}s" --latency -s "$BENCH_ROOT/bench/wrk/clicks.lua" \
    "http://127.0.0.1:$2")"
  rate="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}')"
  printf 'click_vs_nginx: %-7s %10.0f clicks/s, p99 %6.2f ms\n' "$1" "$rate" "$p99" >&2
  echo "$rate $p99"
}
a_rates=(); n_rates=(); a_p99=(); n_p99=()
for r in $(seq 1 "$rounds"); do
  read -r rate p99 < <(run adclick 18981 "$r"); a_rates+=("$rate"); a_p99+=("$p99")
  read -r rate p99 < <(run nginx 18980 "$r"); n_rates+=("$rate"); n_p99+=("$p99")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
am="$(median "${a_rates[@]}")"; nm="$(median "${n_rates[@]}")"
printf 'click_vs_nginx: medians: adclick %.0f clicks/s (p99 %s ms), nginx %.0f/s (p99 %s ms): ratio %.2f\n' \
  "$am" "$(median "${a_p99[@]}")" "$nm" "$(median "${n_p99[@]}")" "$(echo "$am / $nm" | bc -l)"
counted="$(bench_metric 18981 'adclick_clicks_total{outcome="counted"}')"
dups="$(bench_metric 18981 'adclick_clicks_total{outcome="duplicate"}')"
echo "click_vs_nginx: adclick answered $counted clicks counted, $dups duplicates; machine: $(nproc) cores;" \
  "command: bench/click_vs_nginx.sh $BUILD $secs $rounds"
