// Fuzz target: the parsers of the `kata` harness (harness/kata, kata_lib) on arbitrary
// text. The harness reads what learner binaries print and what instructors write, so
// none of these may crash or throw; each gives a result or an error status.
//
// The whole input goes to every parser:
//   ParseTestList       names are "Suite.Test", no space or line break, none disabled;
//   ParseGtestJson      an error, or results with names, a kTodo only with the
//                       NotImplemented marker in a failure;
//   ScanConsoleOutput   finished tests have names;
//   ParseBenchmarkJson  an error, or results with names;
//   ParseKataJson       an error naming the file, or steps ascending by number, each found
//                       by FindStep, with a suite; ParsePerformance likewise;
//   ParseHints, ParseCtestSummary  anything, without crashing;
//   ParseAssignment     (where kata_lib has it) an error naming the file, or katas of the
//                       catalog with steps they have and weights >= 0;
//   ParseDigests        (where kata_lib has it) an error naming the file, or entries that
//                       FormatDigests writes and ParseDigests reads back unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench.h"
#include "catalog.h"
#include "check.h"
#include "gtest_output.h"
#include "hints.h"
#include "selftest.h"
#ifdef LLMK_FUZZ_HAVE_ASSIGNMENT
#include "assignment.h"
#endif
#ifdef LLMK_FUZZ_HAVE_INTEGRITY
#include "integrity.h"
#endif

namespace {

namespace k = llmk::kata;

constexpr std::string_view kWhere = "fuzz.json";

void CheckNamesFile(const absl::Status& status, const char* parser) {
  FUZZ_CHECK(!status.message().empty(), "{} failed without a message", parser);
}

void CheckGtest(std::string_view text) {
  for (const std::string& name : k::ParseTestList(text)) {
    FUZZ_CHECK(name.find('.') != std::string::npos, "listed test \"{}\" has no suite", name);
    FUZZ_CHECK(name.find_first_of(" \n") == std::string::npos,
               "listed test \"{}\" holds a space or a line break", name);
    // With one '.', the suite and the test are known (printed garbage may hold more).
    const std::size_t dot = name.find('.');
    if (name.find('.', dot + 1) == std::string::npos) {
      FUZZ_CHECK(!name.starts_with("DISABLED_") && name.compare(dot + 1, 9, "DISABLED_") != 0,
                 "disabled test \"{}\" listed", name);
    }
  }
  const absl::StatusOr<std::vector<k::TestResult>> results = k::ParseGtestJson(text);
  if (!results.ok()) {
    CheckNamesFile(results.status(), "ParseGtestJson");
  } else {
    for (const k::TestResult& r : *results) {
      FUZZ_CHECK(!r.name.empty(), "a test result without a name");
      if (r.outcome == k::TestOutcome::kTodo) {
        FUZZ_CHECK(k::OutcomeOfFailures(r.failures) == k::TestOutcome::kTodo,
                   "\"{}\" is todo without the NotImplemented marker", r.name);
      }
    }
  }
  const k::ConsoleTests console = k::ScanConsoleOutput(text);
  for (const k::TestResult& r : console.finished) {
    FUZZ_CHECK(!r.name.empty(), "a finished console test without a name");
  }
}

void CheckBench(std::string_view text) {
  const absl::StatusOr<std::vector<k::BenchmarkResult>> results = k::ParseBenchmarkJson(text);
  if (!results.ok()) {
    CheckNamesFile(results.status(), "ParseBenchmarkJson");
  } else {
    for (const k::BenchmarkResult& r : *results) {
      FUZZ_CHECK(!r.name.empty(), "a benchmark result without a name");
    }
  }
  const absl::StatusOr<std::vector<k::PerformanceThreshold>> thresholds =
      k::ParsePerformance(text, kWhere);
  if (!thresholds.ok()) {
    CheckNamesFile(thresholds.status(), "ParsePerformance");
    return;
  }
  if (results.ok()) (void)k::CheckThresholds(*thresholds, *results);
}

void CheckKata(std::string_view text) {
  const absl::StatusOr<k::Kata> kata = k::ParseKataJson(text, kWhere);
  if (!kata.ok()) {
    CheckNamesFile(kata.status(), "ParseKataJson");
    return;
  }
  for (std::size_t i = 0; i < kata->steps.size(); ++i) {
    const k::Step& step = kata->steps[i];
    if (i > 0) {
      FUZZ_CHECK(kata->steps[i - 1].number < step.number, "steps {} and {} are out of order",
                 kata->steps[i - 1].number, step.number);
    }
    FUZZ_CHECK(kata->FindStep(step.number) == &step, "FindStep({}) misses it", step.number);
    FUZZ_CHECK(!step.suite.empty(), "step {} has no suite", step.number);
    (void)kata->ReadmeLink(step);
  }
  (void)kata->ShortId();
}

#ifdef LLMK_FUZZ_HAVE_ASSIGNMENT
const k::Catalog& TheCatalog() {
  static const k::Catalog* catalog = [] {
    auto* c = new k::Catalog;
    for (const char* name : {"02_attention", "09_flash_attention"}) {
      k::Kata kata;
      kata.name = name;
      kata.dir = std::string("katas/") + name;
      for (int n = 1; n <= 4; ++n) {
        kata.steps.push_back({n, "Step" + std::to_string(n) + "_X", "x", "x", {}});
      }
      c->katas.push_back(kata);
    }
    return c;
  }();
  return *catalog;
}

void CheckAssignment(std::string_view text) {
  const absl::StatusOr<k::Assignment> a = k::ParseAssignment(text, kWhere, TheCatalog());
  if (!a.ok()) {
    CheckNamesFile(a.status(), "ParseAssignment");
    return;
  }
  for (const k::AssignedKata& assigned : a->katas) {
    const absl::StatusOr<const k::Kata*> kata = k::FindKata(TheCatalog(), assigned.kata);
    FUZZ_CHECK(kata.ok() && (*kata)->name == assigned.kata,
               "assigned kata \"{}\" is not in "
               "the catalog",
               assigned.kata);
    FUZZ_CHECK(assigned.weight >= 0, "kata {} has weight {}", assigned.kata, assigned.weight);
    for (int step : assigned.steps) {
      FUZZ_CHECK((*kata)->FindStep(step) != nullptr, "kata {} has no step {}", assigned.kata, step);
    }
  }
  FUZZ_CHECK(a->MaxScore() >= 0, "MaxScore {}", a->MaxScore());
}
#endif

#ifdef LLMK_FUZZ_HAVE_INTEGRITY
void CheckDigests(std::string_view text) {
  const absl::StatusOr<k::Digests> digests = k::ParseDigests(text, kWhere);
  if (!digests.ok()) {
    CheckNamesFile(digests.status(), "ParseDigests");
    return;
  }
  const absl::StatusOr<k::Digests> again = k::ParseDigests(k::FormatDigests(*digests), kWhere);
  FUZZ_CHECK(again.ok(), "ParseDigests(FormatDigests()) failed: {}", again.status().ToString());
  FUZZ_CHECK(again->entries == digests->entries, "FormatDigests does not read back");
  for (const auto& [path, digest] : digests->entries) {
    const std::string* found = digests->Find(path);
    FUZZ_CHECK(found != nullptr && *found == digest, "Find(\"{}\") misses it", path);
  }
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckGtest(text);
  CheckBench(text);
  CheckKata(text);
  (void)k::ParseHints(text);
  (void)k::ParseCtestSummary(text);
#ifdef LLMK_FUZZ_HAVE_ASSIGNMENT
  CheckAssignment(text);
#endif
#ifdef LLMK_FUZZ_HAVE_INTEGRITY
  CheckDigests(text);
#endif
  return 0;
}
