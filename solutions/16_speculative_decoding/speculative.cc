// Solution of kata 16 (see katas/16_speculative_decoding/speculative.h and README.md).
#include "speculative.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace llmk::spec {
namespace {

// A distribution: finite, non-negative entries summing to 1 within kSumTolerance.
template <typename Row>
void RequireDistribution(std::string_view where, const std::string& name, const Row& row) {
  double sum = 0.0;
  for (Eigen::Index i = 0; i < row.size(); ++i) {
    Require(std::isfinite(row(i)) && row(i) >= 0.0, where,
            fmt::format("{}[{}] must be finite and >= 0, got {}", name, i, row(i)));
    sum += row(i);
  }
  Require(std::abs(sum - 1.0) <= kSumTolerance, where,
          fmt::format("{} must sum to 1 (within {}), got {}", name, kSumTolerance, sum));
}

void RequirePair(std::string_view where, const ProbsRef& p, const ProbsRef& q) {
  Require(p.size() >= 1, where, "p must hold at least one probability, got none");
  Require(q.size() == p.size(), where,
          fmt::format("q must have p's vocabulary size V = {}, got {}", p.size(), q.size()));
  RequireDistribution(where, "p", p);
  RequireDistribution(where, "q", q);
}

void RequireToken(std::string_view where, const std::string& name, int token, Eigen::Index v) {
  Require(token >= 0 && token < v, where,
          fmt::format("{} must be in [0, {}), got {}", name, v, token));
}

void RequireGamma(std::string_view where, int gamma) {
  Require(gamma >= 1, where,
          fmt::format("gamma must be >= 1 (the draft proposes at least one token), got {}",
                      gamma));
}

// γ >= 1 and one vocabulary for both models: token ids must mean the same words.
void RequireModelPair(std::string_view where, const tiny_lm::Model& draft,
                      const tiny_lm::Model& target, int gamma) {
  RequireGamma(where, gamma);
  Require(draft.vocab_size == target.vocab_size, where,
          fmt::format("draft and target must share the vocabulary, got V = {} and V = {}",
                      draft.vocab_size, target.vocab_size));
}

void RequireAlpha(std::string_view where, double alpha) {
  Require(alpha >= 0.0 && alpha <= 1.0, where,
          fmt::format("alpha must be in [0, 1], got {}", alpha));
}

// The last k + 1 ... rows: rows [rows - count, rows) of logits as distributions.
MatrixD SoftmaxRows(const Matrix& logits, int count) {
  MatrixD out(count, logits.cols());
  const Eigen::Index first = logits.rows() - count;
  for (int i = 0; i < count; ++i) out.row(i) = tiny_lm::Softmax(logits.row(first + i));
  return out;
}

}  // namespace

Verdict VerifyGreedy(const std::vector<int>& drafts, const MatrixRef& target_logits) {
  const int gamma = static_cast<int>(drafts.size());
  Require(gamma >= 1, "VerifyGreedy",
          "drafts must hold gamma >= 1 tokens (gamma = 0 proposes nothing), got none");
  RequireShape("VerifyGreedy", "target_logits", target_logits, gamma + 1, -1,
               "one row per draft plus the bonus row");
  Require(target_logits.cols() >= 1, "VerifyGreedy", "target_logits must have V >= 1 columns");
  for (int i = 0; i < gamma; ++i) {
    RequireToken("VerifyGreedy", fmt::format("drafts[{}]", i), drafts[static_cast<size_t>(i)],
                 target_logits.cols());
  }
  // Step 1: the longest prefix on which the draft agrees with the target's argmax, then
  // the target's own token (row k; row γ is the bonus of Step 3).
  Verdict v;
  while (v.accepted < gamma &&
         drafts[static_cast<size_t>(v.accepted)] == tiny_lm::Argmax(target_logits.row(v.accepted))) {
    v.tokens.push_back(drafts[static_cast<size_t>(v.accepted)]);
    ++v.accepted;
  }
  v.tokens.push_back(tiny_lm::Argmax(target_logits.row(v.accepted)));
  return v;
}

double AcceptProbability(const ProbsRef& p, const ProbsRef& q, int token) {
  RequirePair("AcceptProbability", p, q);
  RequireToken("AcceptProbability", "token", token, p.size());
  Require(q(token) > 0.0, "AcceptProbability",
          fmt::format("q[token = {}] must be > 0 (the draft cannot propose a token of "
                      "probability 0), got 0",
                      token));
  // Step 2: min(1, p/q); without the min the "probability" exceeds 1 where p > q.
  return std::min(1.0, p(token) / q(token));
}

Probs Residual(const ProbsRef& p, const ProbsRef& q) {
  RequirePair("Residual", p, q);
  // Step 2: r = max(0, p − q), normalized; p itself when p == q (nothing to redraw).
  const Probs r = (p - q).cwiseMax(0.0);
  const double mass = r.sum();
  if (mass <= 0.0) return p;
  return r / mass;
}

double AcceptanceRate(const ProbsRef& p, const ProbsRef& q) {
  RequirePair("AcceptanceRate", p, q);
  return p.cwiseMin(q).sum();
}

Verdict VerifySampled(const std::vector<int>& drafts, const MatrixD& target_probs,
                      const MatrixD& draft_probs, Rng& rng) {
  const int gamma = static_cast<int>(drafts.size());
  Require(gamma >= 1, "VerifySampled",
          "drafts must hold gamma >= 1 tokens (gamma = 0 proposes nothing), got none");
  RequireShape("VerifySampled", "target_probs", target_probs, gamma + 1, -1,
               "one row per draft plus the bonus row");
  RequireShape("VerifySampled", "draft_probs", draft_probs, gamma, target_probs.cols(),
               "one row per draft, the target's vocabulary size");
  for (Eigen::Index i = 0; i <= gamma; ++i) {
    RequireDistribution("VerifySampled", fmt::format("target_probs row {}", i),
                        target_probs.row(i));
  }
  for (int i = 0; i < gamma; ++i) {
    RequireDistribution("VerifySampled", fmt::format("draft_probs row {}", i),
                        draft_probs.row(i));
    const int d = drafts[static_cast<size_t>(i)];
    RequireToken("VerifySampled", fmt::format("drafts[{}]", i), d, target_probs.cols());
    Require(draft_probs(i, d) > 0.0, "VerifySampled",
            fmt::format("draft_probs({}, drafts[{}] = {}) must be > 0 (the draft cannot propose "
                        "a token of probability 0), got 0",
                        i, i, d));
  }
  Verdict v;
  for (int i = 0; i < gamma; ++i) {
    const int d = drafts[static_cast<size_t>(i)];
    const double u = rng.Uniform();
    // Step 2: keep with probability min(1, p/q), else redraw from the residual and stop.
    if (u < std::min(1.0, target_probs(i, d) / draft_probs(i, d))) {
      v.tokens.push_back(d);
      ++v.accepted;
      continue;
    }
    v.tokens.push_back(
        tiny_lm::DrawToken(Residual(target_probs.row(i), draft_probs.row(i)), rng.Uniform()));
    return v;
  }
  // Step 3: all γ kept, and the target's last row gives one more token for free.
  v.tokens.push_back(tiny_lm::DrawToken(target_probs.row(gamma), rng.Uniform()));
  return v;
}

double ExpectedTokensPerPass(double alpha, int gamma) {
  RequireAlpha("ExpectedTokensPerPass", alpha);
  RequireGamma("ExpectedTokensPerPass", gamma);
  // Step 4: a geometric sum; its closed form is 0/0 at α = 1, where every term is 1.
  if (alpha == 1.0) return gamma + 1.0;
  return (1.0 - std::pow(alpha, gamma + 1)) / (1.0 - alpha);
}

double SpeedupModel(double alpha, int gamma, double cost_ratio) {
  Require(std::isfinite(cost_ratio) && cost_ratio >= 0.0, "SpeedupModel",
          fmt::format("cost_ratio must be finite and >= 0, got {}", cost_ratio));
  return ExpectedTokensPerPass(alpha, gamma) / (gamma * cost_ratio + 1.0);
}

int OptimalGamma(double alpha, double cost_ratio, int max_gamma) {
  Require(max_gamma >= 1, "OptimalGamma",
          fmt::format("max_gamma must be >= 1, got {}", max_gamma));
  int best = 1;
  double best_speedup = SpeedupModel(alpha, 1, cost_ratio);
  for (int g = 2; g <= max_gamma; ++g) {
    const double s = SpeedupModel(alpha, g, cost_ratio);
    if (s > best_speedup) {
      best = g;
      best_speedup = s;
    }
  }
  return best;
}

Verdict SpeculativeStep(const tiny_lm::Model& draft, const tiny_lm::Model& target, int gamma,
                        Mode mode, Rng& rng, std::vector<int>& sequence,
                        tiny_lm::KvCache& draft_cache, tiny_lm::KvCache& target_cache) {
  RequireModelPair("SpeculativeStep", draft, target, gamma);
  const int n = static_cast<int>(sequence.size());
  Require(n >= 1, "SpeculativeStep", "sequence must hold at least one token, got none");
  Require(draft_cache.length() <= n - 1 && target_cache.length() <= n - 1, "SpeculativeStep",
          fmt::format("each cache must hold at most n - 1 = {} positions, got draft {} and "
                      "target {}",
                      n - 1, draft_cache.length(), target_cache.length()));
  Require(draft_cache.capacity() >= n + gamma - 1 && target_cache.capacity() >= n + gamma,
          "SpeculativeStep",
          fmt::format("caches need room for n + gamma - 1 = {} (draft) and n + gamma = {} "
                      "(target) positions, have {} and {}",
                      n + gamma - 1, n + gamma, draft_cache.capacity(),
                      target_cache.capacity()));
  Require(n + gamma - 1 <= draft.max_seq_len && n + gamma <= target.max_seq_len,
          "SpeculativeStep",
          fmt::format("n + gamma - 1 = {} (draft) and n + gamma = {} (target) positions must fit "
                      "max_seq_len (draft {}, target {})",
                      n + gamma - 1, n + gamma, draft.max_seq_len, target.max_seq_len));
  for (int i = 0; i < n; ++i) {
    RequireToken("SpeculativeStep", fmt::format("sequence[{}]", i),
                 sequence[static_cast<size_t>(i)], target.vocab_size);
  }
  // 1. Draft: catch up on the tokens its cache lacks, then propose γ tokens.
  std::vector<int> feed(sequence.begin() + draft_cache.length(), sequence.end());
  std::vector<int> drafts;
  MatrixD draft_probs(gamma, draft.vocab_size);
  for (int i = 0; i < gamma; ++i) {
    const Matrix logits = tiny_lm::Forward(draft, feed, draft_cache);
    const MatrixRef last = logits.bottomRows(1);
    draft_probs.row(i) = tiny_lm::Softmax(last);
    const int d = mode == Mode::kGreedy ? tiny_lm::Argmax(last)
                                        : tiny_lm::DrawToken(draft_probs.row(i), rng.Uniform());
    drafts.push_back(d);
    feed.assign(1, d);
  }
  // 2. Target: one pass over its missing tokens and every draft.
  std::vector<int> check(sequence.begin() + target_cache.length(), sequence.end());
  check.insert(check.end(), drafts.begin(), drafts.end());
  const Matrix target_logits = tiny_lm::Forward(target, check, target_cache);
  const Verdict v =
      mode == Mode::kGreedy
          ? VerifyGreedy(drafts, target_logits.bottomRows(gamma + 1))
          : VerifySampled(drafts, SoftmaxRows(target_logits, gamma + 1), draft_probs, rng);
  // 3. Keep the verdict; 4. roll both caches back to sequence[0 .. n + k).
  sequence.insert(sequence.end(), v.tokens.begin(), v.tokens.end());
  const int keep = n + v.accepted;
  target_cache.Truncate(keep);
  draft_cache.Truncate(std::min(draft_cache.length(), keep));
  return v;
}

Generation GenerateSpeculative(const tiny_lm::Model& draft, const tiny_lm::Model& target,
                               const std::vector<int>& prompt, int num_tokens, int gamma,
                               Mode mode, Rng& rng) {
  RequireModelPair("GenerateSpeculative", draft, target, gamma);
  const int p = static_cast<int>(prompt.size());
  Require(p >= 1, "GenerateSpeculative", "prompt must hold at least one token, got none");
  Require(num_tokens >= 1, "GenerateSpeculative",
          fmt::format("num_tokens must be >= 1, got {}", num_tokens));
  for (int i = 0; i < p; ++i) {
    RequireToken("GenerateSpeculative", fmt::format("prompt[{}]", i),
                 prompt[static_cast<size_t>(i)], target.vocab_size);
  }
  const int positions = p + num_tokens + gamma - 1;
  Require(positions <= draft.max_seq_len && positions <= target.max_seq_len,
          "GenerateSpeculative",
          fmt::format("prompt + num_tokens + gamma - 1 = {} positions must fit max_seq_len "
                      "(draft {}, target {})",
                      positions, draft.max_seq_len, target.max_seq_len));
  tiny_lm::KvCache draft_cache = tiny_lm::KvCache::For(draft, positions);
  tiny_lm::KvCache target_cache = tiny_lm::KvCache::For(target, positions);
  std::vector<int> sequence = prompt;
  Generation g;
  while (static_cast<int>(sequence.size()) < p + num_tokens) {
    const Verdict v =
        SpeculativeStep(draft, target, gamma, mode, rng, sequence, draft_cache, target_cache);
    ++g.target_passes;
    g.draft_passes += gamma;
    g.proposed += gamma;
    g.accepted += v.accepted;
  }
  g.tokens.assign(sequence.begin() + p, sequence.begin() + p + num_tokens);
  return g;
}

}  // namespace llmk::spec

namespace llmk::tiny_lm {

// Step 5 (declared in tiny_lm.h).
void KvCache::Truncate(int length) {
  Require(length >= 0 && length <= length_, "KvCache::Truncate",
          fmt::format("length must be in [0, length() = {}], got {}", length_, length));
  // Step 5: forget positions [length, length_) and zero their rows in every layer.
  for (int l = 0; l < num_layers_; ++l) {
    keys_[static_cast<size_t>(l)].middleRows(length, length_ - length).setZero();
    values_[static_cast<size_t>(l)].middleRows(length, length_ - length).setZero();
  }
  length_ = length;
}

}  // namespace llmk::tiny_lm
