// Reference oracles of kata 11 (harness): sampling rules and metrics in double
// precision, written to be obviously right rather than fast (quadratic loops instead of
// a sort, lgamma instead of the product for pass@k). Tests compare the kata's float
// implementations against these on random inputs.
//
// V = vocabulary size.
#pragma once

#include <Eigen/Core>

namespace llmk::reference {

using RowVectorD = Eigen::RowVectorXd;

// softmax(z / T) for T > 0: exp((z - max) / T) / Σ exp((z - max) / T).   [V] -> [V]
RowVectorD SoftmaxWithTemperature(const RowVectorD& logits, double temperature);

// Token i is kept when fewer than k tokens rank before it (a larger probability, or an
// equal one at a lower index). Kept entries are renormalized, the others are 0.
RowVectorD TopK(const RowVectorD& probs, int k);

// For m = 1, 2, ..., V: the m highest-ranked tokens (ranked as in TopK); the first m
// whose mass reaches p · Σ probs is kept, renormalized. p = 1 keeps every token.
RowVectorD TopP(const RowVectorD& probs, double p);

// z_i - log Σ_j exp(z_j), with the max subtracted inside the log.   [V] -> [V]
RowVectorD LogSoftmax(const RowVectorD& logits);

// pass@k = 1 - C(n - c, k) / C(n, k) with the binomials from lgamma (1 if n - c < k).
double PassAtK(int n, int c, int k);

}  // namespace llmk::reference
