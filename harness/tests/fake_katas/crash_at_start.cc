// Fake kata: dies of SIGSEGV before main, so even listing its tests fails.
#include <gtest/gtest.h>

#include <csignal>

namespace {
const int kCrash = [] {
  std::raise(SIGSEGV);
  return 0;
}();
}  // namespace

TEST(Step1_First, Works) { EXPECT_EQ(kCrash, 0); }
