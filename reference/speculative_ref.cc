// Reference of kata 16 (see speculative_ref.h): every sum a loop, every case spelled out.
#include "speculative_ref.h"

#include <cstddef>

namespace llmk::reference::spec {

double AcceptProbability(const Dist& p, const Dist& q, int x) {
  const double ratio = p[static_cast<size_t>(x)] / q[static_cast<size_t>(x)];
  return ratio < 1.0 ? ratio : 1.0;
}

Dist Residual(const Dist& p, const Dist& q) {
  Dist r(p.size(), 0.0);
  double sum = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double diff = p[i] - q[i];
    r[i] = diff > 0.0 ? diff : 0.0;
    sum += r[i];
  }
  if (sum == 0.0) return p;
  for (double& v : r) v /= sum;
  return r;
}

Dist OutputDistribution(const Dist& p, const Dist& q) {
  Dist out(p.size(), 0.0);
  double rejected = 1.0;
  for (size_t x = 0; x < p.size(); ++x) {
    if (q[x] == 0.0) continue;
    const double kept = q[x] * AcceptProbability(p, q, static_cast<int>(x));
    out[x] += kept;
    rejected -= kept;
  }
  const Dist r = Residual(p, q);
  for (size_t x = 0; x < p.size(); ++x) out[x] += rejected * r[x];
  return out;
}

int DrawToken(const Dist& p, double u) {
  double total = 0.0;
  int last = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    total += p[i];
    if (p[i] > 0.0) last = static_cast<int>(i);
  }
  double cumulative = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    cumulative += p[i];
    if (p[i] > 0.0 && u * total < cumulative) return static_cast<int>(i);
  }
  return last;
}

Verdict VerifySampled(const std::vector<int>& drafts, const std::vector<Dist>& target,
                      const std::vector<Dist>& draft, Rng& rng) {
  Verdict v;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const double u = rng.Uniform();
    if (u < AcceptProbability(target[i], draft[i], drafts[i])) {
      v.tokens.push_back(drafts[i]);
      ++v.accepted;
    } else {
      v.tokens.push_back(DrawToken(Residual(target[i], draft[i]), rng.Uniform()));
      return v;
    }
  }
  v.tokens.push_back(DrawToken(target[drafts.size()], rng.Uniform()));
  return v;
}

double ExpectedTokensPerPass(double alpha, int gamma) {
  double sum = 0.0;
  double power = 1.0;
  for (int i = 0; i <= gamma; ++i) {
    sum += power;
    power *= alpha;
  }
  return sum;
}

double Speedup(double alpha, int gamma, double cost_ratio) {
  return ExpectedTokensPerPass(alpha, gamma) / (gamma * cost_ratio + 1.0);
}

}  // namespace llmk::reference::spec
