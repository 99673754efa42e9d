#!/usr/bin/env bash
# Installs what is missing, builds adclick with its tests, and runs the whole
# suite: the release build with warnings as errors, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the threaded suites under
# ThreadSanitizer, then clang-tidy (warnings as errors) and every fuzz target
# for 30 s under ASan+UBSan. Exits non-zero on the first failure.
#
#   scripts/test.sh            everything (what .ci/run runs)
#   scripts/test.sh quick      the release build and suite only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode="${1:-full}"
"$root/scripts/install-deps.sh"

run_suite() {  # build_dir label [ctest args...]
  local dir="$1" label="$2"
  shift 2
  echo "=== test: $label ==="
  local start=$SECONDS
  ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600 "$@"
  echo "=== test: $label passed in $((SECONDS - start)) s ==="
}

start=$SECONDS
BUILD_TYPE=Release "$root/scripts/build.sh" "$root/build-test" -DADCLICK_WERROR=ON
run_suite "$root/build-test" "release"
"$root/build-test/bench/log_bench" --seconds 1 --threads 2 --dir "$root/build-test/log_bench_data" >/dev/null

if [ "$mode" = "full" ]; then
  # Sanitizer builds: -O1 with line tables only (fast to compile, asserts on).
  BUILD_TYPE=None "$root/scripts/build.sh" "$root/build-asan" -DADCLICK_WERROR=ON \
    -DADCLICK_ASAN=ON -DADCLICK_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1 -g1"
  # The power-loss torture runs its full 1,000 cuts in the release suite;
  # under the sanitizers a shorter run checks the same paths for memory errors.
  ADCLICK_TORTURE_CUTS=200 \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "$root/build-asan" "asan+ubsan"

  BUILD_TYPE=None "$root/scripts/build.sh" "$root/build-tsan" -DADCLICK_WERROR=ON \
    -DADCLICK_TSAN=ON -DADCLICK_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1 -g1"
  # The threaded suites, in-process. Left out, and run in the release and
  # ASan suites only: the log's crash test (it forks a process that then
  # starts threads, which TSan does not support), the suites that drive the
  # binary as a child, and the tests where several threads meet only inside
  # RocksDB (the agg shards, concurrent merges, the reconciler against a live
  # speed layer or a reader thread): Debian's RocksDB is not built with TSan,
  # so TSan cannot see its locks and reports races that are not.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite "$root/build-tsan" "tsan" -R "^(log|ingest|state|http|query|recon):" \
    -E "^log:SIGKILL|^state:concurrent merges|^recon:(a run stopped|a late click|no race)"

  echo "=== clang-tidy ==="
  "$root/scripts/tidy.sh" "$root/build-test"

  echo "=== fuzz: every target for 30 s ==="
  fuzz_start=$SECONDS
  ADCLICK_FUZZ_BUILD="$root/build-fuzz" "$root/scripts/fuzz.sh" 30
  echo "=== fuzz passed in $((SECONDS - fuzz_start)) s ==="
fi
echo "test: all suites passed in $((SECONDS - start)) s"
