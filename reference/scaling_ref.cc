#include "scaling_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace llmk::reference::scaling {

double MeanSquaredDot(int d_k, int n, Rng& rng, double scale) {
  std::vector<double> q(static_cast<size_t>(d_k));
  std::vector<double> k(static_cast<size_t>(d_k));
  double sum = 0.0;
  for (int s = 0; s < n; ++s) {
    for (double& x : q) x = rng.Normal();
    for (double& x : k) x = rng.Normal();
    double dot = 0.0;
    for (size_t i = 0; i < q.size(); ++i) dot += q[i] * k[i];
    dot *= scale;
    sum += dot * dot;
  }
  return sum / n;
}

double MeanSquaredDotStdDev(int d_k, int n) {
  const double d = d_k;
  const double fourth_moment = 9.0 * d + 3.0 * d * (d - 1.0);  // E[X⁴]
  const double second_moment = d;                               // E[X²]
  return std::sqrt((fourth_moment - second_moment * second_moment) / n);
}

Eigen::VectorXd Softmax(const Eigen::VectorXd& logits) {
  double max = -std::numeric_limits<double>::infinity();
  for (Eigen::Index j = 0; j < logits.size(); ++j) max = std::max(max, logits(j));
  Eigen::VectorXd p(logits.size());
  double sum = 0.0;
  for (Eigen::Index j = 0; j < logits.size(); ++j) {
    p(j) = std::exp(logits(j) - max);
    sum += p(j);
  }
  for (Eigen::Index j = 0; j < logits.size(); ++j) p(j) /= sum;
  return p;
}

Eigen::VectorXd LogSoftmax(const Eigen::VectorXd& logits) {
  Eigen::Index arg_max = 0;
  for (Eigen::Index j = 1; j < logits.size(); ++j) {
    if (logits(j) > logits(arg_max)) arg_max = j;
  }
  const double max = logits(arg_max);
  double rest = 0.0;  // Σ over l ≠ arg_max of exp(z_l - max); the sum is 1 + rest
  for (Eigen::Index j = 0; j < logits.size(); ++j) {
    if (j != arg_max) rest += std::exp(logits(j) - max);
  }
  const double log_sum = std::log1p(rest);
  Eigen::VectorXd log_p(logits.size());
  for (Eigen::Index j = 0; j < logits.size(); ++j) log_p(j) = (logits(j) - max) - log_sum;
  return log_p;
}

double Entropy(const Eigen::VectorXd& logits) {
  const Eigen::VectorXd p = Softmax(logits);
  const Eigen::VectorXd log_p = LogSoftmax(logits);
  double h = 0.0;
  for (Eigen::Index j = 0; j < p.size(); ++j) h -= p(j) * log_p(j);
  return h;
}

MatrixD SoftmaxJacobian(const Eigen::VectorXd& logits) {
  const Eigen::VectorXd p = Softmax(logits);
  MatrixD jac(p.size(), p.size());
  for (Eigen::Index r = 0; r < p.size(); ++r) {
    for (Eigen::Index c = 0; c < p.size(); ++c) {
      if (r != c) {
        jac(r, c) = -p(r) * p(c);
        continue;
      }
      double others = 0.0;  // 1 - p_r
      for (Eigen::Index l = 0; l < p.size(); ++l) {
        if (l != r) others += p(l);
      }
      jac(r, r) = p(r) * others;
    }
  }
  return jac;
}

double FrobeniusNorm(const MatrixD& m) {
  double largest = 0.0;
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) largest = std::max(largest, std::abs(m(r, c)));
  }
  if (largest == 0.0) return 0.0;
  double sum = 0.0;
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) {
      const double x = m(r, c) / largest;
      sum += x * x;
    }
  }
  return largest * std::sqrt(sum);
}

}  // namespace llmk::reference::scaling
