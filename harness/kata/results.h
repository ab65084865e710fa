// What a run of a kata's tests found, step by step: the vocabulary every verb,
// the board and the report writers share.
//
//   KataResult result = RunKata(kata, Variant::kLearner, options);
//   for (const StepResult& step : result.steps) fmt::print("{}\n", StatusLabel(step.status));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bench.h"
#include "gtest_output.h"

namespace llmk::kata {

enum class StepStatus {
  kPassing,      // every test of the step passed (and it has at least one)
  kTodo,         // every failing test failed with llmk::NotImplemented
  kFailing,      // some test failed otherwise
  kCrashed,      // the binary died of a signal during the step
  kTimedOut,     // the step ran past its time limit
  kExitedEarly,  // the binary exited before finishing the step
  kFlooded,      // the binary wrote more output than allowed
  kNoTests,      // the step's suite has no tests
  kNotRun,       // the step was not run (the kata did not build, or --step)
};

// For people: "timed out". Stable; the text board and markdown use it.
std::string_view StatusLabel(StepStatus status);
// For machines: "timed_out". Stable; JSON and JUnit use it.
std::string_view StatusToken(StepStatus status);
// True for the statuses in which the binary misbehaved (crash, hang, ...).
bool IsAbnormal(StepStatus status);

struct StepResult {
  int number = 0;
  std::string suite;
  std::string title;
  std::string anchor;
  StepStatus status = StepStatus::kNotRun;
  // One line saying what went wrong: "crashed in Step 3 (SIGSEGV)".
  std::string detail;
  // The test that was running when the step ended abnormally, if known.
  std::string unfinished_test;
  std::vector<TestResult> tests;
  // The binary's console output for this step (cut to a sane size), kept when
  // the step ended abnormally: the only account of what happened.
  std::string output;
  double seconds = 0;

  bool Passing() const { return status == StepStatus::kPassing; }
};

// A published file (test source, fixture, kata.json, test-support library) as
// found in the copy being graded.
enum class FileState {
  kUnchanged,  // its SHA-256 is the published one
  kChanged,    // it differs from the published one
  kMissing,    // it is published but absent from the copy
};
std::string_view FileStateToken(FileState state);  // "unchanged", "changed", "missing"

struct FileCheck {
  std::string path;             // relative to the root: "katas/02_attention/attention_test.cc"
  std::string expected_sha256;  // lower-case hex, from the published digests
  std::string actual_sha256;    // empty if missing
  FileState state = FileState::kUnchanged;
};

// Why a kata's steps could not be run at all.
enum class KataProblem {
  kNone,
  kDoesNotCompile,  // the build of its test target failed
  kNoBinary,        // no test binary: not declared in the build, or not built
  kCannotList,      // the binary misbehaved while listing its tests
};

std::string_view ProblemLabel(KataProblem problem);  // "does not compile"
std::string_view ProblemToken(KataProblem problem);  // "does_not_compile"

struct KataResult {
  std::string name;
  std::string title;
  std::string dir;       // "katas/02_attention"
  std::string short_id;  // "02"
  std::string variant;   // "learner" or "solution"
  KataProblem problem = KataProblem::kNone;
  // For a problem: one line ("crashed while listing its tests (SIGSEGV)") and
  // the evidence (the first lines of the compiler's errors).
  std::string problem_detail;
  std::string problem_output;
  std::vector<StepResult> steps;  // every step of kata.json, in order
  // What the board adds under the kata's heading when it shows a recorded run
  // rather than a fresh one: "not run yet: ...", "attention.cc changed after this run: ...".
  std::string note;
  // Listed tests whose suite is the suite of no step (the selftest flags them).
  std::vector<std::string> tests_in_no_step;

  // Performance, when the grade ran the kata's benchmark (an assignment that
  // sets thresholds for it, or `kata grade --bench`): one result per threshold,
  // in the order of the assignment (or of kata.json).
  bool performance_run = false;
  std::vector<ThresholdResult> performance;
  // Why the benchmark gave no results ("the benchmark does not compile"); empty if it ran.
  std::string performance_problem;

  // Integrity: every test source and fixture of the kata, checked against the
  // published digests (empty when the grade did not check).
  std::vector<FileCheck> files;
  // True if some file of `files` is changed or missing.
  bool IntegrityBroken() const;

  // The assignment's scoring of this kata (zero when graded without one).
  // weight: what the kata's steps are worth; earned: weight * passing steps /
  // assigned steps (0 if integrity is broken and the assignment says "fail").
  double weight = 0;
  double earned = 0;
  // Steps the assignment grades (empty = every step).
  std::vector<int> assigned_steps;
  // The performance thresholds' part: the sum of their weights, and of the
  // weights of those met (0 if integrity is broken and the assignment says "fail").
  double performance_weight = 0;
  double performance_earned = 0;
  // True if the kata earned nothing because a published file of it (or a
  // shared one) is changed or missing and the assignment says "fail".
  bool integrity_failed = false;

  // Every threshold was met (true when none was graded).
  bool PerformancePasses() const;
  // What the grade requires of this kata: no problem, every graded step passes
  // (the assigned ones, else every step), every threshold met, and integrity
  // not failed.
  bool Passes() const;

  int PassingSteps() const;
  int StepCount() const { return static_cast<int>(steps.size()); }
  // No problem, and every step that was run passes (at least one was run).
  bool RunStepsPass() const;
  bool AllStepsPass() const { return PassingSteps() == StepCount() && StepCount() > 0; }
  // No step was run (none has a status but kNotRun).
  bool NoneRun() const;
  // The first step that was run and does not pass, or nullptr.
  const StepResult* FirstNonPassingRun() const;
  // The first step that does not pass, run or not, or nullptr.
  const StepResult* FirstNonPassing() const;
  std::string ReadmeLink(const StepResult& step) const;
};

// A grade: every kata of one variant.
struct GradeReport {
  std::string variant;
  std::vector<KataResult> katas;

  // Set when graded with --assignment: its title and the score out of the
  // weights (the katas' weights plus every performance threshold's weight).
  bool has_assignment = false;
  std::string assignment_title;
  std::string assignment_file;
  double score = 0;
  double max_score = 0;
  // The digests the files were checked against ("tests.sha256"); empty if not checked.
  std::string digests_file;
  // The shared test-support library, checked against the same digests.
  std::vector<FileCheck> shared_files;
  // The assignment says a changed test or fixture fails the kata.
  bool integrity_fails = false;

  int PassingSteps() const;
  int StepCount() const;
  // Every kata Passes() (and there is at least one), and no shared file is
  // changed when the assignment says "fail".
  bool AllPass() const;
};

}  // namespace llmk::kata
