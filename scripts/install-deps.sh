#!/usr/bin/env bash
# Installs the Debian 12 packages adclick builds and tests with.
# Idempotent: packages that are already installed are skipped, and apt is
# not touched at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libboost-dev            # Asio, Beast (header-only in 1.74)
  librocksdb-dev          # state
  libxxhash-dev           # record checksums, partitioning
  libssl-dev              # HMAC-SHA256
  libzstd-dev             # segment archive
  libjemalloc-dev         # the server's allocator
  catch2                  # tests
  libfmt-dev libspdlog-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  librdkafka-dev          # the Kafka log backend and its mock cluster (tests, demo)
  libsystemd-dev          # sd_notify: readiness for a systemd unit of Type=notify
  libre2-dev              # RE2::Set: known crawlers and link-preview fetchers by User-Agent
  systemd                 # systemd-analyze: the tests verify contrib/systemd/adclick.service
  libbenchmark-dev        # bench/
  chromium                # the dashboard's browser test (headless)
  clang libclang-rt-14-dev  # the fuzz targets (libFuzzer, sanitizer runtimes)
  clang-tidy              # static checks in CI
  openssl                 # test certificates (the openssl command)
  prometheus              # promtool: the tests lint /metrics with Prometheus' own checker
  dpkg-dev file           # cpack -G DEB: dpkg-shlibdeps derives the package's dependencies
)
# The dashboard's build step (npm ci: uPlot) and its browser test need Node.js
# and npm: Debian's, unless a Node.js with npm is installed already (Debian's
# npm package cannot sit beside another vendor's nodejs).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages and not root; run as root or install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
