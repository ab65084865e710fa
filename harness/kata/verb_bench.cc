// `kata bench KATA [--variant learner|solution]`: builds the kata's benchmark,
// runs it once (its table goes to the terminal) and grades the kata.json
// performance thresholds against that run.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "bench.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

std::string ReadKataJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int BenchVerb(const Context& ctx, const std::string& kata_query, const std::string& variant_name) {
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }
  absl::StatusOr<const Kata*> found = FindKata(*catalog, kata_query);
  if (!found.ok()) {
    PrintError(ctx, found.status());
    return kExitUsage;
  }
  if (variant_name != "learner" && variant_name != "solution") {
    PrintError(ctx, fmt::format("--variant must be learner or solution, got \"{}\"", variant_name));
    return kExitUsage;
  }
  const Kata& kata = **found;
  const Variant variant = variant_name == "solution" ? Variant::kSolution : Variant::kLearner;
  const Binaries& binaries = kata.Of(variant);
  if (binaries.bench_target.empty()) {
    PrintError(ctx, fmt::format("{} has no benchmark", kata.name));
    return kExitUsage;
  }
  absl::StatusOr<std::vector<PerformanceThreshold>> thresholds =
      ParsePerformance(ReadKataJson(ctx.root / kata.dir / "kata.json"), kata.dir + "/kata.json");
  if (!thresholds.ok()) {
    PrintError(ctx, thresholds.status());
    return kExitNotPassing;
  }

  BenchmarkOptions options;
  options.memory_limit_bytes = ctx.memory_limit_bytes;
  const BenchmarkRun run =
      BuildAndRunBenchmark(kata, variant, options, ctx.Builder(),
                           [&](std::string_view line) { PrintProgress(ctx, line); });
  fmt::print(ctx.out, "{}", run.output);
  if (!run.problem.empty()) {
    fmt::print(ctx.out, "\n{}\n", run.problem);
    if (!run.problem_output.empty() && run.output.empty()) {  // the compiler's errors
      fmt::print(ctx.out, "{}\n", run.problem_output);
    }
    return kExitNotPassing;
  }
  if (thresholds->empty()) {
    fmt::print(ctx.out, "\n{} sets no performance thresholds.\n", kata.name);
    return kExitOk;
  }
  const std::vector<ThresholdResult> checked = CheckThresholds(*thresholds, run.results);
  int passed = 0;
  fmt::print(ctx.out, "\nPerformance thresholds of {} ({} build):\n", kata.name, variant_name);
  for (const ThresholdResult& r : checked) {
    passed += r.passed ? 1 : 0;
    const std::string mark = r.passed ? ctx.style.Green("passing") : ctx.style.Red("failing");
    fmt::print(ctx.out, "  {}  {}\n           {}\n", mark, r.threshold.what, r.detail);
  }
  fmt::print(ctx.out, "{} of {} thresholds met\n", passed, checked.size());
  return passed == static_cast<int>(checked.size()) ? kExitOk : kExitNotPassing;
}

}  // namespace llmk::kata
