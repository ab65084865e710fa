// Fake kata: step 2 calls abort(); steps 1 and 3 pass.
#include <gtest/gtest.h>

#include <cstdlib>

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, Aborts) { std::abort(); }
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
