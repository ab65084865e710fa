// Decides the status of one step from what its run left behind: how the child
// ended, the JSON report (if it was written), and whether GoogleTest's
// premature-exit file is still there. Pure: no processes, no files.
//
//   StepResult result = ClassifyStep(step, listed_tests, run);
//   // result.status == StepStatus::kCrashed, result.detail == "crashed in Step 2 (SIGSEGV)"
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog.h"
#include "child_process.h"
#include "results.h"

namespace llmk::kata {

struct StepRun {
  ChildOutcome child;
  // The text of the --gtest_output=json file, if the binary wrote one.
  std::optional<std::string> json_report;
  // GoogleTest creates GTEST_PREMATURE_EXIT_FILE when it starts and deletes it
  // when it ends normally; still there = the binary exited in the middle.
  bool premature_exit_file_left = false;
  std::chrono::milliseconds timeout{0};
  std::size_t flood_limit_bytes = 0;
  // The address-space limit it ran under; 0 = none.
  std::uint64_t memory_limit_bytes = 0;
};

// `listed_tests` are the step's tests from --gtest_list_tests ("Suite.Test").
StepResult ClassifyStep(const Step& step, const std::vector<std::string>& listed_tests,
                        const StepRun& run);

// A StepResult for `step` with its identity filled in and the status kNotRun.
StepResult NotRunStep(const Step& step);

// What a C++ program's last words say it died of: for libstdc++'s
// "terminate called after throwing an instance of 'std::runtime_error'" and
// "  what():  no fixture", returns "std::runtime_error: no fixture"; "" if the
// output does not say.
std::string UncaughtException(std::string_view output);

// ": out of memory (address-space limit 256 MiB)" if `output` shows an
// allocation that failed (std::bad_alloc) and there was a limit; else "".
std::string OutOfMemoryNote(std::string_view output, std::uint64_t memory_limit_bytes);

// "20 s", "1.5 s".
std::string FormatSeconds(std::chrono::milliseconds duration);
// "8 MiB", "512 KiB", "100 bytes".
std::string FormatBytes(std::size_t bytes);

}  // namespace llmk::kata
