// The task of Step 7, given (not a stub): a binary classification whose labels are set by a
// teacher with one large weight, so that absmax rounding wipes out the small ones.
//
//   x(n, 0) = 1                 (a constant feature: the model's bias, quantized like the rest)
//   x(n, j) ~ U[0, 1), j >= 1   drawn from llmk::Rng(seed), row by row
//   teacher t = (0, 10, u_2 … u_{D−1}) with u_j ~ U[0, 1) (drawn after x), so t_j in [0, 1)
//   y(n) = 1 if x(n)·t > the median of x·t, else 0   (half the samples of each label)
//
// N = samples, D = features (a multiple of 32, so one row of w is whole int4 groups and
// MXFP4 blocks).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::quant {

struct LogisticTask {
  Matrix x;  // [N, D]
  Matrix y;  // [N, 1], labels 0 or 1
};

inline LogisticTask MakeQatTask(std::uint64_t seed, int n = 256, int d = 32) {
  Rng rng(seed);
  LogisticTask task;
  task.x.resize(n, d);
  for (int i = 0; i < n; ++i) {
    task.x(i, 0) = 1.0f;
    for (int j = 1; j < d; ++j) task.x(i, j) = static_cast<float>(rng.Uniform());
  }
  std::vector<double> teacher(static_cast<size_t>(d), 0.0);
  teacher[1] = 10.0;
  for (int j = 2; j < d; ++j) teacher[static_cast<size_t>(j)] = rng.Uniform();
  std::vector<double> z(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j)
      z[static_cast<size_t>(i)] += task.x(i, j) * teacher[static_cast<size_t>(j)];
  }
  std::vector<double> sorted = z;
  std::sort(sorted.begin(), sorted.end());
  const double median =
      n % 2 ? sorted[static_cast<size_t>(n / 2)]
            : 0.5 * (sorted[static_cast<size_t>(n / 2 - 1)] + sorted[static_cast<size_t>(n / 2)]);
  task.y.resize(n, 1);
  for (int i = 0; i < n; ++i) task.y(i, 0) = z[static_cast<size_t>(i)] > median ? 1.0f : 0.0f;
  return task;
}

}  // namespace llmk::quant
