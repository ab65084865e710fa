#include "kata_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "child_process.h"
#include "step_classifier.h"
#include "temp_dir.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

// The kata's wall-clock budget: when it started and how long it may take.
class Budget {
 public:
  explicit Budget(std::optional<double> limit_seconds) : start_(Clock::now()) {
    if (limit_seconds && *limit_seconds > 0) limit_ = Milliseconds(*limit_seconds);
    if (limit_seconds) seconds_ = *limit_seconds;
  }
  // The smaller of `timeout` and what remains of the budget (may be <= 0).
  std::chrono::milliseconds Cap(std::chrono::milliseconds timeout) const {
    if (!limit_) return timeout;
    return std::min(timeout, Remaining());
  }
  bool RanOut() const { return limit_ && Remaining().count() <= 0; }
  // "the kata's time limit of 120 s ran out"
  std::string RanOutText() const {
    return fmt::format("the kata's time limit of {} s ran out", seconds_);
  }

 private:
  std::chrono::milliseconds Remaining() const {
    return *limit_ - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
  }
  Clock::time_point start_;
  std::optional<std::chrono::milliseconds> limit_;
  double seconds_ = 0;
};

std::chrono::milliseconds StepTimeout(const Kata& kata, const RunOptions& options) {
  double seconds = kDefaultTimeoutSeconds;
  if (options.timeout_seconds && *options.timeout_seconds > 0) {
    seconds = *options.timeout_seconds;
  } else if (kata.timeout_seconds > 0) {
    seconds = kata.timeout_seconds;
  }
  return Milliseconds(seconds);
}

// The limits every run of a learner's binary gets.
ChildSpec BinarySpec(const std::string& binary, const RunOptions& options,
                     std::chrono::milliseconds timeout) {
  ChildSpec spec;
  spec.argv = {binary};
  spec.env = options.env;
  // A GTEST_FILTER or GTEST_SHARD_INDEX in the learner's shell must not change
  // what runs.
  spec.env_drop_prefixes = {"GTEST_"};
  // Where CTest runs it too, so relative paths in tests behave the same.
  spec.working_dir = fs::path(binary).parent_path().string();
  spec.timeout = timeout;
  spec.flood_limit_bytes = options.flood_limit_bytes;
  if (options.memory_limit_bytes > 0) {
    spec.address_space_limit_bytes = options.memory_limit_bytes;
  }
  spec.file_size_limit_bytes = kDefaultFileSizeLimitBytes;
  return spec;
}

std::optional<std::string> ReadIfExists(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "crashed while listing its tests (SIGSEGV)" and the like.
std::string ListingFailure(const ChildOutcome& outcome, std::chrono::milliseconds timeout,
                           std::size_t flood_limit) {
  switch (outcome.end) {
    case ChildEnd::kSignaled: {
      // A global initializer that throws ends the program before main, and
      // before GoogleTest has listed anything.
      const std::string exception = UncaughtException(outcome.output);
      if (!exception.empty()) {
        return fmt::format("{} while listing its tests ({}: uncaught exception {})",
                           ParseTestList(outcome.output).empty() ? "threw before main" : "threw",
                           SignalName(outcome.signal), exception);
      }
      return fmt::format("crashed while listing its tests ({})", SignalName(outcome.signal));
    }
    case ChildEnd::kTimedOut:
      return fmt::format("timed out after {} while listing its tests", FormatSeconds(timeout));
    case ChildEnd::kFlooded:
      return fmt::format("flooded its output (more than {}) while listing its tests",
                         FormatBytes(flood_limit));
    case ChildEnd::kExited:
      return fmt::format("exited with code {} while listing its tests", outcome.exit_code);
    case ChildEnd::kFailedToStart:
      return outcome.start_error;
  }
  return "could not list its tests";
}

StepResult RunStep(const Step& step, const std::vector<std::string>& step_tests,
                   const std::string& binary, const RunOptions& options,
                   std::chrono::milliseconds timeout, const fs::path& scratch) {
  if (step_tests.empty()) {
    StepResult result = NotRunStep(step);
    result.status = StepStatus::kNoTests;
    result.detail = fmt::format("no tests in {}", step.suite);
    return result;
  }
  const fs::path report = scratch / fmt::format("step{}.json", step.number);
  const fs::path premature = scratch / fmt::format("step{}.premature", step.number);
  std::error_code ignored;
  fs::remove(report, ignored);
  fs::remove(premature, ignored);

  ChildSpec spec = BinarySpec(binary, options, timeout);
  spec.argv.push_back("--gtest_filter=" + StepFilter(step.suite));
  spec.argv.push_back("--gtest_output=json:" + report.string());
  spec.argv.push_back("--gtest_color=no");
  spec.env.emplace_back("GTEST_PREMATURE_EXIT_FILE", premature.string());

  StepRun run;
  run.child = RunChild(spec);
  run.json_report = ReadIfExists(report);
  run.premature_exit_file_left = fs::exists(premature);
  run.timeout = timeout;
  run.flood_limit_bytes = options.flood_limit_bytes;
  run.memory_limit_bytes = options.memory_limit_bytes;
  return ClassifyStep(step, step_tests, run);
}

}  // namespace

KataResult EmptyKataResult(const Kata& kata, Variant variant) {
  KataResult result;
  result.name = kata.name;
  result.title = kata.title;
  result.dir = kata.dir;
  result.short_id = kata.ShortId();
  result.variant = std::string(VariantName(variant));
  for (const Step& step : kata.steps) result.steps.push_back(NotRunStep(step));
  return result;
}

std::vector<std::string> TestsOfStep(const std::vector<std::string>& listed, const Step& step) {
  std::vector<std::string> tests;
  for (const std::string& name : listed) {
    if (SuiteBelongsToStep(SuiteOf(name), step.suite)) tests.push_back(name);
  }
  return tests;
}

KataResult RunKata(const Kata& kata, Variant variant, const RunOptions& options) {
  KataResult result = EmptyKataResult(kata, variant);
  const Binaries& binaries = kata.Of(variant);
  if (binaries.binary.empty()) {
    result.problem = KataProblem::kNoBinary;
    result.problem_detail = fmt::format(
        "the build declares no {} test binary for it (is katas/{}/CMakeLists.txt there?)",
        VariantName(variant), kata.name);
    return result;
  }
  if (!fs::exists(binaries.binary)) {
    result.problem = KataProblem::kNoBinary;
    result.problem_detail =
        fmt::format("{} does not exist: build the target {}", binaries.binary, binaries.target);
    return result;
  }
  absl::StatusOr<TempDir> scratch = TempDir::Create("kata-" + kata.name);
  if (!scratch.ok()) {
    result.problem = KataProblem::kCannotList;
    result.problem_detail = scratch.status().ToString();
    return result;
  }

  const Budget budget(options.kata_time_limit_seconds);
  const std::chrono::milliseconds timeout = StepTimeout(kata, options);
  const std::chrono::milliseconds list_timeout = budget.Cap(timeout);
  ChildSpec list_spec = BinarySpec(binaries.binary, options, list_timeout);
  list_spec.argv.push_back("--gtest_list_tests");
  list_spec.argv.push_back("--gtest_color=no");
  list_spec.keep_head_bytes = 1 << 20;  // room for thousands of test names
  const ChildOutcome listing = RunChild(list_spec);
  if (listing.end != ChildEnd::kExited || listing.exit_code != 0) {
    result.problem = KataProblem::kCannotList;
    result.problem_detail = ListingFailure(listing, list_timeout, options.flood_limit_bytes);
    if (listing.end == ChildEnd::kTimedOut && list_timeout < timeout) {
      result.problem_detail += fmt::format(" ({})", budget.RanOutText());
    }
    result.problem_output = LastLines(CleanText(listing.output), 30);
    return result;
  }
  const std::vector<std::string> listed = ParseTestList(listing.output);
  for (const std::string& name : listed) {
    const bool in_a_step = std::any_of(kata.steps.begin(), kata.steps.end(), [&](const Step& s) {
      return SuiteBelongsToStep(SuiteOf(name), s.suite);
    });
    if (!in_a_step) result.tests_in_no_step.push_back(name);
  }

  for (std::size_t i = 0; i < kata.steps.size(); ++i) {
    const Step& step = kata.steps[i];
    if (options.only_step && *options.only_step != step.number) continue;
    if (options.steps && std::find(options.steps->begin(), options.steps->end(), step.number) ==
                             options.steps->end()) {
      continue;
    }
    if (budget.RanOut()) {
      result.steps[i].status = StepStatus::kTimedOut;
      result.steps[i].detail = fmt::format("not started: {}", budget.RanOutText());
      continue;
    }
    const std::chrono::milliseconds step_timeout = budget.Cap(timeout);
    result.steps[i] = RunStep(step, TestsOfStep(listed, step), binaries.binary, options,
                              step_timeout, scratch->path());
    if (result.steps[i].status == StepStatus::kTimedOut && step_timeout < timeout) {
      result.steps[i].detail += fmt::format(" ({})", budget.RanOutText());
    }
  }
  return result;
}

}  // namespace llmk::kata
