// Solution of kata 11, steps 6 and 7: log-likelihood, perplexity, exact match, pass@k
// and the standard error of a mean.
#include "metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace llmk::harness {
namespace {

bool IsAsciiSpace(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

void TrimTrailingSpaces(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

}  // namespace

// Step 6: z_i - (max z + log Σ_j exp(z_j - max z)), in double.
Vector LogSoftmax(const VectorRef& logits) {
  Require(logits.size() >= 1, "LogSoftmax", "logits is empty; it needs at least one entry");
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    Require(std::isfinite(logits(i)), "LogSoftmax",
            fmt::format("logits[{}] = {} is not finite", i, logits(i)));
  }
  const double max_logit = logits.maxCoeff();
  double sum = 0.0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) sum += std::exp(logits(i) - max_logit);
  const double log_sum = std::log(sum);
  Vector out(logits.size());
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    out(i) = static_cast<float>((logits(i) - max_logit) - log_sum);
  }
  return out;
}

// Step 6: entry t is LogSoftmax(row t)[targets[t]].
Vector TokenLogLikelihoods(const MatrixRef& logits, const std::vector<int>& targets) {
  Require(logits.rows() >= 1 && logits.cols() >= 1, "TokenLogLikelihoods",
          fmt::format("logits must have at least one position and one token, got {}",
                      ShapeOf(logits)));
  Require(static_cast<Eigen::Index>(targets.size()) == logits.rows(), "TokenLogLikelihoods",
          fmt::format("targets has {} entries, logits is {}: one target per row",
                      targets.size(), ShapeOf(logits)));
  Vector out(logits.rows());
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    const int target = targets[static_cast<size_t>(t)];
    Require(target >= 0 && target < logits.cols(), "TokenLogLikelihoods",
            fmt::format("targets[{}] = {} is not a token id in [0, {})", t, target,
                        logits.cols()));
    out(t) = LogSoftmax(logits.row(t))(target);
  }
  return out;
}

// Step 6: exp(-mean log-likelihood).
double Perplexity(const VectorRef& token_log_likelihoods) {
  const VectorRef& ll = token_log_likelihoods;
  Require(ll.size() >= 1, "Perplexity", "token_log_likelihoods is empty");
  double sum = 0.0;
  for (Eigen::Index t = 0; t < ll.size(); ++t) {
    Require(std::isfinite(ll(t)) && ll(t) <= 0.0f, "Perplexity",
            fmt::format("token_log_likelihoods[{}] = {} is not a log-probability "
                        "(finite, <= 0)", t, ll(t)));
    sum += ll(t);
  }
  return std::exp(-sum / static_cast<double>(ll.size()));
}

// Step 7: lower case, one space per whitespace run, trimmed, no trailing . ! ?
std::string NormalizeAnswer(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char ch : text) {
    if (IsAsciiSpace(ch)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(' ');  // drops leading spaces
    pending_space = false;
    out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '!' || out.back() == '?')) {
    out.pop_back();
  }
  TrimTrailingSpaces(out);
  return out;
}

// Step 7: equality after normalization.
bool ExactMatch(std::string_view prediction, std::string_view reference) {
  return NormalizeAnswer(prediction) == NormalizeAnswer(reference);
}

// Step 7: 1 - Π_{i = n-c+1}^{n} (1 - k / i).
double PassAtK(int n, int c, int k) {
  Require(n >= 1, "PassAtK", fmt::format("n (samples) must be >= 1, got {}", n));
  Require(c >= 0 && c <= n, "PassAtK",
          fmt::format("c (correct samples) must be in [0, n = {}], got {}", n, c));
  Require(k >= 1 && k <= n, "PassAtK",
          fmt::format("k must be in [1, n = {}], got {}", n, k));
  if (n - c < k) return 1.0;  // every k-subset holds a correct sample
  double all_wrong = 1.0;     // C(n - c, k) / C(n, k), one factor per correct sample
  for (int i = n - c + 1; i <= n; ++i) {
    all_wrong *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  }
  return 1.0 - all_wrong;
}

// Step 7: mean, sample variance (N - 1), SE = √(s² / N).
MeanAndError MeanWithStandardError(const std::vector<double>& values) {
  Require(values.size() >= 2, "MeanWithStandardError",
          fmt::format("values has {} entries; a standard error needs at least 2",
                      values.size()));
  double sum = 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    Require(std::isfinite(values[i]), "MeanWithStandardError",
            fmt::format("values[{}] = {} is not finite", i, values[i]));
    sum += values[i];
  }
  const double count = static_cast<double>(values.size());
  MeanAndError out;
  out.mean = sum / count;
  double squares = 0.0;  // two passes: subtract the mean first, then square
  for (double x : values) squares += (x - out.mean) * (x - out.mean);
  const double variance = squares / (count - 1.0);
  out.standard_error = std::sqrt(variance / count);
  return out;
}

}  // namespace llmk::harness
