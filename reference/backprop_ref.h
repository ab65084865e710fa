// Reference oracles for kata 05 (backpropagation): plain loops in double precision,
// written to be read, not to be fast. Every gradient here is built from its definition
// one scalar partial derivative at a time (the chain rule summed over every path, or a
// full Jacobian applied to dout), not from the matrix shortcuts the kata derives, so
// that the tests compare two different routes to the same numbers.
//
// B = batch, D = input width, F = hidden width, V = classes.
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::reference::backprop {

// inp [B, D] · weight [D, F] + bias [1, F] -> [B, F].
MatrixD Linear(const MatrixD& inp, const MatrixD& weight, const MatrixD& bias);

// 1 / (1 + e^(-z)) entry by entry.
MatrixD Sigmoid(const MatrixD& z);

// Row softmax with the row max taken out.   [B, V] -> [B, V]
MatrixD Softmax(const MatrixD& logits);

// Mean over rows of log Σ_j exp(z(b, j)) - z(b, targets[b]).
double CrossEntropy(const MatrixD& logits, const std::vector<int>& targets);

// The two-layer network of the kata, sigmoid hidden layer, softmax cross-entropy loss.
struct MlpParams {
  MatrixD w1;  // [D, F]
  MatrixD b1;  // [1, F]
  MatrixD w2;  // [F, V]
  MatrixD b2;  // [1, V]
};

// CrossEntropy(sigmoid(x·w1 + b1)·w2 + b2, targets).   x [B, D]
double MlpLoss(const MlpParams& p, const MatrixD& x, const std::vector<int>& targets);

// ∂MlpLoss/∂(w1, b1, w2, b2), summed example by example and path by path:
//   ∂L/∂w1(d, f) = (1/B) Σ_b Σ_v (p(b, v) - y(b, v))·w2(f, v)·h(b, f)·(1 - h(b, f))·x(b, d)
// with p the softmax of the logits and y the one-hot targets.
MlpParams MlpGradients(const MlpParams& p, const MatrixD& x, const std::vector<int>& targets);

// Mean over all entries of -[y log σ(z) + (1 - y) log(1 - σ(z))], each term as
// max(z, 0) - y·z + log(1 + e^(-|z|)).
double BinaryCrossEntropy(const MatrixD& logits, const MatrixD& targets);

// max(0, x) entry by entry.
MatrixD Relu(const MatrixD& inp);

// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
MatrixD Gelu(const MatrixD& inp);

// dout ⊙ gelu'(inp) for the same tanh form.
MatrixD GeluBackward(const MatrixD& dout, const MatrixD& inp);

// dinp(b, i) = Σ_j dout(b, j)·J_b(j, i) with the softmax Jacobian
// J_b(j, i) = ∂out(b, j)/∂inp(b, i) = p_j·(δ_ij - p_i), built entry by entry.
MatrixD SoftmaxBackward(const MatrixD& dout, const MatrixD& inp);

// Row layer norm: weight ⊙ (x - μ)/√(σ² + eps) + bias, σ² the mean squared deviation.
MatrixD LayerNorm(const MatrixD& inp, const MatrixD& weight, const MatrixD& bias, double eps);

// Gradients of LayerNorm given dout, dinp through the full per-row Jacobian
// ∂out_j/∂x_i = weight_j·rstd·(δ_ij - 1/D - x̂_i·x̂_j/D).
struct LayerNormGradients {
  MatrixD dinp;     // [B, D]
  MatrixD dweight;  // [1, D]
  MatrixD dbias;    // [1, D]
};
LayerNormGradients LayerNormBackward(const MatrixD& dout, const MatrixD& inp, const MatrixD& weight,
                                     double eps);

}  // namespace llmk::reference::backprop
