// Kata 11, step 5: the generation loop around a language model.
//
//   class Bigram : public harness::LanguageModel { ... };   // any model: a scripted one
//   Bigram model;                                           // in the tests
//   harness::GenerationOptions options;
//   options.sampling.temperature = 0.8f;
//   options.max_new_tokens = 64;
//   options.stop_tokens = {kEndOfText};
//   llmk::Rng rng(7);
//   harness::Generation g = harness::Generate(model, prompt, options, rng);
//   if (g.stop_reason == harness::StopReason::kTokenBudget) { /* cut off */ }
//
// V = vocabulary size, T = tokens in the context (prompt + generated so far).
#pragma once

#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"
#include "sampling.h"

namespace llmk::harness {

// What Generate needs from a model: the logits of the next token.
class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  // V >= 1, fixed for the life of the model.
  virtual int vocab_size() const = 0;
  // The logits of the token that follows `context` (token ids in [0, V)), [V].
  virtual Vector NextLogits(const std::vector<int>& context) = 0;
};

// Why a generation ended.
enum class StopReason {
  kStopToken,    // the model produced one of options.stop_tokens
  kTokenBudget,  // max_new_tokens tokens were generated without a stop token
};

struct GenerationOptions {
  SamplingConfig sampling;       // how each token is drawn (sampling.h)
  int max_new_tokens = 16;       // the token budget, >= 0
  std::vector<int> stop_tokens;  // ids in [0, V); may be empty
};

struct Generation {
  std::vector<int> tokens;  // the new tokens, without the prompt and without the stop token
  StopReason stop_reason = StopReason::kTokenBudget;
  int stop_token = -1;      // the stop token that ended it; -1 for kTokenBudget
};

// Step 5. Generates up to max_new_tokens tokens after `prompt`:
//   repeat: logits = model.NextLogits(prompt + tokens so far);
//           t = Sample(logits, tokens so far, options.sampling, rng);
//           if t is a stop token: stop (kStopToken), t is not appended;
//           else append t; if max_new_tokens tokens are appended: stop (kTokenBudget).
// The model is called at most max_new_tokens times (never when it is 0), and Sample
// draws one rng.Uniform() per call, so a seed reproduces a run exactly. The repetition
// penalty sees only the generated tokens, not the prompt.
// Throws InvalidArgument for an empty prompt, a prompt or stop token outside [0, V), a
// negative budget, a bad sampling config, and logits from the model whose size is not
// V (a model that breaks its contract).
Generation Generate(LanguageModel& model, const std::vector<int>& prompt,
                    const GenerationOptions& options, Rng& rng);

}  // namespace llmk::harness
