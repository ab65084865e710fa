#include "gtest_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

using nlohmann::json;

// gtest prints "  # GetParam() = 3" or "  # TypeParam = int" after a name.
std::string_view WithoutComment(std::string_view line) {
  const std::size_t comment = line.find("  # ");
  return TrimRight(comment == std::string_view::npos ? line : line.substr(0, comment));
}

bool IsDisabled(std::string_view suite, std::string_view test) {
  constexpr std::string_view kDisabled = "DISABLED_";
  return test.starts_with(kDisabled) || suite.starts_with(kDisabled) ||
         suite.find("/" + std::string(kDisabled)) != std::string_view::npos;
}

// Console markers, as gtest prints them without color.
constexpr std::string_view kRun = "[ RUN      ] ";
constexpr std::string_view kOk = "[       OK ] ";
constexpr std::string_view kFailed = "[  FAILED  ] ";
constexpr std::string_view kSkipped = "[  SKIPPED ] ";

// "Suite.Test (12 ms)" -> "Suite.Test"; "Suite.Test, where GetParam() = 1 (0 ms)"
// -> "Suite.Test".
std::string_view NameBeforeDetails(std::string_view rest) {
  const std::size_t end = std::min(rest.find(' '), rest.find(','));
  return end == std::string_view::npos ? rest : rest.substr(0, end);
}

// gtest prints "file:line: Failure" on the console where its report has
// "file:line"; this makes a console failure read like a report failure.
std::string ReportStyleFailure(std::string_view text) {
  std::string failure(Trim(text));
  constexpr std::string_view kSuffix = ": Failure\n";
  if (const std::size_t at = failure.find(kSuffix);
      at != std::string::npos && failure.find('\n') == at + kSuffix.size() - 1) {
    failure.replace(at, kSuffix.size(), "\n");
  }
  return failure;
}

}  // namespace

TestOutcome OutcomeOfFailures(const std::vector<std::string>& failures) {
  const bool todo = std::any_of(failures.begin(), failures.end(), [](const std::string& f) {
    return f.find(kNotImplementedMarker) != std::string::npos;
  });
  return todo ? TestOutcome::kTodo : TestOutcome::kFailed;
}

std::vector<std::string> ParseTestList(std::string_view listing) {
  std::vector<std::string> tests;
  std::string suite;
  for (std::string_view raw : SplitLines(listing)) {
    const std::string_view line = WithoutComment(raw);
    if (line.empty()) continue;
    if (line.starts_with("  ")) {
      const std::string_view test = Trim(line);
      if (!suite.empty() && !test.empty() && test.find(' ') == std::string_view::npos &&
          !IsDisabled(suite, test)) {
        tests.push_back(suite + "." + std::string(test));
      }
    } else if (line.back() == '.' && line.find(' ') == std::string_view::npos) {
      suite = line.substr(0, line.size() - 1);
    } else {
      suite.clear();  // something else printed this line; not a suite header
    }
  }
  return tests;
}

absl::StatusOr<std::vector<TestResult>> ParseGtestJson(std::string_view json_text) {
  const json report = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object() || !report.contains("testsuites") ||
      !report["testsuites"].is_array()) {
    return absl::InvalidArgumentError("not a GoogleTest JSON report");
  }
  // The report comes from a learner's binary: a field of the wrong type is an error
  // (value() throws on one), never an exception out of the harness.
  const auto require_strings = [](const json& object, std::initializer_list<const char*> fields,
                                  std::string_view what) -> absl::Status {
    for (const char* field : fields) {
      if (object.contains(field) && !object[field].is_string()) {
        return absl::InvalidArgumentError(
            fmt::format("{} of the GoogleTest report: \"{}\" must be a string, got {}", what, field,
                        object[field].dump()));
      }
    }
    return absl::OkStatus();
  };
  std::vector<TestResult> results;
  for (const json& suite : report["testsuites"]) {
    if (!suite.is_object() || !suite.contains("testsuite") || !suite["testsuite"].is_array()) {
      return absl::InvalidArgumentError("a test suite of the report has no \"testsuite\" array");
    }
    if (absl::Status s = require_strings(suite, {"name"}, "a test suite"); !s.ok()) return s;
    const std::string suite_name = suite.value("name", "");
    for (const json& test : suite["testsuite"]) {
      if (!test.is_object()) continue;
      if (absl::Status s = require_strings(test, {"name", "status", "result", "time"}, "a test");
          !s.ok()) {
        return s;
      }
      TestResult result;
      const std::string test_name = test.value("name", "");
      result.name = fmt::format("{}.{}", suite_name, test_name);
      const std::string status = test.value("status", "RUN");
      const std::string outcome = test.value("result", "COMPLETED");
      if (status == "NOTRUN" || outcome == "SUPPRESSED") {
        if (IsDisabled(suite_name, test_name)) continue;
        result.outcome = TestOutcome::kNotRun;
        results.push_back(std::move(result));
        continue;
      }
      if (const auto failures = test.find("failures");
          failures != test.end() && failures->is_array()) {
        for (const json& failure : *failures) {
          if (!failure.is_object()) continue;
          if (absl::Status s = require_strings(failure, {"failure"}, "a failure"); !s.ok()) {
            return s;
          }
          result.failures.push_back(failure.value("failure", ""));
        }
      }
      if (!result.failures.empty()) {
        result.outcome = OutcomeOfFailures(result.failures);
      } else if (outcome == "SKIPPED") {
        result.outcome = TestOutcome::kSkipped;
      } else {
        result.outcome = TestOutcome::kPassed;
      }
      // "time" is "0.012s".
      const std::string time = test.value("time", "0s");
      result.seconds = std::strtod(time.c_str(), nullptr);
      results.push_back(std::move(result));
    }
  }
  return results;
}

ConsoleTests ScanConsoleOutput(std::string_view output) {
  ConsoleTests scan;
  std::optional<std::string> running;
  std::string printed;  // what the running test printed so far
  for (std::string_view line : SplitLines(output)) {
    // GoogleTest never prints a RUN line without a name; such a line is the test's output.
    if (line.starts_with(kRun) && !NameBeforeDetails(line.substr(kRun.size())).empty()) {
      running = std::string(NameBeforeDetails(line.substr(kRun.size())));
      printed.clear();
      continue;
    }
    if (!running) continue;
    const auto finishes = [&](std::string_view marker) {
      return line.starts_with(marker) && NameBeforeDetails(line.substr(marker.size())) == *running;
    };
    if (finishes(kOk) || finishes(kFailed) || finishes(kSkipped)) {
      TestResult result;
      result.name = *running;
      if (finishes(kOk)) {
        result.outcome = TestOutcome::kPassed;
      } else if (finishes(kSkipped)) {
        result.outcome = TestOutcome::kSkipped;
      } else {
        result.failures.push_back(ReportStyleFailure(printed));
        result.outcome = OutcomeOfFailures(result.failures);
      }
      scan.finished.push_back(std::move(result));
      running.reset();
      continue;
    }
    printed.append(line);
    printed.push_back('\n');
  }
  scan.unfinished = running;
  return scan;
}

std::string_view SuiteOf(std::string_view test_name) {
  // Parameterized names have a '/' but never a '.' after the suite's '.'.
  return test_name.substr(0, test_name.find('.'));
}

bool SuiteBelongsToStep(std::string_view suite, std::string_view step_suite) {
  if (suite == step_suite) return true;
  const std::string slash_suite = "/" + std::string(step_suite);
  const std::string suite_slash = std::string(step_suite) + "/";
  return suite.ends_with(slash_suite) || suite.starts_with(suite_slash);
}

std::string StepFilter(std::string_view step_suite) {
  return fmt::format("{0}.*:*/{0}.*:{0}/*.*", step_suite);
}

}  // namespace llmk::kata
