// Performance thresholds: parsed from kata.json, checked against one Google
// Benchmark report.
#include "bench.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(Bench, AReportWithAnUnnamedBenchmarkIsAnErrorThatSaysSo) {
  const absl::StatusOr<std::vector<BenchmarkResult>> results =
      ParseBenchmarkJson(R"({"benchmarks": [{"name": "", "real_time": 1, "cpu_time": 1}]})");
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(results.status().message()), ::testing::HasSubstr("\"name\" is empty"));
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
    ]})",
                                                                                  "kata.json");
  ASSERT_TRUE(thresholds.ok()) << thresholds.status();
  const std::vector<ThresholdResult> checked =
      CheckThresholds(*thresholds, *ParseBenchmarkJson(kReport));
  ASSERT_EQ(checked.size(), 6u);
  EXPECT_TRUE(checked[0].passed) << checked[0].detail;  // 10000 / 2000 = 5
  EXPECT_DOUBLE_EQ(*checked[0].measured, 5.0);
  EXPECT_TRUE(checked[1].passed) << checked[1].detail;  // 9000 / 1500 = 6 in CPU time
  EXPECT_FALSE(checked[2].passed) << checked[2].detail;
  EXPECT_TRUE(checked[3].passed) << checked[3].detail;
  EXPECT_FALSE(checked[4].passed);
  EXPECT_NE(checked[4].detail.find("BM_Nope did not run"), std::string::npos) << checked[4].detail;
  EXPECT_FALSE(checked[5].passed);
  EXPECT_NE(checked[5].detail.find("not implemented"), std::string::npos) << checked[5].detail;
}

TEST(Bench, RejectsAThresholdThatIsNeitherKind) {
  EXPECT_FALSE(ParsePerformance(R"({"performance": [{"benchmark": "BM_X"}]})", "k").ok());
  EXPECT_FALSE(ParsePerformance(R"({"performance": [{"benchmark": "BM_X", "baseline": "BM_Y",
                          "min_speedup": 2, "counter": "c", "min": 1}]})",
                                "k")
                   .ok());
  EXPECT_FALSE(ParsePerformance(R"({"performance": {}})", "k").ok());
  EXPECT_TRUE(ParsePerformance(R"({"name": "no thresholds"})", "k")->empty());
}

TEST(Bench, AThresholdFieldThatIsWrongIsNamed) {
  auto error = [](const std::string& json) {
    absl::StatusOr<std::vector<PerformanceThreshold>> parsed = ParsePerformance(json, "k.json");
    return parsed.ok() ? std::string("ok") : std::string(parsed.status().message());
  };
  EXPECT_EQ(error(R"({"performance": [{"benchmark": "BM_X", "counter": "c", "min": 1,
                      "minimum": 2}]})"),
            "k.json: performance[0]: unknown field \"minimum\" (fields: what, benchmark, "
            "baseline, min_speedup, counter, min, max, time)");
  // A weight means something only in an assignment.
  EXPECT_THAT(error(R"({"performance": [{"benchmark": "BM_X", "counter": "c", "min": 1,
                        "weight": 2}]})"),
              ::testing::HasSubstr("unknown field \"weight\""));
  EXPECT_EQ(error(R"({"performance": [{"benchmark": "BM_X", "counter": "c", "min": "1"}]})"),
            "k.json: performance[0].min must be a finite number, got \"1\"");
  EXPECT_EQ(error(R"({"performance": [{"benchmark": "BM_X", "baseline": "BM_Y",
                      "min_speedup": 2, "time": "wall"}]})"),
            "k.json: performance[0].time must be \"real\" or \"cpu\", got \"wall\"");
  EXPECT_EQ(error(R"({"performance": [{"benchmark": "BM_X", "baseline": "BM_Y"}]})"),
            "k.json: performance[0] must be either {baseline, min_speedup} or {counter, min "
            "and/or max}");
  EXPECT_EQ(error(R"({"performance": [3]})"), "k.json: performance[0]: must be an object");
}

TEST(Bench, AThresholdInAnAssignmentCarriesItsWeight) {
  const nlohmann::json item = nlohmann::json::parse(
      R"({"benchmark": "BM_X", "baseline": "BM_Y", "min_speedup": 2, "weight": 2.5})");
  absl::StatusOr<PerformanceThreshold> t = ParseThreshold(item, "a.json: katas[0]", true);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->weight, 2.5);
  EXPECT_EQ(t->min_speedup, 2);
}

Kata KataWithBench(const std::string& bench) {
  Kata kata;
  kata.name = "01_fake";
  kata.learner.bench_target = "01_fake_bench";
  kata.learner.bench = bench;
  return kata;
}

TEST(Bench, RunsABenchmarkBinaryAndReadsItsReport) {
  const BenchmarkRun run =
      BuildAndRunBenchmark(KataWithBench(LLMK_FAKE_BENCH), Variant::kLearner, BenchmarkOptions{},
                           /*build=*/nullptr, /*progress=*/nullptr);
  ASSERT_EQ(run.problem, "");
  EXPECT_THAT(run.output, ::testing::HasSubstr("BM_Slow/64    10 us"));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_DOUBLE_EQ(run.results[1].real_ns, 10000);
}

TEST(Bench, AKataWithoutABenchmarkIsAProblem) {
  const BenchmarkRun run = BuildAndRunBenchmark(KataWithBench(""), Variant::kLearner,
                                                BenchmarkOptions{}, nullptr, nullptr);
  EXPECT_EQ(run.problem, "01_fake has no benchmark");
  EXPECT_TRUE(BuildAndRunBenchmark(KataWithBench(LLMK_FAKE_BENCH), Variant::kSolution,
                                   BenchmarkOptions{}, nullptr, nullptr)
                  .problem.ends_with("has no benchmark"));
}

}  // namespace
}  // namespace llmk::kata
