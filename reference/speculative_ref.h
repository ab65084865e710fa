// Reference of kata 16: speculative decoding's probability arithmetic written out term by
// term in double precision, with plain loops over std::vector. Tests compare the kata's
// functions with it on random distributions.
//
// V = vocabulary size, γ = drafted tokens per step, p = target distribution, q = draft
// distribution, α = acceptance rate, c = draft cost over target cost.
#pragma once

#include <vector>

#include "llmk/random.h"

namespace llmk::reference::spec {

using Dist = std::vector<double>;  // [V]

// min(1, p[x] / q[x]); q[x] > 0.
double AcceptProbability(const Dist& p, const Dist& q, int x);

// max(0, p − q) divided by its sum; p when the sum is 0.
Dist Residual(const Dist& p, const Dist& q);

// The distribution of the token one speculative position emits when the draft proposes
// x ~ q: Σ_x q[x]·a(x)·[x] + (1 − Σ_x q[x]·a(x))·Residual(p, q), a = AcceptProbability
// (the terms with q[x] = 0 are skipped: such an x is never proposed).
Dist OutputDistribution(const Dist& p, const Dist& q);

// The first i with u·Σp < Σ_{j<=i} p[j] and p[i] > 0; the last positive one if none.
int DrawToken(const Dist& p, double u);

struct Verdict {
  int accepted = 0;
  std::vector<int> tokens;
};

// Sampled verification with the uniforms drawn in the order of speculative.h: one per
// draft while they are kept, one for the residual draw at the first rejection, one for
// the bonus draw after γ acceptances. target [γ + 1][V], draft [γ][V].
Verdict VerifySampled(const std::vector<int>& drafts, const std::vector<Dist>& target,
                      const std::vector<Dist>& draft, Rng& rng);

// Σ_{i=0}^{γ} α^i, summed term by term.
double ExpectedTokensPerPass(double alpha, int gamma);

// ExpectedTokensPerPass / (γ·c + 1).
double Speedup(double alpha, int gamma, double cost_ratio);

}  // namespace llmk::reference::spec
