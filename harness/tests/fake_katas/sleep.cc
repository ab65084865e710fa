// Fake kata: step 1 sleeps forever (and ignores SIGTERM); steps 2 and 3 pass.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

TEST(Step1_First, SleepsForever) {
  std::signal(SIGTERM, SIG_IGN);
  for (;;) pause();
}
TEST(Step2_Second, Works) { EXPECT_EQ(1, 1); }
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
