// Your implementation of metrics.h (steps 6 and 7). Replace each
// `throw llmk::NotImplemented(...)` with the step's code; README.md derives every step,
// HINTS.md helps when stuck. Run `./kata test 11 --step 6` after each change.
#include "metrics.h"

namespace llmk::harness {

// Step 6: z - max z - log Σ exp(z - max z).
Vector LogSoftmax(const VectorRef& logits) {
  throw NotImplemented("LogSoftmax");
}

// Step 6: entry t is LogSoftmax(row t)[targets[t]].
Vector TokenLogLikelihoods(const MatrixRef& logits, const std::vector<int>& targets) {
  throw NotImplemented("TokenLogLikelihoods");
}

// Step 6: exp(-mean log-likelihood).
double Perplexity(const VectorRef& token_log_likelihoods) {
  throw NotImplemented("Perplexity");
}

// Step 7: lower case, one space per whitespace run, trimmed, no trailing . ! ?
std::string NormalizeAnswer(std::string_view text) {
  throw NotImplemented("NormalizeAnswer");
}

// Step 7: equality after NormalizeAnswer.
bool ExactMatch(std::string_view prediction, std::string_view reference) {
  throw NotImplemented("ExactMatch");
}

// Step 7: 1 - Π_{i = n-c+1}^{n} (1 - k / i); 1 when n - c < k.
double PassAtK(int n, int c, int k) {
  throw NotImplemented("PassAtK");
}

// Step 7: mean and √(s² / N), s² with N - 1.
MeanAndError MeanWithStandardError(const std::vector<double>& values) {
  throw NotImplemented("MeanWithStandardError");
}

}  // namespace llmk::harness
