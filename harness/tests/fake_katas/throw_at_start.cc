// Fake kata: a global initializer throws, so the binary dies (std::terminate,
// SIGABRT) before main, even when only asked for its test list.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {
std::string LoadFixture(const std::string& name) {
  throw std::runtime_error("cannot open fixture " + name);
}
const std::string kFixture = LoadFixture("fixtures/01_fake/missing.json");
}  // namespace

TEST(Step1_First, Works) { EXPECT_FALSE(kFixture.empty()); }
