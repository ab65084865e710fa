// Your implementation of scaling.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 03` after each change.
//
// Validate inputs first: a bad argument throws llmk::InvalidArgument naming the
// argument and its value (llmk::Require in llmk/core.h builds such messages).
#include "scaling.h"

namespace llmk::scaling {

// Step 1: d_k · var_q · var_k.
double DotProductVariance(int d_k, double var_q, double var_k) {
  throw NotImplemented("DotProductVariance");
}

// Step 2: mean of (q·k)² over num_samples pairs; per sample draw q, then k.
double SampleDotProductVariance(int d_k, int num_samples, Rng& rng) {
  throw NotImplemented("SampleDotProductVariance");
}

// Step 2: sqrt((2·d_k² + 6·d_k) / num_samples).
double SampleVarianceStdDev(int d_k, int num_samples) {
  throw NotImplemented("SampleVarianceStdDev");
}

// Step 3: subtract the max before exp.
Eigen::VectorXd Softmax(const Eigen::VectorXd& logits) {
  throw NotImplemented("Softmax");
}

// Step 3: the largest entry of softmax(logits).
double MaxWeight(const Eigen::VectorXd& logits) {
  throw NotImplemented("MaxWeight");
}

// Step 3: -Σ p ln p in nats, with 0 · ln 0 = 0.
double Entropy(const Eigen::VectorXd& logits) {
  throw NotImplemented("Entropy");
}

// Step 4: diag(p) - p·pᵀ.
MatrixD SoftmaxJacobian(const Eigen::VectorXd& logits) {
  throw NotImplemented("SoftmaxJacobian");
}

// Step 4: sqrt(Σ_ij J(i, j)²).
double JacobianNorm(const Eigen::VectorXd& logits) {
  throw NotImplemented("JacobianNorm");
}

// Step 5: scores / √d_k.
Eigen::VectorXd ScaleScores(const Eigen::VectorXd& scores, int d_k) {
  throw NotImplemented("ScaleScores");
}

// Step 5: mean of (q·k / √d_k)², drawn as in SampleDotProductVariance.
double SampleScaledScoreVariance(int d_k, int num_samples, Rng& rng) {
  throw NotImplemented("SampleScaledScoreVariance");
}

}  // namespace llmk::scaling
