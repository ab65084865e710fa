// Reference attention: triple loops in double precision, written to be read, not to
// be fast. Tests compare the float implementations against these on random inputs.
//
// T = query tokens, N = key/value tokens, d = head width, D = model width,
// H = query heads, Hkv = key/value heads.
#pragma once

#include "llmk/core.h"

namespace llmk::reference {

// a [n, k] · b [k, m] -> [n, m], one dot product at a time.
MatrixD MatMul(const MatrixD& a, const MatrixD& b);

// Row softmax: exp(z - max) / Σ exp(z - max).
MatrixD SoftmaxRows(const MatrixD& z);

// softmax(q kᵀ / √d) v.   q [T, d], k [N, d], v [N, d_v] -> [T, d_v]
MatrixD Attention(const MatrixD& q, const MatrixD& k, const MatrixD& v);

// Multi-head / grouped-query self-attention, as defined in katas/02_attention/README.md:
// head h reads key/value head h / (H / Hkv).
//   x [T, D], wq [D, D], wk [D, Hkv·d], wv [D, Hkv·d], wo [D, D] -> [T, D]
MatrixD MultiHeadAttention(const MatrixD& x, const MatrixD& wq, const MatrixD& wk,
                           const MatrixD& wv, const MatrixD& wo, int num_heads,
                           int num_kv_heads);

}  // namespace llmk::reference
