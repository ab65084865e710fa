// Reference masked attention for kata 04: plain loops in double precision, written to
// be read, not to be fast. The mask is given as a separate boolean matrix (not as -inf
// scores), so this oracle does not share the -inf encoding the kata builds.
//
// T = query tokens, N = key/value tokens, d = head width, d_v = value width.
#pragma once

#include "llmk/core.h"

namespace llmk::reference::causal {

// allowed(i, j): query i may attend to key j.
using Allowed = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// allowed(i, j) = (j <= i), [T, T].
Allowed CausalAllowed(int num_tokens);

// Row softmax over the allowed entries of z: p(i, j) = exp(z(i, j) - m_i) / Σ exp(...)
// with m_i the max over the allowed entries of row i; forbidden entries 0; a row with
// no allowed entry all 0.   z [T, N], allowed [T, N] -> [T, N]
MatrixD MaskedSoftmaxRows(const MatrixD& z, const Allowed& allowed);

// Masked softmax(q kᵀ / √d) v, d = q.cols().
//   q [T, d], k [N, d], v [N, d_v], allowed [T, N] -> [T, d_v]
MatrixD MaskedAttention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                        const Allowed& allowed, MatrixD* weights = nullptr);

}  // namespace llmk::reference::causal
