// The real `kata` binary given bad input: each case ends with one clear line
// "kata: ..." naming what was wrong, a non-zero exit code, no crash, no
// "terminate called", and no partial report file. Every case runs against a
// throwaway repository of fake katas, so nothing is compiled.
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "fake_repo.h"
#include "process_check.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;
using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CliRun {
  ChildOutcome outcome;
  std::string first_line;
};

class KataCli : public ::testing::Test {
 protected:
  KataCli() {
    repo_.AddKata("01_pass", FakeKataBinary("pass"));
    repo_.Load();
  }

  // Runs `kata --root=REPO --build_dir=REPO/build ARGS...`.
  CliRun Kata(const std::vector<std::string>& args) const {
    ChildSpec spec;
    spec.argv = {LLMK_KATA_BINARY, "--root=" + repo_.root().string(),
                 "--build_dir=" + repo_.build_dir().string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.timeout = std::chrono::seconds(60);
    spec.env = {{"NO_COLOR", "1"}};
    CliRun run;
    run.outcome = RunChild(spec);
    run.first_line = run.outcome.output.substr(0, run.outcome.output.find('\n'));
    return run;
  }

  // The checks every bad input must pass: a "kata: " line that contains
  // `names`, exit code `code`, nothing that looks like a crash.
  static void ExpectCleanError(const CliRun& run, const std::string& names, int code) {
    EXPECT_EQ(run.outcome.end, ChildEnd::kExited) << DescribeEnd(run.outcome);
    EXPECT_EQ(run.outcome.exit_code, code) << run.outcome.output;
    EXPECT_THAT(run.first_line, StartsWith("kata: ")) << run.outcome.output;
    EXPECT_THAT(run.first_line, HasSubstr(names)) << run.outcome.output;
    EXPECT_THAT(run.outcome.output, Not(HasSubstr("terminate called")));
    EXPECT_THAT(run.outcome.output, Not(HasSubstr("internal error")));
    EXPECT_THAT(run.outcome.output, Not(HasSubstr("ERROR:")));  // absl's own flag messages
  }

  FakeRepo repo_;
};

TEST_F(KataCli, UnknownKata) {
  ExpectCleanError(Kata({"test", "99"}), "no kata \"99\"", 2);
  ExpectCleanError(Kata({"hint", "nope"}), "no kata \"nope\"", 2);
}

TEST_F(KataCli, UnknownVerb) {
  ExpectCleanError(Kata({"frobnicate"}), "unknown verb \"frobnicate\"", 2);
}

TEST_F(KataCli, WrongNumberOfArguments) {
  ExpectCleanError(Kata({"test"}), "usage: kata test KATA", 2);
  ExpectCleanError(Kata({"list", "extra"}), "usage: kata list", 2);
}

TEST_F(KataCli, BuildDirThatDoesNotExist) {
  const std::string missing = (repo_.root() / "no_such_build").string();
  const CliRun run = Kata({"--build_dir=" + missing, "test", "01"});
  ExpectCleanError(run, missing + "/katas.json does not exist", 1);
  EXPECT_THAT(run.first_line, HasSubstr("not configured"));
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(KataCli, BuildDirThatWasNeverConfigured) {
  const fs::path empty = repo_.root() / "empty_build";
  fs::create_directories(empty);
  ExpectCleanError(Kata({"--build_dir=" + empty.string(), "grade"}),
                   empty.string() + "/katas.json does not exist", 1);
  ExpectCleanError(Kata({"--build_dir=" + empty.string(), "test", "01"}),
                   empty.string() + "/katas.json does not exist", 1);
  ExpectCleanError(Kata({"--build_dir=" + empty.string()}),
                   empty.string() + "/katas.json does not exist", 1);
}

TEST_F(KataCli, RootWithoutKatas) {
  const std::string missing = (repo_.root() / "nowhere").string();
  ExpectCleanError(Kata({"--root=" + missing, "list"}), missing + "/katas", 1);
}

TEST_F(KataCli, OutputUnderARegularFile) {
  // A path under a regular file cannot be created, even by root.
  repo_.WriteFile("plain_file", "x");
  const fs::path out = repo_.root() / "plain_file" / "sub" / "out.json";
  const CliRun run = Kata({"grade", "--format=json", "--out=" + out.string()});
  // Checked before anything is built or run: the first line says it.
  ExpectCleanError(
      run, "cannot write " + out.string() + ": " + out.parent_path().string() + " does not exist",
      2);
  EXPECT_EQ(fs::file_size(repo_.root() / "plain_file"), 1u);
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
}

TEST_F(KataCli, OutputUnderProc) {
  const std::string out = "/proc/kata-no-such-dir/report.json";
  ExpectCleanError(Kata({"grade", "--out=" + out}),
                   "cannot write " + out + ": /proc/kata-no-such-dir does not exist", 2);
}

// /proc/self passes the early check (for root), so this write fails only once
// the grade has run: still one "kata: " line and no file.
TEST_F(KataCli, OutputThatCannotBeCreatedAfterTheGrade) {
  const std::string out = "/proc/self/report.json";
  const CliRun run = Kata({"grade", "--out=" + out});
  EXPECT_EQ(run.outcome.end, ChildEnd::kExited);
  EXPECT_NE(run.outcome.exit_code, 0);
  EXPECT_THAT(run.outcome.output, HasSubstr("kata: cannot write " + out));
  EXPECT_THAT(run.outcome.output, Not(HasSubstr("terminate called")));
  EXPECT_THAT(run.outcome.output, Not(HasSubstr("report written")));
}

TEST_F(KataCli, AssignmentThatIsNotJson) {
  repo_.WriteFile("bad.json", "{\"schema\": \"llmk-assignment/1\", \"katas\": [");
  const std::string file = (repo_.root() / "bad.json").string();
  const fs::path out = repo_.root() / "report.json";
  ExpectCleanError(Kata({"grade", "--assignment=" + file, "--out=" + out.string()}), "bad.json", 2);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(KataCli, AssignmentNamingAKataThatDoesNotExist) {
  repo_.WriteFile("ghost.json", R"({"schema": "llmk-assignment/1", "title": "ghost",
    "katas": [{"kata": "42_ghost", "weight": 1}]})");
  const std::string file = (repo_.root() / "ghost.json").string();
  const fs::path out = repo_.root() / "report.json";
  const CliRun run = Kata({"grade", "--assignment=" + file, "--out=" + out.string()});
  ExpectCleanError(run, "ghost.json", 2);
  EXPECT_THAT(run.first_line, HasSubstr("42_ghost"));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(KataCli, AssignmentThatDoesNotExist) {
  const std::string file = (repo_.root() / "missing.json").string();
  ExpectCleanError(Kata({"grade", "--assignment=" + file}), "missing.json", 2);
}

TEST_F(KataCli, FlagValuesThatDoNotParse) {
  ExpectCleanError(Kata({"--timeout=abc", "list"}), "invalid value \"abc\" for --timeout", 2);
  ExpectCleanError(Kata({"--step", "x", "test", "01"}), "invalid value \"x\" for --step", 2);
  ExpectCleanError(Kata({"--jobs=99999999999", "list"}), "for --jobs", 2);
  ExpectCleanError(Kata({"--bench=maybe", "grade"}), "invalid value \"maybe\" for --bench", 2);
  ExpectCleanError(Kata({"list", "--timeout"}), "--timeout needs a value", 2);
}

TEST_F(KataCli, UnknownFlag) {
  ExpectCleanError(Kata({"--frobnicate=1", "list"}), "unknown flag --frobnicate", 2);
}

TEST_F(KataCli, FlagValuesOutOfRange) {
  ExpectCleanError(Kata({"--timeout=-1", "list"}), "--timeout must be", 2);
  ExpectCleanError(Kata({"--timeout=inf", "list"}), "--timeout must be", 2);
  ExpectCleanError(Kata({"--timeout=nan", "list"}), "--timeout must be", 2);
  ExpectCleanError(Kata({"--jobs=0", "list"}), "--jobs must be 1 or more; got 0", 2);
  ExpectCleanError(Kata({"--memory_limit_mb=-1", "list"}), "--memory_limit_mb must be", 2);
  ExpectCleanError(Kata({"--format=pdf", "grade"}), "unknown --format \"pdf\"", 2);
  ExpectCleanError(Kata({"--variant=teacher", "grade"}), "unknown --variant \"teacher\"", 2);
  ExpectCleanError(Kata({"--step=9", "test", "01"}), "01_pass has no step 9", 2);
  ExpectCleanError(Kata({"hint", "01", "x"}), "LEVEL must be a number from 1 to 3", 2);
}

// The cases above fail in the right way because of what they get wrong: the
// same repository with good input works.
TEST_F(KataCli, GoodInputWorks) {
  const CliRun run = Kata({"list"});
  EXPECT_EQ(run.outcome.end, ChildEnd::kExited);
  EXPECT_EQ(run.outcome.exit_code, 0) << run.outcome.output;
  EXPECT_THAT(run.outcome.output, HasSubstr("01_pass"));
}

TEST_F(KataCli, HelpIsTheUsageAndSucceeds) {
  for (const std::string help : {"--help", "-h", "help"}) {
    const CliRun run = Kata({help});
    EXPECT_EQ(run.outcome.exit_code, 0) << help << ": " << run.outcome.output;
    EXPECT_EQ(run.first_line, "kata: builds, runs and grades the LLM katas.") << help;
    EXPECT_THAT(run.outcome.output, HasSubstr("kata grade")) << help;
  }
}

// Stopping `kata` (SIGTERM here; Ctrl-C is SIGINT) while a step runs kills the
// step's binary and what it left behind, a daemon outside its group included,
// before `kata` exits.
TEST(KataCliInterrupted, KillsTheStepAndItsDaemon) {
  FakeRepo repo;
  repo.AddKata("01_daemon", FakeKataBinary("daemon"));
  repo.Load();
  // A `cmake` that builds nothing, first in PATH: the fake binary is built.
  repo.WriteFile("bin/cmake", "#!/bin/sh\nexit 0\n");
  fs::permissions(repo.root() / "bin" / "cmake", fs::perms::owner_all);
  const std::string pid_file = (repo.root() / "daemon.pid").string();
  const std::string marker = fmt::format("LLMK_CLI_TEST_MARKER=interrupt-{}", getpid());

  std::vector<std::string> env = {
      marker, "FAKE_KATA_DAEMON_PID_FILE=" + pid_file, "FAKE_KATA_DAEMON_THEN_HANG=1",
      fmt::format("PATH={}:{}", (repo.root() / "bin").string(), std::getenv("PATH"))};
  std::vector<std::string> argv = {LLMK_KATA_BINARY,
                                   "--root=" + repo.root().string(),
                                   "--build_dir=" + repo.build_dir().string(),
                                   "--timeout=60",
                                   "test",
                                   "01"};
  std::vector<char*> env_pointers;
  for (std::string& entry : env) env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);
  std::vector<char*> argv_pointers;
  for (std::string& arg : argv) argv_pointers.push_back(arg.data());
  argv_pointers.push_back(nullptr);

  const pid_t kata = fork();
  ASSERT_GE(kata, 0);
  if (kata == 0) {
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    execve(argv_pointers[0], argv_pointers.data(), env_pointers.data());
    _exit(127);
  }
  // Until the step has started its daemon.
  pid_t daemon = 0;
  for (int attempt = 0; attempt < 2000 && daemon <= 0; ++attempt) {
    usleep(10000);
    std::ifstream(pid_file) >> daemon;
  }
  EXPECT_GT(daemon, 0) << "the daemon fake did not start";
  kill(kata, SIGTERM);
  int status = 0;
  waitpid(kata, &status, 0);

  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  const std::vector<pid_t> survivors = testing::ProcessesWithEnvironment(marker);
  EXPECT_THAT(survivors, ::testing::IsEmpty());
  // Whatever survived is not left running by the test itself.
  for (pid_t survivor : survivors) kill(survivor, SIGKILL);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace
}  // namespace llmk::kata
