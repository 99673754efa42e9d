#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a fixed
# time, two at a time, starting from the seeds in tests/fuzz/corpus. New
# inputs go to <build>/corpus/<target>, never into the repository. A crash,
# a sanitizer report or a broken invariant fails the run; its input is left
# in <build>/artifacts for a regression test.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30, all)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-30}"
shift || true
build="${ADCLICK_FUZZ_BUILD:-$root/build-fuzz}"
CC=clang CXX=clang++ BUILD_TYPE=None "$root/scripts/build.sh" "$build" -DADCLICK_FUZZ=ON \
  -DADCLICK_WERROR=ON -DADCLICK_BUILD_TESTS=OFF -DADCLICK_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1 -g1"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/tests/fuzz/*_fuzz.cc; do
    n="$(basename "$f" _fuzz.cc)"
    targets+=("$n")
  done
fi

mkdir -p "$build/artifacts" "$build/fuzz-logs"
run_one() {  # target
  local t="$1" corpus="$build/corpus/$1" dict=() log="$build/fuzz-logs/$1.log"
  mkdir -p "$corpus"
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp" \
    "$build/tests/fuzz/${t}_fuzz" "$corpus" "$root/tests/fuzz/corpus/$t" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" >"$log" 2>&1; then
    local execs cov
    execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')"
    cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)"
    printf 'fuzz: %-13s %4s s  %10s execs  %-20s  crashes 0\n' "$t" "$seconds" "$execs" "$cov"
  else
    echo "fuzz: $t FAILED; its log follows, the input is in $build/artifacts" >&2
    tail -60 "$log" >&2
    return 1
  fi
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
