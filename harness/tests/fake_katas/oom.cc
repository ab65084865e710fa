// Fake kata: step 2 allocates memory until an allocation fails, so the
// address-space limit is what stops it (std::bad_alloc); steps 1 and 3 pass.
// An address-space limit counts reserved pages, so only one byte per chunk is
// touched (the allocation cannot be elided) and the step takes microseconds
// however loaded the machine is. Without a limit it gives up at 2 GiB.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <vector>

TEST(Step1_First, Works) { EXPECT_EQ(1, 1); }
TEST(Step2_Second, AllocatesWithoutEnd) {
  constexpr std::size_t kChunk = std::size_t{16} << 20;
  constexpr std::size_t kGiveUp = std::size_t{2} << 30;
  std::vector<std::unique_ptr<char[]>> chunks;
  for (std::size_t total = 0; total < kGiveUp; total += kChunk) {
    chunks.emplace_back(new char[kChunk]);
    static_cast<volatile char*>(chunks.back().get())[kChunk - 1] = 1;
  }
  FAIL() << "allocated 2 GiB without running out: no address-space limit?";
}
TEST(Step3_Third, Works) { EXPECT_EQ(1, 1); }
