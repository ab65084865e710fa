// Seeded random inputs that are the same on every platform and standard library
// (std::normal_distribution is not), and the awkward sizes kernels are tested on.
//
//   llmk::testing::Rng rng(42);
//   llmk::Matrix x = llmk::testing::RandomMatrix(rng, 7, 3);   // N(0, 1) entries
#pragma once

#include <cstdint>
#include <vector>

#include "llmk/core.h"

namespace llmk::testing {

// splitmix64: tiny, fast, and fully specified, so a seed means the same numbers everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t NextU64();
  // Uniform in [0, 1).
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Standard normal (Box-Muller).
  double Normal();
  // Uniform integer in [0, n). n >= 1.
  std::uint64_t Below(std::uint64_t n);

 private:
  std::uint64_t state_;
};

// rows x cols matrix with N(0, scale^2) entries.
llmk::Matrix RandomMatrix(Rng& rng, Eigen::Index rows, Eigen::Index cols, double scale = 1.0);

// Sizes that shake out off-by-one and tail bugs: 1, 2, 3, primes, powers of two
// and their neighbours, up to `max_size`.
std::vector<int> AwkwardSizes(int max_size = 65);

// Sizes around a block size: 1, block-1, block, block+1, 2*block+1 and a prime.
std::vector<int> SizesAroundBlock(int block);

}  // namespace llmk::testing
