// One grade over every fake kata at once: each misbehaving kata is reported
// against itself, the others are unaffected, nothing is left running; and the
// verbs print what a learner needs.
#include "grade.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "fake_repo.h"
#include "process_check.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;
using ::testing::Not;

RunOptions FastOptions() {
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

std::string StatusTokens(const KataResult& kata) {
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

  const GradeReport report = GradeKatas(catalog.katas, Variant::kLearner, FastOptions(),
                                        FakeBuilder({"12_broken_test"}), nullptr);
  std::map<std::string, std::string> statuses;
  for (const KataResult& kata : report.katas) {
    statuses[kata.name] = kata.problem == KataProblem::kNone
                              ? StatusTokens(kata)
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
      GradeKatas(catalog.katas, Variant::kSolution, FastOptions(), FakeBuilder({}), nullptr);
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

  static std::string Read(std::FILE* file) {
    std::fflush(file);
    std::rewind(file);
    std::string text;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    return text;
  }
  std::string Out() const { return Read(out_); }
  std::string Err() const { return Read(err_); }

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

TEST_F(VerbTest, StatusPrintsTheBoardAndNext) {
  repo_.AddKata("01_pass", FakeKataBinary("pass"));
  repo_.AddKata("02_todo", FakeKataBinary("todo"));
  repo_.Load();
  EXPECT_EQ(StatusVerb(ctx_), kExitOk);
  const std::string out = Out();
  EXPECT_THAT(out, HasSubstr("01_pass  Fake kata 01_pass"));
  EXPECT_THAT(out, HasSubstr("todo          Step 2  Second <&\"> thing"));
  EXPECT_THAT(out, HasSubstr("Score: 4/6 steps passing"));
  EXPECT_THAT(out, HasSubstr("Next: 02_todo, step 2: Second <&\"> thing (todo)\n"
                             "  run   ./kata test 02\n"
                             "  read  katas/02_todo/README.md#step-2-second-thing\n"));
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

}  // namespace
}  // namespace llmk::kata
