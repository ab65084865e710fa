#include "grade.h"

#include <fmt/format.h>

namespace llmk::kata {

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

}  // namespace llmk::kata
