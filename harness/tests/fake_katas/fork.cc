// Fake kata: step 1 forks a child that sleeps long after the test binary has
// ended (holding its stdout open), and writes the child's pid to the file named
// by FAKE_KATA_PID_FILE. The test itself passes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

TEST(Step1_First, LeavesAChildBehind) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sleep(1000);
    _exit(0);
  }
  if (const char* pid_file = std::getenv("FAKE_KATA_PID_FILE")) {
    std::ofstream(pid_file) << child << "\n";
  }
  EXPECT_GT(child, 0);
}
TEST(Step2_Second, Works) { EXPECT_EQ(1, 1); }
