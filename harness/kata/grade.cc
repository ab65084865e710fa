#include "grade.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace llmk::kata {
namespace {

bool AnyBroken(const std::vector<FileCheck>& files) {
  return std::any_of(files.begin(), files.end(),
                     [](const FileCheck& f) { return f.state != FileState::kUnchanged; });
}

// The thresholds of the kata's kata.json, or an error text.
absl::StatusOr<std::vector<PerformanceThreshold>> KataJsonThresholds(const Catalog& catalog,
                                                                     const Kata& kata) {
  const std::string where = kata.dir + "/kata.json";
  std::ifstream in(catalog.root / kata.dir / "kata.json", std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot read it", where));
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePerformance(text.str(), where);
}

// Runs the kata's benchmark once and checks `thresholds` against it.
void GradePerformance(const Kata& kata, Variant variant,
                      const std::vector<PerformanceThreshold>& thresholds,
                      const GradeOptions& options, const BuildFunction& build,
                      const ProgressFunction& progress, KataResult& result) {
  result.performance_run = true;
  const BenchmarkRun run = BuildAndRunBenchmark(kata, variant, options.benchmark, build, progress);
  if (!run.problem.empty()) {
    result.performance_problem = run.problem;
    // Every threshold fails, each saying why.
    for (const PerformanceThreshold& threshold : thresholds) {
      ThresholdResult r;
      r.threshold = threshold;
      r.detail = run.problem;
      result.performance.push_back(std::move(r));
    }
    return;
  }
  result.performance = CheckThresholds(thresholds, run.results);
}

}  // namespace

KataResult BuildAndRunKata(const Kata& kata, Variant variant, const RunOptions& options,
                           const BuildFunction& build, const ProgressFunction& progress) {
  const Binaries& binaries = kata.Of(variant);
  if (build && !binaries.target.empty()) {
    if (progress) progress(fmt::format("building {} ...", binaries.target));
    const BuildResult built = build(binaries.target);
    if (!built.ok) {
      KataResult result = EmptyKataResult(kata, variant);
      result.problem = KataProblem::kDoesNotCompile;
      result.problem_detail = fmt::format("the build of {} failed", binaries.target);
      result.problem_output = built.errors;
      return result;
    }
  }
  if (progress) progress(fmt::format("running {} ...", kata.name));
  return RunKata(kata, variant, options);
}

GradeReport GradeKatas(const std::vector<Kata>& katas, Variant variant, const RunOptions& options,
                       const BuildFunction& build, const ProgressFunction& progress) {
  GradeReport report;
  report.variant = std::string(VariantName(variant));
  for (const Kata& kata : katas) {
    report.katas.push_back(BuildAndRunKata(kata, variant, options, build, progress));
  }
  return report;
}

GradeReport Grade(const Catalog& catalog, Variant variant, const GradeOptions& options,
                  const BuildFunction& build, const ProgressFunction& progress) {
  GradeReport report;
  report.variant = std::string(VariantName(variant));
  const Assignment* assignment = options.assignment;
  if (assignment != nullptr) {
    report.has_assignment = true;
    report.assignment_title = assignment->title;
    report.assignment_file = options.assignment_file;
    report.integrity_fails = assignment->integrity == IntegrityPolicy::kFail;
  }
  if (options.digests) {
    report.digests_file = options.digests_file;
    report.shared_files = CheckSharedFiles(catalog.root, *options.digests);
  }
  const bool shared_broken = AnyBroken(report.shared_files);

  // What to grade: the assignment's katas in its order, else every kata.
  std::vector<AssignedKata> plan;
  if (assignment != nullptr) {
    plan = assignment->katas;
  } else {
    for (const Kata& kata : catalog.katas) {
      AssignedKata all;
      all.kata = kata.name;
      plan.push_back(std::move(all));
    }
  }

  if (options.prebuild && build) {
    std::vector<std::string> targets;
    for (const AssignedKata& assigned : plan) {
      absl::StatusOr<const Kata*> found = FindKata(catalog, assigned.kata);
      if (!found.ok()) continue;
      const Binaries& binaries = (*found)->Of(variant);
      if (!binaries.target.empty()) targets.push_back(binaries.target);
      bool graded_bench = !assigned.performance.empty();
      if (assignment == nullptr && options.bench) {
        absl::StatusOr<std::vector<PerformanceThreshold>> parsed =
            KataJsonThresholds(catalog, **found);
        graded_bench = parsed.ok() && !parsed->empty();
      }
      if (graded_bench && !binaries.bench_target.empty()) targets.push_back(binaries.bench_target);
    }
    if (!targets.empty()) options.prebuild(targets);
  }

  for (const AssignedKata& assigned : plan) {
    absl::StatusOr<const Kata*> found = FindKata(catalog, assigned.kata);
    if (!found.ok()) continue;  // an assignment is resolved against this catalog
    const Kata& kata = **found;
    RunOptions run = options.run;
    if (!assigned.steps.empty()) run.steps = assigned.steps;
    run.kata_time_limit_seconds = assigned.time_limit_seconds;
    KataResult result = BuildAndRunKata(kata, variant, run, build, progress);
    result.assigned_steps = assigned.steps;

    std::vector<PerformanceThreshold> thresholds = assigned.performance;
    std::string threshold_problem;
    if (assignment == nullptr && options.bench) {
      absl::StatusOr<std::vector<PerformanceThreshold>> parsed = KataJsonThresholds(catalog, kata);
      if (parsed.ok()) {
        thresholds = *std::move(parsed);
      } else {
        threshold_problem = std::string(parsed.status().message());
      }
    }
    if (!threshold_problem.empty()) {
      result.performance_run = true;
      result.performance_problem = threshold_problem;
    } else if (!thresholds.empty()) {
      GradePerformance(kata, variant, thresholds, options, build, progress, result);
    }

    if (options.digests) result.files = CheckKataFiles(catalog.root, *options.digests, kata);
    result.integrity_failed = report.integrity_fails && (shared_broken || result.IntegrityBroken());

    // Scoring.
    if (assignment != nullptr) {
      result.weight = assigned.weight;
      int graded = 0;
      int passing = 0;
      for (const StepResult& step : result.steps) {
        const bool assigned_step =
            assigned.steps.empty() || std::find(assigned.steps.begin(), assigned.steps.end(),
                                                step.number) != assigned.steps.end();
        if (!assigned_step) continue;
        ++graded;
        if (step.Passing() && result.problem == KataProblem::kNone) ++passing;
      }
      result.earned = graded > 0 ? assigned.weight * passing / graded : 0;
    }
    for (const ThresholdResult& threshold : result.performance) {
      const double weight = assignment != nullptr ? threshold.threshold.weight : 1;
      result.performance_weight += weight;
      if (threshold.passed) result.performance_earned += weight;
    }
    if (result.integrity_failed) {
      result.earned = 0;
      result.performance_earned = 0;
    }
    if (assignment != nullptr) {
      report.score += result.earned + result.performance_earned;
      report.max_score += result.weight + result.performance_weight;
    }
    report.katas.push_back(std::move(result));
  }
  return report;
}

}  // namespace llmk::kata
