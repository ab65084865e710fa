#include "attention_ref.h"

#include <cmath>
#include <limits>

namespace llmk::reference {

MatrixD MatMul(const MatrixD& a, const MatrixD& b) {
  MatrixD c(a.rows(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.cols(); ++j) {
      double sum = 0.0;
      for (Eigen::Index p = 0; p < a.cols(); ++p) sum += a(i, p) * b(p, j);
      c(i, j) = sum;
    }
  }
  return c;
}

MatrixD SoftmaxRows(const MatrixD& z) {
  MatrixD p(z.rows(), z.cols());
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    double max = -std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < z.cols(); ++j) max = std::max(max, z(i, j));
    double sum = 0.0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      p(i, j) = std::exp(z(i, j) - max);
      sum += p(i, j);
    }
    for (Eigen::Index j = 0; j < z.cols(); ++j) p(i, j) /= sum;
  }
  return p;
}

MatrixD Attention(const MatrixD& q, const MatrixD& k, const MatrixD& v) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.cols()));
  MatrixD scores(q.rows(), k.rows());
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    for (Eigen::Index j = 0; j < k.rows(); ++j) {
      double dot = 0.0;
      for (Eigen::Index p = 0; p < q.cols(); ++p) dot += q(i, p) * k(j, p);
      scores(i, j) = dot * scale;
    }
  }
  return MatMul(SoftmaxRows(scores), v);
}

MatrixD MultiHeadAttention(const MatrixD& x, const MatrixD& wq, const MatrixD& wk,
                           const MatrixD& wv, const MatrixD& wo, int num_heads,
                           int num_kv_heads) {
  const Eigen::Index d = wq.cols() / num_heads;
  const MatrixD q = MatMul(x, wq);
  const MatrixD k = MatMul(x, wk);
  const MatrixD v = MatMul(x, wv);
  const int group = num_heads / num_kv_heads;
  MatrixD concat(x.rows(), num_heads * d);
  for (int h = 0; h < num_heads; ++h) {
    const int g = h / group;
    const MatrixD qh = q.middleCols(h * d, d);
    const MatrixD kh = k.middleCols(g * d, d);
    const MatrixD vh = v.middleCols(g * d, d);
    concat.middleCols(h * d, d) = Attention(qh, kh, vh);
  }
  return MatMul(concat, wo);
}

}  // namespace llmk::reference
