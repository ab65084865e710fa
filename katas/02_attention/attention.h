// Kata 02: scaled dot-product attention, from one head to grouped-query attention.
//
// The API of the kata. The stubs (katas/02_attention/attention.cc) and the solution
// (solutions/02_attention/attention.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   llmk::Matrix q = attention::Project(x, wq);          // step 1
//   llmk::Matrix s = attention::Scores(q, k);            // step 2
//   llmk::Matrix z = attention::ScaleScores(s, d_k);     // step 3
//   llmk::Matrix p = attention::Softmax(z);              // step 4
//   llmk::Matrix o = attention::WeightedSum(p, v);       // step 5
//
// T = tokens (query length), N = key/value length, D = model width,
// d = head width (d_k = d_v = d), H = query heads, Hkv = key/value heads.
//
// Errors: a shape that does not fit, an empty sequence, a head count that does not
// divide, throw llmk::InvalidArgument whose message names the argument, the shape
// expected and the shape given.
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::attention {

// Step 1. Projects every token of x into a new space: returns x · w.
//   x [T, D], w [D, d] -> [T, d]. T >= 1.
Matrix Project(const MatrixRef& x, const MatrixRef& w);

// Step 2. Computes the raw attention scores q · kᵀ: entry (i, j) is how well
// query i matches key j.
//   q [T, d], k [N, d] -> [T, N]. T, N, d >= 1.
Matrix Scores(const MatrixRef& q, const MatrixRef& k);

// Step 3. Divides every score by √d_k. d_k >= 1.
//   scores [T, N] -> [T, N]
Matrix ScaleScores(const MatrixRef& scores, int d_k);

// Step 4. Row-wise softmax: every row becomes non-negative weights summing to 1.
// Numerically stable: finite for logits of any finite size (±1e4 and beyond).
//   scores [T, N] -> [T, N]. T, N >= 1.
Matrix Softmax(const MatrixRef& scores);

// Step 5. Mixes the values: row i of the result is Σ_j weights(i, j) · v(j, :).
//   weights [T, N], v [N, d_v] -> [T, d_v]
Matrix WeightedSum(const MatrixRef& weights, const MatrixRef& v);

// Step 6. Scaled dot-product attention: softmax(q · kᵀ / √d) · v, d = q.cols().
//   q [T, d], k [N, d], v [N, d_v] -> [T, d_v]
Matrix Attention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v);

// Step 6. One self-attention head end to end: Attention(x·wq, x·wk, x·wv).
//   x [T, D], wq [D, d], wk [D, d], wv [D, d_v] -> [T, d_v]
Matrix SelfAttentionHead(const MatrixRef& x, const MatrixRef& wq, const MatrixRef& wk,
                         const MatrixRef& wv);

// Step 7. Returns the columns of head h: m(:, h·d .. (h+1)·d - 1).
// m.cols() must be a whole number of heads: a multiple of head_dim >= 1.
//   m [T, n·d] -> [T, d], 0 <= h < m.cols() / d.
Matrix Head(const MatrixRef& m, int h, int head_dim);

// Step 7. Concatenates heads side by side: [T, d] × H -> [T, H·d].
// All heads must have the same shape; at least one head.
Matrix ConcatHeads(const std::vector<Matrix>& heads);

// The weights of a multi-head (or grouped-query) attention layer.
// d = D / H; H must divide D and Hkv must divide H.
struct MultiHeadWeights {
  Matrix wq;             // [D, H·d]   = [D, D]
  Matrix wk;             // [D, Hkv·d]
  Matrix wv;             // [D, Hkv·d]
  Matrix wo;             // [H·d, D]   = [D, D]
  int num_heads = 1;     // H
  int num_kv_heads = 1;  // Hkv; H for multi-head, 1 for multi-query
};

// What MultiHeadAttention computed on the way, for the tests to check step by step.
struct MultiHeadTrace {
  std::vector<Matrix> weights;       // per query head: softmax weights [T, T]
  std::vector<Matrix> head_outputs;  // per query head: [T, d]
  Matrix concat;                     // [T, H·d]
};

// Step 8. The key/value head that query head h reads in grouped-query attention:
// heads are split into Hkv consecutive groups of H / Hkv. 0 <= h < H.
int KvHeadFor(int h, int num_heads, int num_kv_heads);

// Steps 7 and 8. Multi-head self-attention of x:
//   Q = x·wq, K = x·wk, V = x·wv; head h attends Head(Q, h) to Head(K, g), Head(V, g)
//   with g = KvHeadFor(h, H, Hkv); the heads are concatenated and projected by wo.
//   x [T, D] -> [T, D]. If trace is not null, it is filled in.
Matrix MultiHeadAttention(const MatrixRef& x, const MultiHeadWeights& w,
                          MultiHeadTrace* trace = nullptr);

}  // namespace llmk::attention
