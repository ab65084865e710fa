#include "step_classifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "text_util.h"

namespace llmk::kata {
namespace {

// How much console output an abnormal step keeps for the learner to read.
constexpr std::size_t kCrashOutputLines = 40;
constexpr std::size_t kLineChars = 200;

int CountOutcome(const std::vector<TestResult>& tests, TestOutcome outcome) {
  return static_cast<int>(std::count_if(tests.begin(), tests.end(),
                                        [&](const TestResult& t) { return t.outcome == outcome; }));
}

// The step's status and one-line detail from complete test results.
void ClassifyFromTests(StepResult& result) {
  const int total = static_cast<int>(result.tests.size());
  const int failed = CountOutcome(result.tests, TestOutcome::kFailed);
  const int todo = CountOutcome(result.tests, TestOutcome::kTodo);
  const int ran = total - CountOutcome(result.tests, TestOutcome::kNotRun);
  if (ran == 0) {
    result.status = StepStatus::kNoTests;
    result.detail = fmt::format("no tests in {}", result.suite);
  } else if (failed > 0) {
    result.status = StepStatus::kFailing;
    result.detail = fmt::format("{} of {} tests fail", failed, total);
  } else if (todo > 0) {
    result.status = StepStatus::kTodo;
    result.detail = fmt::format("{} of {} tests reach a stub that is not written yet", todo, total);
  } else {
    result.status = StepStatus::kPassing;
    result.detail = fmt::format("{} of {} tests pass", total, total);
  }
}

// For a step that ended abnormally: what the console shows finished, and the
// listed tests that did not finish as not run.
void CollectFromConsole(StepResult& result, const std::vector<std::string>& listed_tests,
                        const std::string& output) {
  const ConsoleTests console = ScanConsoleOutput(output);
  std::set<std::string> seen;
  for (const TestResult& test : console.finished) {
    if (!SuiteBelongsToStep(SuiteOf(test.name), result.suite)) continue;
    if (seen.insert(test.name).second) result.tests.push_back(test);
  }
  for (const std::string& name : listed_tests) {
    if (!seen.insert(name).second) continue;
    TestResult not_run;
    not_run.name = name;
    not_run.outcome = TestOutcome::kNotRun;
    result.tests.push_back(std::move(not_run));
  }
  if (console.unfinished) result.unfinished_test = *console.unfinished;
}

}  // namespace

StepResult NotRunStep(const Step& step) {
  StepResult result;
  result.number = step.number;
  result.suite = step.suite;
  result.title = step.title;
  result.anchor = step.anchor;
  result.status = StepStatus::kNotRun;
  return result;
}

StepResult ClassifyStep(const Step& step, const std::vector<std::string>& listed_tests,
                        const StepRun& run) {
  StepResult result = NotRunStep(step);
  result.seconds = static_cast<double>(run.child.elapsed.count()) / 1000.0;
  const std::string output = ClipLongLines(CleanText(run.child.output), kLineChars);

  switch (run.child.end) {
    case ChildEnd::kFailedToStart:
      result.status = StepStatus::kCrashed;
      result.detail =
          fmt::format("could not start in Step {}: {}", step.number, run.child.start_error);
      CollectFromConsole(result, listed_tests, "");
      return result;
    case ChildEnd::kTimedOut:
      result.status = StepStatus::kTimedOut;
      result.detail = fmt::format("timed out after {}", FormatSeconds(run.timeout));
      CollectFromConsole(result, listed_tests, output);
      result.output = LastLines(output, kCrashOutputLines);
      return result;
    case ChildEnd::kFlooded:
      result.status = StepStatus::kFlooded;
      result.detail =
          fmt::format("flooded its output (more than {})", FormatBytes(run.flood_limit_bytes));
      CollectFromConsole(result, listed_tests, CleanText(run.child.output_head));
      result.output = FirstLines(ClipLongLines(CleanText(run.child.output_head), kLineChars),
                                 kCrashOutputLines);
      return result;
    case ChildEnd::kSignaled: {
      result.status = StepStatus::kCrashed;
      result.detail =
          fmt::format("crashed in Step {} ({})", step.number, SignalName(run.child.signal));
      const std::string out_of_memory = OutOfMemoryNote(output, run.memory_limit_bytes);
      const std::string exception = UncaughtException(output);
      if (!out_of_memory.empty()) {
        result.detail += out_of_memory;
      } else if (!exception.empty()) {
        result.detail += ": uncaught exception " + exception;
      }
      CollectFromConsole(result, listed_tests, output);
      result.output = LastLines(output, kCrashOutputLines);
      return result;
    }
    case ChildEnd::kExited:
      break;
  }

  absl::StatusOr<std::vector<TestResult>> tests =
      run.json_report ? ParseGtestJson(*run.json_report)
                      : absl::StatusOr<std::vector<TestResult>>(absl::NotFoundError(""));
  if (run.premature_exit_file_left || !tests.ok()) {
    result.status = StepStatus::kExitedEarly;
    result.detail = fmt::format("exited before finishing Step {} (exit code {})", step.number,
                                run.child.exit_code) +
                    OutOfMemoryNote(output, run.memory_limit_bytes);
    CollectFromConsole(result, listed_tests, output);
    result.output = LastLines(output, kCrashOutputLines);
    return result;
  }
  for (TestResult& test : *tests) {
    if (SuiteBelongsToStep(SuiteOf(test.name), step.suite)) {
      result.tests.push_back(std::move(test));
    }
  }
  ClassifyFromTests(result);
  if (result.status == StepStatus::kFailing) {
    result.detail += OutOfMemoryNote(output, run.memory_limit_bytes);
  }
  return result;
}

std::string UncaughtException(std::string_view output) {
  constexpr std::string_view kThrowing = "terminate called after throwing an instance of '";
  const std::size_t at = output.rfind(kThrowing);
  if (at == std::string_view::npos) return "";
  std::string_view rest = output.substr(at + kThrowing.size());
  const std::size_t quote = rest.find('\'');
  if (quote == std::string_view::npos || quote == 0) return "";
  std::string exception(rest.substr(0, quote));
  rest.remove_prefix(quote);
  constexpr std::string_view kWhat = "'\n  what():  ";
  if (rest.starts_with(kWhat)) {
    rest.remove_prefix(kWhat.size());
    exception += ": " + std::string(rest.substr(0, rest.find('\n')));
  }
  return exception;
}

std::string OutOfMemoryNote(std::string_view output, std::uint64_t memory_limit_bytes) {
  if (memory_limit_bytes == 0 || output.find("std::bad_alloc") == std::string_view::npos) {
    return "";
  }
  return fmt::format(": out of memory (address-space limit {})",
                     FormatBytes(static_cast<std::size_t>(memory_limit_bytes)));
}

std::string FormatSeconds(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
  return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
}

std::string FormatBytes(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024;
  constexpr std::size_t kMiB = 1024 * kKiB;
  if (bytes >= kMiB && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes >= kKiB && bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} bytes", bytes);
}

}  // namespace llmk::kata
