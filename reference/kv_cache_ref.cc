// Reference of kata 07, in double with loops; see kv_cache_ref.h.
#include "kv_cache_ref.h"

#include <cmath>
#include <algorithm>
#include <cstddef>

namespace llmk::reference {
namespace {

MatrixD Product(const MatrixD& a, const MatrixD& b) {
  MatrixD out = MatrixD::Zero(a.rows(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.cols(); ++j) {
      double sum = 0.0;
      for (Eigen::Index k = 0; k < a.cols(); ++k) sum += a(i, k) * b(k, j);
      out(i, j) = sum;
    }
  }
  return out;
}

// y = γ ⊙ x / √(mean(x²) + 1e-5), per row.
MatrixD RmsNormD(const MatrixD& x, const MatrixD& gamma) {
  MatrixD y(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    double sum_sq = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j) sum_sq += x(i, j) * x(i, j);
    const double inv = 1.0 / std::sqrt(sum_sq / static_cast<double>(x.cols()) + 1e-5);
    for (Eigen::Index j = 0; j < x.cols(); ++j) y(i, j) = gamma(0, j) * x(i, j) * inv;
  }
  return y;
}

// gelu(u) = 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))
double Gelu(double u) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * u * (1.0 + std::tanh(k * (u + 0.044715 * u * u * u)));
}

}  // namespace

MatrixD CausalGroupedAttention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                               int num_heads, int num_kv_heads) {
  const Eigen::Index d = q.cols() / num_heads;
  const int group = num_heads / num_kv_heads;
  MatrixD out = MatrixD::Zero(q.rows(), q.cols());
  for (int h = 0; h < num_heads; ++h) {
    const Eigen::Index qc = h * d;
    const Eigen::Index kc = (h / group) * d;
    for (Eigen::Index t = 0; t < q.rows(); ++t) {
      std::vector<double> s(static_cast<size_t>(t + 1));
      double m = -INFINITY;
      for (Eigen::Index j = 0; j <= t; ++j) {
        double dot = 0.0;
        for (Eigen::Index c = 0; c < d; ++c) dot += q(t, qc + c) * k(j, kc + c);
        s[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(d));
        m = std::max(m, s[static_cast<size_t>(j)]);
      }
      double total = 0.0;
      for (double& e : s) total += (e = std::exp(e - m));
      for (Eigen::Index j = 0; j <= t; ++j) {
        for (Eigen::Index c = 0; c < d; ++c) {
          out(t, qc + c) += s[static_cast<size_t>(j)] / total * v(j, kc + c);
        }
      }
    }
  }
  return out;
}

MatrixD DecoderLogits(const std::vector<int>& ids, const DecoderD& model) {
  const Eigen::Index t_count = static_cast<Eigen::Index>(ids.size());
  MatrixD x(t_count, model.embed.cols());
  for (Eigen::Index t = 0; t < t_count; ++t) {
    x.row(t) = model.embed.row(ids[static_cast<size_t>(t)]) + model.pos_embed.row(t);
  }
  for (const DecoderLayerD& w : model.layers) {
    const MatrixD a = RmsNormD(x, w.norm1);
    const MatrixD att = CausalGroupedAttention(Product(a, w.wq), Product(a, w.wk),
                                               Product(a, w.wv), model.num_heads,
                                               model.num_kv_heads);
    x += Product(att, w.wo);
    MatrixD up = Product(RmsNormD(x, w.norm2), w.w_up);
    for (Eigen::Index i = 0; i < up.rows(); ++i) {
      for (Eigen::Index j = 0; j < up.cols(); ++j) up(i, j) = Gelu(up(i, j));
    }
    x += Product(up, w.w_down);
  }
  return Product(RmsNormD(x, model.final_norm), model.embed.transpose());
}

}  // namespace llmk::reference
