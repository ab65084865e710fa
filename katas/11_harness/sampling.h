// Kata 11, steps 1 to 4: from a model's logits to one token, seeded and reproducible.
//
// The API of the sampling part of the kata. The stubs (katas/11_harness/sampling.cc) and
// the solution (solutions/11_harness/sampling.cc) implement this same header; the tests
// build against both. README.md beside this file derives every step with numbers.
//
//   harness::Vector p = harness::SoftmaxWithTemperature(logits, 0.7f);   // step 1
//   p = harness::TopK(p, 40);                                             // step 2
//   p = harness::TopP(p, 0.95f);                                          // step 2
//   harness::Vector z = harness::RepetitionPenalty(logits, generated, 1.3f);  // step 3
//   llmk::Rng rng(42);
//   int token = harness::Sample(logits, generated, config, rng);          // step 4
//
// V = vocabulary size. A logits or probability vector has one entry per token, [V].
//
// Conventions that every function here shares:
//   - ties are broken by token index: among equal values the lower index ranks first
//     (it is the argmax, it is kept by top-k and top-p);
//   - probabilities are float; sums and cumulative sums are taken in double;
//   - randomness comes only from llmk::Rng (splitmix64), never from a std::
//     distribution, so a seed gives the same tokens on every platform.
//
// Errors: an empty vector, a non-finite logit, a negative probability, a parameter out
// of its range, a token id outside [0, V) throw llmk::InvalidArgument whose message
// names the argument and the value given.
#pragma once

#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::harness {

// One entry per vocabulary token: logits or probabilities, [V].
using Vector = Eigen::RowVectorXf;
// Read-only view of a Vector, or of a one-row llmk::Matrix.
using VectorRef = Eigen::Ref<const Vector>;

// Step 1. The index of the largest logit; ties go to the lowest index. V >= 1.
int Greedy(const VectorRef& logits);

// Step 1. softmax(logits / T): p_i = exp((z_i - max z) / T) / Σ_j exp((z_j - max z) / T).
// temperature = T >= 0, finite. T = 0 is defined as greedy decoding: a one-hot vector
// at Greedy(logits) (no division by zero; ties go to the lowest index, whereas the
// limit T -> 0+ would split the mass between tied maxima). Finite logits of any size.
//   logits [V] -> probabilities [V]
Vector SoftmaxWithTemperature(const VectorRef& logits, float temperature);

// Step 2. Keeps the k most probable tokens (ties: lower index first), zeroes the rest
// and renormalizes the kept ones to sum to 1. k >= 1; k >= V keeps every token.
// probs: non-negative with a positive sum (need not be normalized).
//   probs [V] -> probs [V]
Vector TopK(const VectorRef& probs, int k);

// Step 2. Nucleus sampling: sorts tokens by probability (ties: lower index first) and
// keeps the smallest prefix whose cumulative probability reaches p, that is
// cumulative >= p · Σ probs (the token that crosses p is kept); zeroes the rest and
// renormalizes. 0 < p <= 1; p = 1 keeps every token. probs as for TopK.
//   probs [V] -> probs [V]
Vector TopP(const VectorRef& probs, float p);

// Step 3. The repetition penalty of the CTRL paper, as most serving stacks apply it:
// for every distinct token id t in `generated` (once, however often it occurs),
//   z_t > 0  ->  z_t / penalty        z_t <= 0  ->  z_t · penalty
// so that with penalty > 1 a token already generated always becomes less likely.
// penalty > 0 and finite; 1 changes nothing; below 1 it rewards repetition.
// Ids in `generated` must lie in [0, V).
//   logits [V] -> logits [V]
Vector RepetitionPenalty(const VectorRef& logits, const std::vector<int>& generated,
                         float penalty);

// Step 4. Inverse-CDF draw: the first token i with u · S < Σ_{j <= i} probs_j, sums in
// double, S = Σ probs. A token of probability 0 is never returned; if rounding leaves
// u · S at or above the last cumulative sum, the last token of positive probability is
// returned. u in [0, 1); probs non-negative with a positive sum.
int DrawToken(const VectorRef& probs, double u);

// Step 4. The knobs of Sample. Each has a value that switches it off.
struct SamplingConfig {
  float temperature = 1.0f;         // >= 0; 0 = greedy
  int top_k = 0;                    // >= 0; 0 = off
  float top_p = 1.0f;               // (0, 1]; 1 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off
};

// Step 4. The distribution Sample draws from, in this order:
//   RepetitionPenalty(logits, generated) -> SoftmaxWithTemperature -> TopK -> TopP.
// Throws InvalidArgument naming the field of a config value out of range.
//   logits [V] -> probs [V]
Vector SamplingDistribution(const VectorRef& logits, const std::vector<int>& generated,
                            const SamplingConfig& config);

// Step 4. Draws the next token: DrawToken(SamplingDistribution(...), rng.Uniform()).
// Consumes exactly one rng.Uniform() per call, greedy or not, so that the random stream
// (and every later draw) does not depend on the config.
int Sample(const VectorRef& logits, const std::vector<int>& generated,
           const SamplingConfig& config, Rng& rng);

}  // namespace llmk::harness
