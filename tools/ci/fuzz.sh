#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (the "fuzz" preset: clang, address and undefined
# sanitizers) and runs each for a bounded time from a copy of its seed corpus.
#
#   tools/ci/fuzz.sh [SECONDS] [TARGET...]     # default: 30 seconds each, every target
#
# Needs clang++ and libFuzzer (Debian: clang libclang-rt-14-dev) besides the packages the
# rest of the build needs; installs nothing itself. Runs LLMK_JOBS targets at a time (default
# 2, one per core; each target is a single process). Prints, per target, the seconds it ran
# and the executions it reached, then a summary; exits non-zero on any crash, leak,
# timeout, out-of-memory or sanitizer report, naming the saved input that caused it.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-30}"
shift || true
if ! [[ "${seconds}" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "fuzz.sh: SECONDS must be a positive integer, got '${seconds}'" >&2
  exit 2
fi
targets=("$@")
if (( ${#targets[@]} == 0 )); then
  for file in "${root}"/fuzz/*_fuzz.cc; do
    name="$(basename "${file}" _fuzz.cc)"
    targets+=("${name}")
  done
fi
for name in "${targets[@]}"; do
  if [[ ! -f "${root}/fuzz/${name}_fuzz.cc" ]]; then
    echo "fuzz.sh: no fuzz target '${name}' (fuzz/${name}_fuzz.cc does not exist)" >&2
    exit 2
  fi
done
for tool in clang++ cmake ninja; do
  if ! command -v "${tool}" > /dev/null; then
    echo "fuzz.sh: ${tool} is not installed (Debian packages: clang libclang-rt-14-dev" \
         "cmake ninja-build)" >&2
    exit 2
  fi
done

start=${SECONDS}
cd "${root}"
work="$(mktemp -d "${TMPDIR:-/tmp}/llmk-fuzz.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
echo "== configuring build-fuzz (cmake --preset fuzz)"
if ! cmake --preset fuzz > "${work}/configure.log" 2>&1; then
  cat "${work}/configure.log" >&2
  echo "fuzz.sh: configuring the fuzz preset failed" >&2
  exit 1
fi
echo "== building ${#targets[@]} targets"
if ! cmake --build build-fuzz -j2 --target "${targets[@]/%/_fuzz}"; then
  echo "fuzz.sh: building the fuzz targets failed" >&2
  exit 1
fi
build_seconds=$(( SECONDS - start ))

artifacts="${root}/build-fuzz/fuzz/findings"
mkdir -p "${artifacts}"
# fuzz_one NAME: runs one target from a copy of its seeds; writes its summary line to
# ${work}/NAME.line and, on a finding, the end of its log and the input to ${work}/NAME.failed.
fuzz_one() {
  local name="$1"
  local corpus="${work}/${name}"
  mkdir -p "${corpus}"
  cp -r "${root}/fuzz/corpus/${name}/." "${corpus}/" 2> /dev/null || true
  local regressions=()
  if [[ -d "${root}/fuzz/regressions/${name}" ]]; then
    regressions=("${root}/fuzz/regressions/${name}")
  fi
  local dict=()
  if [[ -f "${root}/fuzz/${name}.dict" ]]; then dict=("-dict=${root}/fuzz/${name}.dict"); fi
  local log="${work}/${name}.log"
  local t0=${SECONDS}
  # The first directory receives the new inputs; the seeds' copy, never fuzz/corpus.
  "${root}/build-fuzz/fuzz/${name}_fuzz" "${corpus}" "${regressions[@]}" "${dict[@]}" \
      -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="${artifacts}/${name}-" > "${log}" 2>&1
  local rc=$?
  local elapsed=$(( SECONDS - t0 ))
  local done_line runs
  done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "${log}" | tail -1)"
  runs="$(sed -nE 's/^Done ([0-9]+) runs.*/\1/p' <<< "${done_line}")"
  if [[ -z "${runs}" ]]; then
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "${log}" | tail -1)"
  fi
  local status="ok"
  if (( rc != 0 )) || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: ' "${log}"; then
    status="FAILED"
    local input
    input="$(sed -nE "s/.*Test unit written to (.*)$/\1/p" "${log}" | tail -1)"
    { tail -n 40 "${log}"; echo "${name}: the input is ${input:-unknown (see the log above)}"; } \
      > "${work}/${name}.failed"
  fi
  printf '%-18s %-6s %5d s  %12s executions\n' "${name}" "${status}" "${elapsed}" "${runs:-?}" \
    > "${work}/${name}.line"
}

# Each target is one single-threaded process: run LLMK_JOBS (default 2) at a time, so every
# target still gets its full SECONDS on a core of its own.
jobs_max="${LLMK_JOBS:-2}"
if ! [[ "${jobs_max}" =~ ^[0-9]+$ ]] || (( jobs_max < 1 )); then jobs_max=1; fi
echo "== fuzzing ${#targets[@]} targets, ${seconds} s each, ${jobs_max} at a time"
running=0
for name in "${targets[@]}"; do
  if (( running >= jobs_max )); then
    wait -n
    running=$(( running - 1 ))
  fi
  echo "== ${name}: ${seconds} s"
  fuzz_one "${name}" &
  running=$(( running + 1 ))
done
wait

failed=()
summary=()
for name in "${targets[@]}"; do
  if [[ -f "${work}/${name}.failed" ]]; then
    cat "${work}/${name}.failed"
    failed+=("${name}")
  fi
  line="$(cat "${work}/${name}.line" 2> /dev/null || printf '%-18s %-6s' "${name}" "FAILED")"
  [[ -f "${work}/${name}.line" ]] || failed+=("${name}")
  echo "${line}"
  summary+=("${line}")
done

total=$(( SECONDS - start ))
echo
echo "== fuzz summary (${seconds} s per target; build ${build_seconds} s; total ${total} s)"
printf '%s\n' "${summary[@]}"
if (( ${#failed[@]} > 0 )); then
  echo "FAILED: ${failed[*]} (inputs saved under ${artifacts})"
  exit 1
fi
echo "all ${#targets[@]} fuzz targets ran without a finding"
