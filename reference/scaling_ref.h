// Reference oracles for kata 03 (why √d_k): plain loops in double precision,
// written to be read, not to be fast. Tests compare the kata's functions against
// these on random inputs and large logits.
//
// d_k = query/key width, n = Monte-Carlo samples, N = logits in one softmax row.
#pragma once

#include <Eigen/Core>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::reference::scaling {

// Mean of (scale · q·k)² over n pairs (q, k) of N(0, 1) vectors of width d_k,
// drawing per sample q_0 .. q_{d_k-1} then k_0 .. k_{d_k-1} from rng.Normal().
double MeanSquaredDot(int d_k, int n, Rng& rng, double scale = 1.0);

// Standard deviation of the mean of n iid X², X = q·k with N(0, 1) components,
// from the moments counted term by term: E[X²] = d_k and
// E[X⁴] = 9·d_k (all four indices equal) + 3·d_k·(d_k - 1) (two distinct pairs).
double MeanSquaredDotStdDev(int d_k, int n);

// exp(z_j - max) / Σ_l exp(z_l - max).   logits [N] -> [N]
Eigen::VectorXd Softmax(const Eigen::VectorXd& logits);

// ln p_j = (z_j - max) - ln(Σ_l exp(z_l - max)), the log taken with log1p of the
// terms other than the first maximum, so that ln p_j of a weight near 1 keeps its
// relative accuracy.   logits [N] -> [N]
Eigen::VectorXd LogSoftmax(const Eigen::VectorXd& logits);

// -Σ_j p_j ln p_j of softmax(logits) in nats, with ln p_j from LogSoftmax.
double Entropy(const Eigen::VectorXd& logits);

// J(i, j) = p_i · (δ_ij - p_j), entry by entry, with 1 - p_i summed as Σ_{l≠i} p_l
// (no cancellation when p_i is near 1).   logits [N] -> [N, N]
MatrixD SoftmaxJacobian(const Eigen::VectorXd& logits);

// sqrt(Σ_ij m(i, j)²), with the entries scaled by the largest |m(i, j)| so that
// squares of tiny entries do not underflow.
double FrobeniusNorm(const MatrixD& m);

}  // namespace llmk::reference::scaling
