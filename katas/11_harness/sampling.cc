// Your implementation of sampling.h (steps 1 to 4). Replace each
// `throw llmk::NotImplemented(...)` with the step's code; README.md derives every step,
// HINTS.md helps when stuck. Run `./kata test 11` after each change.
//
// Validate inputs first: a bad argument throws llmk::InvalidArgument naming the
// argument and the value given (llmk::Require in llmk/core.h builds such messages).
#include "sampling.h"

namespace llmk::harness {

// Step 1: the first index of the largest logit.
int Greedy(const VectorRef& logits) {
  throw NotImplemented("Greedy");
}

// Step 1: softmax((z - max z) / T); T = 0 is a one-hot at Greedy(z).
Vector SoftmaxWithTemperature(const VectorRef& logits, float temperature) {
  throw NotImplemented("SoftmaxWithTemperature");
}

// Step 2: keep the k most probable (ties: lower index), renormalize.
Vector TopK(const VectorRef& probs, int k) {
  throw NotImplemented("TopK");
}

// Step 2: keep the shortest ranked prefix whose mass reaches p, renormalize.
Vector TopP(const VectorRef& probs, float p) {
  throw NotImplemented("TopP");
}

// Step 3: for each distinct generated token, z > 0 -> z / penalty, else z · penalty.
Vector RepetitionPenalty(const VectorRef& logits, const std::vector<int>& generated,
                         float penalty) {
  throw NotImplemented("RepetitionPenalty");
}

// Step 4: the first token whose cumulative probability exceeds u · Σ probs.
int DrawToken(const VectorRef& probs, double u) {
  throw NotImplemented("DrawToken");
}

// Step 4: penalty -> temperature -> top-k -> top-p, each skipped when switched off.
Vector SamplingDistribution(const VectorRef& logits, const std::vector<int>& generated,
                            const SamplingConfig& config) {
  throw NotImplemented("SamplingDistribution");
}

// Step 4: DrawToken(SamplingDistribution(...), rng.Uniform()).
int Sample(const VectorRef& logits, const std::vector<int>& generated,
           const SamplingConfig& config, Rng& rng) {
  throw NotImplemented("Sample");
}

}  // namespace llmk::harness
