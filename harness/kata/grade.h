// Builds and runs katas, one after the other, each isolated from the others: a
// kata that does not compile or whose binary misbehaves is reported, and the
// grade goes on with the next. With an assignment, only its katas and steps
// are graded, each kata within its time limit, its benchmark run when it sets
// thresholds, and the score computed; the published test files are checked
// against their digests when there are digests.
//
//   GradeReport report = GradeKatas(katas, Variant::kLearner, options,
//                                   CmakeBuilder(build_dir, 2), PrintProgress);
//
//   GradeOptions grade;
//   grade.assignment = &assignment;
//   GradeReport scored = Grade(catalog, Variant::kLearner, grade, build, progress);
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assignment.h"
#include "bench.h"
#include "builder.h"
#include "catalog.h"
#include "integrity.h"
#include "kata_runner.h"
#include "results.h"

namespace llmk::kata {

// Builds the kata's test target for `variant` (unless `build` is empty), then
// runs it. A failed build is reported as kDoesNotCompile with the first lines of
// the errors.
KataResult BuildAndRunKata(const Kata& kata, Variant variant, const RunOptions& options,
                           const BuildFunction& build, const ProgressFunction& progress);

// BuildAndRunKata for every kata, in order.
GradeReport GradeKatas(const std::vector<Kata>& katas, Variant variant, const RunOptions& options,
                       const BuildFunction& build, const ProgressFunction& progress);

struct GradeOptions {
  RunOptions run;
  // The assignment to grade (its katas, steps, weights, time limits and
  // thresholds); nullptr = every kata of the catalog, every step.
  const Assignment* assignment = nullptr;
  std::string assignment_file;  // for the reports
  // Without an assignment: also run every kata's benchmark and grade the
  // thresholds of its kata.json (weight 1 each).
  bool bench = false;
  BenchmarkOptions benchmark;
  // The published digests; none = integrity not checked.
  std::optional<Digests> digests;
  std::string digests_file;  // for the reports: "tests.sha256"
  // If set, called once before anything is graded with every target the grade will build
  // (test binaries, and benchmarks whose thresholds are graded), so that they can be
  // built together, in parallel, rather than one kata at a time. Each kata's own build
  // still follows and is what reports a failure against that kata.
  std::function<void(const std::vector<std::string>& targets)> prebuild;
};

// Grades the katas of `catalog` (or the assignment's) and scores them:
// a kata earns weight * passing assigned steps / assigned steps, a threshold
// its weight if met; with "integrity": "fail", a kata with a changed or missing
// published file (or any changed shared file) earns nothing.
GradeReport Grade(const Catalog& catalog, Variant variant, const GradeOptions& options,
                  const BuildFunction& build, const ProgressFunction& progress);

}  // namespace llmk::kata
