// The task of Step 8's race, given (not a stub): a two-layer tanh network fitting a
// fixed target by least squares. Each optimizer trains its own copy of the same initial
// weights; fixtures/14_optimizers/race.json holds the data and the losses along the way.
//
//   h = tanh(x·w1)            x [B, D], w1 [D, F] -> h [B, F]
//   pred = h·w2               w2 [F, V]           -> pred [B, V]
//   L = ½ · mean over the B·V entries of (pred − y)²
//
// B = examples, D = inputs, F = hidden units, V = outputs.
#pragma once

#include <cmath>

#include "llmk/core.h"

namespace llmk::optim {

struct RaceTask {
  Matrix x;   // [B, D]
  Matrix y;   // [B, V]
  Matrix w1;  // [D, F], the initial hidden weight
  Matrix w2;  // [F, V], the initial output weight
};

// Returns L at (w1, w2); if dw1 and dw2 are not null, fills them with ∂L/∂w1 and ∂L/∂w2:
//   r = (pred − y) / (B·V);  dw2 = hᵀ·r;  dz = (r·w2ᵀ) ⊙ (1 − h²);  dw1 = xᵀ·dz
inline float RaceLoss(const RaceTask& task, const Matrix& w1, const Matrix& w2,
                      Matrix* dw1 = nullptr, Matrix* dw2 = nullptr) {
  RequireShape("RaceLoss", "w1", w1, task.x.cols(), -1, "(rows equal to x's columns)");
  RequireShape("RaceLoss", "w2", w2, w1.cols(), task.y.cols(), "(w1's columns by y's)");
  RequireShape("RaceLoss", "y", task.y, task.x.rows(), -1, "(one row per example)");
  Matrix h = task.x * w1;
  h = h.array().tanh().matrix();
  Matrix r = h * w2 - task.y;
  const float count = static_cast<float>(r.size());
  const float loss = 0.5f * r.squaredNorm() / count;
  if (dw1 != nullptr && dw2 != nullptr) {
    r /= count;
    *dw2 = h.transpose() * r;
    const Matrix dh = r * w2.transpose();
    const Matrix dz = (dh.array() * (1.0f - h.array().square())).matrix();
    *dw1 = task.x.transpose() * dz;
  }
  return loss;
}

}  // namespace llmk::optim
