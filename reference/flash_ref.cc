#include "flash_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmk::reference::flash {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool Visible(Eigen::Index i, Eigen::Index j, Eigen::Index t, Eigen::Index n, bool causal) {
  return !causal || j <= i + (n - t);
}

// Scaled scores of head h, -inf where masked: [T, N].
MatrixD HeadScores(const MatrixD& q, const MatrixD& k, Eigen::Index h, Eigen::Index d,
                   bool causal) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  MatrixD s(q.rows(), k.rows());
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    for (Eigen::Index j = 0; j < k.rows(); ++j) {
      if (!Visible(i, j, q.rows(), k.rows(), causal)) {
        s(i, j) = -kInf;
        continue;
      }
      double dot = 0.0;
      for (Eigen::Index c = 0; c < d; ++c) dot += q(i, h * d + c) * k(j, h * d + c);
      s(i, j) = dot * scale;
    }
  }
  return s;
}

// Row softmax of s (entries -inf get 0) and each row's log Σ exp.
void SoftmaxRows(const MatrixD& s, MatrixD* p, MatrixD* lse) {
  p->resize(s.rows(), s.cols());
  lse->resize(s.rows(), 1);
  for (Eigen::Index i = 0; i < s.rows(); ++i) {
    double max = -kInf;
    for (Eigen::Index j = 0; j < s.cols(); ++j) max = std::max(max, s(i, j));
    double sum = 0.0;
    for (Eigen::Index j = 0; j < s.cols(); ++j) {
      (*p)(i, j) = s(i, j) == -kInf ? 0.0 : std::exp(s(i, j) - max);
      sum += (*p)(i, j);
    }
    for (Eigen::Index j = 0; j < s.cols(); ++j) (*p)(i, j) /= sum;
    (*lse)(i, 0) = max + std::log(sum);
  }
}

}  // namespace

MatrixD SoftmaxAverage(const MatrixD& scores, const MatrixD& values) {
  MatrixD p;
  MatrixD lse;
  SoftmaxRows(scores, &p, &lse);
  MatrixD out = MatrixD::Zero(1, values.cols());
  for (Eigen::Index j = 0; j < values.rows(); ++j) {
    for (Eigen::Index c = 0; c < values.cols(); ++c) out(0, c) += p(0, j) * values(j, c);
  }
  return out;
}

AttentionResult Attention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                          int num_heads, bool causal) {
  const Eigen::Index d = q.cols() / num_heads;
  const Eigen::Index t = q.rows();
  const Eigen::Index n = k.rows();
  AttentionResult r;
  r.out = MatrixD::Zero(t, q.cols());
  r.lse.resize(t, num_heads);
  r.weights.resize(t, num_heads * n);
  for (Eigen::Index h = 0; h < num_heads; ++h) {
    MatrixD p;
    MatrixD lse;
    SoftmaxRows(HeadScores(q, k, h, d, causal), &p, &lse);
    r.lse.col(h) = lse.col(0);
    r.weights.middleCols(h * n, n) = p;
    for (Eigen::Index i = 0; i < t; ++i) {
      for (Eigen::Index j = 0; j < n; ++j) {
        for (Eigen::Index c = 0; c < d; ++c) r.out(i, h * d + c) += p(i, j) * v(j, h * d + c);
      }
    }
  }
  return r;
}

Gradients AttentionBackward(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                            const MatrixD& dout, int num_heads, bool causal) {
  const Eigen::Index d = q.cols() / num_heads;
  const Eigen::Index t = q.rows();
  const Eigen::Index n = k.rows();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Gradients g;
  g.dq = MatrixD::Zero(t, q.cols());
  g.dk = MatrixD::Zero(n, k.cols());
  g.dv = MatrixD::Zero(n, v.cols());
  for (Eigen::Index h = 0; h < num_heads; ++h) {
    MatrixD p;
    MatrixD lse;
    SoftmaxRows(HeadScores(q, k, h, d, causal), &p, &lse);
    for (Eigen::Index i = 0; i < t; ++i) {
      // out_i = Σ_j p_ij v_j, so ∂/∂v_j += p_ij dout_i and ∂/∂p_ij = dout_i · v_j.
      std::vector<double> dp(static_cast<size_t>(n));
      for (Eigen::Index j = 0; j < n; ++j) {
        double dot = 0.0;
        for (Eigen::Index c = 0; c < d; ++c) {
          g.dv(j, h * d + c) += p(i, j) * dout(i, h * d + c);
          dot += dout(i, h * d + c) * v(j, h * d + c);
        }
        dp[static_cast<size_t>(j)] = dot;
      }
      // p_i = softmax(s_i): ∂p_ij/∂s_il = p_ij (δ_jl - p_il), the Jacobian in full.
      for (Eigen::Index l = 0; l < n; ++l) {
        double ds = 0.0;
        for (Eigen::Index j = 0; j < n; ++j) {
          const double jacobian = p(i, j) * ((j == l ? 1.0 : 0.0) - p(i, l));
          ds += dp[static_cast<size_t>(j)] * jacobian;
        }
        // s_il = q_i · k_l · scale.
        for (Eigen::Index c = 0; c < d; ++c) {
          g.dq(i, h * d + c) += ds * k(l, h * d + c) * scale;
          g.dk(l, h * d + c) += ds * q(i, h * d + c) * scale;
        }
      }
    }
  }
  return g;
}

}  // namespace llmk::reference::flash
