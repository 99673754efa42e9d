#!/usr/bin/env bash
# Installs what is missing, builds adclick, and starts it on the default
# config (config/adclick.toml, data in ./data). Ctrl-C stops it cleanly.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DADCLICK_BUILD_TESTS=OFF -DADCLICK_BUILD_BENCH=OFF
config="${ADCLICK_CONFIG:-$root/config/adclick.toml}"
echo "run: starting adclick serve --config $config (Ctrl-C to stop)"
exec "$root/build/src/app/adclick" serve --config "$config"
