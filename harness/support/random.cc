#include "llmk/testing/random.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmk::testing {

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
