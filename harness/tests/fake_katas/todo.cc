// Fake kata: step 1 passes, step 2 reaches unwritten stubs (todo), step 3 has
// one stub and one wrong answer (failing).
#include <gtest/gtest.h>

#include "llmk/core.h"

namespace {
int Stub() { throw llmk::NotImplemented("Stub"); }
}  // namespace

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, UsesStub) { EXPECT_EQ(Stub(), 1); }
TEST(Step2_Second, UsesStubToo) { EXPECT_EQ(Stub(), 2); }
TEST(Step3_Third, UsesStub) { EXPECT_EQ(Stub(), 3); }
TEST(Step3_Third, WrongAnswer) { EXPECT_EQ(6 * 7, 41); }
