// `kata bench KATA [--variant learner|solution]`: builds the kata's benchmark,
// runs it once (its table goes to the terminal) and grades the kata.json
// performance thresholds against that run.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "bench.h"
#include "child_process.h"
#include "temp_dir.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
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
      ParsePerformance(ReadAll(ctx.root / kata.dir / "kata.json"), kata.dir + "/kata.json");
  if (!thresholds.ok()) {
    PrintError(ctx, thresholds.status());
    return kExitNotPassing;
  }

  PrintProgress(ctx, fmt::format("building {} ...", binaries.bench_target));
  const BuildResult built = ctx.Builder()(binaries.bench_target);
  if (!built.ok) {
    fmt::print(ctx.out, "{} does not compile:\n{}\n", binaries.bench_target, built.errors);
    return kExitNotPassing;
  }
  absl::StatusOr<TempDir> tmp = TempDir::Create("kata-bench");
  if (!tmp.ok()) {
    PrintError(ctx, tmp.status());
    return kExitNotPassing;
  }
  const std::filesystem::path report = tmp->path() / "bench.json";
  ChildSpec spec;
  spec.argv = {binaries.bench, "--benchmark_out=" + report.string(),
               "--benchmark_out_format=json"};
  spec.env_drop_prefixes = {"BENCHMARK_"};
  spec.working_dir = std::filesystem::path(binaries.bench).parent_path().string();
  spec.timeout = std::chrono::minutes(30);
  spec.flood_limit_bytes = std::size_t{64} << 20;
  spec.address_space_limit_bytes = ctx.memory_limit_bytes == 0
                                       ? std::optional<std::uint64_t>()
                                       : std::optional<std::uint64_t>(ctx.memory_limit_bytes);
  PrintProgress(ctx, fmt::format("running {} (this takes a while) ...", binaries.bench_target));
  const ChildOutcome outcome = RunChild(spec);
  fmt::print(ctx.out, "{}", outcome.output);
  if (outcome.end != ChildEnd::kExited || outcome.exit_code != 0) {
    fmt::print(ctx.out, "\nThe benchmark did not finish: {}\n", DescribeEnd(outcome));
    return kExitNotPassing;
  }
  absl::StatusOr<std::vector<BenchmarkResult>> results = ParseBenchmarkJson(ReadAll(report));
  if (!results.ok()) {
    PrintError(ctx, results.status());
    return kExitNotPassing;
  }
  if (thresholds->empty()) {
    fmt::print(ctx.out, "\n{} sets no performance thresholds.\n", kata.name);
    return kExitOk;
  }
  const std::vector<ThresholdResult> checked = CheckThresholds(*thresholds, *results);
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
