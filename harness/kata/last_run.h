// Remembers the step statuses of the latest learner run of each kata, under
// BUILD/.kata/last_run/NAME.json, so that `kata hint 02` knows which step the
// learner is on without running anything.
//
//   SaveLastRun(build_dir, result);                 // after test, status, grade
//   std::optional<int> step = FirstNonPassingStepOfLastRun(build_dir, "02_attention");
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "results.h"

namespace llmk::kata {

// Records the statuses of the steps that were run in `result`; steps that were
// not run (or a kata that did not build) keep what the previous run recorded.
absl::Status SaveLastRun(const std::filesystem::path& build_dir, const KataResult& result);

// The first step of the recorded run that is not passing; nullopt if nothing is
// recorded, or every recorded step passes.
std::optional<int> FirstNonPassingStepOfLastRun(const std::filesystem::path& build_dir,
                                                const std::string& kata_name);

}  // namespace llmk::kata
