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

StepResult Step(int number, const std::string& title, StepStatus status,
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
  kata.steps = {Step(1, "Project", StepStatus::kPassing),
                Step(2, "Scores Q·Kᵀ", StepStatus::kCrashed, "crashed in Step 2 (SIGSEGV)"),
                Step(3, "Scale", StepStatus::kTodo)};
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

}  // namespace
}  // namespace llmk::kata
