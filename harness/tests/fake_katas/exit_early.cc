// Fake kata: in step 2, after one passing test, a test calls exit(0).
#include <gtest/gtest.h>

#include <cstdlib>

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, ExitsZero) { std::exit(0); }
TEST(Step2_Second, NeverRuns) { EXPECT_EQ(1, 1); }
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
