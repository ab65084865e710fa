// Solution of kata 11, step 5: the generation loop.
#include "generate.h"

#include <fmt/format.h>

#include <algorithm>

namespace llmk::harness {
namespace {

void RequireTokenIds(std::string_view name, const std::vector<int>& ids, int vocab) {
  for (size_t n = 0; n < ids.size(); ++n) {
    Require(ids[n] >= 0 && ids[n] < vocab, "Generate",
            fmt::format("{}[{}] = {} is not a token id in [0, {})", name, n, ids[n], vocab));
  }
}

}  // namespace

// Step 5: call the model, sample, stop on a stop token or at the budget.
Generation Generate(LanguageModel& model, const std::vector<int>& prompt,
                    const GenerationOptions& options, Rng& rng) {
  const int vocab = model.vocab_size();
  Require(vocab >= 1, "Generate", fmt::format("model.vocab_size() = {} must be >= 1", vocab));
  Require(!prompt.empty(), "Generate", "prompt is empty; the model needs a context");
  Require(options.max_new_tokens >= 0, "Generate",
          fmt::format("max_new_tokens must be >= 0, got {}", options.max_new_tokens));
  RequireTokenIds("prompt", prompt, vocab);
  RequireTokenIds("stop_tokens", options.stop_tokens, vocab);
  // A bad sampling config fails here, before the model is called (even with a budget
  // of 0): zero logits are a valid input, so only the config can be rejected.
  SamplingDistribution(Vector::Zero(vocab), {}, options.sampling);

  Generation out;
  std::vector<int> context = prompt;
  while (static_cast<int>(out.tokens.size()) < options.max_new_tokens) {
    const Vector logits = model.NextLogits(context);
    Require(logits.size() == vocab, "Generate",
            fmt::format("the model returned {} logits, expected vocab_size() = {}",
                        logits.size(), vocab));
    const int t = Sample(logits, out.tokens, options.sampling, rng);
    const auto& stops = options.stop_tokens;
    if (std::find(stops.begin(), stops.end(), t) != stops.end()) {
      out.stop_reason = StopReason::kStopToken;
      out.stop_token = t;
      return out;
    }
    out.tokens.push_back(t);
    context.push_back(t);
  }
  out.stop_reason = StopReason::kTokenBudget;
  out.stop_token = -1;
  return out;
}

}  // namespace llmk::harness
