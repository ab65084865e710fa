// One grade over every fake kata at once: each misbehaving kata is reported
// against itself, the others are unaffected, nothing is left running; and the
// verbs print what a learner needs.
#include "grade.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include "assignment.h"
#include "fake_repo.h"
#include "integrity.h"
#include "process_check.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;
using ::testing::Not;

RunOptions FastGradeOptions() {
  RunOptions options;
  options.timeout_seconds = 1.5;
  return options;
}

// Builds succeed except for targets named in `broken`.
BuildFunction FakeBuilder(std::vector<std::string> broken) {
  return [broken](const std::string& target) {
    BuildResult result;
    result.ok = std::find(broken.begin(), broken.end(), target) == broken.end();
    if (!result.ok) result.errors = "katas/x/x.cc:3:1: error: expected ';' before '}' token\n";
    return result;
  };
}

std::string StepTokens(const KataResult& kata) {
  std::string tokens;
  for (const StepResult& step : kata.steps) {
    tokens += (tokens.empty() ? "" : " ") + std::string(StatusToken(step.status));
  }
  return tokens;
}

TEST(Grade, EveryMisbehaviourStaysWithItsKata) {
  FakeRepo repo;
  const std::vector<std::string> fakes = {"pass",  "segv",           "hang",  "exit_early", "flood",
                                          "abort", "crash_at_start", "sleep", "fork",       "todo",
                                          "fail"};
  for (std::size_t i = 0; i < fakes.size(); ++i) {
    repo.AddKata(fmt::format("{:02}_{}", i + 1, fakes[i]), FakeKataBinary(fakes[i]));
  }
  repo.AddKata("12_broken", FakeKataBinary("pass"));
  repo.AddKata("13_pass_again", FakeKataBinary("pass"));
  const Catalog catalog = repo.Load();

  const GradeReport report = GradeKatas(catalog.katas, Variant::kLearner, FastGradeOptions(),
                                        FakeBuilder({"12_broken_test"}), nullptr);
  std::map<std::string, std::string> statuses;
  for (const KataResult& kata : report.katas) {
    statuses[kata.name] = kata.problem == KataProblem::kNone
                              ? StepTokens(kata)
                              : std::string(ProblemToken(kata.problem));
  }
  const std::map<std::string, std::string> expected = {
      {"01_pass", "passing passing passing"},
      {"02_segv", "passing crashed passing"},
      {"03_hang", "passing timed_out passing"},
      {"04_exit_early", "passing exited_early passing"},
      {"05_flood", "flooded passing no_tests"},
      {"06_abort", "passing crashed passing"},
      {"07_crash_at_start", "cannot_list"},
      {"08_sleep", "timed_out passing passing"},
      {"09_fork", "passing passing no_tests"},
      {"10_todo", "passing todo failing"},
      {"11_fail", "passing failing passing"},
      {"12_broken", "does_not_compile"},
      {"13_pass_again", "passing passing passing"},
  };
  EXPECT_EQ(statuses, expected);
  EXPECT_EQ(report.katas[11].problem_output,
            "katas/x/x.cc:3:1: error: expected ';' before '}' token\n");
  EXPECT_EQ(report.PassingSteps(), 3 + 2 + 2 + 2 + 1 + 2 + 0 + 2 + 2 + 1 + 2 + 0 + 3);
  EXPECT_FALSE(report.AllPass());
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(Grade, AllPassingGradePasses) {
  FakeRepo repo;
  repo.AddKata("01_pass", FakeKataBinary("pass"));
  const Catalog catalog = repo.Load();
  const GradeReport report =
      GradeKatas(catalog.katas, Variant::kSolution, FastGradeOptions(), FakeBuilder({}), nullptr);
  EXPECT_TRUE(report.AllPass());
  EXPECT_EQ(report.variant, "solution");
}

// Runs a verb with its output captured.
class VerbTest : public ::testing::Test {
 protected:
  VerbTest() {
    ctx_.root = repo_.root();
    ctx_.build_dir = repo_.build_dir();
    ctx_.timeout_seconds = 1.5;
    ctx_.out = out_;
    ctx_.err = err_;
    ctx_.build = FakeBuilder({});
  }
  ~VerbTest() override {
    std::fclose(out_);
    std::fclose(err_);
  }

  static std::string Read(std::FILE* file) { return testing::ReadAll(file); }
  std::string Out() const { return Read(out_); }
  std::string Err() const { return Read(err_); }
  // The board alone: what StatusVerb prints, without what earlier verbs printed.
  std::string Board() {
    std::fflush(out_);
    std::rewind(out_);
    EXPECT_EQ(ftruncate(fileno(out_), 0), 0);
    EXPECT_EQ(StatusVerb(ctx_), kExitOk);
    return Out();
  }

  FakeRepo repo_;
  std::FILE* out_ = std::tmpfile();
  std::FILE* err_ = std::tmpfile();
  Context ctx_;
};

TEST_F(VerbTest, TestShowsTheFailureAndWhereToRead) {
  repo_.AddKata("02_fail", FakeKataBinary("fail"));
  repo_.Load();
  EXPECT_EQ(TestVerb(ctx_, "fail", std::nullopt), kExitNotPassing);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("failing       Step 2  Second <&\"> thing"));
  EXPECT_THAT(out, HasSubstr("FAILED Step2_Second.SoftmaxRowSumsToOne"));
  EXPECT_THAT(out, HasSubstr("The difference between 0.75 and 1.0 is 0.25"));
  EXPECT_THAT(out, HasSubstr("read  katas/02_fail/README.md#step-2-second-thing"));
  EXPECT_THAT(out, HasSubstr("hint  ./kata hint 02\n"));
  EXPECT_THAT(out, Not(HasSubstr("\x1b[")));  // not a terminal: no color
}

TEST_F(VerbTest, TestOfACrashShowsTheSignalAndTheTest) {
  repo_.AddKata("03_segv", FakeKataBinary("segv"));
  repo_.Load();
  EXPECT_EQ(TestVerb(ctx_, "03", std::nullopt), kExitNotPassing);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("crashed in Step 2 (SIGSEGV)"));
  EXPECT_THAT(out, HasSubstr("It was running Step2_Second.Segfaults."));
}

TEST_F(VerbTest, TestOfOnePassingStepExitsZero) {
  repo_.AddKata("03_segv", FakeKataBinary("segv"));
  repo_.Load();
  EXPECT_EQ(TestVerb(ctx_, "03_segv", 3), kExitOk);
  EXPECT_THAT(Out(), HasSubstr("passing       Step 3  Third thing"));
  EXPECT_EQ(TestVerb(ctx_, "03_segv", 9), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("03_segv has no step 9"));
}

TEST_F(VerbTest, TestOfACompileErrorShowsIt) {
  repo_.AddKata("04_pass", FakeKataBinary("pass"));
  repo_.Load();
  ctx_.build = FakeBuilder({"04_pass_test"});
  EXPECT_EQ(TestVerb(ctx_, "04", std::nullopt), kExitNotPassing);
  EXPECT_THAT(Out(), HasSubstr("does not compile"));
  EXPECT_THAT(Out(), HasSubstr("error: expected ';'"));
}

TEST_F(VerbTest, UnknownKataIsAUsageError) {
  repo_.AddKata("04_pass", FakeKataBinary("pass"));
  repo_.Load();
  EXPECT_EQ(TestVerb(ctx_, "attention", std::nullopt), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("no kata \"attention\"; the katas are: 04_pass"));
}

TEST_F(VerbTest, StatusBuildsAndRunsNothingAndSaysWhatWasNotRun) {
  // A crashing binary: had the board run it, it would say "crashed".
  repo_.AddKata("01_segv", FakeKataBinary("segv"));
  repo_.AddKata("02_todo", FakeKataBinary("todo"));
  repo_.Load();
  std::vector<std::string> built;
  ctx_.build = [&](const std::string& target) {
    built.push_back(target);
    BuildResult result;
    result.ok = true;
    return result;
  };
  const std::string out = Board();
  EXPECT_THAT(built, ::testing::IsEmpty());
  EXPECT_THAT(out, HasSubstr("01_segv  Fake kata 01_segv"));
  EXPECT_THAT(out, HasSubstr("  not run yet (3 steps): ./kata test 01 builds and runs it\n"));
  EXPECT_THAT(out, Not(HasSubstr("crashed")));
  EXPECT_THAT(out, Not(HasSubstr("  todo ")));
  EXPECT_THAT(out, HasSubstr("Score: 0/6 steps passing"));
  EXPECT_THAT(out, HasSubstr("Next: 01_segv, step 1: First things (not run)\n"
                             "  run   ./kata test 01\n"));
  EXPECT_THAT(out, HasSubstr("2 of 2 katas not run yet."));
}

TEST_F(VerbTest, StatusShowsTheRealStateAfterATestAndNothingElse) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.AddKata("02_todo", FakeKataBinary("todo"));
  repo_.Load();
  ASSERT_EQ(TestVerb(ctx_, "02", std::nullopt), kExitNotPassing);
  const std::string out = Board();
  EXPECT_THAT(out, HasSubstr("  not run yet (3 steps): ./kata test 01 builds and runs it\n"));
  EXPECT_THAT(out, HasSubstr("02_todo  Fake kata 02_todo"));
  EXPECT_THAT(out, HasSubstr("  passing       Step 1  First things\n"
                             "  todo          Step 2  Second <&\"> thing\n"
                             "  failing       Step 3  Third thing\n"));
  EXPECT_THAT(out, Not(HasSubstr("changed after this run")));
  EXPECT_THAT(out, HasSubstr("Score: 1/6 steps passing"));
  EXPECT_THAT(out, HasSubstr("1 of 2 katas not run yet."));
  // The first kata's steps were not run: it comes first in what to do next.
  EXPECT_THAT(out, HasSubstr("Next: 01_pass, step 1: First things (not run)\n"));
}

TEST_F(VerbTest, StatusSaysWhenAFileChangedAfterTheRecordedRun) {
  repo_.AddKata("02_todo", FakeKataBinary("todo"));
  repo_.Load();
  ASSERT_EQ(TestVerb(ctx_, "02", std::nullopt), kExitNotPassing);
  const std::filesystem::path record = repo_.build_dir() / ".kata" / "last_run" / "02_todo.json";
  ASSERT_TRUE(std::filesystem::exists(record));
  // The record is an hour old; the learner's stub was written after it.
  std::filesystem::last_write_time(
      record, std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  std::filesystem::last_write_time(
      repo_.root() / "katas/02_todo/kata.json",
      std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  repo_.WriteFile("katas/02_todo/todo.cc", "// edited\n");
  const std::string out = Board();
  EXPECT_THAT(out, HasSubstr("  todo.cc changed after this run: ./kata test 02 runs it again\n"));
  EXPECT_THAT(out, HasSubstr("  todo          Step 2  Second <&\"> thing\n"));
}

TEST_F(VerbTest, StatusShowsARecordedCompileErrorUntilABuildSucceeds) {
  repo_.AddKata("04_pass", FakeKataBinary("pass"));
  repo_.Load();
  ASSERT_EQ(TestVerb(ctx_, "04", std::nullopt), kExitOk);
  ctx_.build = FakeBuilder({"04_pass_test"});
  ASSERT_EQ(TestVerb(ctx_, "04", std::nullopt), kExitNotPassing);
  std::string out = Board();
  EXPECT_THAT(out, HasSubstr("  does not compile: "));
  EXPECT_THAT(out, HasSubstr("Next: 04_pass does not compile"));
  ctx_.build = FakeBuilder({});
  ASSERT_EQ(TestVerb(ctx_, "04", std::nullopt), kExitOk);
  out = Board();
  EXPECT_THAT(out, Not(HasSubstr("does not compile")));
  EXPECT_THAT(out, HasSubstr("All 3 steps pass. Well done!"));
}

TEST_F(VerbTest, HintFollowsTheLastRun) {
  repo_.AddKata("02_todo", FakeKataBinary("todo"));
  repo_.Load();
  repo_.WriteFile("katas/02_todo/HINTS.md",
                  "# Hints\n\n## Step 1: First things\n### Level 1: nudge\nOne.\n\n"
                  "## Step 2: Second thing\n### Level 1: nudge\nLook at step two.\n"
                  "### Level 2: idea\nAn idea.\n### Level 3: formula\nx = 1\n");
  // No run yet: step 1.
  EXPECT_EQ(HintVerb(ctx_, "02", 1, std::nullopt), kExitOk);
  EXPECT_THAT(Out(), HasSubstr("One."));
  // After a run, the first step that does not pass: step 2.
  ASSERT_EQ(TestVerb(ctx_, "02", std::nullopt), kExitNotPassing);
  EXPECT_EQ(HintVerb(ctx_, "todo", 2, std::nullopt), kExitOk);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("02_todo, step 2: Second <&\"> thing. Hint, level 2: idea"));
  EXPECT_THAT(out, HasSubstr("An idea.\n"));
  EXPECT_THAT(out, HasSubstr("Still stuck? ./kata hint 02 3"));
  EXPECT_EQ(HintVerb(ctx_, "02", 4, std::nullopt), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("katas/02_todo/HINTS.md has no level 4 hint for step 2 "
                               "(levels: 1, 2, 3)"));
  EXPECT_EQ(HintVerb(ctx_, "02", 1, 3), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("has no hints for step 3 (it has hints for steps: 1, 2)"));
}

TEST_F(VerbTest, GradeWritesEachFormat) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  for (const char* format : {"json", "junit", "markdown", "text"}) {
    GradeFlags flags;
    flags.format = format;
    flags.out_file = (repo_.root() / (std::string("report.") + format)).string();
    EXPECT_EQ(GradeVerb(ctx_, flags), kExitOk) << format;
    EXPECT_TRUE(std::filesystem::file_size(flags.out_file) > 0) << format;
  }
  GradeFlags bad;
  bad.format = "yaml";
  EXPECT_EQ(GradeVerb(ctx_, bad), kExitUsage);
}

TEST_F(VerbTest, ListNeedsNoBuild) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));  // no manifest written: no Load()
  EXPECT_EQ(ListVerb(ctx_), kExitOk);
  EXPECT_THAT(Out(), HasSubstr("01_pass  Fake kata 01_pass\n  Step 1  First things\n"));
}

// --- Assignments: the katas and steps graded, time limits, performance,
// integrity and the score.

Assignment MustParse(const std::string& json, const Catalog& catalog) {
  absl::StatusOr<Assignment> assignment = ParseAssignment(json, "test.json", catalog);
  EXPECT_TRUE(assignment.ok()) << assignment.status();
  return assignment.ok() ? *std::move(assignment) : Assignment{};
}

// A builder that records what it was asked to build.
BuildFunction RecordingBuilder(std::vector<std::string>& built,
                               std::vector<std::string> broken = {}) {
  return [&built, broken](const std::string& target) {
    built.push_back(target);
    BuildResult result;
    result.ok = std::find(broken.begin(), broken.end(), target) == broken.end();
    if (!result.ok) result.errors = "bench.cc:1:1: error: nope\n";
    return result;
  };
}

// A prebuild that records the targets it was given, as one line, in the same list.
std::function<void(const std::vector<std::string>&)> RecordingPrebuild(
    std::vector<std::string>& built) {
  return [&built](const std::vector<std::string>& targets) {
    std::string line = "together:";
    for (const std::string& target : targets) line += " " + target;
    built.push_back(line);
  };
}

// Gives `kata` a benchmark binary.
void SetBench(Catalog& catalog, const std::string& kata, const std::string& binary) {
  for (Kata& k : catalog.katas) {
    if (k.name != kata) continue;
    k.learner.bench_target = k.solution.bench_target = kata + "_bench";
    k.learner.bench = k.solution.bench = binary;
  }
}

TEST(GradeAssignment, GradesOnlyTheAssignedKatasAndStepsAndScoresThem) {
  FakeRepo repo;
  repo.AddKata("01_todo", FakeKataBinary("todo"));  // passing todo failing
  repo.AddKata("02_pass", FakeKataBinary("pass"));
  repo.AddKata("03_fail", FakeKataBinary("fail"));  // not assigned
  const Catalog catalog = repo.Load();
  const Assignment assignment = MustParse(R"({"schema": "llmk-assignment/1", "title": "W1",
      "katas": [{"kata": "todo", "weight": 4, "steps": [1, 2]}, {"kata": "02", "weight": 2}]})",
                                          catalog);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.assignment = &assignment;
  options.assignment_file = "w1.json";
  std::vector<std::string> built;
  options.prebuild = RecordingPrebuild(built);
  const GradeReport report =
      Grade(catalog, Variant::kLearner, options, RecordingBuilder(built), nullptr);
  // The assigned targets are built together first; then each kata's own build reports.
  EXPECT_EQ(built, (std::vector<std::string>{"together: 01_todo_test 02_pass_test",
                                             "01_todo_test", "02_pass_test"}));
  ASSERT_EQ(report.katas.size(), 2u);
  EXPECT_EQ(StepTokens(report.katas[0]), "passing todo not_run");
  EXPECT_EQ(report.katas[0].assigned_steps, (std::vector<int>{1, 2}));
  EXPECT_DOUBLE_EQ(report.katas[0].weight, 4);
  EXPECT_DOUBLE_EQ(report.katas[0].earned, 2);  // 1 of 2 assigned steps
  EXPECT_DOUBLE_EQ(report.katas[1].earned, 2);
  EXPECT_TRUE(report.has_assignment);
  EXPECT_EQ(report.assignment_title, "W1");
  EXPECT_EQ(report.assignment_file, "w1.json");
  EXPECT_DOUBLE_EQ(report.score, 4);
  EXPECT_DOUBLE_EQ(report.max_score, 6);
  EXPECT_FALSE(report.AllPass());
  EXPECT_FALSE(report.katas[0].Passes());
  EXPECT_TRUE(report.katas[1].Passes());
}

TEST(GradeAssignment, PassesWhenEveryAssignedStepPasses) {
  FakeRepo repo;
  repo.AddKata("01_todo", FakeKataBinary("todo"));  // only step 1 passes
  const Catalog catalog = repo.Load();
  const Assignment assignment = MustParse(
      R"({"schema": "llmk-assignment/1", "katas": [{"kata": "01", "steps": [1]}]})", catalog);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.assignment = &assignment;
  const GradeReport report = Grade(catalog, Variant::kLearner, options, FakeBuilder({}), nullptr);
  EXPECT_DOUBLE_EQ(report.score, 1);
  EXPECT_DOUBLE_EQ(report.max_score, 1);
  EXPECT_TRUE(report.AllPass());
}

TEST(GradeAssignment, AKataThatDoesNotCompileEarnsNothing) {
  FakeRepo repo;
  repo.AddKata("01_pass", FakeKataBinary("pass"));
  const Catalog catalog = repo.Load();
  const Assignment assignment = MustParse(
      R"({"schema": "llmk-assignment/1", "katas": [{"kata": "01", "weight": 5}]})", catalog);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.assignment = &assignment;
  const GradeReport report =
      Grade(catalog, Variant::kLearner, options, FakeBuilder({"01_pass_test"}), nullptr);
  EXPECT_EQ(report.katas[0].problem, KataProblem::kDoesNotCompile);
  EXPECT_DOUBLE_EQ(report.score, 0);
  EXPECT_DOUBLE_EQ(report.max_score, 5);
}

TEST(GradeAssignment, TheTimeLimitCoversTheWholeKata) {
  FakeRepo repo;
  repo.AddKata("01_sleep", FakeKataBinary("sleep"));  // step 1 sleeps forever
  const Catalog catalog = repo.Load();
  const Assignment assignment = MustParse(
      R"({"schema": "llmk-assignment/1",
          "katas": [{"kata": "01", "weight": 3, "time_limit_seconds": 1}]})",
      catalog);
  GradeOptions options;
  options.run.timeout_seconds = 5;  // a step alone could run longer than the kata may
  options.assignment = &assignment;
  const GradeReport report = Grade(catalog, Variant::kLearner, options, FakeBuilder({}), nullptr);
  const KataResult& kata = report.katas[0];
  EXPECT_EQ(StepTokens(kata), "timed_out timed_out timed_out");
  EXPECT_THAT(kata.steps[0].detail, HasSubstr("(the kata's time limit of 1 s ran out)"));
  EXPECT_LT(kata.steps[0].seconds, 4);
  EXPECT_EQ(kata.steps[1].detail, "not started: the kata's time limit of 1 s ran out");
  EXPECT_EQ(kata.steps[2].detail, "not started: the kata's time limit of 1 s ran out");
  EXPECT_DOUBLE_EQ(report.score, 0);
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(GradeAssignment, TheStepTimeoutStillAppliesWithinTheTimeLimit) {
  FakeRepo repo;
  repo.AddKata("01_hang", FakeKataBinary("hang"));  // step 2 spins forever
  const Catalog catalog = repo.Load();
  const Assignment assignment = MustParse(
      R"({"schema": "llmk-assignment/1",
          "katas": [{"kata": "01", "weight": 3, "time_limit_seconds": 60}]})",
      catalog);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.assignment = &assignment;
  const GradeReport report = Grade(catalog, Variant::kLearner, options, FakeBuilder({}), nullptr);
  const KataResult& kata = report.katas[0];
  EXPECT_EQ(StepTokens(kata), "passing timed_out passing");
  EXPECT_THAT(kata.steps[1].detail, Not(HasSubstr("time limit")));
  EXPECT_DOUBLE_EQ(report.score, 2);
}

TEST(GradeAssignment, PerformanceIsGradedFromOneBenchmarkRun) {
  FakeRepo repo;
  repo.AddKata("01_pass", FakeKataBinary("pass"));
  Catalog catalog = repo.Load();
  SetBench(catalog, "01_pass", LLMK_FAKE_BENCH);
  const Assignment assignment = MustParse(R"({"schema": "llmk-assignment/1", "katas": [
      {"kata": "01", "weight": 2, "performance": [
        {"what": "5x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 4.5,
         "weight": 2},
        {"what": "flops", "benchmark": "BM_Fast/64", "counter": "GFLOP/s", "min": 20}]}]})",
                                          catalog);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.assignment = &assignment;
  std::vector<std::string> built;
  options.prebuild = RecordingPrebuild(built);
  const GradeReport report =
      Grade(catalog, Variant::kLearner, options, RecordingBuilder(built), nullptr);
  EXPECT_EQ(built, (std::vector<std::string>{"together: 01_pass_test 01_pass_bench",
                                             "01_pass_test", "01_pass_bench"}));
  const KataResult& kata = report.katas[0];
  EXPECT_TRUE(kata.performance_run);
  EXPECT_EQ(kata.performance_problem, "");
  ASSERT_EQ(kata.performance.size(), 2u);
  EXPECT_TRUE(kata.performance[0].passed) << kata.performance[0].detail;
  EXPECT_DOUBLE_EQ(*kata.performance[0].measured, 5.0);
  EXPECT_FALSE(kata.performance[1].passed);
  EXPECT_EQ(kata.performance[1].detail, "GFLOP/s = 12.5 (needs >= 20)");
  EXPECT_DOUBLE_EQ(kata.performance_weight, 3);
  EXPECT_DOUBLE_EQ(kata.performance_earned, 2);
  EXPECT_DOUBLE_EQ(report.score, 2 + 2);
  EXPECT_DOUBLE_EQ(report.max_score, 2 + 3);
  EXPECT_FALSE(report.AllPass());  // a threshold is not met
}

TEST(GradeAssignment, ABenchmarkThatMisbehavesFailsItsThresholds) {
  struct Case {
    std::string binary;
    std::vector<std::string> broken;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {FakeKataBinary("segv"), {}, "the benchmark 01_pass_bench did not finish: SIGSEGV"},
      {FakeKataBinary("sleep"), {}, "the benchmark 01_pass_bench did not finish: timed out"},
      {FakeKataBinary("pass"), {}, "01_pass_bench: the benchmark report is not Google Benchmark"},
      {LLMK_FAKE_BENCH, {"01_pass_bench"}, "the benchmark 01_pass_bench does not compile"},
  };
  for (const Case& c : cases) {
    FakeRepo repo;
    repo.AddKata("01_pass", FakeKataBinary("pass"));
    Catalog catalog = repo.Load();
    SetBench(catalog, "01_pass", c.binary);
    const Assignment assignment = MustParse(R"({"schema": "llmk-assignment/1", "katas": [
        {"kata": "01", "performance": [
          {"benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 1}]}]})",
                                            catalog);
    GradeOptions options;
    options.run = FastGradeOptions();
    options.assignment = &assignment;
    options.benchmark.timeout = std::chrono::milliseconds(1500);
    std::vector<std::string> built;
    const GradeReport report =
        Grade(catalog, Variant::kLearner, options, RecordingBuilder(built, c.broken), nullptr);
    const KataResult& kata = report.katas[0];
    EXPECT_THAT(kata.performance_problem, HasSubstr(c.problem)) << c.binary;
    ASSERT_EQ(kata.performance.size(), 1u);
    EXPECT_FALSE(kata.performance[0].passed);
    EXPECT_DOUBLE_EQ(report.score, 1);  // the steps pass; the threshold earns nothing
    EXPECT_DOUBLE_EQ(report.max_score, 2);
  }
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(GradeAssignment, BenchWithoutAnAssignmentUsesKataJsonThresholds) {
  FakeRepo repo;
  std::string kata_json = testing::ThreeStepKataJson("01_pass");
  kata_json.insert(kata_json.rfind('}'), R"(, "performance": [
      {"what": "5x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 5},
      {"what": "6x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 6}])");
  repo.AddKata("01_pass", FakeKataBinary("pass"), kata_json);
  repo.AddKata("02_pass", FakeKataBinary("pass"));  // no thresholds: no benchmark run
  Catalog catalog = repo.Load();
  SetBench(catalog, "01_pass", LLMK_FAKE_BENCH);
  GradeOptions options;
  options.run = FastGradeOptions();
  options.bench = true;
  SetBench(catalog, "02_pass", LLMK_FAKE_BENCH);  // a benchmark, but no thresholds to grade
  std::vector<std::string> built;
  options.prebuild = RecordingPrebuild(built);
  const GradeReport report =
      Grade(catalog, Variant::kSolution, options, RecordingBuilder(built), nullptr);
  EXPECT_EQ(built, (std::vector<std::string>{
                       "together: 01_pass_solution_test 01_pass_bench 02_pass_solution_test",
                       "01_pass_solution_test", "01_pass_bench", "02_pass_solution_test"}));
  ASSERT_EQ(report.katas[0].performance.size(), 2u);
  EXPECT_TRUE(report.katas[0].performance[0].passed);
  EXPECT_FALSE(report.katas[0].performance[1].passed);
  EXPECT_DOUBLE_EQ(report.katas[0].performance_weight, 2);
  EXPECT_DOUBLE_EQ(report.katas[0].performance_earned, 1);
  EXPECT_FALSE(report.katas[1].performance_run);
  EXPECT_FALSE(report.has_assignment);
  EXPECT_FALSE(report.AllPass());
}

// A repository with one kata whose published files are digested, and one
// shared support file.
class IntegrityGrade : public ::testing::Test {
 protected:
  IntegrityGrade() {
    repo_.AddKata("01_pass", FakeKataBinary("pass"));
    repo_.AddKata("02_pass", FakeKataBinary("pass"));
    repo_.WriteFile("katas/01_pass/pass_test.cc", "TEST(Step1_First, Works) {}\n");
    repo_.WriteFile("fixtures/01_pass/values.json", "{\"x\": 1}\n");
    repo_.WriteFile("harness/support/matchers.cc", "// support\n");
    catalog_ = repo_.Load();
    absl::StatusOr<Digests> digests =
        ComputeDigests(repo_.root(), PublishedFiles(repo_.root(), catalog_.katas));
    EXPECT_TRUE(digests.ok()) << digests.status();
    if (digests.ok()) digests_ = *digests;
  }

  GradeReport GradeWith(const std::string& integrity) {
    assignment_ = MustParse(fmt::format(R"({{"schema": "llmk-assignment/1", "integrity": "{}",
        "katas": [{{"kata": "01", "weight": 2}}, {{"kata": "02", "weight": 1}}]}})",
                                        integrity),
                            catalog_);
    GradeOptions options;
    options.run = FastGradeOptions();
    options.assignment = &assignment_;
    options.digests = digests_;
    options.digests_file = "tests.sha256";
    return Grade(catalog_, Variant::kLearner, options, FakeBuilder({}), nullptr);
  }

  FakeRepo repo_;
  Catalog catalog_;
  Digests digests_;
  Assignment assignment_;
};

TEST_F(IntegrityGrade, UnchangedFilesChangeNothing) {
  const GradeReport report = GradeWith("fail");
  EXPECT_EQ(report.digests_file, "tests.sha256");
  EXPECT_FALSE(report.katas[0].files.empty());
  EXPECT_FALSE(report.katas[0].IntegrityBroken());
  EXPECT_DOUBLE_EQ(report.score, 3);
  EXPECT_TRUE(report.AllPass());
}

TEST_F(IntegrityGrade, AChangedFixtureFailsItsKataWhenTheAssignmentSaysFail) {
  repo_.WriteFile("fixtures/01_pass/values.json", "{\"x\": 2}\n");
  const GradeReport report = GradeWith("fail");
  const KataResult& kata = report.katas[0];
  EXPECT_TRUE(kata.IntegrityBroken());
  EXPECT_TRUE(kata.integrity_failed);
  const auto changed = std::find_if(kata.files.begin(), kata.files.end(), [](const FileCheck& f) {
    return f.path == "fixtures/01_pass/values.json";
  });
  ASSERT_NE(changed, kata.files.end());
  EXPECT_EQ(changed->state, FileState::kChanged);
  EXPECT_DOUBLE_EQ(kata.earned, 0);
  EXPECT_DOUBLE_EQ(report.katas[1].earned, 1);  // the other kata is unaffected
  EXPECT_DOUBLE_EQ(report.score, 1);
  EXPECT_FALSE(report.AllPass());
}

TEST_F(IntegrityGrade, AChangedFixtureIsOnlyReportedByDefault) {
  repo_.WriteFile("fixtures/01_pass/values.json", "{\"x\": 2}\n");
  const GradeReport report = GradeWith("report");
  EXPECT_TRUE(report.katas[0].IntegrityBroken());
  EXPECT_FALSE(report.katas[0].integrity_failed);
  EXPECT_DOUBLE_EQ(report.score, 3);
  EXPECT_TRUE(report.AllPass());
}

TEST_F(IntegrityGrade, AMissingTestSourceFailsItsKata) {
  std::filesystem::remove(repo_.root() / "katas/01_pass/pass_test.cc");
  const GradeReport report = GradeWith("fail");
  const KataResult& kata = report.katas[0];
  const auto missing = std::find_if(kata.files.begin(), kata.files.end(), [](const FileCheck& f) {
    return f.state == FileState::kMissing;
  });
  ASSERT_NE(missing, kata.files.end());
  EXPECT_EQ(missing->path, "katas/01_pass/pass_test.cc");
  EXPECT_DOUBLE_EQ(report.score, 1);
}

TEST_F(IntegrityGrade, AChangedSharedFileFailsEveryKata) {
  repo_.WriteFile("harness/support/matchers.cc", "// support, loosened\n");
  const GradeReport report = GradeWith("fail");
  ASSERT_EQ(report.shared_files.size(), 1u);
  EXPECT_EQ(report.shared_files[0].state, FileState::kChanged);
  EXPECT_TRUE(report.katas[0].integrity_failed);
  EXPECT_TRUE(report.katas[1].integrity_failed);
  EXPECT_DOUBLE_EQ(report.score, 0);
  EXPECT_FALSE(report.AllPass());
}

TEST_F(VerbTest, GradeWithAnAssignmentPrintsItsScore) {
  repo_.AddKata("01_todo", FakeKataBinary("todo"));
  repo_.AddKata("02_fail", FakeKataBinary("fail"));
  repo_.Load();
  repo_.WriteFile("week1.json", R"({"schema": "llmk-assignment/1", "title": "Week 1",
      "katas": [{"kata": "01", "weight": 3, "steps": [1, 2]}]})");
  GradeFlags flags;
  flags.assignment_file = (repo_.root() / "week1.json").string();
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitNotPassing);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("Score: 1.5/3 (assignment Week 1)\n"));
  EXPECT_THAT(out, HasSubstr("  weight 3, earned 1.5 (1 of 2 assigned steps pass)\n"));
  EXPECT_THAT(out, Not(HasSubstr("02_fail")));
  EXPECT_THAT(out, HasSubstr("Test files: not checked (no digests)"));
}

TEST_F(VerbTest, ABrokenAssignmentIsAUsageErrorNamingTheFieldAndFile) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  const std::string file = (repo_.root() / "week2.json").string();
  repo_.WriteFile("week2.json",
                  R"({"schema": "llmk-assignment/1", "katas": [{"kata": "01", "wieght": 3}]})");
  GradeFlags flags;
  flags.assignment_file = file;
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("kata: " + file + ": katas[0].wieght: unknown field"));
  repo_.WriteFile("week2.json", "{\"schema\": ");
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("kata: " + file + ": not valid JSON"));
  flags.assignment_file = file + ".missing";
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr(file + ".missing: cannot read it: No such file or directory"));
  EXPECT_EQ(Out(), "");
}

TEST_F(VerbTest, IntegrityFailWithoutDigestsIsAnError) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  repo_.WriteFile("strict.json", R"({"schema": "llmk-assignment/1", "integrity": "fail",
      "katas": [{"kata": "01"}]})");
  GradeFlags flags;
  flags.assignment_file = (repo_.root() / "strict.json").string();
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitNotPassing);
  EXPECT_THAT(Err(), HasSubstr("says \"integrity\": \"fail\", but there are no digests"));
  EXPECT_EQ(Out(), "");
}

TEST_F(VerbTest, GradeChecksTheDigestsItFinds) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.WriteFile("katas/01_pass/pass_test.cc", "TEST(Step1_First, Works) {}\n");
  const Catalog catalog = repo_.Load();
  absl::StatusOr<Digests> digests =
      ComputeDigests(repo_.root(), PublishedFiles(repo_.root(), catalog.katas));
  ASSERT_TRUE(digests.ok()) << digests.status();
  repo_.WriteFile("tests.sha256", FormatDigests(*digests));
  repo_.WriteFile("katas/01_pass/pass_test.cc", "TEST(Step1_First, Works) { /* mine */ }\n");
  GradeFlags flags;
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitOk);  // no assignment: reported only
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("katas/01_pass/pass_test.cc changed\n"));
  EXPECT_THAT(out, HasSubstr("Test files: some differ from tests.sha256"));
  // A digests file named on the command line must exist.
  flags.digests_file = (repo_.root() / "other.sha256").string();
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitNotPassing);
  EXPECT_THAT(Err(), HasSubstr("other.sha256"));
}

TEST_F(VerbTest, AReportThatCannotBeWrittenLeavesNothingBehind) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  GradeFlags flags;
  flags.format = "json";
  flags.out_file = (repo_.root() / "no-such-dir" / "report.json").string();
  // Found before the grade starts: a usage error.
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("kata: cannot write " + flags.out_file + ": " +
                               (repo_.root() / "no-such-dir").string() + " does not exist"));
  EXPECT_THAT(Err(), Not(HasSubstr("running")));
  // Renaming onto a directory fails after the temporary file was written.
  std::filesystem::create_directories(repo_.root() / "taken");
  flags.out_file = (repo_.root() / "taken").string();
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitNotPassing);
  EXPECT_THAT(Err(), HasSubstr("kata: cannot write " + flags.out_file + ": "));
  EXPECT_FALSE(std::filesystem::exists(flags.out_file + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(flags.out_file));
}

TEST_F(VerbTest, GradeWritesAnHtmlReport) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  GradeFlags flags;
  flags.format = "html";
  flags.out_file = (repo_.root() / "report.html").string();
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitOk);
  EXPECT_GT(std::filesystem::file_size(flags.out_file), 0u);
  EXPECT_FALSE(std::filesystem::exists(flags.out_file + ".tmp"));
}

TEST_F(VerbTest, BenchAndAssignmentTogetherAreAUsageError) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.Load();
  GradeFlags flags;
  flags.bench = true;
  flags.assignment_file = "a.json";
  EXPECT_EQ(GradeVerb(ctx_, flags), kExitUsage);
  EXPECT_THAT(Err(), HasSubstr("use one or the other"));
}

TEST_F(VerbTest, BenchRunsTheBenchmarkAndChecksKataJsonThresholds) {
  std::string kata_json = testing::ThreeStepKataJson("01_pass");
  kata_json.insert(kata_json.rfind('}'), R"(, "performance": [
      {"what": "5x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 5},
      {"what": "flops", "benchmark": "BM_Fast/64", "counter": "GFLOP/s", "max": 10}])");
  repo_.AddKata("01_pass", FakeKataBinary("pass"), kata_json);
  repo_.Load();
  // Give the kata a benchmark in the manifest.
  std::ifstream in(repo_.build_dir() / "katas.json");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string none = R"("bench_target": "", "bench": "")";
  for (std::size_t at = manifest.find(none); at != std::string::npos; at = manifest.find(none)) {
    manifest.replace(
        at, none.size(),
        fmt::format(R"("bench_target": "01_pass_bench", "bench": "{}")", LLMK_FAKE_BENCH));
  }
  repo_.WriteFile("build/katas.json", manifest);
  EXPECT_EQ(BenchVerb(ctx_, "01", "learner"), kExitNotPassing);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("BM_Slow/64    10 us"));
  EXPECT_THAT(out, HasSubstr("passing  5x\n           5.00x (needs >= 5.00x)"));
  EXPECT_THAT(out, HasSubstr("failing  flops\n           GFLOP/s = 12.5 (needs <= 10)"));
  EXPECT_THAT(out, HasSubstr("1 of 2 thresholds met"));
}

}  // namespace
}  // namespace llmk::kata
