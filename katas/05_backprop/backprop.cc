// Your implementation of backprop.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 05` after each change.
//
// Validate inputs first: a shape that does not fit, an empty batch or a class index
// out of range throws llmk::InvalidArgument naming the argument and what was wrong
// (llmk::RequireShape and llmk::Require in llmk/core.h build such messages for you).
#include "backprop.h"

namespace llmk::backprop {

// Step 1: inp · weight + bias (bias added to every row).
MatrixD LinearForward(const MatrixDRef& inp, const MatrixDRef& weight, const MatrixDRef& bias) {
  throw NotImplemented("LinearForward");
}

// Step 1: 1 / (1 + e^(-z)) entry by entry.
MatrixD SigmoidForward(const MatrixDRef& inp) { throw NotImplemented("SigmoidForward"); }

// Step 1: z1 = x·w1 + b1, h = sigmoid(z1), logits = h·w2 + b2.
MlpActivations MlpForward(const Mlp& net, const MatrixDRef& x) {
  throw NotImplemented("MlpForward");
}

// Step 2: row softmax; subtract each row's max before exp.
MatrixD Softmax(const MatrixDRef& logits) { throw NotImplemented("Softmax"); }

// Step 2: mean over rows of log Σ exp(z) - z[target], with the row max taken out.
double CrossEntropyLoss(const MatrixDRef& logits, const std::vector<int>& targets) {
  throw NotImplemented("CrossEntropyLoss");
}

// Step 2: row t predicts tokens[t + 1].
double NextTokenLoss(const MatrixDRef& logits, const std::vector<int>& tokens) {
  throw NotImplemented("NextTokenLoss");
}

// Step 3: (f(x + h·E_ij) - f(x - h·E_ij)) / 2h for every entry.
MatrixD NumericalGradient(const ScalarFunction& f, const MatrixDRef& x, double step) {
  throw NotImplemented("NumericalGradient");
}

// Step 4: (softmax - onehot) / B.
MatrixD SoftmaxCrossEntropyBackward(const MatrixDRef& logits, const std::vector<int>& targets) {
  throw NotImplemented("SoftmaxCrossEntropyBackward");
}

// Step 5: dinp = dout·weightᵀ, dweight = inpᵀ·dout, dbias = column sums of dout.
LinearGrads LinearBackward(const MatrixDRef& dout, const MatrixDRef& inp,
                           const MatrixDRef& weight) {
  throw NotImplemented("LinearBackward");
}

// Step 5: dout ⊙ out ⊙ (1 - out).
MatrixD SigmoidBackward(const MatrixDRef& dout, const MatrixDRef& out) {
  throw NotImplemented("SigmoidBackward");
}

// Step 5: dlogits, then the output layer, the sigmoid, the hidden layer.
MlpGrads MlpBackward(const Mlp& net, const MatrixDRef& x, const MlpActivations& acts,
                     const std::vector<int>& targets) {
  throw NotImplemented("MlpBackward");
}

// Step 6: p - learning_rate · dp for every parameter.
Mlp SgdStep(const Mlp& net, const MlpGrads& grads, double learning_rate) {
  throw NotImplemented("SgdStep");
}

// Step 7: mean of softplus(z) - y·z, softplus written so it cannot overflow.
double BinaryCrossEntropyLoss(const MatrixDRef& logits, const MatrixDRef& targets) {
  throw NotImplemented("BinaryCrossEntropyLoss");
}

// Step 7: (σ(z) - y) / (B·K).
MatrixD BinaryCrossEntropyBackward(const MatrixDRef& logits, const MatrixDRef& targets) {
  throw NotImplemented("BinaryCrossEntropyBackward");
}

// Step 8: max(0, x).
MatrixD ReluForward(const MatrixDRef& inp) { throw NotImplemented("ReluForward"); }

// Step 8: dout where inp > 0.
MatrixD ReluBackward(const MatrixDRef& dout, const MatrixDRef& inp) {
  throw NotImplemented("ReluBackward");
}

// Step 8: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
MatrixD GeluForward(const MatrixDRef& inp) { throw NotImplemented("GeluForward"); }

// Step 8: dout ⊙ gelu'(inp).
MatrixD GeluBackward(const MatrixDRef& dout, const MatrixDRef& inp) {
  throw NotImplemented("GeluBackward");
}

// Step 8: out ⊙ (dout - row sum of dout ⊙ out).
MatrixD SoftmaxBackward(const MatrixDRef& dout, const MatrixDRef& out) {
  throw NotImplemented("SoftmaxBackward");
}

// Step 8: normalize each row, then scale by weight and shift by bias.
LayerNormOutput LayerNormForward(const MatrixDRef& inp, const MatrixDRef& weight,
                                 const MatrixDRef& bias, double eps) {
  throw NotImplemented("LayerNormForward");
}

// Step 8: dweight, dbias by column sums; dinp through the normalization.
LayerNormGrads LayerNormBackward(const MatrixDRef& dout, const MatrixDRef& inp,
                                 const MatrixDRef& weight, const MatrixDRef& mean,
                                 const MatrixDRef& rstd) {
  throw NotImplemented("LayerNormBackward");
}

// Step 9: forward, loss, backward, update, `steps` times.
std::vector<double> Train(const MatrixDRef& x, const std::vector<int>& targets,
                          double learning_rate, int steps, Mlp* net) {
  throw NotImplemented("Train");
}

}  // namespace llmk::backprop
