// Reference oracles for kata 14 (optimizers): plain loops in double precision, written to
// be read, not to be fast. Each update is written entry by entry from its formula; the
// Newton–Schulz iteration multiplies with triple loops; the largest eigenvalue comes from
// the cyclic Jacobi method, not from a library solver.
//
// Shapes as in the kata: a parameter, its gradient and its state have one shape; a weight
// is [D_in, D_out].
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::reference::optim {

// a·b with a triple loop.   [m, k]·[k, n] -> [m, n]
MatrixD MatMul(const MatrixD& a, const MatrixD& b);

// The eigenvalues of a symmetric matrix, by cyclic Jacobi rotations, ascending.
std::vector<double> SymmetricEigenvalues(const MatrixD& h);

// v ← β·v + g; θ ← θ − lr·(nesterov ? g + β·v : v). An empty velocity is zeros.
void MomentumStep(double lr, double beta, bool nesterov, const MatrixD& grad, MatrixD* velocity,
                  MatrixD* param);

struct AdamState {
  MatrixD m, v;  // empty before the first step
  int step = 0;
};

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = true;  // AdamW; false: L2 added to the gradient
  bool bias_correction = true;
};

// One Adam(W) step, entry by entry.
void AdamStep(const AdamConfig& config, const MatrixD& grad, AdamState* state, MatrixD* param);

// Warmup (peak·(s+1)/W) then cosine decay to min at S, min after.
double LearningRateAt(double peak, double min, int warmup, int total, int step);

// X₀ = g / (‖g‖_F + 1e-7), `steps` quintic iterations on the wide orientation.
MatrixD NewtonSchulz(const MatrixD& g, int steps);

// m ← μ·m + g; u = nesterov ? g + μ·m : m;
// θ ← θ·(1 − lr·λ) − lr·√max(1, cols/rows)·NewtonSchulz(u, ns_steps).
void MuonStep(double lr, double mu, bool nesterov, int ns_steps, double weight_decay,
              const MatrixD& grad, MatrixD* momentum, MatrixD* param);

}  // namespace llmk::reference::optim
