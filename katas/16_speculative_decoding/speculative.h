// Kata 16: speculative decoding. A small draft model proposes γ tokens, the large target
// model checks them all in one pass, and the kept tokens have exactly the target's
// distribution, at a fraction of the target's passes.
//
// The API of the kata. The stubs (katas/16_speculative_decoding/speculative.cc) and the
// solution (solutions/16_speculative_decoding/speculative.cc) implement this same header;
// the tests build against both. The models, their KV cache and plain generation are
// provided in tiny_lm.h. README.md beside this file derives every step with numbers.
//
//   spec::Verdict v = spec::VerifyGreedy({2, 4, 1}, target_logits);              // step 1
//   double a = spec::AcceptProbability(p, q, /*token=*/1);                       // step 2
//   tiny_lm::Probs r = spec::Residual(p, q);                                      // step 2
//   spec::Verdict s = spec::VerifySampled(drafts, target_probs, draft_probs, rng);  // 2, 3
//   double e = spec::ExpectedTokensPerPass(/*alpha=*/0.8, /*gamma=*/4);          // step 4
//   cache.Truncate(5);                                                            // step 5
//   spec::Generation g = spec::GenerateSpeculative(draft, target, prompt, 256,
//                                                  /*gamma=*/4, spec::Mode::kSample, rng);  // 6
//
// γ = gamma = tokens the draft proposes per step, V = vocabulary size, k = drafted tokens
// accepted in a step (0 <= k <= γ), p = the target's next-token distribution, q = the
// draft's, α = acceptance rate, c = the cost of one draft pass over one target pass,
// n = tokens of the sequence so far.
//
// Conventions:
//   - probabilities are double; a distribution is a row [V] (tiny_lm::Probs) or one row of
//     a llmk::MatrixD. Every row given must be non-negative, finite and sum to 1 within
//     kSumTolerance.
//   - randomness comes only from llmk::Rng, consumed in a fixed order (VerifySampled), so a
//     seed gives the same tokens on every platform.
//
// Errors: γ = 0 (no drafted tokens), distributions of different vocabulary sizes, a row
// that is not a distribution, a drafted token the draft gave probability 0, a token out of
// [0, V), a parameter out of its range throw llmk::InvalidArgument whose message names the
// argument, what was expected and the value given. A failed call changes nothing.
#pragma once

#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"
#include "tiny_lm.h"

namespace llmk::spec {

using tiny_lm::Probs;
using tiny_lm::ProbsRef;

// How far from 1 the sum of a distribution may be: a softmax computed in double sums to
// 1 within 1e-15; rounding a distribution to 7 digits by hand keeps it within 1e-6.
inline constexpr double kSumTolerance = 1e-6;

// What one verification keeps.
struct Verdict {
  int accepted = 0;         // k: drafted tokens kept, 0 <= k <= γ
  std::vector<int> tokens;  // drafts[0..k), then one token of the target: k + 1 tokens
};

// Step 1. Greedy verification. Row i of target_logits is the target's prediction after
// the sequence and drafts[0..i): the drafts agree with the target up to the first i with
// drafts[i] != Argmax(row i); k is that i (γ if none), and the target's own Argmax(row k)
// follows them. Row γ is used only when all γ agree (the bonus token of Step 3).
// Ties go to the lowest index (tiny_lm::Argmax).
//   drafts [γ], γ >= 1, each in [0, V); target_logits [γ + 1, V]
Verdict VerifyGreedy(const std::vector<int>& drafts, const MatrixRef& target_logits);

// Step 2. The probability of keeping a drafted `token`: min(1, p(token) / q(token)).
// q(token) must be > 0: the draft never proposes a token it gives probability 0.
double AcceptProbability(const ProbsRef& p, const ProbsRef& q, int token);

// Step 2. The distribution a rejected position is redrawn from:
//   r = max(0, p − q) / Σ_x max(0, p(x) − q(x)).
// When p equals q the sum is 0 and a rejection cannot happen; r = p then (documented, so
// that the function never divides by zero).
Probs Residual(const ProbsRef& p, const ProbsRef& q);

// Step 2. The probability that one drafted token is kept, averaged over the draft's
// proposal: α = Σ_x q(x) · min(1, p(x) / q(x)) = Σ_x min(p(x), q(x)).
double AcceptanceRate(const ProbsRef& p, const ProbsRef& q);

// Steps 2 and 3. Sampled verification. Row i of target_probs (p_i) and draft_probs (q_i)
// are the two models' distributions for the position of drafts[i]; drafts[i] was drawn
// from q_i. For i = 0, 1, ...: draw u = rng.Uniform(); keep drafts[i] if
// u < AcceptProbability(p_i, q_i, drafts[i]); otherwise draw the replacement
// DrawToken(Residual(p_i, q_i), rng.Uniform()) and stop. If all γ are kept, draw the bonus
// token DrawToken(p_γ, rng.Uniform()) from the last row of target_probs (Step 3).
// So a verdict with k < γ consumes k + 2 uniforms and one with k = γ consumes γ + 1.
//   drafts [γ], γ >= 1; target_probs [γ + 1, V]; draft_probs [γ, V];
//   draft_probs(i, drafts[i]) > 0.
Verdict VerifySampled(const std::vector<int>& drafts, const MatrixD& target_probs,
                      const MatrixD& draft_probs, Rng& rng);

// Step 4. The expected number of tokens one target pass produces when each drafted token
// is kept with probability α, independently, and a step stops at the first rejection:
//   E = 1 + α + α² + … + α^γ = (1 − α^(γ+1)) / (1 − α), and γ + 1 at α = 1.
// 0 <= alpha <= 1, gamma >= 1.
double ExpectedTokensPerPass(double alpha, int gamma);

// Step 4. Tokens per unit of time relative to plain decoding, when a draft pass costs c
// target passes: a step costs γ·c + 1 and yields E tokens, plain decoding yields 1 per 1:
//   speedup = E / (γ·c + 1).   alpha in [0, 1], gamma >= 1, cost_ratio = c >= 0.
double SpeedupModel(double alpha, int gamma, double cost_ratio);

// Step 4. The γ in [1, max_gamma] with the largest SpeedupModel(alpha, γ, cost_ratio); the
// smallest such γ on a tie. max_gamma >= 1.
int OptimalGamma(double alpha, double cost_ratio, int max_gamma);

// Steps 1 and 6. Greedy: the draft proposes its Argmax and VerifyGreedy checks; the output
// equals plain greedy decoding of the target. Sampled: the draft draws from its softmax and
// VerifySampled checks; the output is distributed exactly as plain sampling from the target.
enum class Mode { kGreedy, kSample };

// Step 5. One speculative step on `sequence` (prompt and tokens so far, n of them).
// On entry each cache holds a prefix of the sequence no longer than n − 1 positions; the
// step first feeds each model the tokens its cache lacks (normally just the last one).
//   1. Draft: γ passes of one token each (the first also catching up), proposing
//      drafts[i] = Argmax (kGreedy) or DrawToken(Softmax(row), rng.Uniform()) (kSample),
//      one uniform per drafted token, all drawn before the verification's.
//   2. Target: one pass over the missing tokens and all γ drafts; its last γ + 1 rows
//      are the rows VerifyGreedy / VerifySampled (on their Softmax) read.
//   3. The verdict's k + 1 tokens are appended to `sequence`.
//   4. Rollback: both caches keep exactly the positions of sequence[0 .. n + k) they hold,
//      through KvCache::Truncate: the target's cache n + k positions, the draft's
//      n + k after a rejection and n + γ − 1 = n + k − 1 after a full acceptance (the last
//      draft was proposed, never fed). No key or value of a rejected token remains.
// The caches must fit their models and have room for n + γ positions (target) and
// n + γ − 1 (draft), and so must each model's max_seq_len; both models have the same V;
// the sequence's ids are in [0, V); gamma >= 1. A call that throws changes nothing.
Verdict SpeculativeStep(const tiny_lm::Model& draft, const tiny_lm::Model& target, int gamma,
                        Mode mode, Rng& rng, std::vector<int>& sequence,
                        tiny_lm::KvCache& draft_cache, tiny_lm::KvCache& target_cache);

// Step 6. The result of speculative generation.
struct Generation {
  std::vector<int> tokens;  // exactly num_tokens new tokens (a last step's extra are cut)
  int target_passes = 0;    // SpeculativeStep calls: one target pass each
  int draft_passes = 0;     // γ per step
  int proposed = 0;         // drafted tokens, γ per step
  int accepted = 0;         // of those, kept (Σ k)
  // accepted / proposed.
  double acceptance_rate() const {
    return proposed == 0 ? 0.0 : static_cast<double>(accepted) / proposed;
  }
};

// Step 6. Generates num_tokens tokens after `prompt` by repeated SpeculativeStep, with
// caches of capacity p + num_tokens + γ − 1 (p = prompt length).
// prompt non-empty, tokens in [0, V); num_tokens >= 1; gamma >= 1; the two models share
// V; p + num_tokens + γ − 1 <= max_seq_len of each model.
Generation GenerateSpeculative(const tiny_lm::Model& draft, const tiny_lm::Model& target,
                               const std::vector<int>& prompt, int num_tokens, int gamma,
                               Mode mode, Rng& rng);

}  // namespace llmk::spec
