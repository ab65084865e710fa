#include "speculative.h"
#include "llmk/testing/testing.h"
TEST(Step1_Greedy, Placeholder) { EXPECT_TRUE(false); }
