// Solution of kata 11, steps 1 to 4: temperature, top-k, top-p, the repetition penalty
// and a seeded draw. Each function validates its arguments, then follows its README step.
#include "sampling.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>
#include <vector>

namespace llmk::harness {
namespace {

void RequireNonEmpty(std::string_view where, std::string_view name, const VectorRef& v) {
  Require(v.size() >= 1, where,
          fmt::format("{} is empty; it needs one entry per vocabulary token", name));
}

void RequireFiniteLogits(std::string_view where, const VectorRef& logits) {
  RequireNonEmpty(where, "logits", logits);
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    Require(std::isfinite(logits(i)), where,
            fmt::format("logits[{}] = {} is not finite", i, logits(i)));
  }
}

// Non-negative, finite, with a positive sum; returns the sum (in double).
double RequireProbabilities(std::string_view where, const VectorRef& probs) {
  RequireNonEmpty(where, "probs", probs);
  double sum = 0.0;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    Require(std::isfinite(probs(i)) && probs(i) >= 0.0f, where,
            fmt::format("probs[{}] = {} is not a probability (finite, >= 0)", i, probs(i)));
    sum += probs(i);
  }
  Require(sum > 0.0, where, "probs sum to 0; at least one token needs a positive probability");
  return sum;
}

// Token ids from the most to the least probable; equal probabilities by index.
std::vector<int> RankTokens(const VectorRef& probs) {
  std::vector<int> order(static_cast<size_t>(probs.size()));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return probs(a) != probs(b) ? probs(a) > probs(b) : a < b;
  });
  return order;
}

// The entries of `probs` listed in `kept` divided by their sum; zero elsewhere.
Vector KeepAndRenormalize(const VectorRef& probs, const std::vector<int>& kept) {
  double sum = 0.0;
  for (int i : kept) sum += probs(i);
  Vector out = Vector::Zero(probs.size());
  for (int i : kept) out(i) = static_cast<float>(probs(i) / sum);
  return out;
}

}  // namespace

// Step 1: the first index of the largest logit.
int Greedy(const VectorRef& logits) {
  RequireFiniteLogits("Greedy", logits);
  int best = 0;
  for (Eigen::Index i = 1; i < logits.size(); ++i) {
    if (logits(i) > logits(best)) best = static_cast<int>(i);
  }
  return best;
}

// Step 1: p_i = exp((z_i - max z) / T) / Σ_j exp((z_j - max z) / T); T = 0 is greedy.
Vector SoftmaxWithTemperature(const VectorRef& logits, float temperature) {
  RequireFiniteLogits("SoftmaxWithTemperature", logits);
  Require(std::isfinite(temperature) && temperature >= 0.0f, "SoftmaxWithTemperature",
          fmt::format("temperature must be finite and >= 0, got {}", temperature));
  if (temperature == 0.0f) {
    Vector one_hot = Vector::Zero(logits.size());
    one_hot(Greedy(logits)) = 1.0f;
    return one_hot;
  }
  const float max_logit = logits.maxCoeff();
  Vector p(logits.size());
  double sum = 0.0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    // Subtract the max first: every exponent is <= 0, nothing overflows.
    p(i) = std::exp((logits(i) - max_logit) / temperature);
    sum += p(i);
  }
  for (Eigen::Index i = 0; i < p.size(); ++i) p(i) = static_cast<float>(p(i) / sum);
  return p;
}

// Step 2: the k first tokens of the ranking, renormalized.
Vector TopK(const VectorRef& probs, int k) {
  RequireProbabilities("TopK", probs);
  Require(k >= 1, "TopK", fmt::format("k must be at least 1, got {}", k));
  std::vector<int> order = RankTokens(probs);
  if (static_cast<size_t>(k) < order.size()) order.resize(static_cast<size_t>(k));
  return KeepAndRenormalize(probs, order);
}

// Step 2: the shortest prefix of the ranking whose mass reaches p · Σ probs.
Vector TopP(const VectorRef& probs, float p) {
  const double total = RequireProbabilities("TopP", probs);
  Require(p > 0.0f && p <= 1.0f, "TopP", fmt::format("p must be in (0, 1], got {}", p));
  std::vector<int> order = RankTokens(probs);
  if (p < 1.0f) {
    const double target = static_cast<double>(p) * total;
    double cumulative = 0.0;
    for (size_t n = 0; n < order.size(); ++n) {
      cumulative += probs(order[n]);
      if (cumulative >= target) {  // the token that crosses p is kept
        order.resize(n + 1);
        break;
      }
    }
  }
  return KeepAndRenormalize(probs, order);
}

// Step 3: once per distinct generated token, divide a positive logit by the penalty,
// multiply a non-positive one.
Vector RepetitionPenalty(const VectorRef& logits, const std::vector<int>& generated,
                         float penalty) {
  RequireFiniteLogits("RepetitionPenalty", logits);
  Require(std::isfinite(penalty) && penalty > 0.0f, "RepetitionPenalty",
          fmt::format("penalty must be finite and > 0, got {}", penalty));
  const Eigen::Index vocab = logits.size();
  std::vector<bool> seen(static_cast<size_t>(vocab), false);
  for (size_t n = 0; n < generated.size(); ++n) {
    const int t = generated[n];
    Require(t >= 0 && t < vocab, "RepetitionPenalty",
            fmt::format("generated[{}] = {} is not a token id in [0, {})", n, t, vocab));
    seen[static_cast<size_t>(t)] = true;
  }
  Vector out = logits;
  for (Eigen::Index t = 0; t < vocab; ++t) {
    if (!seen[static_cast<size_t>(t)]) continue;
    out(t) = out(t) > 0.0f ? out(t) / penalty : out(t) * penalty;
  }
  return out;
}

// Step 4: the first token whose cumulative probability exceeds u · S.
int DrawToken(const VectorRef& probs, double u) {
  const double total = RequireProbabilities("DrawToken", probs);
  Require(u >= 0.0 && u < 1.0, "DrawToken", fmt::format("u must be in [0, 1), got {}", u));
  const double target = u * total;
  double cumulative = 0.0;
  int last_positive = -1;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    if (probs(i) <= 0.0f) continue;
    cumulative += probs(i);
    last_positive = static_cast<int>(i);
    if (target < cumulative) return last_positive;
  }
  return last_positive;  // rounding left target at or above the total
}

// Step 4: penalty -> temperature -> top-k -> top-p.
Vector SamplingDistribution(const VectorRef& logits, const std::vector<int>& generated,
                            const SamplingConfig& config) {
  constexpr std::string_view kWhere = "SamplingDistribution";
  Require(std::isfinite(config.temperature) && config.temperature >= 0.0f, kWhere,
          fmt::format("config.temperature must be finite and >= 0, got {}",
                      config.temperature));
  Require(config.top_k >= 0, kWhere,
          fmt::format("config.top_k must be >= 0 (0 = off), got {}", config.top_k));
  Require(config.top_p > 0.0f && config.top_p <= 1.0f, kWhere,
          fmt::format("config.top_p must be in (0, 1] (1 = off), got {}", config.top_p));
  Require(std::isfinite(config.repetition_penalty) && config.repetition_penalty > 0.0f,
          kWhere,
          fmt::format("config.repetition_penalty must be finite and > 0 (1 = off), got {}",
                      config.repetition_penalty));
  Vector p = SoftmaxWithTemperature(
      RepetitionPenalty(logits, generated, config.repetition_penalty), config.temperature);
  if (config.top_k > 0) p = TopK(p, config.top_k);
  if (config.top_p < 1.0f) p = TopP(p, config.top_p);
  return p;
}

// Step 4: one uniform number per call, always.
int Sample(const VectorRef& logits, const std::vector<int>& generated,
           const SamplingConfig& config, Rng& rng) {
  const Vector p = SamplingDistribution(logits, generated, config);
  return DrawToken(p, rng.Uniform());
}

}  // namespace llmk::harness
