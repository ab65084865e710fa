// Fake kata: step 1 starts a daemon the usual way (fork, setsid(), fork again,
// the middle process exits) that sleeps for 1000 s outside the binary's
// process group and session, and writes the daemon's pid to the file named by
// FAKE_KATA_DAEMON_PID_FILE. The test itself passes, unless
// FAKE_KATA_DAEMON_THEN_HANG is set: then it waits forever after that.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

TEST(Step1_First, StartsADaemon) {
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  const pid_t middle = fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    setsid();
    const pid_t daemon = fork();
    if (daemon == 0) {
      close(pid_pipe[1]);
      sleep(1000);
      _exit(0);
    }
    const ssize_t written = write(pid_pipe[1], &daemon, sizeof daemon);
    _exit(written == sizeof daemon ? 0 : 1);
  }
  close(pid_pipe[1]);
  pid_t daemon = 0;
  const ssize_t got = read(pid_pipe[0], &daemon, sizeof daemon);
  close(pid_pipe[0]);
  int status = 0;
  waitpid(middle, &status, 0);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof daemon));
  if (const char* pid_file = std::getenv("FAKE_KATA_DAEMON_PID_FILE")) {
    std::ofstream(pid_file) << daemon << "\n";
  }
  EXPECT_GT(daemon, 0);
  // For a test that interrupts the harness while a step runs.
  if (std::getenv("FAKE_KATA_DAEMON_THEN_HANG") != nullptr) {
    for (;;) pause();
  }
}
TEST(Step2_Second, Works) { EXPECT_EQ(1, 1); }
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
