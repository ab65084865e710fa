// Kata 05: backpropagation by hand. The chain rule through a two-layer network,
// cross-entropy and its gradient, a central-difference gradient checker, the backward
// passes of the layers a transformer is made of, and gradient descent that learns XOR.
//
// The API of the kata. The stubs (katas/05_backprop/backprop.cc) and the solution
// (solutions/05_backprop/backprop.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   MlpActivations a = backprop::MlpForward(net, x);                  // step 1
//   double loss = backprop::CrossEntropyLoss(a.logits, targets);      // step 2
//   MatrixD g = backprop::NumericalGradient(f, w, 1e-5);              // step 3
//   MatrixD dlogits = backprop::SoftmaxCrossEntropyBackward(a.logits, targets);  // step 4
//   MlpGrads grads = backprop::MlpBackward(net, x, a, targets);       // step 5
//   net = backprop::SgdStep(net, grads, 0.5);                         // step 6
//   std::vector<double> losses = backprop::Train(x, targets, 2.0, 300, &net);  // step 9
//
// B = batch (rows; one example or one token per row), D = input width,
// F = hidden width, V = number of classes (the vocabulary in a language model).
//
// Everything is in double precision (llmk::MatrixD): the gradient checker of step 3
// compares analytic gradients with finite differences, which lose about half of the
// digits of the arithmetic they run in; README.md, Step 3, has the numbers.
//
// Naming follows llm.c: a layer comes as a Forward/Backward pair with the same argument
// names; a gradient is named after what it differentiates: dout = ∂L/∂out (given),
// dinp = ∂L/∂inp, dweight = ∂L/∂weight, dbias = ∂L/∂bias (returned). Every loss is a
// mean (over the batch, or over all entries for binary cross-entropy), so every
// gradient of a loss carries the matching 1/B.
//
// Errors: a shape that does not fit, an empty batch, a class index outside [0, V), a
// binary target outside [0, 1], a bad step size or learning rate, throw
// llmk::InvalidArgument whose message names the function, the argument, what was
// expected and what was given.
#pragma once

#include <functional>
#include <vector>

#include "llmk/core.h"

namespace llmk::backprop {

// Read-only view of a MatrixD, a block of one, or a mapped buffer.
using MatrixDRef = Eigen::Ref<const MatrixD>;

// ---------------------------------------------------------------------------------
// Step 1: the forward pass of a two-layer network.

// Computes the affine map out = inp · weight + bias, bias added to every row.
//   inp [B, D], weight [D, F], bias [1, F] -> out [B, F]. B, D, F >= 1.
MatrixD LinearForward(const MatrixDRef& inp, const MatrixDRef& weight, const MatrixDRef& bias);

// Computes the logistic sigmoid σ(z) = 1 / (1 + e^(-z)) of every entry; finite and in
// [0, 1] for any finite z (±1000 included).   inp [B, D] -> out [B, D], B, D >= 1.
MatrixD SigmoidForward(const MatrixDRef& inp);

// The parameters of the two-layer network x -> sigmoid(x·w1 + b1)·w2 + b2.
struct Mlp {
  MatrixD w1;  // [D, F]
  MatrixD b1;  // [1, F]
  MatrixD w2;  // [F, V]
  MatrixD b2;  // [1, V]
};

// What the forward pass computed, kept for the backward pass.
struct MlpActivations {
  MatrixD z1;      // [B, F] hidden pre-activation x·w1 + b1
  MatrixD h;       // [B, F] hidden activation sigmoid(z1)
  MatrixD logits;  // [B, V] output scores h·w2 + b2
};

// Runs the network on a batch: z1 = x·w1 + b1, h = sigmoid(z1), logits = h·w2 + b2.
// x [B, D] with B >= 1; the shapes of net must chain: w1 [D, F], b1 [1, F],
// w2 [F, V], b2 [1, V].
MlpActivations MlpForward(const Mlp& net, const MatrixDRef& x);

// ---------------------------------------------------------------------------------
// Step 2: softmax and the cross-entropy loss.

// Row softmax: p(b, j) = exp(z(b, j) - m_b) / Σ_k exp(z(b, k) - m_b), m_b = max of row b.
// Finite for logits of any finite size (±1000 and beyond).
//   logits [B, V] -> probs [B, V], B, V >= 1.
MatrixD Softmax(const MatrixDRef& logits);

// Categorical cross-entropy of the softmax of each row against a class index, averaged
// over the batch: L = (1/B) Σ_b -log softmax(logits)(b, targets[b]), computed as
// log Σ_k exp(z(b, k)) - z(b, targets[b]) with the row max taken out, so it is finite
// (and correct) for logits of ±1000.
//   logits [B, V], targets: B class indices, each in [0, V). B, V >= 1.
double CrossEntropyLoss(const MatrixDRef& logits, const std::vector<int>& targets);

// The loss a language model trains on: row t of logits scores the token that follows
// tokens[0..t], so the target of row t is tokens[t + 1], and the loss is the mean over
// t of -log p_t(tokens[t + 1]).
//   logits [T, V], tokens: T + 1 ids in [0, V). T, V >= 1.
double NextTokenLoss(const MatrixDRef& logits, const std::vector<int>& tokens);

// ---------------------------------------------------------------------------------
// Step 3: a central-difference gradient checker.

// A scalar function of a matrix, such as a loss as a function of one weight matrix.
using ScalarFunction = std::function<double(const MatrixD&)>;

// Estimates ∂f/∂x entry by entry with central differences:
//   g(i, j) = (f(x + step·E_ij) - f(x - step·E_ij)) / (2·step),
// E_ij being 1 at (i, j) and 0 elsewhere. f is called 2·x.size() times, each time with
// a matrix equal to x except for one entry moved by +step or -step; x is not modified.
//   x [r, c] with r, c >= 1; step > 0 and finite; f not empty. Returns [r, c].
MatrixD NumericalGradient(const ScalarFunction& f, const MatrixDRef& x, double step);

// ---------------------------------------------------------------------------------
// Step 4: the gradient of softmax cross-entropy.

// ∂L/∂logits of CrossEntropyLoss(logits, targets): (softmax(logits) - onehot(targets)) / B.
// Finite for logits of ±1000.
//   logits [B, V], targets as in CrossEntropyLoss -> dlogits [B, V].
MatrixD SoftmaxCrossEntropyBackward(const MatrixDRef& logits, const std::vector<int>& targets);

// ---------------------------------------------------------------------------------
// Step 5: the backward pass, gradient by gradient.

// The gradients of a LinearForward, given dout = ∂L/∂out.
struct LinearGrads {
  MatrixD dinp;     // [B, D] = dout · weightᵀ
  MatrixD dweight;  // [D, F] = inpᵀ · dout
  MatrixD dbias;    // [1, F] = Σ_b dout(b, :)
};

// Backward of out = inp · weight + bias.
//   dout [B, F], inp [B, D], weight [D, F]; B, D, F >= 1.
LinearGrads LinearBackward(const MatrixDRef& dout, const MatrixDRef& inp, const MatrixDRef& weight);

// Backward of out = sigmoid(inp), written with the forward's output:
// dinp = dout ⊙ out ⊙ (1 - out).   dout [B, D], out [B, D] -> dinp [B, D].
MatrixD SigmoidBackward(const MatrixDRef& dout, const MatrixDRef& out);

// Every gradient of the network's loss CrossEntropyLoss(MlpForward(net, x).logits, targets),
// in the order the chain rule produces them.
struct MlpGrads {
  MatrixD dlogits;  // [B, V] ∂L/∂logits
  MatrixD dw2;      // [F, V] ∂L/∂w2
  MatrixD db2;      // [1, V] ∂L/∂b2
  MatrixD dh;       // [B, F] ∂L/∂h
  MatrixD dz1;      // [B, F] ∂L/∂z1
  MatrixD dw1;      // [D, F] ∂L/∂w1
  MatrixD db1;      // [1, F] ∂L/∂b1
};

// The backward pass of the network: from acts = MlpForward(net, x) and the targets,
// every gradient of MlpGrads. Shapes as in MlpForward; acts must have the shapes
// MlpForward gives; targets as in CrossEntropyLoss.
MlpGrads MlpBackward(const Mlp& net, const MatrixDRef& x, const MlpActivations& acts,
                     const std::vector<int>& targets);

// ---------------------------------------------------------------------------------
// Step 6: one step of gradient descent.

// Returns the parameters after one step: every parameter p becomes p - learning_rate·dp,
// with dp its gradient in grads (dw1, db1, dw2, db2; the other members are not used).
// grads' parameter gradients must have the shapes of net's parameters;
// learning_rate >= 0 and finite.
Mlp SgdStep(const Mlp& net, const MlpGrads& grads, double learning_rate);

// ---------------------------------------------------------------------------------
// Step 7: binary cross-entropy.

// Binary cross-entropy of independent yes/no predictions, averaged over all B·K entries:
//   L = mean of -[y·log σ(z) + (1 - y)·log(1 - σ(z))] = mean of softplus(z) - y·z,
// computed without overflow or log(0) for logits of ±1000.
//   logits [B, K], targets [B, K] with every entry in [0, 1]. B, K >= 1.
double BinaryCrossEntropyLoss(const MatrixDRef& logits, const MatrixDRef& targets);

// ∂L/∂logits of BinaryCrossEntropyLoss: (σ(z) - y) / (B·K).   -> dlogits [B, K].
MatrixD BinaryCrossEntropyBackward(const MatrixDRef& logits, const MatrixDRef& targets);

// ---------------------------------------------------------------------------------
// Step 8: forward/backward pairs of ReLU, GELU, softmax and layer norm.
// Every input is [B, D] with B, D >= 1; every dout has the shape of the forward output.

// out = max(0, inp), entry by entry.
MatrixD ReluForward(const MatrixDRef& inp);
// dinp = dout where inp > 0, 0 where inp <= 0 (the kink at 0 gets gradient 0).
MatrixD ReluBackward(const MatrixDRef& dout, const MatrixDRef& inp);

// GELU in the tanh approximation GPT-2 uses (not the exact erf form):
//   gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
MatrixD GeluForward(const MatrixDRef& inp);
// dinp = dout ⊙ gelu'(inp), the derivative of that same tanh form.
MatrixD GeluBackward(const MatrixDRef& dout, const MatrixDRef& inp);

// Backward of the row softmax out = Softmax(inp), written with its output:
//   dinp(b, i) = out(b, i)·(dout(b, i) - Σ_j dout(b, j)·out(b, j)).
MatrixD SoftmaxBackward(const MatrixDRef& dout, const MatrixDRef& out);

// What LayerNormForward computed, per row.
struct LayerNormOutput {
  MatrixD out;   // [B, D] weight ⊙ (inp - mean)·rstd + bias
  MatrixD mean;  // [B, 1] mean of each row
  MatrixD rstd;  // [B, 1] 1 / √(variance + eps), variance = mean of (inp - mean)² (÷D)
};

// Layer normalization of every row, then a per-column scale and shift.
//   inp [B, D], weight [1, D], bias [1, D], eps > 0.
LayerNormOutput LayerNormForward(const MatrixDRef& inp, const MatrixDRef& weight,
                                 const MatrixDRef& bias, double eps = 1e-5);

// The gradients of a LayerNormForward, given dout = ∂L/∂out.
struct LayerNormGrads {
  MatrixD dinp;     // [B, D]
  MatrixD dweight;  // [1, D]
  MatrixD dbias;    // [1, D]
};

// Backward of layer norm, from the forward's inputs and its saved mean and rstd.
//   dout [B, D], inp [B, D], weight [1, D], mean [B, 1], rstd [B, 1].
LayerNormGrads LayerNormBackward(const MatrixDRef& dout, const MatrixDRef& inp,
                                 const MatrixDRef& weight, const MatrixDRef& mean,
                                 const MatrixDRef& rstd);

// ---------------------------------------------------------------------------------
// Step 9: training.

// Full-batch gradient descent on (x, targets): `steps` times MlpForward,
// MlpBackward, SgdStep with learning_rate, updating *net in place. Returns steps + 1
// losses: entry k is CrossEntropyLoss before step k, the last one the loss after the
// final step. x, targets as in MlpForward and CrossEntropyLoss; steps >= 0;
// learning_rate >= 0 and finite; net not null.
std::vector<double> Train(const MatrixDRef& x, const std::vector<int>& targets,
                          double learning_rate, int steps, Mlp* net);

}  // namespace llmk::backprop
