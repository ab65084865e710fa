// Fake kata: step 2 spins forever on the CPU; steps 1 and 3 pass.
#include <gtest/gtest.h>

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, SpinsForever) {
  volatile unsigned long counter = 0;
  for (;;) counter = counter + 1;
}
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
