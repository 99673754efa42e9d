#!/usr/bin/env bash
# Installs what is missing, builds adclick, and starts it on the default
# config (config/adclick.toml, data in ./data). Once it is ready it registers a
# demo ad (42, advertiser adv-1) and prints a signed click URL and a query.
# Ctrl-C stops it cleanly.
#
#   ADCLICK_CONFIG=path/to/other.toml scripts/run.sh     another config
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DADCLICK_BUILD_TESTS=OFF -DADCLICK_BUILD_BENCH=OFF
bin="$root/build/src/app/adclick"
config="${ADCLICK_CONFIG:-$root/config/adclick.toml}"
# The demo values of config/adclick.toml (replace them for real use).
admin_token="${ADCLICK_ADMIN_TOKEN:-demo-admin-token-change-me}"
advertiser_key="demo-key-for-adv-1"
listen="$("$bin" serve --config "$config" --print-config | sed -n 's/^listen = "\(.*\)"$/\1/p' | head -1)"
base="http://${listen:-127.0.0.1:8080}"

echo "run: starting adclick serve --config $config"
"$bin" serve --config "$config" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' INT TERM
for _ in $(seq 1 300); do
  if curl -fs "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; exit 1; fi
  sleep 0.1
done
curl -fs -X PUT -H "Authorization: Bearer $admin_token" \
  -d '{"advertiserId":"adv-1","url":"https://example.com/landing"}' \
  "$base/api/v1/ads/42" >/dev/null
url="$("$bin" sign --config "$config" --ad 42 --ttl 1h --base-url "$base")"
cat <<MSG

adclick is ready on $base (data in $(sed -n 's/^data_dir = "\(.*\)"$/\1/p' "$config" | head -1)).
Demo ad 42 (advertiser adv-1) redirects to https://example.com/landing.

  A signed click (302; a second time it is a duplicate, still 302, not counted):
    curl -si '$url'

  Its clicks per minute over the last hour (within about a second):
    curl -s -H 'Authorization: Bearer $advertiser_key' "$base/api/v1/ads/42/aggregates?from=\$((\$(date +%s)-3600))&to=\$((\$(date +%s)+60))"

  More signed links:  $bin sign --config $config --ad 42
  Metrics:            curl -s $base/metrics
Ctrl-C stops adclick.
MSG
wait "$pid"
