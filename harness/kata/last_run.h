// Remembers the step statuses of the latest learner run of each kata, under
// BUILD/.kata/last_run/NAME.json, so that `kata hint 02` knows which step the
// learner is on without running anything.
//
// It is also what the board shows: `kata` runs nothing, it reads these records.
//
//   SaveLastRun(build_dir, result);                 // after test and grade
//   std::optional<int> step = FirstNonPassingStepOfLastRun(build_dir, "02_attention");
//   KataResult shown = LastRunResult(kata, root, build_dir);  // for the board
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "catalog.h"
#include "results.h"

namespace llmk::kata {

// Records the statuses of the steps that were run in `result`; steps that were
// not run keep what the previous run recorded. A kata that did not build (or
// whose binary could not list its tests) is recorded with that problem, which
// the next run without a problem clears.
absl::Status SaveLastRun(const std::filesystem::path& build_dir, const KataResult& result);

// The first step of the recorded run that is not passing; nullopt if nothing is
// recorded, or every recorded step passes.
std::optional<int> FirstNonPassingStepOfLastRun(const std::filesystem::path& build_dir,
                                                const std::string& kata_name);

// The kata as its latest recorded learner run left it, without building or
// running anything: each step's recorded status (kNotRun where none is), the
// recorded problem, and a `note` when there is no record yet ("not run yet")
// or when a file of the kata's folder is newer than the record (the result may
// be out of date). Never a guess: what was not run says so.
KataResult LastRunResult(const Kata& kata, const std::filesystem::path& root,
                         const std::filesystem::path& build_dir);

}  // namespace llmk::kata
