// RunChild keeps control whatever the child does.
#include "child_process.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "process_check.h"

namespace llmk::kata {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

ChildSpec Shell(const std::string& script) {
  ChildSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.timeout = 5s;
  return spec;
}

TEST(RunChild, ReportsExitCodeAndOutput) {
  const ChildOutcome outcome = RunChild(Shell("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(outcome.end, ChildEnd::kExited);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.output, "out\nerr\n");
  EXPECT_FALSE(outcome.output_truncated);
}

TEST(RunChild, ReportsTheSignal) {
  const ChildOutcome outcome = RunChild(Shell("kill -SEGV $$"));
  EXPECT_EQ(outcome.end, ChildEnd::kSignaled);
  EXPECT_EQ(outcome.signal, SIGSEGV);
  EXPECT_EQ(DescribeEnd(outcome), "SIGSEGV");
}

TEST(RunChild, KillsAtTheTimeLimit) {
  ChildSpec spec = Shell("sleep 30");
  spec.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const ChildOutcome outcome = RunChild(spec);
  EXPECT_EQ(outcome.end, ChildEnd::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(RunChild, StopsAFloodAndKeepsHeadAndTail) {
  ChildSpec spec = Shell("yes 0123456789");
  spec.flood_limit_bytes = 1 << 20;
  spec.keep_head_bytes = 100;
  spec.keep_tail_bytes = 50;
  const ChildOutcome outcome = RunChild(spec);
  EXPECT_EQ(outcome.end, ChildEnd::kFlooded);
  EXPECT_GT(outcome.output_bytes, std::size_t{1} << 20);
  EXPECT_TRUE(outcome.output_truncated);
  EXPECT_EQ(outcome.output_head.size(), 100u);
  EXPECT_THAT(outcome.output, HasSubstr("bytes of output not kept"));
  EXPECT_LT(outcome.output.size(), 300u);
}

TEST(RunChild, KillsWhatTheChildLeftBehind) {
  // The shell starts a sleeper that holds the output pipe, prints its pid, exits.
  const auto start = std::chrono::steady_clock::now();
  const ChildOutcome outcome = RunChild(Shell("sleep 60 & echo $!"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(outcome.end, ChildEnd::kExited);
  const pid_t sleeper = std::atoi(outcome.output.c_str());
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(testing::ProcessIsGone(sleeper));
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(RunChild, KillsWhatLeftTheGroup) {
  // setsid puts the sleeper in a session and group of its own, out of reach of
  // the group kill; the shell exits, so the sleeper comes back to us.
  const ChildOutcome outcome = RunChild(Shell("setsid sh -c 'echo $$; exec sleep 60' & sleep 0.5"));
  EXPECT_EQ(outcome.end, ChildEnd::kExited);
  const pid_t sleeper = std::atoi(outcome.output.c_str());
  ASSERT_GT(sleeper, 0) << outcome.output;
  EXPECT_TRUE(testing::ProcessIsGone(sleeper)) << "pid " << sleeper << " survived";
  EXPECT_TRUE(testing::NoChildProcessLeft());
}

TEST(RunChild, LeavesOtherChildrenAlone) {
  const pid_t ours = fork();
  ASSERT_GE(ours, 0);
  if (ours == 0) {
    pause();
    _exit(0);
  }
  const ChildOutcome outcome = RunChild(Shell("exit 0"));
  EXPECT_EQ(outcome.end, ChildEnd::kExited);
  EXPECT_EQ(waitpid(ours, nullptr, WNOHANG), 0) << "a child started before the run was killed";
  kill(ours, SIGKILL);
  waitpid(ours, nullptr, 0);
}

TEST(RunChild, LimitsFileSize) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / fmt::format("kata-fsize-{}", getpid());
  ChildSpec spec = Shell(fmt::format("exec head -c 2000000 /dev/zero > {}", file.string()));
  spec.file_size_limit_bytes = 1 << 20;
  const ChildOutcome outcome = RunChild(spec);
  std::error_code ignored;
  const auto size = std::filesystem::file_size(file, ignored);
  std::filesystem::remove(file, ignored);
  EXPECT_EQ(size, std::uintmax_t{1} << 20);
  EXPECT_EQ(outcome.end, ChildEnd::kSignaled);
  EXPECT_EQ(outcome.signal, SIGXFSZ);
}

TEST(RunChild, LimitsAddressSpaceAndCoreDumps) {
  ChildSpec spec = Shell("ulimit -v; ulimit -c");
  spec.address_space_limit_bytes = std::uint64_t{1} << 30;
  const ChildOutcome outcome = RunChild(spec);
  EXPECT_EQ(outcome.output, "1048576\n0\n");  // KiB
}

TEST(RunChild, SetsEnvironmentAndDropsPrefixes) {
  setenv("GTEST_FILTER", "Nope.*", 1);
  ChildSpec spec = Shell("echo \"[$GTEST_FILTER][$KATA_TEST_VAR]\"");
  spec.env = {{"KATA_TEST_VAR", "x y"}};
  spec.env_drop_prefixes = {"GTEST_"};
  const ChildOutcome outcome = RunChild(spec);
  unsetenv("GTEST_FILTER");
  EXPECT_EQ(outcome.output, "[][x y]\n");
}

TEST(RunChild, RunsInTheWorkingDirectory) {
  ChildSpec spec = Shell("pwd");
  spec.working_dir = "/";
  EXPECT_EQ(RunChild(spec).output, "/\n");
}

TEST(RunChild, ReportsAProgramThatCannotStart) {
  ChildSpec spec;
  spec.argv = {"/nonexistent/program"};
  const ChildOutcome outcome = RunChild(spec);
  EXPECT_EQ(outcome.end, ChildEnd::kFailedToStart);
  EXPECT_EQ(outcome.start_error, "cannot run /nonexistent/program: No such file or directory");
}

TEST(RunChild, FindsProgramsInPath) {
  ChildSpec spec;
  spec.argv = {"sh", "-c", "echo found"};
  EXPECT_EQ(RunChild(spec).output, "found\n");
}

TEST(SignalName, NamesCommonSignals) {
  EXPECT_EQ(SignalName(SIGABRT), "SIGABRT");
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(63), "signal 63");
}

}  // namespace
}  // namespace llmk::kata
