// Performance grading: runs a kata's Google Benchmark binary and checks the
// thresholds of its kata.json "performance" list against that one run.
//
//   "performance": [
//     {"what": "tiled forward at least 1.3x the naive reference",
//      "benchmark": "BM_Flash/T:1024/...", "baseline": "BM_Naive/T:1024/...", "min_speedup": 1.3},
//     {"what": "...", "benchmark": "BM_X", "counter": "GFLOP/s", "min": 5}]
//
// A speedup is baseline time / benchmark time (real time unless "time": "cpu"),
// both taken from the same run, so the machine's speed cancels out.
//
//   BenchmarkRun run = BuildAndRunBenchmark(kata, Variant::kLearner, options, build, progress);
//   if (run.problem.empty()) checked = CheckThresholds(thresholds, run.results);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "builder.h"
#include "catalog.h"

namespace llmk::kata {

struct PerformanceThreshold {
  std::string what;
  std::string benchmark;
  std::string baseline;  // speedup thresholds
  std::optional<double> min_speedup;
  std::string counter;  // counter thresholds
  std::optional<double> min;
  std::optional<double> max;
  bool cpu_time = false;
  // What meeting it is worth in an assignment's score (kata.json thresholds: 1).
  double weight = 1;
};

// One benchmark of a Google Benchmark JSON report (times in nanoseconds).
struct BenchmarkResult {
  std::string name;
  double real_ns = 0;
  double cpu_ns = 0;
  bool error = false;
  std::string error_message;
  std::vector<std::pair<std::string, double>> counters;

  std::optional<double> Counter(std::string_view counter_name) const;
};

struct ThresholdResult {
  PerformanceThreshold threshold;
  std::optional<double> measured;  // none: a benchmark was missing or failed
  bool passed = false;
  std::string detail;  // "12.3x (needs >= 1.3x)", "BM_X did not run"
};

// Parses one threshold object; every error names `at` ("kata.json: performance[1]").
// Keys: what, benchmark, baseline, min_speedup, counter, min, max, time ("real"
// or "cpu"), and weight (a finite number >= 0) only if `weight_allowed`; any
// other key is an error, so a typo is not silently ignored.
absl::StatusOr<PerformanceThreshold> ParseThreshold(const nlohmann::json& item, std::string_view at,
                                                    bool weight_allowed);

// Parses the "performance" list of a kata.json text (absent = empty list).
absl::StatusOr<std::vector<PerformanceThreshold>> ParsePerformance(std::string_view kata_json,
                                                                   std::string_view where);

// Parses a Google Benchmark JSON report (--benchmark_out_format=json). Only
// iteration runs are kept (aggregates of repetitions are ignored).
absl::StatusOr<std::vector<BenchmarkResult>> ParseBenchmarkJson(std::string_view json_text);

// Checks each threshold against one run's results.
std::vector<ThresholdResult> CheckThresholds(const std::vector<PerformanceThreshold>& thresholds,
                                             const std::vector<BenchmarkResult>& results);

// Receives a line of progress ("building 02_attention_test ...").
using ProgressFunction = std::function<void(std::string_view line)>;

// The limits of one benchmark run (the same isolation as a test binary's).
struct BenchmarkOptions {
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
  std::size_t flood_limit_bytes = std::size_t{64} << 20;
  std::uint64_t memory_limit_bytes = 0;  // 0 = no limit
};

// One run of a kata's benchmark binary.
struct BenchmarkRun {
  // Why it gave no results ("the benchmark 09_flash_attention_bench does not
  // compile"); empty if it ran and its report parsed.
  std::string problem;
  std::string problem_output;  // the compiler's errors, when it did not compile
  std::string output;          // its console output (the table)
  std::vector<BenchmarkResult> results;
};

// Builds the kata's benchmark target for `variant` (unless `build` is empty),
// runs it once as a child process under `options` and parses its JSON report.
BenchmarkRun BuildAndRunBenchmark(const Kata& kata, Variant variant,
                                  const BenchmarkOptions& options, const BuildFunction& build,
                                  const ProgressFunction& progress);

}  // namespace llmk::kata
