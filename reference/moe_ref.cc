#include "moe_ref.h"

#include <algorithm>
#include <cmath>

#include "attention_ref.h"

namespace llmk::reference::moe {

MatrixD RouterProbs(const MatrixD& x, const MatrixD& router) {
  return SoftmaxRows(MatMul(x, router));
}

std::vector<std::vector<int>> TopK(const MatrixD& probs, int k) {
  std::vector<std::vector<int>> choices(static_cast<size_t>(probs.rows()));
  for (Eigen::Index t = 0; t < probs.rows(); ++t) {
    std::vector<bool> taken(static_cast<size_t>(probs.cols()), false);
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (Eigen::Index e = 0; e < probs.cols(); ++e) {
        if (taken[static_cast<size_t>(e)]) continue;
        if (best < 0 || probs(t, e) > probs(t, best)) best = static_cast<int>(e);
      }
      taken[static_cast<size_t>(best)] = true;
      choices[static_cast<size_t>(t)].push_back(best);
    }
  }
  return choices;
}

double LoadBalancingLoss(const MatrixD& probs, const std::vector<std::vector<int>>& choices,
                         double alpha) {
  const Eigen::Index tokens = probs.rows();
  const Eigen::Index experts = probs.cols();
  double sum = 0.0;
  for (Eigen::Index i = 0; i < experts; ++i) {
    double count = 0.0;
    for (const auto& row : choices) {
      for (int e : row) count += (e == i) ? 1.0 : 0.0;
    }
    const double f = count / (static_cast<double>(tokens) * static_cast<double>(choices[0].size()));
    double p = 0.0;
    for (Eigen::Index t = 0; t < tokens; ++t) p += probs(t, i);
    sum += f * (p / static_cast<double>(tokens));
  }
  return alpha * static_cast<double>(experts) * sum;
}

MatrixD ReluFfn(const MatrixD& x, const MatrixD& w1, const MatrixD& w2) {
  MatrixD hidden = MatMul(x, w1);
  for (Eigen::Index i = 0; i < hidden.rows(); ++i) {
    for (Eigen::Index j = 0; j < hidden.cols(); ++j) hidden(i, j) = std::max(0.0, hidden(i, j));
  }
  return MatMul(hidden, w2);
}

MoeResult MoeLayer(const MatrixD& x, const MatrixD& router, const std::vector<MatrixD>& w1s,
                   const std::vector<MatrixD>& w2s, const std::vector<MatrixD>& shared_w1s,
                   const std::vector<MatrixD>& shared_w2s, int k, double capacity_factor,
                   double alpha) {
  const Eigen::Index tokens = x.rows();
  const auto experts = static_cast<Eigen::Index>(w1s.size());
  MoeResult r;
  r.probs = RouterProbs(x, router);
  r.choices = TopK(r.probs, k);
  r.gates = MatrixD(tokens, k);
  for (Eigen::Index t = 0; t < tokens; ++t) {
    double kept_mass = 0.0;
    for (int e : r.choices[static_cast<size_t>(t)]) kept_mass += r.probs(t, e);
    for (int j = 0; j < k; ++j) {
      r.gates(t, j) = r.probs(t, r.choices[static_cast<size_t>(t)][static_cast<size_t>(j)]) /
                      kept_mass;
    }
  }
  r.loss = LoadBalancingLoss(r.probs, r.choices, alpha);

  // Capacity, then slots by choice rank, then token index.
  r.capacity = static_cast<int>(std::ceil(capacity_factor * static_cast<double>(tokens) * k /
                                          static_cast<double>(experts)));
  std::vector<int> used(static_cast<size_t>(experts), 0);
  r.kept.assign(static_cast<size_t>(tokens), std::vector<bool>(static_cast<size_t>(k), false));
  for (int j = 0; j < k; ++j) {
    for (Eigen::Index t = 0; t < tokens; ++t) {
      const int e = r.choices[static_cast<size_t>(t)][static_cast<size_t>(j)];
      if (used[static_cast<size_t>(e)] < r.capacity) {
        ++used[static_cast<size_t>(e)];
        r.kept[static_cast<size_t>(t)][static_cast<size_t>(j)] = true;
      } else {
        ++r.dropped;
      }
    }
  }

  // Token by token: each kept choice runs its expert on this token alone.
  r.routed = MatrixD::Zero(tokens, x.cols());
  r.shared = MatrixD::Zero(tokens, x.cols());
  for (Eigen::Index t = 0; t < tokens; ++t) {
    const MatrixD xt = x.row(t);
    for (int j = 0; j < k; ++j) {
      if (!r.kept[static_cast<size_t>(t)][static_cast<size_t>(j)]) continue;
      const auto e = static_cast<size_t>(r.choices[static_cast<size_t>(t)][static_cast<size_t>(j)]);
      r.routed.row(t) += r.gates(t, j) * ReluFfn(xt, w1s[e], w2s[e]);
    }
    for (size_t s = 0; s < shared_w1s.size(); ++s) {
      r.shared.row(t) += ReluFfn(xt, shared_w1s[s], shared_w2s[s]);
    }
  }
  r.output = x + r.shared + r.routed;
  return r;
}

}  // namespace llmk::reference::moe
