// Reference mixture-of-experts layer for kata 10: plain loops in double precision,
// written to be read, not to be fast. It works token by token (no dispatch buffers, no
// gather and scatter), so it shares none of the kata's batching code.
//
// T = tokens, D = model width, F = expert hidden width, E = routed experts,
// K = experts per token. The rules are those of katas/10_moe/README.md: ReLU experts,
// ties to the lower expert index, gates renormalized over the K choices, capacity
// ⌈cf·T·K/E⌉ filled by choice rank then token index, residual included.
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::reference::moe {

// softmax(x · router) row by row.   x [T, D], router [D, E] -> [T, E]
MatrixD RouterProbs(const MatrixD& x, const MatrixD& router);

// The K experts of every token, best first, by repeated argmax (a strictly larger
// probability is needed to beat a lower index).   probs [T, E] -> T lists of K
std::vector<std::vector<int>> TopK(const MatrixD& probs, int k);

// alpha · E · Σ_i f_i · P_i with f_i = choices of i / (T·K), P_i = mean of probs(:, i).
double LoadBalancingLoss(const MatrixD& probs, const std::vector<std::vector<int>>& choices,
                         double alpha);

// max(0, x·w1)·w2.   x [n, D], w1 [D, F], w2 [F, D] -> [n, D]
MatrixD ReluFfn(const MatrixD& x, const MatrixD& w1, const MatrixD& w2);

struct MoeResult {
  MatrixD output;                         // [T, D] = x + shared + routed
  MatrixD routed;                         // [T, D]
  MatrixD shared;                         // [T, D]
  MatrixD probs;                          // [T, E]
  MatrixD gates;                          // [T, K]
  std::vector<std::vector<int>> choices;  // T lists of K experts
  std::vector<std::vector<bool>> kept;    // T lists of K: false if dropped for capacity
  int capacity = 0;
  int dropped = 0;
  double loss = 0.0;
};

// The whole layer.   x [T, D]; w1s, w2s: E experts; shared_w1s, shared_w2s: S experts.
MoeResult MoeLayer(const MatrixD& x, const MatrixD& router, const std::vector<MatrixD>& w1s,
                   const std::vector<MatrixD>& w2s, const std::vector<MatrixD>& shared_w1s,
                   const std::vector<MatrixD>& shared_w2s, int k, double capacity_factor,
                   double alpha);

}  // namespace llmk::reference::moe
