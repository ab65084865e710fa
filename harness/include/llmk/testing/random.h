// Seeded random inputs for tests, and the awkward sizes kernels are tested on.
//
//   llmk::testing::Rng rng(42);
//   llmk::Matrix x = llmk::testing::RandomMatrix(rng, 7, 3);   // N(0, 1) entries
#pragma once

#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::testing {

using ::llmk::Rng;

// rows x cols matrix with N(0, scale^2) entries.
llmk::Matrix RandomMatrix(Rng& rng, Eigen::Index rows, Eigen::Index cols, double scale = 1.0);

// Sizes that shake out off-by-one and tail bugs: 1, 2, 3, primes, powers of two
// and their neighbours, up to `max_size`.
std::vector<int> AwkwardSizes(int max_size = 65);

// Sizes around a block size: 1, block-1, block, block+1, 2*block+1 and a prime.
std::vector<int> SizesAroundBlock(int block);

}  // namespace llmk::testing
