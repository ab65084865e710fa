// Kata 11, steps 6 and 7: evaluation metrics.
//
//   harness::Vector ll = harness::TokenLogLikelihoods(logits, targets);  // step 6
//   double ppl = harness::Perplexity(ll);                                // step 6
//   bool ok = harness::ExactMatch(" Paris. ", "paris");                  // step 7: true
//   double p = harness::PassAtK(200, 13, 10);                            // step 7
//   harness::MeanAndError m = harness::MeanWithStandardError(scores);    // step 7
//
// T = positions scored in a sequence, V = vocabulary size, n = samples drawn for a
// problem, c = samples among them that are correct, k = the k of pass@k.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llmk/core.h"
#include "sampling.h"

namespace llmk::harness {

// Step 6. log softmax(logits): z_i - max z - log Σ_j exp(z_j - max z). Finite for
// finite logits of any size (±1e4 and beyond). V >= 1.
//   logits [V] -> log-probabilities [V], every entry <= 0
Vector LogSoftmax(const VectorRef& logits);

// Step 6. The log-likelihood of each target token: row t of `logits` is the model's
// prediction for position t, and entry t of the result is log p(targets[t]) under
// softmax(row t). targets.size() == T >= 1, ids in [0, V).
//   logits [T, V], targets [T] -> [T]
Vector TokenLogLikelihoods(const MatrixRef& logits, const std::vector<int>& targets);

// Step 6. exp(-(1/T) Σ_t ll_t): the exponential of the mean negative log-likelihood per
// token, in double. 1 for a model that is certain and right; V for a uniform guess.
// T >= 1; entries <= 0 and finite.
double Perplexity(const VectorRef& token_log_likelihoods);

// Step 7. The normalization of ExactMatch, in this order:
//   1. ASCII letters to lower case (other bytes, UTF-8 included, unchanged);
//   2. every run of ASCII whitespace (space, \t, \n, \r, \f, \v) becomes one space;
//   3. leading and trailing spaces are removed;
//   4. trailing sentence punctuation '.', '!', '?' is removed (all of it), then
//      trailing spaces again.
// Nothing else: "3.5" stays "3.5", "Paris, France" keeps its comma.
std::string NormalizeAnswer(std::string_view text);

// Step 7. NormalizeAnswer(prediction) == NormalizeAnswer(reference).
bool ExactMatch(std::string_view prediction, std::string_view reference);

// Step 7. The unbiased pass@k estimator of the Codex paper (Chen et al., 2021): the
// probability that at least one of k samples drawn without replacement from the n
// generated ones is correct,
//   pass@k = 1 - C(n - c, k) / C(n, k) = 1 - Π_{i = n-c+1}^{n} (1 - k / i),
// computed as the product (never a binomial coefficient or a factorial, which overflow
// long before n = 200). pass@k = 1 when n - c < k (every k-subset holds a correct
// sample), 0 when c = 0. Requires 1 <= k <= n and 0 <= c <= n.
double PassAtK(int n, int c, int k);

struct MeanAndError {
  double mean = 0.0;
  double standard_error = 0.0;  // s / √N with the sample standard deviation s (N - 1)
};

// Step 7. The mean of N results and its standard error
//   s² = Σ (x_i - mean)² / (N - 1),   SE = √(s² / N),
// the uncertainty of the mean over the choice of problems. N >= 2 (one value has no
// spread to estimate); values finite.
MeanAndError MeanWithStandardError(const std::vector<double>& values);

}  // namespace llmk::harness
