#!/usr/bin/env bash
# Builds every kata's solution tests with AddressSanitizer (and LeakSanitizer) and
# UndefinedBehaviorSanitizer and runs them (with LLMK_SANITIZE_HARNESS=1, the harness's own
# tests as well). Any failing test or sanitizer report makes it exit non-zero.
#
#   tools/ci/sanitize.sh              (from any directory; builds in build-sanitize/)
#
# The last line is the summary:
#   sanitize: N tests passed, 0 failed, build X s, run Y s
# Environment: LLMK_JOBS (default 2) parallel build and test jobs; LLMK_SANITIZE_HARNESS=1
# adds the harness's tests (harness_test, its fake katas and the `kata` binary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-sanitize"
JOBS="${LLMK_JOBS:-2}"
HARNESS="${LLMK_SANITIZE_HARNESS:-0}"
LOG_DIR="$BUILD/sanitize-logs"

say() { printf 'sanitize: %s\n' "$*" >&2; }

# The kata tests get their sanitizer options from CTest (llmk_kata); the harness tests
# get these. The harness's fake katas crash on purpose (SIGSEGV, abort): handle_segv=0
# lets them die of the signal, as they do outside a sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:handle_segv=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

cd "$ROOT"
mkdir -p "$LOG_DIR"

# The solution test of every kata that declares itself (katas/NN_*/CMakeLists.txt), and
# what they link (solutions, reference oracles, test support); no stubs, no benchmarks.
targets=()
for dir in katas/[0-9][0-9]_*/; do
  name="$(basename "$dir")"
  [[ -f "$dir/CMakeLists.txt" && -d "solutions/$name" ]] || continue
  targets+=("${name}_solution_test")
done
if ((${#targets[@]} == 0)); then
  say "no katas found under $ROOT/katas"
  exit 1
fi
if [[ "$HARNESS" != 0 ]]; then
  targets+=(harness_test)
fi

build_start=$SECONDS
say "configuring $BUILD (preset sanitize) ..."
if ! cmake --preset sanitize >"$LOG_DIR/configure.log" 2>&1; then
  cat "$LOG_DIR/configure.log" >&2
  say "configuration failed (log above)"
  exit 1
fi
say "building ${#targets[@]} targets with -j$JOBS ..."
if ! cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" >"$LOG_DIR/build.log" 2>&1; then
  grep -E -m 60 'error|Error|FAILED' "$LOG_DIR/build.log" >&2 || tail -n 60 "$LOG_DIR/build.log" >&2
  say "the build failed (full log: $LOG_DIR/build.log)"
  exit 1
fi
build_seconds=$((SECONDS - build_start))

# Runs the tests with a label (not the slow ones) and adds them to the counts. With
# halt_on_error and -fno-sanitize-recover, a sanitizer report fails its test.
passed=0
failed=0
run_ctest() {
  local label="$1" log="$2" status=0
  ctest --test-dir "$BUILD" -L "$label" -LE slow -j "$JOBS" --output-on-failure \
    --no-tests=error >"$log" 2>&1 || status=$?
  local total fails
  total="$(sed -nE 's/.* tests passed, [0-9]+ tests failed out of ([0-9]+).*/\1/p' "$log" |
    tail -n 1)"
  fails="$(sed -nE 's/.* tests passed, ([0-9]+) tests failed out of [0-9]+.*/\1/p' "$log" |
    tail -n 1)"
  if [[ -z "$total" ]]; then
    tail -n 40 "$log" >&2
    say "ctest -L '$label' did not run (log above, also in $log)"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if ((status != 0 || fails > 0)); then
    # The failing tests, with their output: the sanitizer report is in it.
    sed -n '/The following tests FAILED/,$p' "$log" >&2
    grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 200 >&2 || true
    say "ctest -L '$label': $fails of $total failed (full log: $log)"
    ((fails > 0)) || failed=$((failed + 1))
  else
    say "ctest -L '$label': $total passed"
  fi
}

run_start=$SECONDS
run_ctest '^solution$' "$LOG_DIR/solution.log"
if [[ "$HARNESS" != 0 ]]; then
  run_ctest '^harness$' "$LOG_DIR/harness.log"
fi
run_seconds=$((SECONDS - run_start))

printf 'sanitize: %d tests passed, %d failed, build %d s, run %d s\n' \
  "$passed" "$failed" "$build_seconds" "$run_seconds"
((failed == 0))
