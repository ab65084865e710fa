// The board a learner reads, and when it is colored.
#include "board.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

namespace llmk::kata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

StepResult BoardStep(int number, const std::string& title, StepStatus status,
                     const std::string& detail = "") {
  StepResult step;
  step.number = number;
  step.suite = "Step" + std::to_string(number) + "_X";
  step.title = title;
  step.anchor = "step-" + std::to_string(number);
  step.status = status;
  step.detail = detail;
  return step;
}

GradeReport Report() {
  KataResult kata;
  kata.name = "02_attention";
  kata.title = "Attention";
  kata.dir = "katas/02_attention";
  kata.short_id = "02";
  kata.steps = {BoardStep(1, "Project", StepStatus::kPassing),
                BoardStep(2, "Scores Q·Kᵀ", StepStatus::kCrashed, "crashed in Step 2 (SIGSEGV)"),
                BoardStep(3, "Scale", StepStatus::kTodo)};
  GradeReport report;
  report.variant = "learner";
  report.katas = {kata};
  return report;
}

TEST(RenderBoard, ShowsStepsScoreAndNext) {
  const std::string board = RenderBoard(Report(), Style::Plain());
  EXPECT_THAT(board, HasSubstr("  passing       Step 1  Project\n"));
  EXPECT_THAT(board,
              HasSubstr("  crashed       Step 2  Scores Q·Kᵀ: crashed in Step 2 (SIGSEGV)\n"));
  EXPECT_THAT(board, HasSubstr("  todo          Step 3  Scale\n"));
  EXPECT_THAT(board, HasSubstr("Score: 1/3 steps passing\n"));
  EXPECT_THAT(board, HasSubstr("Next: 02_attention, step 2: Scores Q·Kᵀ (crashed)\n"
                               "  run   ./kata test 02\n"
                               "  read  katas/02_attention/README.md#step-2\n"
                               "  hint  ./kata hint 02\n"));
  EXPECT_THAT(board, Not(HasSubstr("\x1b[")));
}

TEST(RenderBoard, CongratulatesWhenEverythingPasses) {
  GradeReport report = Report();
  for (StepResult& step : report.katas[0].steps) step.status = StepStatus::kPassing;
  EXPECT_THAT(RenderBoard(report, Style::Plain()), HasSubstr("All 3 steps pass. Well done!"));
}

TEST(RenderBoard, ColorsStatusesOnlyWhenAsked) {
  EXPECT_EQ(Style(true).Status(StepStatus::kPassing), "\x1b[32mpassing\x1b[0m");
  EXPECT_EQ(Style(false).Status(StepStatus::kPassing, 9), "passing  ");
}

TEST(Style, ColorsATerminalUnlessNoColor) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    GTEST_SKIP() << "no pseudo-terminal here";
  }
  std::FILE* terminal = std::fopen(ptsname(master), "w");
  ASSERT_NE(terminal, nullptr);
  unsetenv("NO_COLOR");
  setenv("TERM", "xterm", 1);
  EXPECT_TRUE(Style::For(terminal).color());
  setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(Style::For(terminal).color());
  unsetenv("NO_COLOR");
  std::FILE* file = std::tmpfile();
  EXPECT_FALSE(Style::For(file).color());
  std::fclose(file);
  std::fclose(terminal);
  close(master);
}

TEST(RenderBoard, ShowsTheAssignmentScorePerformanceAndChangedFiles) {
  GradeReport report = Report();
  report.has_assignment = true;
  report.assignment_title = "Week 2: attention";
  report.score = 7.5;
  report.max_score = 10;
  report.digests_file = "tests.sha256";
  KataResult& kata = report.katas[0];
  kata.weight = 4;
  kata.earned = 4.0 / 3.0;
  kata.performance_run = true;
  PerformanceThreshold causal;
  causal.what = "causal at least 1.5x faster";
  causal.benchmark = "BM_Causal";
  causal.baseline = "BM_Full";
  causal.min_speedup = 1.5;
  kata.performance = {ThresholdResult{causal, 41.1, true, "41.10x (needs >= 1.50x)"},
                      ThresholdResult{causal, 1.2, false, "1.20x (needs >= 1.50x)"}};
  kata.performance_weight = 2;
  kata.performance_earned = 1;
  kata.files = {FileCheck{"katas/02_attention/attention_test.cc", "a", "b", FileState::kChanged}};
  const std::string board = RenderBoard(report, Style::Plain());
  EXPECT_THAT(board, HasSubstr("Score: 7.5/10 (assignment Week 2: attention)\n"));
  EXPECT_THAT(board, HasSubstr("  weight 4, earned 1.33 (1 of 3 steps pass); performance weight 2, "
                               "earned 1\n"));
  EXPECT_THAT(board, HasSubstr("  met           41.10x (needs >= 1.50x): causal at least 1.5x "
                               "faster\n"));
  EXPECT_THAT(board, HasSubstr("  not met       1.20x (needs >= 1.50x): causal"));
  EXPECT_THAT(board, HasSubstr("katas/02_attention/attention_test.cc changed\n"));
  EXPECT_THAT(board, HasSubstr("Test files: some differ from tests.sha256\n"));
}

TEST(RenderBoard, WithoutAnAssignmentThereIsNoPointsScore) {
  const std::string board = RenderBoard(Report(), Style::Plain());
  EXPECT_THAT(board, Not(HasSubstr("assignment")));
  EXPECT_THAT(board, Not(HasSubstr("weight")));
  EXPECT_THAT(board, Not(HasSubstr("Test files")));
}

TEST(FormatPoints, DropsTrailingZeros) {
  EXPECT_EQ(FormatPoints(7.5), "7.5");
  EXPECT_EQ(FormatPoints(10), "10");
  EXPECT_EQ(FormatPoints(2.0 / 3.0), "0.67");
  EXPECT_EQ(FormatPoints(0), "0");
}

TEST(RenderBoard, WithAnAssignmentNextSkipsTheStepsItDoesNotGrade) {
  GradeReport report = Report();
  report.has_assignment = true;
  report.katas[0].assigned_steps = {1, 3};
  report.katas[0].steps[1].status = StepStatus::kNotRun;  // step 2 is not graded
  EXPECT_THAT(RenderBoard(report, Style::Plain()),
              HasSubstr("Next: 02_attention, step 3: Scale (todo)\n"));
  report.katas[0].steps[2].status = StepStatus::kPassing;
  EXPECT_THAT(RenderBoard(report, Style::Plain()), HasSubstr("Every graded step passes.\n"));
  report.has_assignment = false;
  EXPECT_THAT(RenderBoard(report, Style::Plain()),
              HasSubstr("Next: 02_attention, step 2: Scores Q·Kᵀ (not run)\n"));
}

}  // namespace
}  // namespace llmk::kata
