#!/usr/bin/env bash
# Grades two fresh copies of the repository, built from scratch:
#   1. as handed out: `kata grade` must exit 1, and every step of every kata must be todo;
#   2. with solutions/ copied over the stubs: `kata grade` must exit 0, every step passing.
# Usage: grade_copies.sh SOURCE_DIR [PYTHON]
set -euo pipefail

SRC="$1"
PYTHON="${2:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/llmk-copies.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
COPY="$WORK/repo"
mkdir -p "$COPY"

fail() { echo "grade_copies: $*" >&2; exit 1; }

tar -C "$SRC" --exclude='./build' --exclude='./build-*' --exclude='./.git' -cf - . |
  tar -C "$COPY" -xf -

configure() {
  cmake -S "$COPY" -B "$COPY/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log" >&2; fail "configure failed"; }
  cmake --build "$COPY/build" --target kata -j2 >"$WORK/build.log" 2>&1 ||
    { tail -50 "$WORK/build.log" >&2; fail "building the harness failed"; }
}

grade() {  # grade OUT_JSON -> exit code of kata grade
  local rc=0
  "$COPY/build/harness/kata/kata" --root="$COPY" --build_dir="$COPY/build" \
    grade --format json --out "$1" >"$WORK/grade.log" 2>&1 || rc=$?
  return $rc
}

check() {  # check REPORT EXPECTED_STATUS
  "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
report, expected = json.load(open(sys.argv[1])), sys.argv[2]
bad = []
steps = 0
for kata in report["katas"]:
    if kata["problem"] != "none":
        bad.append(f'{kata["name"]}: {kata["problem"]} {kata["problem_detail"]}')
    for step in kata["steps"]:
        steps += 1
        if step["status"] != expected:
            bad.append(f'{kata["name"]} step {step["number"]}: {step["status"]} ({step["detail"]})')
print(f"{len(report['katas'])} katas, {steps} steps, {len(bad)} not {expected}")
for line in bad:
    print("  " + line)
sys.exit(1 if bad or steps == 0 else 0)
PY
}

echo "== the handout (stubs): every step must be todo"
configure
rc=0; grade "$WORK/stubs.json" || rc=$?
[[ $rc == 1 ]] || { cat "$WORK/grade.log" >&2; fail "grade of the stubs exited $rc, expected 1"; }
check "$WORK/stubs.json" todo || fail "the stubs do not grade as all todo"

echo "== solutions copied over the stubs: every step must pass"
for dir in "$COPY"/solutions/*/; do
  cp -R "$dir". "$COPY/katas/$(basename "$dir")/"
done
configure  # picks up solution-only files now present in katas/
rc=0; grade "$WORK/solutions.json" || rc=$?
[[ $rc == 0 ]] || { cat "$WORK/grade.log" >&2; check "$WORK/solutions.json" passing || true;
                    fail "grade with solutions over stubs exited $rc, expected 0"; }
check "$WORK/solutions.json" passing
echo "grade_copies: ok"
