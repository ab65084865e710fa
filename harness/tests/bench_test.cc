// Performance thresholds: parsed from kata.json, checked against one Google
// Benchmark report.
#include "bench.h"

#include <gtest/gtest.h>

namespace llmk::kata {
namespace {

constexpr char kReport[] = R"({
  "context": {"num_cpus": 2},
  "benchmarks": [
    {"name": "BM_Fast/64", "run_type": "iteration", "iterations": 10,
     "real_time": 2.0, "cpu_time": 1.5, "time_unit": "us", "GFLOP/s": 12.5},
    {"name": "BM_Slow/64", "run_type": "iteration", "iterations": 10,
     "real_time": 10000.0, "cpu_time": 9000.0, "time_unit": "ns"},
    {"name": "BM_Fast/64_mean", "run_type": "aggregate", "aggregate_name": "mean",
     "real_time": 99.0, "cpu_time": 99.0, "time_unit": "us"},
    {"name": "BM_Broken", "run_type": "iteration", "error_occurred": true,
     "error_message": "not implemented", "real_time": 0, "cpu_time": 0, "time_unit": "ns"}
  ]})";

TEST(Bench, ParsesIterationRunsInNanosecondsWithCounters) {
  absl::StatusOr<std::vector<BenchmarkResult>> results = ParseBenchmarkJson(kReport);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);  // the aggregate is ignored
  EXPECT_EQ((*results)[0].name, "BM_Fast/64");
  EXPECT_DOUBLE_EQ((*results)[0].real_ns, 2000.0);
  EXPECT_DOUBLE_EQ((*results)[0].cpu_ns, 1500.0);
  EXPECT_EQ((*results)[0].Counter("GFLOP/s"), 12.5);
  EXPECT_FALSE((*results)[0].Counter("iterations").has_value());
  EXPECT_TRUE((*results)[2].error);
}

TEST(Bench, ChecksSpeedupsAndCounters) {
  absl::StatusOr<std::vector<PerformanceThreshold>> thresholds = ParsePerformance(R"({
    "performance": [
      {"what": "5x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 5},
      {"what": "6x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 6,
       "time": "cpu"},
      {"what": "10x", "benchmark": "BM_Fast/64", "baseline": "BM_Slow/64", "min_speedup": 10},
      {"what": "flops", "benchmark": "BM_Fast/64", "counter": "GFLOP/s", "min": 10, "max": 20},
      {"what": "missing", "benchmark": "BM_Nope", "counter": "GFLOP/s", "min": 1},
      {"what": "broken", "benchmark": "BM_Broken", "baseline": "BM_Slow/64", "min_speedup": 1}
    ]})", "kata.json");
  ASSERT_TRUE(thresholds.ok()) << thresholds.status();
  const std::vector<ThresholdResult> checked =
      CheckThresholds(*thresholds, *ParseBenchmarkJson(kReport));
  ASSERT_EQ(checked.size(), 6u);
  EXPECT_TRUE(checked[0].passed) << checked[0].detail;   // 10000 / 2000 = 5
  EXPECT_DOUBLE_EQ(*checked[0].measured, 5.0);
  EXPECT_TRUE(checked[1].passed) << checked[1].detail;   // 9000 / 1500 = 6 in CPU time
  EXPECT_FALSE(checked[2].passed) << checked[2].detail;
  EXPECT_TRUE(checked[3].passed) << checked[3].detail;
  EXPECT_FALSE(checked[4].passed);
  EXPECT_NE(checked[4].detail.find("BM_Nope did not run"), std::string::npos) << checked[4].detail;
  EXPECT_FALSE(checked[5].passed);
  EXPECT_NE(checked[5].detail.find("not implemented"), std::string::npos) << checked[5].detail;
}

TEST(Bench, RejectsAThresholdThatIsNeitherKind) {
  EXPECT_FALSE(ParsePerformance(R"({"performance": [{"benchmark": "BM_X"}]})", "k").ok());
  EXPECT_FALSE(
      ParsePerformance(R"({"performance": [{"benchmark": "BM_X", "baseline": "BM_Y",
                          "min_speedup": 2, "counter": "c", "min": 1}]})", "k").ok());
  EXPECT_FALSE(ParsePerformance(R"({"performance": {}})", "k").ok());
  EXPECT_TRUE(ParsePerformance(R"({"name": "no thresholds"})", "k")->empty());
}

}  // namespace
}  // namespace llmk::kata
