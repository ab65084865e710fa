// Your implementation of speculative.h (and of KvCache::Truncate, declared in tiny_lm.h).
// Replace each `throw llmk::NotImplemented(...)` with the step's code; README.md derives
// every step, HINTS.md helps when stuck. Run `./kata test 16` after each change.
//
// Validate inputs first, before changing anything: a bad argument throws
// llmk::InvalidArgument naming the argument, what was expected and what was given
// (llmk::RequireShape and llmk::Require in llmk/core.h build such messages for you).
#include "speculative.h"

namespace llmk::spec {

// Step 1: the longest prefix of drafts equal to the target's argmax, then the target's token.
Verdict VerifyGreedy(const std::vector<int>& drafts, const MatrixRef& target_logits) {
  throw NotImplemented("VerifyGreedy");
}

// Step 2: min(1, p(token) / q(token)).
double AcceptProbability(const ProbsRef& p, const ProbsRef& q, int token) {
  throw NotImplemented("AcceptProbability");
}

// Step 2: norm(max(0, p − q)); p when p == q.
Probs Residual(const ProbsRef& p, const ProbsRef& q) { throw NotImplemented("Residual"); }

// Step 2: Σ min(p, q).
double AcceptanceRate(const ProbsRef& p, const ProbsRef& q) {
  throw NotImplemented("AcceptanceRate");
}

// Steps 2 and 3: accept or redraw each draft in turn; the bonus token when all are kept.
Verdict VerifySampled(const std::vector<int>& drafts, const MatrixD& target_probs,
                      const MatrixD& draft_probs, Rng& rng) {
  throw NotImplemented("VerifySampled");
}

// Step 4: (1 − α^(γ+1)) / (1 − α), and γ + 1 at α = 1.
double ExpectedTokensPerPass(double alpha, int gamma) {
  throw NotImplemented("ExpectedTokensPerPass");
}

// Step 4: E / (γ·c + 1).
double SpeedupModel(double alpha, int gamma, double cost_ratio) {
  throw NotImplemented("SpeedupModel");
}

// Step 4: the best γ in [1, max_gamma], the smallest on a tie.
int OptimalGamma(double alpha, double cost_ratio, int max_gamma) {
  throw NotImplemented("OptimalGamma");
}

// Step 5: draft, verify, keep, roll back both caches.
Verdict SpeculativeStep(const tiny_lm::Model& draft, const tiny_lm::Model& target, int gamma,
                        Mode mode, Rng& rng, std::vector<int>& sequence,
                        tiny_lm::KvCache& draft_cache, tiny_lm::KvCache& target_cache) {
  throw NotImplemented("SpeculativeStep");
}

// Step 6: SpeculativeStep until num_tokens new tokens exist.
Generation GenerateSpeculative(const tiny_lm::Model& draft, const tiny_lm::Model& target,
                               const std::vector<int>& prompt, int num_tokens, int gamma,
                               Mode mode, Rng& rng) {
  throw NotImplemented("GenerateSpeculative");
}

}  // namespace llmk::spec

namespace llmk::tiny_lm {

// Step 5: keep the first `length` positions of every layer; zero the rows of the rest.
void KvCache::Truncate(int length) { throw NotImplemented("KvCache::Truncate"); }

}  // namespace llmk::tiny_lm
