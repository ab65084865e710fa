// Solution of kata 03: why √d_k. Each function validates its arguments, then
// follows the README step it names.
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "scaling.h"

namespace llmk::scaling {
namespace {

void RequireDk(std::string_view where, int d_k) {
  Require(d_k >= 1, where, fmt::format("d_k must be at least 1, got {}", d_k));
}

void RequireSamples(std::string_view where, int num_samples) {
  Require(num_samples >= 1, where,
          fmt::format("num_samples must be at least 1, got {}", num_samples));
}

void RequireLogits(std::string_view where, std::string_view name, const Eigen::VectorXd& v) {
  Require(v.size() >= 1, where,
          fmt::format("{} is empty; a softmax row needs at least one entry", name));
}

// Steps 2 and 5: mean of (scale · q·k)², q then k drawn per sample.
double MeanSquaredDot(int d_k, int num_samples, Rng& rng, double scale) {
  Eigen::VectorXd q(d_k);
  Eigen::VectorXd k(d_k);
  double sum = 0.0;
  for (int s = 0; s < num_samples; ++s) {
    for (Eigen::Index i = 0; i < d_k; ++i) q(i) = rng.Normal();
    for (Eigen::Index i = 0; i < d_k; ++i) k(i) = rng.Normal();
    const double score = scale * q.dot(k);
    sum += score * score;
  }
  return sum / num_samples;
}

// Step 3: the shifted exponentials e_j = exp(z_j - max) of a row. Their sum is
// 1 + rest, where rest sums every term but the (first) maximum's e = 1; keeping
// rest apart lets ln(sum) and 1 - p_max keep their accuracy when rest is tiny.
struct Shifted {
  Eigen::VectorXd e;
  Eigen::Index arg_max = 0;
  double rest = 0.0;
};

Shifted Shift(const Eigen::VectorXd& logits) {
  Shifted s;
  const double max = logits.maxCoeff(&s.arg_max);
  // std::exp, not Eigen's .exp(): Eigen 3.4's vectorized exp clamps its argument,
  // so exp(-1e4) would come out as 5.6e-309 instead of 0.
  s.e.resize(logits.size());
  for (Eigen::Index j = 0; j < logits.size(); ++j) {
    s.e(j) = std::exp(logits(j) - max);
    if (j != s.arg_max) s.rest += s.e(j);
  }
  return s;
}

}  // namespace

// Step 1: Var(q·k) = Σ_i Var(q_i k_i) = d_k · var_q · var_k.
double DotProductVariance(int d_k, double var_q, double var_k) {
  RequireDk("DotProductVariance", d_k);
  Require(var_q >= 0, "DotProductVariance",
          fmt::format("var_q must be non-negative, got {}", var_q));
  Require(var_k >= 0, "DotProductVariance",
          fmt::format("var_k must be non-negative, got {}", var_k));
  return d_k * var_q * var_k;
}

// Step 2: mean of (q·k)².
double SampleDotProductVariance(int d_k, int num_samples, Rng& rng) {
  RequireDk("SampleDotProductVariance", d_k);
  RequireSamples("SampleDotProductVariance", num_samples);
  return MeanSquaredDot(d_k, num_samples, rng, 1.0);
}

// Step 2: Var(X²) = E[X⁴] - E[X²]² = (3d² + 6d) - d², divided by n.
double SampleVarianceStdDev(int d_k, int num_samples) {
  RequireDk("SampleVarianceStdDev", d_k);
  RequireSamples("SampleVarianceStdDev", num_samples);
  const double d = d_k;
  return std::sqrt((2.0 * d * d + 6.0 * d) / num_samples);
}

// Step 3: p = e / Σ e with e = exp(z - max).
Eigen::VectorXd Softmax(const Eigen::VectorXd& logits) {
  RequireLogits("Softmax", "logits", logits);
  const Shifted s = Shift(logits);
  return s.e / (1.0 + s.rest);
}

// Step 3: the maximum's e is 1, so its weight is 1 / Σ e.
double MaxWeight(const Eigen::VectorXd& logits) {
  RequireLogits("MaxWeight", "logits", logits);
  return 1.0 / (1.0 + Shift(logits).rest);
}

// Step 3: ln p_j = (z_j - max) - ln Σ e, so H = ln Σ e - Σ_j p_j (z_j - max);
// no ln 0 even where p_j underflows to 0.
double Entropy(const Eigen::VectorXd& logits) {
  RequireLogits("Entropy", "logits", logits);
  const Shifted s = Shift(logits);
  const double log_sum = std::log1p(s.rest);
  const Eigen::VectorXd p = s.e / (1.0 + s.rest);
  const double max = logits(s.arg_max);
  double h = log_sum;
  for (Eigen::Index j = 0; j < p.size(); ++j) h -= p(j) * (logits(j) - max);
  return h;
}

// Step 4: J = diag(p) - p·pᵀ. On the diagonal p_i (1 - p_i); for the largest
// weight 1 - p_max is rest / (1 + rest), not a difference of nearly equal numbers.
MatrixD SoftmaxJacobian(const Eigen::VectorXd& logits) {
  RequireLogits("SoftmaxJacobian", "logits", logits);
  const Shifted s = Shift(logits);
  const Eigen::VectorXd p = s.e / (1.0 + s.rest);
  MatrixD jac(p.size(), p.size());
  jac.noalias() = -p * p.transpose();
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    const double one_minus_p = (i == s.arg_max) ? s.rest / (1.0 + s.rest) : 1.0 - p(i);
    jac(i, i) = p(i) * one_minus_p;
  }
  return jac;
}

// Step 4: ‖J‖_F, scaled internally so that tiny entries do not underflow when squared.
double JacobianNorm(const Eigen::VectorXd& logits) {
  RequireLogits("JacobianNorm", "logits", logits);
  return SoftmaxJacobian(logits).stableNorm();
}

// Step 5: scores / √d_k.
Eigen::VectorXd ScaleScores(const Eigen::VectorXd& scores, int d_k) {
  RequireLogits("ScaleScores", "scores", scores);
  RequireDk("ScaleScores", d_k);
  return scores / std::sqrt(static_cast<double>(d_k));
}

// Step 5: mean of (q·k / √d_k)².
double SampleScaledScoreVariance(int d_k, int num_samples, Rng& rng) {
  RequireDk("SampleScaledScoreVariance", d_k);
  RequireSamples("SampleScaledScoreVariance", num_samples);
  return MeanSquaredDot(d_k, num_samples, rng, 1.0 / std::sqrt(static_cast<double>(d_k)));
}

}  // namespace llmk::scaling
