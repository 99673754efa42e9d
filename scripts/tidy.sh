#!/usr/bin/env bash
# Runs clang-tidy with the project's checks (.clang-tidy) over every source
# file in src/, warnings as errors. Needs a configured build directory for
# its compile_commands.json.
#
#   scripts/tidy.sh [BUILD_DIR]      (default ./build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: no $build/compile_commands.json; run scripts/build.sh $build first" >&2
  exit 1
fi
start=$SECONDS
# -Wno-unknown-warning-option: the compile commands are GCC's.
if ! run-clang-tidy -p "$build" -j"$(nproc)" -quiet -extra-arg=-Wno-unknown-warning-option \
  "$root/src/.*\.cc$" >"$build/clang-tidy.log" 2>&1; then
  grep -E "(warning|error):" "$build/clang-tidy.log" | sed -r 's/\x1b\[[0-9;]*m//g' | sort -u >&2 || true
  echo "tidy: clang-tidy found problems (full output in $build/clang-tidy.log)" >&2
  exit 1
fi
echo "tidy: clean ($(ls "$root"/src/*/*.cc | wc -l) files, $((SECONDS - start)) s)"
