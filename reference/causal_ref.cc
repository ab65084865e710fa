#include "causal_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmk::reference::causal {

Allowed CausalAllowed(int num_tokens) {
  Allowed allowed(num_tokens, num_tokens);
  for (int i = 0; i < num_tokens; ++i) {
    for (int j = 0; j < num_tokens; ++j) allowed(i, j) = j <= i;
  }
  return allowed;
}

MatrixD MaskedSoftmaxRows(const MatrixD& z, const Allowed& allowed) {
  MatrixD p = MatrixD::Zero(z.rows(), z.cols());
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    bool any = false;
    double max = -std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      if (!allowed(i, j)) continue;
      any = true;
      max = std::max(max, z(i, j));
    }
    if (!any) continue;  // nothing to attend to: the row stays 0
    double sum = 0.0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      if (!allowed(i, j)) continue;
      p(i, j) = std::exp(z(i, j) - max);
      sum += p(i, j);
    }
    for (Eigen::Index j = 0; j < z.cols(); ++j) p(i, j) /= sum;
  }
  return p;
}

MatrixD MaskedAttention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                        const Allowed& allowed, MatrixD* weights) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.cols()));
  MatrixD scores(q.rows(), k.rows());
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    for (Eigen::Index j = 0; j < k.rows(); ++j) {
      double dot = 0.0;
      for (Eigen::Index c = 0; c < q.cols(); ++c) dot += q(i, c) * k(j, c);
      scores(i, j) = dot * scale;
    }
  }
  const MatrixD p = MaskedSoftmaxRows(scores, allowed);
  MatrixD out = MatrixD::Zero(q.rows(), v.cols());
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    for (Eigen::Index c = 0; c < v.cols(); ++c) {
      double sum = 0.0;
      for (Eigen::Index j = 0; j < k.rows(); ++j) sum += p(i, j) * v(j, c);
      out(i, c) = sum;
    }
  }
  if (weights != nullptr) *weights = p;
  return out;
}

}  // namespace llmk::reference::causal
