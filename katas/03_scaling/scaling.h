// Kata 03: why attention divides its scores by √d_k.
//
// The API of the kata. The stubs (katas/03_scaling/scaling.cc) and the solution
// (solutions/03_scaling/scaling.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   double v = scaling::DotProductVariance(64);                      // step 1: 64
//   llmk::Rng rng(2024);
//   double est = scaling::SampleDotProductVariance(64, 10000, rng);  // step 2: ≈ 64
//   double sd = scaling::SampleVarianceStdDev(64, 10000);            // step 2: 0.926
//   Eigen::VectorXd z(3);
//   z << 1, 2, 3;
//   Eigen::VectorXd p = scaling::Softmax(16 * z);                    // step 3
//   double h = scaling::Entropy(16 * z);                             // step 3: nats
//   double g = scaling::JacobianNorm(16 * z);                        // step 4: ≈ 2e-7
//   Eigen::VectorXd s = scaling::ScaleScores(z, 4);                  // step 5: z / 2
//
// d_k = width of a query and a key (the head width), n = number of Monte-Carlo
// samples, N = number of logits (keys) in one softmax row.
//
// Everything is double precision: the point of the kata is the size of numbers
// like 1e-7, not the speed.
//
// Errors: d_k < 1, a sample count < 1, a negative variance or an empty vector throw
// llmk::InvalidArgument whose message names the function, the argument and the
// value given.
#pragma once

#include <Eigen/Core>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::scaling {

// Step 1. Returns Var(q·k) for q, k in R^d_k whose 2·d_k components are independent
// with mean 0, the components of q with variance var_q and those of k with variance
// var_k: d_k · var_q · var_k.
//   d_k >= 1, var_q >= 0, var_k >= 0.
double DotProductVariance(int d_k, double var_q = 1.0, double var_k = 1.0);

// Step 2. Estimates Var(q·k) by Monte-Carlo for q, k with N(0, 1) components:
// draws num_samples independent pairs and returns the mean of (q·k)² over them
// (the mean of q·k is known to be 0, so it is not estimated).
// The draws are specified so that a seed gives the same estimate in every
// implementation: for each sample, first q_0 .. q_{d_k-1}, then k_0 .. k_{d_k-1},
// each one rng.Normal(). The call consumes exactly 2·d_k·num_samples normals.
//   d_k >= 1, num_samples >= 1.
double SampleDotProductVariance(int d_k, int num_samples, Rng& rng);

// Step 2. The standard deviation of SampleDotProductVariance's estimate:
// sqrt((2·d_k² + 6·d_k) / num_samples). README.md derives it.
//   d_k >= 1, num_samples >= 1.
double SampleVarianceStdDev(int d_k, int num_samples);

// Step 3. The softmax of one row of logits: p_j = exp(z_j) / Σ_l exp(z_l).
// Finite for logits of any finite size.
//   logits [N] -> [N], N >= 1.
Eigen::VectorXd Softmax(const Eigen::VectorXd& logits);

// Step 3. The largest weight of softmax(logits), in [1/N, 1].
//   logits [N], N >= 1.
double MaxWeight(const Eigen::VectorXd& logits);

// Step 3. The entropy of softmax(logits) in nats: H = -Σ_j p_j · ln p_j, with
// 0 · ln 0 = 0. In [0, ln N]; finite for logits of any finite size.
//   logits [N], N >= 1.
double Entropy(const Eigen::VectorXd& logits);

// Step 4. The Jacobian of the softmax at logits: J(i, j) = ∂p_i / ∂z_j, that is
// J = diag(p) - p·pᵀ with p = softmax(logits).
//   logits [N] -> [N, N], N >= 1.
MatrixD SoftmaxJacobian(const Eigen::VectorXd& logits);

// Step 4. The Frobenius norm of SoftmaxJacobian(logits): sqrt(Σ_ij J(i, j)²).
// Accurate to a few units of relative rounding error even when p is nearly
// one-hot and the norm is far below 1e-8.
//   logits [N], N >= 1.
double JacobianNorm(const Eigen::VectorXd& logits);

// Step 5. Divides every score by √d_k.
//   scores [N] -> [N], N >= 1, d_k >= 1.
Eigen::VectorXd ScaleScores(const Eigen::VectorXd& scores, int d_k);

// Step 5. Estimates Var(q·k / √d_k) for q, k with N(0, 1) components: the mean
// of (q·k / √d_k)² over num_samples pairs, drawn exactly as in
// SampleDotProductVariance (same order, same number of normals).
//   d_k >= 1, num_samples >= 1.
double SampleScaledScoreVariance(int d_k, int num_samples, Rng& rng);

}  // namespace llmk::scaling
