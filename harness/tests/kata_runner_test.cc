// Each fake kata binary is reported as it should be, against the right step,
// and the run leaves no process behind.
#include "kata_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "fake_repo.h"
#include "process_check.h"
#include "temp_dir.h"

namespace llmk::kata {
namespace {

using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;
using testing::NoChildProcessLeft;

constexpr double kTimeoutSeconds = 2;

RunOptions FastRunOptions() {
  RunOptions options;
  options.timeout_seconds = kTimeoutSeconds;
  return options;
}

// Runs fake_kata_NAME as the learner binary of a three-step kata.
KataResult RunFakeKata(const std::string& fake, const RunOptions& options = FastRunOptions(),
                       const std::string& kata_json = "") {
  FakeRepo repo;
  repo.AddKata("01_" + fake, FakeKataBinary(fake), kata_json);
  const Catalog catalog = repo.Load();
  EXPECT_EQ(catalog.katas.size(), 1u);
  if (catalog.katas.empty()) return KataResult{};
  return RunKata(catalog.katas.front(), Variant::kLearner, options);
}

std::vector<StepStatus> Statuses(const KataResult& result) {
  std::vector<StepStatus> statuses;
  for (const StepResult& step : result.steps) statuses.push_back(step.status);
  return statuses;
}

const TestResult* FindTest(const StepResult& step, const std::string& name) {
  for (const TestResult& test : step.tests) {
    if (test.name == name) return &test;
  }
  return nullptr;
}

TEST(KataRunner, PassingKataPassesEveryStep) {
  const KataResult result = RunFakeKata("pass");
  EXPECT_EQ(result.problem, KataProblem::kNone) << result.problem_detail;
  EXPECT_EQ(Statuses(result), std::vector<StepStatus>(3, StepStatus::kPassing));
  ASSERT_EQ(result.steps[0].tests.size(), 2u);
  EXPECT_EQ(result.steps[0].tests[0].name, "Step1_First.Adds");
  EXPECT_TRUE(result.AllStepsPass());
  EXPECT_TRUE(result.tests_in_no_step.empty());
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, NotImplementedIsTodoAndAWrongAnswerIsFailing) {
  const KataResult result = RunFakeKata("todo");
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kTodo,
                                                       StepStatus::kFailing}));
  const TestResult* stub = FindTest(result.steps[1], "Step2_Second.UsesStub");
  ASSERT_NE(stub, nullptr);
  EXPECT_EQ(stub->outcome, TestOutcome::kTodo);
  ASSERT_EQ(stub->failures.size(), 1u);
  EXPECT_THAT(stub->failures[0], HasSubstr("llmk::NotImplemented: Stub is not implemented"));
  const TestResult* wrong = FindTest(result.steps[2], "Step3_Third.WrongAnswer");
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(wrong->outcome, TestOutcome::kFailed);
  EXPECT_EQ(result.steps[2].detail, "1 of 2 tests fail");
}

TEST(KataRunner, FailedAssertionKeepsGtestsMessage) {
  const KataResult result = RunFakeKata("fail");
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kFailing,
                                                       StepStatus::kPassing}));
  const TestResult* test = FindTest(result.steps[1], "Step2_Second.SoftmaxRowSumsToOne");
  ASSERT_NE(test, nullptr);
  ASSERT_EQ(test->failures.size(), 1u);
  EXPECT_THAT(test->failures[0], HasSubstr("The difference between 0.75 and 1.0 is 0.25"));
  EXPECT_THAT(test->failures[0], HasSubstr("row 0 of softmax <&\"> sums to 0.75"));
}

TEST(KataRunner, SegfaultIsACrashInItsStepAndLaterStepsStillRun) {
  const KataResult result = RunFakeKata("segv");
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kCrashed,
                                                       StepStatus::kPassing}));
  const StepResult& step = result.steps[1];
  EXPECT_EQ(step.detail, "crashed in Step 2 (SIGSEGV)");
  EXPECT_EQ(step.unfinished_test, "Step2_Second.Segfaults");
  ASSERT_NE(FindTest(step, "Step2_Second.Works"), nullptr);
  EXPECT_EQ(FindTest(step, "Step2_Second.Works")->outcome, TestOutcome::kPassed);
  EXPECT_EQ(FindTest(step, "Step2_Second.Segfaults")->outcome, TestOutcome::kNotRun);
  EXPECT_THAT(step.output, HasSubstr("[ RUN      ] Step2_Second.Segfaults"));
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, AbortIsACrash) {
  const KataResult result = RunFakeKata("abort");
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kCrashed,
                                                       StepStatus::kPassing}));
  EXPECT_EQ(result.steps[1].detail, "crashed in Step 2 (SIGABRT)");
  EXPECT_EQ(result.steps[1].unfinished_test, "Step2_Second.Aborts");
}

TEST(KataRunner, BusyLoopTimesOutAndIsKilled) {
  const auto start = std::chrono::steady_clock::now();
  const KataResult result = RunFakeKata("hang");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kTimedOut,
                                                       StepStatus::kPassing}));
  EXPECT_EQ(result.steps[1].detail, "timed out after 2 s");
  EXPECT_EQ(result.steps[1].unfinished_test, "Step2_Second.SpinsForever");
  EXPECT_LT(elapsed, std::chrono::seconds(6));
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, SleepingForeverTimesOutInStep1) {
  const KataResult result = RunFakeKata("sleep");
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kTimedOut, StepStatus::kPassing,
                                                       StepStatus::kPassing}));
  EXPECT_EQ(result.steps[0].detail, "timed out after 2 s");
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, ExitZeroHalfWayIsAnEarlyExit) {
  const KataResult result = RunFakeKata("exit_early");
  EXPECT_EQ(Statuses(result),
            (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kExitedEarly,
                                     StepStatus::kPassing}));
  const StepResult& step = result.steps[1];
  EXPECT_EQ(step.detail, "exited before finishing Step 2 (exit code 0)");
  EXPECT_EQ(step.unfinished_test, "Step2_Second.ExitsZero");
  EXPECT_EQ(FindTest(step, "Step2_Second.Works")->outcome, TestOutcome::kPassed);
  EXPECT_EQ(FindTest(step, "Step2_Second.NeverRuns")->outcome, TestOutcome::kNotRun);
}

TEST(KataRunner, OutputFloodIsStopped) {
  const KataResult result = RunFakeKata("flood");
  ASSERT_EQ(result.steps.size(), 3u);
  EXPECT_EQ(result.steps[0].status, StepStatus::kFlooded);
  EXPECT_EQ(result.steps[0].detail, "flooded its output (more than 8 MiB)");
  EXPECT_EQ(result.steps[1].status, StepStatus::kPassing);
  EXPECT_EQ(result.steps[2].status, StepStatus::kNoTests);  // the fake has no Step3
  EXPECT_LT(result.steps[0].output.size(), 8000u);
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, ChildLeftBehindIsKilled) {
  absl::StatusOr<TempDir> dir = TempDir::Create("kata-fork-test");
  ASSERT_TRUE(dir.ok());
  const std::string pid_file = (dir->path() / "child.pid").string();
  RunOptions options = FastRunOptions();
  options.env.emplace_back("FAKE_KATA_PID_FILE", pid_file);

  const auto start = std::chrono::steady_clock::now();
  const KataResult result = RunFakeKata("fork", options);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(result.steps[0].status, StepStatus::kPassing) << result.steps[0].detail;
  EXPECT_EQ(result.steps[1].status, StepStatus::kPassing);
  // The child sleeps 1000 s holding the output pipe; the run does not wait for it.
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  pid_t child = 0;
  std::ifstream(pid_file) >> child;
  ASSERT_GT(child, 0);
  EXPECT_TRUE(testing::ProcessIsGone(child)) << "pid " << child << " survived";
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, CrashWhileListingIsReportedAgainstTheKata) {
  const KataResult result = RunFakeKata("crash_at_start");
  EXPECT_EQ(result.problem, KataProblem::kCannotList);
  EXPECT_EQ(result.problem_detail, "crashed while listing its tests (SIGSEGV)");
  EXPECT_EQ(Statuses(result), std::vector<StepStatus>(3, StepStatus::kNotRun));
  EXPECT_EQ(result.PassingSteps(), 0);
}

TEST(KataRunner, StepWithoutTestsIsNoTests) {
  const KataResult result = RunFakeKata(
      "pass", FastRunOptions(), testing::ThreeStepKataJson("01_pass", 0, {"Step4_Missing"}));
  ASSERT_EQ(result.steps.size(), 4u);
  EXPECT_EQ(result.steps[3].status, StepStatus::kNoTests);
  EXPECT_EQ(result.steps[3].detail, "no tests in Step4_Missing");
  EXPECT_FALSE(result.AllStepsPass());
  EXPECT_EQ(result.FirstNonPassing(), &result.steps[3]);
}

TEST(KataRunner, TestsInNoStepAreNoted) {
  const KataResult result =
      RunFakeKata("pass", FastRunOptions(),
                  R"({"name": "01_pass", "steps": [{"number": 1, "suite": "Step1_First"}]})");
  EXPECT_EQ(result.tests_in_no_step,
            (std::vector<std::string>{"Step2_Second.Compares", "Step3_Third.Negates"}));
}

TEST(KataRunner, OnlyStepRunsThatStep) {
  RunOptions options = FastRunOptions();
  options.only_step = 2;
  const KataResult result = RunFakeKata("segv", options);
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kNotRun, StepStatus::kCrashed,
                                                       StepStatus::kNotRun}));
  EXPECT_FALSE(result.RunStepsPass());

  options.only_step = 3;
  EXPECT_TRUE(RunFakeKata("segv", options).RunStepsPass());
}

TEST(KataRunner, KataTimeoutComesFromKataJson) {
  const KataResult result =
      RunFakeKata("sleep", RunOptions{}, testing::ThreeStepKataJson("01_sleep", 1));
  EXPECT_EQ(result.steps[0].detail, "timed out after 1 s");
}

TEST(KataRunner, MissingBinaryIsAProblemNotACrash) {
  FakeRepo repo;
  repo.AddKata("01_missing", "/nonexistent/fake_kata");
  const Catalog catalog = repo.Load();
  const KataResult result = RunKata(catalog.katas.front(), Variant::kLearner, FastRunOptions());
  EXPECT_EQ(result.problem, KataProblem::kNoBinary);
  EXPECT_THAT(result.problem_detail, HasSubstr("/nonexistent/fake_kata does not exist"));
}

TEST(KataRunner, StepsRunsOnlyThoseSteps) {
  RunOptions options = FastRunOptions();
  options.steps = std::vector<int>{1, 3};
  const KataResult result = RunFakeKata("segv", options);  // step 2 would crash
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kPassing, StepStatus::kNotRun,
                                                       StepStatus::kPassing}));
  EXPECT_TRUE(result.RunStepsPass());
}

TEST(KataRunner, TheKataTimeLimitStopsTheStepsThatCannotStart) {
  RunOptions options;
  options.timeout_seconds = 5;
  options.kata_time_limit_seconds = 0.8;
  const KataResult result = RunFakeKata("sleep", options);  // step 1 sleeps forever
  EXPECT_EQ(Statuses(result), (std::vector<StepStatus>{StepStatus::kTimedOut, StepStatus::kTimedOut,
                                                       StepStatus::kTimedOut}));
  EXPECT_THAT(result.steps[0].detail, HasSubstr("(the kata's time limit of 0.8 s ran out)"));
  EXPECT_EQ(result.steps[1].detail, "not started: the kata's time limit of 0.8 s ran out");
  EXPECT_TRUE(NoChildProcessLeft());
}

TEST(KataRunner, AGenerousKataTimeLimitChangesNothing) {
  RunOptions options = FastRunOptions();
  options.kata_time_limit_seconds = 60;
  const KataResult result = RunFakeKata("pass", options);
  EXPECT_TRUE(result.AllStepsPass());
}

}  // namespace
}  // namespace llmk::kata
