// The selftest's rule, checked on fake katas: a test that passes on the stub or
// fails on the solution is named.
#include "selftest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_repo.h"

namespace llmk::kata {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

KataResult RunFakeLearner(const std::string& fake, const std::string& kata_json = "") {
  testing::FakeRepo repo;
  repo.AddKata("01_" + fake, testing::FakeKataBinary(fake), kata_json);
  const Catalog catalog = repo.Load();
  RunOptions options;
  options.timeout_seconds = 2;
  return RunKata(catalog.katas.front(), Variant::kLearner, options);
}

TEST(CheckKataRule, NamesTestsThatBreakTheRule) {
  const KataResult solution = RunFakeLearner("fail");  // Step2 fails on the "solution"
  const KataResult stub = RunFakeLearner("todo");      // Step1 passes on the "stub"
  SelftestTally tally;
  CheckKataRule(solution, stub, tally);
  EXPECT_EQ(tally.solution_passed, 2);
  EXPECT_EQ(tally.solution_failed, 1);
  EXPECT_EQ(tally.stub_passed, 1);
  EXPECT_EQ(tally.stub_failed, 4);
  EXPECT_THAT(tally.problems, Contains("01_todo: passes on the stub: Step1_First.Works"));
  EXPECT_THAT(
      tally.problems,
      Contains(HasSubstr("01_fail: fails on the solution: Step2_Second.SoftmaxRowSumsToOne")));
  EXPECT_EQ(tally.Passed(), 6);
  EXPECT_EQ(tally.Failed(), 2);
}

TEST(CheckKataRule, CountsStepsWithoutTestsAndCrashes) {
  const KataResult solution =
      RunFakeLearner("segv", testing::ThreeStepKataJson("01_segv", 0, {"Step4_None"}));
  const KataResult stub = RunFakeLearner("todo");
  SelftestTally tally;
  CheckKataRule(solution, stub, tally);
  EXPECT_EQ(tally.solution_failed, 1);  // Step2_Second.Segfaults did not finish
  EXPECT_THAT(tally.problems, Contains("01_segv: the solution crashed in Step 2 (SIGSEGV)"));
  EXPECT_EQ(tally.structure_failed, 1);
  EXPECT_THAT(tally.problems,
              Contains("01_segv: step 4 has no tests (no test in suite Step4_None)"));
}

TEST(CheckKataRule, AKataThatCannotListIsOneFailure) {
  const KataResult broken = RunFakeLearner("crash_at_start");
  SelftestTally tally;
  CheckKataRule(broken, broken, tally);
  EXPECT_EQ(tally.Failed(), 2);
  EXPECT_THAT(tally.problems, Contains(HasSubstr("the solution cannot list its tests: crashed "
                                                 "while listing its tests (SIGSEGV)")));
}

TEST(ParseCtestSummary, ReadsCounts) {
  CtestSummary summary = ParseCtestSummary("...\n75% tests passed, 1 tests failed out of 4\n");
  EXPECT_TRUE(summary.found);
  EXPECT_EQ(summary.passed, 3);
  EXPECT_EQ(summary.failed, 1);
  summary = ParseCtestSummary("100% tests passed, 0 tests failed out of 12\n");
  EXPECT_EQ(summary.passed, 12);
  summary = ParseCtestSummary("Test project /b\nNo tests were found!!!\n");
  EXPECT_TRUE(summary.found);
  EXPECT_EQ(summary.passed + summary.failed, 0);
  EXPECT_FALSE(ParseCtestSummary("ctest: command not found").found);
}

// Counts too large for an int, or more failures than tests, are no summary at all (the
// first was found by the harness_parsers fuzzer: std::stoi threw out of the parser).
TEST(ParseCtestSummary, RejectsCountsThatCannotBeRight) {
  EXPECT_FALSE(ParseCtestSummary("0% tests passed, 99999999999 tests failed out of 4\n").found);
  EXPECT_FALSE(ParseCtestSummary("0% tests passed, 1 tests failed out of 99999999999\n").found);
  EXPECT_FALSE(ParseCtestSummary("0% tests passed, 5 tests failed out of 4\n").found);
}

}  // namespace
}  // namespace llmk::kata
