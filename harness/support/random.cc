#include "llmk/testing/random.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmk::testing {

std::uint64_t Rng::NextU64() {
  // splitmix64 (Steele, Lea, Flood 2014).
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::Uniform() {
  // 53 random bits -> [0, 1).
  return static_cast<double>(NextU64() >> 11) * 0x1.0p-53;
}

double Rng::Normal() {
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  const double u1 = 1.0 - Uniform();
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t Rng::Below(std::uint64_t n) {
  // Rejection sampling removes modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do {
    x = NextU64();
  } while (x >= limit);
  return x % n;
}

llmk::Matrix RandomMatrix(Rng& rng, Eigen::Index rows, Eigen::Index cols, double scale) {
  llmk::Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = static_cast<float>(scale * rng.Normal());
  }
  return m;
}

std::vector<int> AwkwardSizes(int max_size) {
  std::vector<int> sizes;
  for (int s : {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129}) {
    if (s <= max_size) sizes.push_back(s);
  }
  return sizes;
}

std::vector<int> SizesAroundBlock(int block) {
  std::vector<int> sizes = {1, block - 1, block, block + 1, 2 * block + 1, 37};
  std::erase_if(sizes, [](int s) { return s < 1; });
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

}  // namespace llmk::testing
