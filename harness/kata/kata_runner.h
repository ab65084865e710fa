// Runs one build of a kata's tests, one step per child process, and reports
// every step. The binary is not trusted: it is listed and run under the limits
// of RunChild, so a crash, a hang, an exit(0) half-way or a flood of output
// is reported against its step and the other steps still run.
//
//   RunOptions options;
//   options.timeout_seconds = 5;
//   KataResult result = RunKata(kata, Variant::kLearner, options);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog.h"
#include "results.h"

namespace llmk::kata {

inline constexpr int kDefaultTimeoutSeconds = 10;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// AddressSanitizer and ThreadSanitizer reserve terabytes of address space, so a
// sanitizer build (whose flags every binary of the build shares) runs without a
// limit.
inline constexpr std::uint64_t kDefaultMemoryLimitBytes = 0;
#else
inline constexpr std::uint64_t kDefaultMemoryLimitBytes = 4ull << 30;  // 4 GiB
#endif
inline constexpr std::size_t kDefaultFloodLimitBytes = 8u << 20;  // 8 MiB

struct RunOptions {
  // Time limit of one step (and of listing the tests); none = the kata's
  // timeout_seconds, or kDefaultTimeoutSeconds if it has none.
  std::optional<double> timeout_seconds;
  // Run only this step; the others are reported as not run.
  std::optional<int> only_step;
  // Run only these steps (an assignment's); the others are reported as not run.
  // Applies together with only_step; none = every step.
  std::optional<std::vector<int>> steps;
  // Wall-clock budget of the whole kata (listing and every step); each step's
  // time limit is the smaller of its timeout and what remains. A step that
  // cannot start because the budget ran out is reported timed out. None = no
  // budget beyond the per-step timeout.
  std::optional<double> kata_time_limit_seconds;
  // RLIMIT_AS of the binary; 0 = no limit (sanitizer builds need that).
  std::uint64_t memory_limit_bytes = kDefaultMemoryLimitBytes;
  std::size_t flood_limit_bytes = kDefaultFloodLimitBytes;
  // Extra environment for the binary.
  std::vector<std::pair<std::string, std::string>> env;
};

// Lists the tests of kata's `variant` binary, then runs each step (or only
// options.only_step). Problems that stop the whole kata (no binary, a binary
// that misbehaves when listing) are reported in KataResult::problem.
KataResult RunKata(const Kata& kata, Variant variant, const RunOptions& options);

// A result for `kata` in which no step was run (for a kata that did not build).
KataResult EmptyKataResult(const Kata& kata, Variant variant);

// The tests of `listed` that belong to `step`.
std::vector<std::string> TestsOfStep(const std::vector<std::string>& listed, const Step& step);

}  // namespace llmk::kata
