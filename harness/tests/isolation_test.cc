// One grade over a repository holding the well-behaved fakes and every
// misbehaving one together: each misbehaviour is reported against its own
// kata with a reason that says what happened, the other katas are graded as if
// it were not there, and no process started during the grade survives it, not
// even a daemon that left the binary's process group and session.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fake_repo.h"
#include "grade.h"
#include "process_check.h"
#include "step_classifier.h"

namespace llmk::kata {
namespace {

using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Every kata builds; nothing is compiled.
BuildResult BuildsFine(const std::string&) {
  BuildResult result;
  result.ok = true;
  return result;
}

// A variable every process of this test's grade inherits, unique to the run.
std::string MarkerValue() { return fmt::format("isolation-{}", getpid()); }
constexpr char kMarker[] = "LLMK_ISOLATION_TEST_MARKER";

std::string OutcomeTokens(const KataResult& kata) {
  if (kata.problem != KataProblem::kNone) return std::string(ProblemToken(kata.problem));
  std::string tokens;
  for (const StepResult& step : kata.steps) {
    tokens += (tokens.empty() ? "" : " ") + std::string(StatusToken(step.status));
  }
  return tokens;
}

pid_t ReadPid(const std::string& file) {
  pid_t pid = 0;
  std::ifstream(file) >> pid;
  return pid;
}

// The scan for the marker finds a marked process while it runs, so an empty
// scan after the grade means something.
TEST(Isolation, TheMarkerScanFindsAMarkedProcess) {
  const std::string entry = fmt::format("{}={}-probe", kMarker, MarkerValue());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char* const argv[] = {const_cast<char*>("sleep"), const_cast<char*>("30"), nullptr};
    char* const envp[] = {const_cast<char*>(entry.c_str()), nullptr};
    execve("/bin/sleep", argv, envp);
    _exit(127);
  }
  std::vector<pid_t> found;
  for (int attempt = 0; attempt < 200 && found.empty(); ++attempt) {
    usleep(10000);  // until exec has happened
    found = testing::ProcessesWithEnvironment(entry);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(found, std::vector<pid_t>{child});
  EXPECT_THAT(testing::ProcessesWithEnvironment(entry), IsEmpty());
}

TEST(Isolation, EveryMisbehaviourStaysWithItsKataAndNothingSurvives) {
  if (kDefaultMemoryLimitBytes == 0) {
    GTEST_SKIP() << "sanitized fakes cannot start under an address-space limit";
  }
  FakeRepo repo;
  const std::vector<std::string> fakes = {
      "pass",  "todo", "segv",   "abort",          "hang",           "sleep", "exit_early",
      "flood", "fork", "daemon", "crash_at_start", "throw_at_start", "oom",   "fail"};
  for (std::size_t i = 0; i < fakes.size(); ++i) {
    repo.AddKata(fmt::format("{:02}_{}", i + 1, fakes[i]), FakeKataBinary(fakes[i]));
  }
  repo.AddKata("15_pass_again", FakeKataBinary("pass"));
  const Catalog catalog = repo.Load();

  const std::string fork_pid_file = (repo.root() / "fork.pid").string();
  const std::string daemon_pid_file = (repo.root() / "daemon.pid").string();
  const std::string marker = fmt::format("{}={}", kMarker, MarkerValue());
  RunOptions options;
  options.timeout_seconds = 1.5;
  // Small, so that the oom fake runs out quickly.
  options.memory_limit_bytes = std::uint64_t{256} << 20;
  options.env = {{kMarker, MarkerValue()},
                 {"FAKE_KATA_PID_FILE", fork_pid_file},
                 {"FAKE_KATA_DAEMON_PID_FILE", daemon_pid_file}};

  const GradeReport report = GradeKatas(catalog.katas, Variant::kLearner, options, BuildsFine,
                                        /*progress=*/nullptr);

  std::map<std::string, std::string> statuses;
  std::map<std::string, const KataResult*> by_name;
  for (const KataResult& kata : report.katas) {
    statuses[kata.name] = OutcomeTokens(kata);
    by_name[kata.name] = &kata;
  }
  const std::map<std::string, std::string> expected = {
      {"01_pass", "passing passing passing"},
      {"02_todo", "passing todo failing"},
      {"03_segv", "passing crashed passing"},
      {"04_abort", "passing crashed passing"},
      {"05_hang", "passing timed_out passing"},
      {"06_sleep", "timed_out passing passing"},
      {"07_exit_early", "passing exited_early passing"},
      {"08_flood", "flooded passing no_tests"},
      {"09_fork", "passing passing no_tests"},
      {"10_daemon", "passing passing passing"},
      {"11_crash_at_start", "cannot_list"},
      {"12_throw_at_start", "cannot_list"},
      {"13_oom", "passing failing passing"},
      {"14_fail", "passing failing passing"},
      {"15_pass_again", "passing passing passing"},
  };
  EXPECT_EQ(statuses, expected);
  ASSERT_EQ(by_name.size(), expected.size());

  // Each reason says what happened.
  EXPECT_EQ(by_name["03_segv"]->steps[1].detail, "crashed in Step 2 (SIGSEGV)");
  EXPECT_EQ(by_name["03_segv"]->steps[1].unfinished_test, "Step2_Second.Segfaults");
  EXPECT_EQ(by_name["04_abort"]->steps[1].detail, "crashed in Step 2 (SIGABRT)");
  EXPECT_EQ(by_name["05_hang"]->steps[1].detail, "timed out after 1.5 s");
  EXPECT_EQ(by_name["06_sleep"]->steps[0].detail, "timed out after 1.5 s");
  EXPECT_EQ(by_name["07_exit_early"]->steps[1].detail,
            "exited before finishing Step 2 (exit code 0)");
  EXPECT_EQ(by_name["08_flood"]->steps[0].detail, "flooded its output (more than 8 MiB)");
  EXPECT_EQ(by_name["11_crash_at_start"]->problem_detail,
            "crashed while listing its tests (SIGSEGV)");
  EXPECT_EQ(by_name["12_throw_at_start"]->problem_detail,
            "threw before main while listing its tests (SIGABRT: uncaught exception "
            "std::runtime_error: cannot open fixture fixtures/01_fake/missing.json)");
  EXPECT_EQ(by_name["13_oom"]->steps[1].detail,
            "1 of 1 tests fail: out of memory (address-space limit 256 MiB)");
  EXPECT_THAT(by_name["14_fail"]->steps[1].detail, Not(HasSubstr("memory")));
  EXPECT_EQ(by_name["10_daemon"]->steps[0].detail, "1 of 1 tests pass");

  // The good katas are graded as if alone.
  EXPECT_TRUE(by_name["01_pass"]->AllStepsPass());
  EXPECT_TRUE(by_name["15_pass_again"]->AllStepsPass());
  EXPECT_EQ(report.PassingSteps(), 3 + 1 + 2 + 2 + 2 + 2 + 2 + 1 + 2 + 3 + 0 + 0 + 2 + 2 + 3);

  // Nothing survives: not the fork fake's child in the binary's group, not the
  // daemon outside it, nothing carrying the marker, no zombie.
  const pid_t forked = ReadPid(fork_pid_file);
  const pid_t daemon = ReadPid(daemon_pid_file);
  ASSERT_GT(forked, 0);
  ASSERT_GT(daemon, 0);
  EXPECT_TRUE(testing::ProcessIsGone(forked)) << "pid " << forked << " survived";
  EXPECT_TRUE(testing::ProcessIsGone(daemon)) << "daemon " << daemon << " survived";
  EXPECT_THAT(testing::ProcessesWithEnvironment(marker), IsEmpty());
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

StepRun AbortedRun(const std::string& output, std::uint64_t memory_limit_bytes) {
  StepRun run;
  run.child.end = ChildEnd::kSignaled;
  run.child.signal = SIGABRT;
  run.child.output = output;
  run.memory_limit_bytes = memory_limit_bytes;
  return run;
}

Step SecondStep() {
  Step step;
  step.number = 2;
  step.suite = "Step2_Second";
  return step;
}

TEST(Isolation, AnUncaughtExceptionIsNamed) {
  const StepResult result =
      ClassifyStep(SecondStep(), {"Step2_Second.Throws"},
                   AbortedRun("[ RUN      ] Step2_Second.Throws\n"
                              "terminate called after throwing an instance of 'std::logic_error'\n"
                              "  what():  bad shape\n",
                              0));
  EXPECT_EQ(result.status, StepStatus::kCrashed);
  EXPECT_EQ(result.detail,
            "crashed in Step 2 (SIGABRT): uncaught exception std::logic_error: bad shape");
  EXPECT_EQ(result.unfinished_test, "Step2_Second.Throws");
}

TEST(Isolation, BadAllocIsOutOfMemoryUnderALimit) {
  const std::string output =
      "terminate called after throwing an instance of 'std::bad_alloc'\n"
      "  what():  std::bad_alloc\n";
  EXPECT_EQ(ClassifyStep(SecondStep(), {}, AbortedRun(output, std::uint64_t{1} << 30)).detail,
            "crashed in Step 2 (SIGABRT): out of memory (address-space limit 1024 MiB)");
  EXPECT_EQ(ClassifyStep(SecondStep(), {}, AbortedRun(output, 0)).detail,
            "crashed in Step 2 (SIGABRT): uncaught exception std::bad_alloc: std::bad_alloc");
  EXPECT_EQ(ClassifyStep(SecondStep(), {}, AbortedRun("Aborted\n", 0)).detail,
            "crashed in Step 2 (SIGABRT)");
}

}  // namespace
}  // namespace llmk::kata
