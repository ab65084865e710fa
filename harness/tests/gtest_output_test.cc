// Reading GoogleTest's listing, JSON report and console output.
#include "gtest_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmk::kata {
namespace {

TEST(ParseTestList, ReadsSuitesParametersAndSkipsDisabledAndNoise) {
  const std::string listing =
      "Running main() from gtest_main.cc\n"
      "Step1_A.\n"
      "  Works\n"
      "  DISABLED_Later\n"
      "Inst/Step2_B.\n"
      "  Param/0  # GetParam() = 1\n"
      "Step3_C/0.  # TypeParam = int\n"
      "  Typed\n"
      "DISABLED_Step4_D.\n"
      "  Hidden\n";
  EXPECT_EQ(ParseTestList(listing),
            (std::vector<std::string>{"Step1_A.Works", "Inst/Step2_B.Param/0", "Step3_C/0.Typed"}));
}

TEST(SuiteBelongsToStep, MatchesPlainParameterizedAndTypedSuites) {
  EXPECT_TRUE(SuiteBelongsToStep("Step1_A", "Step1_A"));
  EXPECT_TRUE(SuiteBelongsToStep("Inst/Step1_A", "Step1_A"));
  EXPECT_TRUE(SuiteBelongsToStep("Step1_A/0", "Step1_A"));
  EXPECT_FALSE(SuiteBelongsToStep("Step1_AB", "Step1_A"));
  EXPECT_FALSE(SuiteBelongsToStep("Step11_A", "Step1_A"));
  EXPECT_EQ(StepFilter("Step1_A"), "Step1_A.*:*/Step1_A.*:Step1_A/*.*");
}

TEST(ParseGtestJson, ReadsOutcomesAndFailures) {
  const std::string json = R"({"testsuites": [{"name": "Step1_A", "testsuite": [
      {"name": "Pass", "status": "RUN", "result": "COMPLETED", "time": "0.5s"},
      {"name": "Fail", "status": "RUN", "result": "COMPLETED",
       "failures": [{"failure": "a.cc:4\nExpected 1, got 2", "type": ""}]},
      {"name": "Todo", "status": "RUN", "result": "COMPLETED",
       "failures": [{"failure": "unknown file\nC++ exception with description \"llmk::NotImplemented: F is not implemented\" thrown", "type": ""}]},
      {"name": "Skip", "status": "RUN", "result": "SKIPPED"},
      {"name": "DISABLED_Off", "status": "NOTRUN", "result": "SUPPRESSED"}]}]})";
  absl::StatusOr<std::vector<TestResult>> tests = ParseGtestJson(json);
  ASSERT_TRUE(tests.ok()) << tests.status();
  ASSERT_EQ(tests->size(), 4u);
  EXPECT_EQ((*tests)[0].name, "Step1_A.Pass");
  EXPECT_EQ((*tests)[0].outcome, TestOutcome::kPassed);
  EXPECT_DOUBLE_EQ((*tests)[0].seconds, 0.5);
  EXPECT_EQ((*tests)[1].outcome, TestOutcome::kFailed);
  EXPECT_EQ((*tests)[1].failures[0], "a.cc:4\nExpected 1, got 2");
  EXPECT_EQ((*tests)[2].outcome, TestOutcome::kTodo);
  EXPECT_EQ((*tests)[3].outcome, TestOutcome::kSkipped);
}

TEST(ParseGtestJson, RejectsWhatIsNotAReport) {
  EXPECT_FALSE(ParseGtestJson("").ok());
  EXPECT_FALSE(ParseGtestJson("{\"tests\": 3").ok());
  EXPECT_FALSE(ParseGtestJson("[1, 2]").ok());
}

TEST(ScanConsoleOutput, FindsFinishedTestsAndTheOneThatDidNotFinish) {
  const std::string output =
      "[ RUN      ] Step2_B.Works\n"
      "[       OK ] Step2_B.Works (0 ms)\n"
      "[ RUN      ] Step2_B.Fails\n"
      "b.cc:9: Failure\n"
      "Expected equality\n"
      "[  FAILED  ] Step2_B.Fails (1 ms)\n"
      "[ RUN      ] Step2_B.Param/0\n"
      "[  FAILED  ] Step2_B.Param/0, where GetParam() = 1 (0 ms)\n"
      "[ RUN      ] Step2_B.Crashes\n"
      "about to crash\n";
  const ConsoleTests scan = ScanConsoleOutput(output);
  ASSERT_EQ(scan.finished.size(), 3u);
  EXPECT_EQ(scan.finished[0].outcome, TestOutcome::kPassed);
  EXPECT_EQ(scan.finished[1].outcome, TestOutcome::kFailed);
  EXPECT_EQ(scan.finished[1].failures[0], "b.cc:9\nExpected equality");
  EXPECT_EQ(scan.finished[2].name, "Step2_B.Param/0");
  ASSERT_TRUE(scan.unfinished.has_value());
  EXPECT_EQ(*scan.unfinished, "Step2_B.Crashes");
}

// A report from a learner's binary with a field of the wrong type is an error naming the
// field, not an exception (found by the harness_parsers fuzzer: "failure" was a number).
TEST(ParseGtestJson, AFieldOfTheWrongTypeIsAnErrorThatNamesIt) {
  const std::string suite_open = R"({"testsuites": [{"name": "Step1_A", "testsuite": [)";
  for (const auto& [test, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"name": "T", "failures": [{"failure": 0}]})", "failure"},
           {R"({"name": 7})", "name"},
           {R"({"name": "T", "status": ["RUN"]})", "status"},
           {R"({"name": "T", "result": 1})", "result"},
           {R"({"name": "T", "time": 0.5})", "time"}}) {
    const absl::StatusOr<std::vector<TestResult>> results =
        ParseGtestJson(suite_open + test + "]}]}");
    ASSERT_FALSE(results.ok()) << test;
    EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(results.status().message()), ::testing::HasSubstr("\"" + field + "\""));
  }
  EXPECT_FALSE(ParseGtestJson(R"({"testsuites": [{"name": 3, "testsuite": []}]})").ok());
}

// A test's own output can hold what looks like GoogleTest's markers; a RUN line without a
// name starts nothing, so no result without a name comes out (found by the fuzzer).
TEST(ScanConsoleOutput, ARunLineWithoutANameIsOutputNotATest) {
  const std::string output =
      "[ RUN      ]  \n"
      "[  FAILED  ] \n"
      "[ RUN      ] Step2_B.Works\n"
      "[ RUN      ] \n"
      "[       OK ] Step2_B.Works (0 ms)\n";
  const ConsoleTests scan = ScanConsoleOutput(output);
  ASSERT_EQ(scan.finished.size(), 1u);
  EXPECT_EQ(scan.finished[0].name, "Step2_B.Works");
  EXPECT_EQ(scan.finished[0].outcome, TestOutcome::kPassed);
  EXPECT_FALSE(scan.unfinished.has_value());
}

}  // namespace
}  // namespace llmk::kata
