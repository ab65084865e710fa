// Reference flash attention for kata 09: the naive computation it must equal, in double
// precision, with the full T×N score matrix in memory. Written to be read, not to be fast.
//
// T = query tokens, N = key/value tokens, d = head width, H = heads side by side in the
// columns (head h owns columns h·d .. h·d + d - 1), B = length of a stream.
// Causal: query i may attend to key j when j <= i + N - T.
#pragma once

#include "llmk/core.h"

namespace llmk::reference::flash {

// Σ_j softmax(s)_j · v_j for one stream, from the whole stream at once.
//   scores [1, B], values [B, d_v] -> [1, d_v]
MatrixD SoftmaxAverage(const MatrixD& scores, const MatrixD& values);

struct AttentionResult {
  MatrixD out;      // [T, H·d]
  MatrixD lse;      // [T, H]: log Σ_j exp(s_ij) over the keys row i may see
  MatrixD weights;  // [T, H·N]: head h's softmax weights in columns h·N .. h·N + N - 1
};

// Per head: S = q_h·k_hᵀ/√d, masked entries -inf when causal, P = softmax of each row,
// out_h = P·v_h, lse = m + log Σ exp(s - m).
//   q [T, H·d], k [N, H·d], v [N, H·d]
AttentionResult Attention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                          int num_heads, bool causal);

struct Gradients {
  MatrixD dq;  // [T, H·d]
  MatrixD dk;  // [N, H·d]
  MatrixD dv;  // [N, H·d]
};

// The gradients of Σ dout ∘ out by the chain rule through each operation, with the
// softmax Jacobian built explicitly per row (diag(p) - p·pᵀ), not through the
// rowsum(dO ∘ O) shortcut the kata derives.
Gradients AttentionBackward(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                            const MatrixD& dout, int num_heads, bool causal);

}  // namespace llmk::reference::flash
