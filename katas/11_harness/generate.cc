// Your implementation of generate.h (step 5). Replace the
// `throw llmk::NotImplemented(...)` with the step's code; README.md derives it, HINTS.md
// helps when stuck. Run `./kata test 11 --step 5` after each change.
#include "generate.h"

namespace llmk::harness {

// Step 5: call the model, Sample, stop on a stop token or when the budget is spent.
Generation Generate(LanguageModel& model, const std::vector<int>& prompt,
                    const GenerationOptions& options, Rng& rng) {
  throw NotImplemented("Generate");
}

}  // namespace llmk::harness
