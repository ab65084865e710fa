#!/usr/bin/env bash
# Proves that what an instructor hands out works, and holds no solution:
#   1. `kata export` writes the handout; no path of it is under solutions/ and no file of it
#      has the bytes of a file of solutions/ (SHA-256); `sha256sum -c tests.sha256` passes;
#   2. the handout, built from scratch, grades as all todo (`kata grade` exits 1);
#   3. with solutions/ copied over its stubs it grades as all passing (same build, rebuilt);
#   4. an assignment's export (docs/assignments/attention-week.json) holds only its katas,
#      builds on its own and `kata grade --assignment assignment.json` grades every assigned
#      step todo, with the copy's tests and fixtures checked unchanged.
# It configures two copies from scratch, the whole handout and the assignment's four katas
# (the grade builds only the targets it runs), and grades them at the same time. With the
# CMAKE_ARGS of the build that runs it (its build type and warning flags), their compiles
# are that build's: ccache has them, and
# only what differs (the solutions compiled from katas/, fixture.cc) is compiled again.
# Usage: grade_copies.sh SOURCE_DIR KATA_BINARY [PYTHON [CMAKE_ARG...]]
set -euo pipefail

SRC="$1"
KATA="$2"
PYTHON="${3:-python3}"
shift $(($# < 3 ? $# : 3))
CMAKE_ARGS=("$@")
((${#CMAKE_ARGS[@]} > 0)) || CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/llmk-copies.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "grade_copies: $*" >&2; exit 1; }

export_copy() {  # export_copy DIR [--assignment FILE]
  # --build_dir points nowhere: the katas are read from the source tree.
  local copy="$1"
  "$KATA" --root="$SRC" --build_dir="$WORK/no-build" export "$@" >"$copy.export.log" 2>&1 ||
    { cat "$copy.export.log" >&2; fail "kata export $* failed"; }
  cat "$copy.export.log"
}

check_no_solutions() {  # check_no_solutions COPY
  local copy="$1"
  if find "$copy" -path "*/solutions/*" -o -name solutions | grep -q .; then
    find "$copy" -path "*/solutions/*" -o -name solutions >&2
    fail "$copy holds paths under solutions/"
  fi
  (cd "$SRC/solutions" && find . -type f -size +0 -exec sha256sum {} +) | sort >"$copy.solutions.sha"
  (cd "$copy" && find . -type f -exec sha256sum {} +) | sort >"$copy.sha"
  local same
  same="$(join -o 1.2,2.2 <(cut -d' ' -f1,3 "$copy.solutions.sha" | sort) \
                          <(cut -d' ' -f1,3 "$copy.sha" | sort) || true)"
  [[ -z "$same" ]] || { echo "$same" >&2; fail "$copy holds files with the bytes of solutions/"; }
  (cd "$copy" && sha256sum -c --quiet tests.sha256) || fail "sha256sum -c fails in $copy"
  echo "$(wc -l <"$copy.sha") files, none under solutions/, none with a solution's bytes"
}

configure() {  # configure COPY
  cmake -S "$1" -B "$1/build" -G Ninja "${CMAKE_ARGS[@]}" \
    >"$1.configure.log" 2>&1 || { cat "$1.configure.log" >&2; fail "configure of $1 failed"; }
  cmake --build "$1/build" --target kata -j2 >"$1.build.log" 2>&1 ||
    { tail -50 "$1.build.log" >&2; fail "building the harness of $1 failed"; }
}

grade() {  # grade COPY OUT_JSON [FLAGS...] -> exit code of kata grade
  local copy="$1" out="$2" rc=0
  shift 2
  (cd "$copy" && "$copy/build/harness/kata/kata" --root="$copy" --build_dir="$copy/build" \
    grade --format json --out "$out" "$@") >"$copy.grade.log" 2>&1 || rc=$?
  return $rc
}

check() {  # check REPORT EXPECTED_STATUS [KATAS...]: with KATAS, exactly those are graded
  "$PYTHON" - "$@" <<'PY'
import json, sys
report, expected, katas = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3:]
bad = []
steps = 0
names = [kata["name"] for kata in report["katas"]]
if katas and sorted(names) != sorted(katas):
    bad.append(f"graded {names}, expected {katas}")
for kata in report["katas"]:
    if kata["problem"] != "none":
        bad.append(f'{kata["name"]}: {kata["problem"]} {kata["problem_detail"]}')
    integrity = kata.get("integrity", {})
    if integrity.get("broken"):
        bad.append(f'{kata["name"]}: changed or missing files: {integrity.get("files")}')
    assigned = kata.get("assigned_steps") or [step["number"] for step in kata["steps"]]
    for step in kata["steps"]:
        if step["number"] not in assigned:
            continue
        steps += 1
        if step["status"] != expected:
            bad.append(f'{kata["name"]} step {step["number"]}: {step["status"]} ({step["detail"]})')
print(f"{len(report['katas'])} katas, {steps} graded steps, {len(bad)} not as expected ({expected})")
for line in bad:
    print("  " + line)
sys.exit(1 if bad or steps == 0 else 0)
PY
}

# The handout (two grades, one after the other) and the assignment's copy are independent:
# the assignment's runs beside them, its output printed after, so that while one copy
# configures or runs tests (one core) the other compiles.
handout_phase() {
  local start=$SECONDS
  HANDOUT="$WORK/handout"
  echo "== kata export: the handout"
  export_copy "$HANDOUT"
  check_no_solutions "$HANDOUT"

  echo "== the handout, built from scratch: every step must be todo"
  configure "$HANDOUT"
  rc=0; grade "$HANDOUT" "$WORK/stubs.json" || rc=$?
  [[ $rc == 1 ]] || { cat "$HANDOUT.grade.log" >&2; fail "grade of the handout exited $rc, expected 1"; }
  check "$WORK/stubs.json" todo || fail "the handout does not grade as all todo"

  echo "== solutions copied over the handout's stubs: every step must pass"
  for dir in "$SRC"/solutions/*/; do
    cp -R "$dir". "$HANDOUT/katas/$(basename "$dir")/"
  done
  configure "$HANDOUT"  # picks up solution-only files now present in katas/
  rc=0; grade "$HANDOUT" "$WORK/solutions.json" || rc=$?
  [[ $rc == 0 ]] || { cat "$HANDOUT.grade.log" >&2; check "$WORK/solutions.json" passing || true;
                      fail "grade with solutions over the stubs exited $rc, expected 0"; }
  check "$WORK/solutions.json" passing || fail "solutions over the stubs do not all pass"
  echo "(the handout: $((SECONDS - start)) s)"
}

week_phase() {
  local start=$SECONDS
  echo "== kata export --assignment: only the assigned katas, graded on their own"
  ASSIGNMENT="$SRC/docs/assignments/attention-week.json"
  [[ -f "$ASSIGNMENT" ]] || fail "$ASSIGNMENT is missing"
  WEEK="$WORK/week"
  export_copy "$WEEK" --assignment "$ASSIGNMENT"
  check_no_solutions "$WEEK"
  cmp -s "$ASSIGNMENT" "$WEEK/assignment.json" || fail "$WEEK/assignment.json is not the assignment"
  mapfile -t assigned < <("$PYTHON" -c '
import json, sys
for kata in json.load(open(sys.argv[1]))["katas"]:
    print(kata["kata"])' "$ASSIGNMENT")
  present="$(cd "$WEEK/katas" && ls -d */kata.json | cut -d/ -f1 | sort | tr '\n' ' ')"
  expected="$(printf '%s\n' "${assigned[@]}" | sort | tr '\n' ' ')"
  [[ "$present" == "$expected" ]] || fail "katas of the assignment's copy: $present; expected $expected"
  [[ "$(cd "$WEEK/fixtures" && ls -d */ | tr -d / | sort | tr '\n' ' ')" == "$expected" ]] ||
    fail "fixtures of the assignment's copy are not those of its katas"
  configure "$WEEK"
  rc=0; grade "$WEEK" "$WORK/week.json" --assignment assignment.json || rc=$?
  [[ $rc == 1 ]] || { cat "$WEEK.grade.log" >&2; fail "grade of the assignment exited $rc, expected 1"; }
  check "$WORK/week.json" todo "${assigned[@]}" || fail "the assignment does not grade as all todo"
  echo "(the assignment's copy: $((SECONDS - start)) s)"
}

# (Both in the background, so that `set -e` holds inside each.)
week_phase >"$WORK/week.out" 2>&1 &
week_pid=$!
handout_phase &
handout_pid=$!
handout_rc=0
wait "$handout_pid" || handout_rc=$?
week_rc=0
wait "$week_pid" || week_rc=$?
cat "$WORK/week.out"
((handout_rc == 0 && week_rc == 0)) || exit 1
echo "grade_copies: ok"
