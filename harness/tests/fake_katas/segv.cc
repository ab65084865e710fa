// Fake kata: the second test of step 2 dies of SIGSEGV; steps 1 and 3 pass.
#include <gtest/gtest.h>

#include <csignal>

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, Segfaults) { std::raise(SIGSEGV); }
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
