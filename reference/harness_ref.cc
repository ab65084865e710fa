#include "harness_ref.h"

#include <cmath>

namespace llmk::reference {
namespace {

// j ranks before i: larger probability, or equal probability and lower index.
bool RanksBefore(const RowVectorD& probs, Eigen::Index j, Eigen::Index i) {
  return probs(j) > probs(i) || (probs(j) == probs(i) && j < i);
}

// Number of tokens that rank before token i.
Eigen::Index Rank(const RowVectorD& probs, Eigen::Index i) {
  Eigen::Index ahead = 0;
  for (Eigen::Index j = 0; j < probs.size(); ++j) {
    if (j != i && RanksBefore(probs, j, i)) ++ahead;
  }
  return ahead;
}

// Keeps the tokens of rank < m, renormalized.
RowVectorD KeepTopRanks(const RowVectorD& probs, Eigen::Index m) {
  RowVectorD out = RowVectorD::Zero(probs.size());
  double kept = 0.0;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    if (Rank(probs, i) < m) kept += probs(i);
  }
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    if (Rank(probs, i) < m) out(i) = probs(i) / kept;
  }
  return out;
}

double LogBinomial(int n, int k) {
  return std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0);
}

}  // namespace

RowVectorD SoftmaxWithTemperature(const RowVectorD& logits, double temperature) {
  const double max_logit = logits.maxCoeff();
  RowVectorD p(logits.size());
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    p(i) = std::exp((logits(i) - max_logit) / temperature);
  }
  return p / p.sum();
}

RowVectorD TopK(const RowVectorD& probs, int k) { return KeepTopRanks(probs, k); }

RowVectorD TopP(const RowVectorD& probs, double p) {
  const Eigen::Index vocab = probs.size();
  if (p >= 1.0) return KeepTopRanks(probs, vocab);
  const double total = probs.sum();
  for (Eigen::Index m = 1; m <= vocab; ++m) {
    // Mass of the m top-ranked tokens, added in rank order.
    double mass = 0.0;
    for (Eigen::Index r = 0; r < m; ++r) {
      for (Eigen::Index i = 0; i < vocab; ++i) {
        if (Rank(probs, i) == r) mass += probs(i);
      }
    }
    if (mass >= p * total) return KeepTopRanks(probs, m);
  }
  return KeepTopRanks(probs, vocab);
}

RowVectorD LogSoftmax(const RowVectorD& logits) {
  const double max_logit = logits.maxCoeff();
  double sum = 0.0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) sum += std::exp(logits(i) - max_logit);
  const double log_sum = max_logit + std::log(sum);
  RowVectorD out(logits.size());
  for (Eigen::Index i = 0; i < logits.size(); ++i) out(i) = logits(i) - log_sum;
  return out;
}

double PassAtK(int n, int c, int k) {
  if (n - c < k) return 1.0;
  return 1.0 - std::exp(LogBinomial(n - c, k) - LogBinomial(n, k));
}

}  // namespace llmk::reference
