// An instructor's assignment: which katas (or which of their steps) are graded,
// what each is worth, the performance thresholds, a time limit per kata, and
// what a changed test or fixture does to the grade. Format "llmk-assignment/1",
// documented in harness/README.md ("Assignments"):
//
//   {"schema": "llmk-assignment/1",
//    "title": "Week 2: attention",
//    "integrity": "fail",
//    "katas": [
//      {"kata": "02_attention", "weight": 4, "steps": [1, 2, 3, 4], "time_limit_seconds": 120},
//      {"kata": "09", "weight": 3,
//       "performance": [{"what": "causal at least 1.5x faster than full",
//                        "benchmark": "...", "baseline": "...", "min_speedup": 1.5,
//                        "weight": 1}]}]}
//
//   absl::StatusOr<Assignment> assignment = LoadAssignment(file, catalog);
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench.h"
#include "catalog.h"

namespace llmk::kata {

// What a changed or missing test source or fixture does to the grade.
enum class IntegrityPolicy {
  kReport,  // the report names the file; the score is unchanged
  kFail,    // the kata earns nothing, and the grade does not pass
};

struct AssignedKata {
  std::string kata;        // resolved name: "02_attention"
  double weight = 1;       // what all of its assigned steps together are worth
  std::vector<int> steps;  // the graded steps, ascending; empty = every step
  // Wall-clock limit for the whole kata (all its steps); none = no limit beyond
  // the per-step timeout.
  std::optional<double> time_limit_seconds;
  // Thresholds graded on one run of the kata's benchmark; each carries its weight.
  std::vector<PerformanceThreshold> performance;
};

struct Assignment {
  std::string title;
  IntegrityPolicy integrity = IntegrityPolicy::kReport;
  std::vector<AssignedKata> katas;  // in the file's order; a kata appears once

  // The sum of every kata's weight and every threshold's weight.
  double MaxScore() const;
};

// Parses an assignment's JSON text and resolves kata names ("02", "attention")
// and step numbers against `catalog`. Every error names `where`, the field and
// what was wrong ("week2.json: katas[1].steps: kata 02_attention has no step 9").
absl::StatusOr<Assignment> ParseAssignment(std::string_view json_text, std::string_view where,
                                           const Catalog& catalog);

// Reads `file` and parses it.
absl::StatusOr<Assignment> LoadAssignment(const std::filesystem::path& file,
                                          const Catalog& catalog);

}  // namespace llmk::kata
