// Reads what a GoogleTest binary says about its tests: the --gtest_list_tests
// listing, the --gtest_output=json report, and, when the binary died before
// writing that report, its console output.
//
//   std::vector<std::string> tests = ParseTestList(listing);  // {"Step1_A.Works", ...}
//   absl::StatusOr<std::vector<TestResult>> results = ParseGtestJson(json_text);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace llmk::kata {

enum class TestOutcome {
  kPassed,
  kTodo,     // failed with llmk::NotImplemented: the stub is not written yet
  kFailed,   // failed otherwise
  kSkipped,  // GTEST_SKIP()
  kNotRun,   // its step ended before it ran, or it was still running then
};

struct TestResult {
  std::string name;  // "Step4_Softmax.RowsSumToOne"
  TestOutcome outcome = TestOutcome::kNotRun;
  std::vector<std::string> failures;  // as gtest printed them: "file:line\nmessage"
  double seconds = 0;
};

// Every NotImplemented message starts with this (llmk::NotImplemented::kMarker).
inline constexpr std::string_view kNotImplementedMarker = "llmk::NotImplemented: ";

// kTodo if any failure message carries the NotImplemented marker, else kFailed.
TestOutcome OutcomeOfFailures(const std::vector<std::string>& failures);

// The full names of the tests in a --gtest_list_tests listing, disabled ones
// left out. Lines that are not part of the listing are ignored.
std::vector<std::string> ParseTestList(std::string_view listing);

// The tests of a --gtest_output=json report, in report order, disabled ones
// left out. An error if the text is not such a report.
absl::StatusOr<std::vector<TestResult>> ParseGtestJson(std::string_view json_text);

// What the console output of a run shows: the tests that finished ("[ OK ]",
// "[ FAILED ]", "[ SKIPPED ]", with the failure text printed between), and the
// test that had started and not finished, if any.
struct ConsoleTests {
  std::vector<TestResult> finished;
  std::optional<std::string> unfinished;
};
ConsoleTests ScanConsoleOutput(std::string_view output);

// The suite part of "Suite.Test".
std::string_view SuiteOf(std::string_view test_name);

// True if `suite` is the gtest suite `step_suite`, including its parameterized
// ("Prefix/Step1_A") and typed ("Step1_A/0") forms.
bool SuiteBelongsToStep(std::string_view suite, std::string_view step_suite);

// The --gtest_filter value that selects the tests of `step_suite`.
std::string StepFilter(std::string_view step_suite);

}  // namespace llmk::kata
