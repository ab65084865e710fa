// The assignment format: what it resolves, and every bad field named in the
// error; and every example assignment in docs/assignments/ parses against the
// real katas.
#include "assignment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "fake_repo.h"

namespace llmk::kata {
namespace {

using testing::FakeKataBinary;
using testing::FakeRepo;
using ::testing::HasSubstr;

// 02_attention and 09_flash have a benchmark, 03_scaling has none.
Catalog ThreeKatas(FakeRepo& repo) {
  repo.AddKata("02_attention", FakeKataBinary("pass"));
  repo.AddKata("03_scaling", FakeKataBinary("pass"));
  repo.AddKata("09_flash", FakeKataBinary("pass"));
  Catalog catalog = repo.Load();
  for (Kata& kata : catalog.katas) {
    if (kata.name == "03_scaling") continue;
    kata.learner.bench_target = kata.name + "_bench";
    kata.learner.bench = "/nonexistent/" + kata.name + "_bench";
  }
  return catalog;
}

TEST(Assignment, ParsesEveryFieldAndResolvesNames) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  absl::StatusOr<Assignment> assignment = ParseAssignment(R"({
    "schema": "llmk-assignment/1",
    "title": "Week 2: attention",
    "integrity": "fail",
    "katas": [
      {"kata": "attention", "weight": 4, "steps": [3, 1], "time_limit_seconds": 120},
      {"kata": "3"},
      {"kata": "09_flash", "weight": 2.5,
       "performance": [{"what": "fast", "benchmark": "BM_A", "baseline": "BM_B",
                        "min_speedup": 1.5, "weight": 1.5},
                       {"benchmark": "BM_A", "counter": "GFLOP/s", "min": 2, "time": "cpu"}]}
    ]})",
                                                          "week2.json", catalog);
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_EQ(assignment->title, "Week 2: attention");
  EXPECT_EQ(assignment->integrity, IntegrityPolicy::kFail);
  ASSERT_EQ(assignment->katas.size(), 3u);
  const AssignedKata& attention = assignment->katas[0];
  EXPECT_EQ(attention.kata, "02_attention");
  EXPECT_EQ(attention.weight, 4);
  EXPECT_EQ(attention.steps, (std::vector<int>{1, 3}));  // ascending
  EXPECT_EQ(attention.time_limit_seconds, 120);
  EXPECT_EQ(assignment->katas[1].kata, "03_scaling");
  EXPECT_EQ(assignment->katas[1].weight, 1);  // the default
  EXPECT_TRUE(assignment->katas[1].steps.empty());
  EXPECT_FALSE(assignment->katas[1].time_limit_seconds.has_value());
  const AssignedKata& flash = assignment->katas[2];
  ASSERT_EQ(flash.performance.size(), 2u);
  EXPECT_EQ(flash.performance[0].min_speedup, 1.5);
  EXPECT_EQ(flash.performance[0].weight, 1.5);
  EXPECT_EQ(flash.performance[1].counter, "GFLOP/s");
  EXPECT_TRUE(flash.performance[1].cpu_time);
  EXPECT_EQ(flash.performance[1].weight, 1);  // the default
  EXPECT_DOUBLE_EQ(assignment->MaxScore(), 4 + 1 + 2.5 + 1.5 + 1);
}

TEST(Assignment, IntegrityDefaultsToReport) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  absl::StatusOr<Assignment> assignment = ParseAssignment(
      R"({"schema": "llmk-assignment/1", "katas": [{"kata": "02"}]})", "a.json", catalog);
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_EQ(assignment->integrity, IntegrityPolicy::kReport);
  EXPECT_EQ(assignment->title, "");
}

TEST(Assignment, EveryBadFieldIsNamed) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  const std::string head = R"({"schema": "llmk-assignment/1", "katas": [)";
  auto kata = [&](const std::string& fields) { return head + fields + "]}"; };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "w.json: not valid JSON"},
      {"[1]", "w.json: must be a JSON object"},
      {R"({"katas": [{"kata": "02"}]})", "w.json: schema: missing"},
      {R"({"schema": "llmk-assignment/2", "katas": [{"kata": "02"}]})",
       "w.json: schema: unknown schema \"llmk-assignment/2\""},
      {R"({"schema": "llmk-assignment/1", "titel": "x", "katas": [{"kata": "02"}]})",
       "w.json: titel: unknown field"},
      {R"({"schema": "llmk-assignment/1", "title": 3, "katas": [{"kata": "02"}]})",
       "w.json: title: must be a string, got 3"},
      {R"({"schema": "llmk-assignment/1", "integrity": "strict", "katas": [{"kata": "02"}]})",
       "w.json: integrity: must be \"report\" or \"fail\", got \"strict\""},
      {R"({"schema": "llmk-assignment/1"})", "w.json: katas: missing"},
      {R"({"schema": "llmk-assignment/1", "katas": []})",
       "w.json: katas: must be a non-empty list"},
      {kata(R"("02")"), "w.json: katas[0]: must be an object, got \"02\""},
      {kata(R"({"weight": 1})"), "w.json: katas[0]: needs a \"kata\""},
      {kata(R"({"kata": 2})"), "w.json: katas[0].kata: must be a string, got 2"},
      {kata(R"({"kata": "nope"})"), "w.json: katas[0].kata: no kata \"nope\""},
      {kata(R"({"kata": "02"}, {"kata": "02_attention"})"),
       "w.json: katas[1].kata: kata 02_attention is already listed as katas[0]"},
      {kata(R"({"kata": "02", "wieght": 2})"), "w.json: katas[0].wieght: unknown field"},
      {kata(R"({"kata": "02", "weight": -1})"), "w.json: katas[0].weight: must not be negative"},
      {kata(R"({"kata": "02", "weight": "3"})"),
       "w.json: katas[0].weight: must be a finite number, got \"3\""},
      {kata(R"({"kata": "02", "steps": [1, 9]})"),
       "w.json: katas[0].steps[1]: kata 02_attention has no step 9 (its steps: 1, 2, 3)"},
      {kata(R"({"kata": "02", "steps": []})"), "w.json: katas[0].steps: must be a non-empty list"},
      {kata(R"({"kata": "02", "steps": 2})"), "w.json: katas[0].steps: must be a non-empty list"},
      {kata(R"({"kata": "02", "steps": [1.5]})"),
       "w.json: katas[0].steps[0]: must be a step number, got 1.5"},
      {kata(R"({"kata": "02", "steps": [2, 2]})"),
       "w.json: katas[0].steps[1]: step 2 is listed twice"},
      {kata(R"({"kata": "02", "time_limit_seconds": 0})"),
       "w.json: katas[0].time_limit_seconds: must be more than 0, got 0"},
      {kata(R"({"kata": "02", "time_limit_seconds": -5})"),
       "w.json: katas[0].time_limit_seconds: must be more than 0, got -5"},
      {kata(R"({"kata": "02", "time_limit_seconds": "1m"})"),
       "w.json: katas[0].time_limit_seconds: must be a finite number"},
      {kata(R"({"kata": "02", "performance": {}})"),
       "w.json: katas[0].performance: must be a list of thresholds"},
      {kata(R"({"kata": "03", "performance": [{"benchmark": "BM_A", "counter": "c", "min": 1}]})"),
       "w.json: katas[0].performance: kata 03_scaling has no benchmark"},
      {kata(R"({"kata": "02", "performance": [{"benchmark": "BM_A"}]})"),
       "w.json: katas[0].performance[0] must be either {baseline, min_speedup} or {counter, min "
       "and/or max}"},
      {kata(R"({"kata": "02", "performance": [{"baseline": "BM_B", "min_speedup": 2}]})"),
       "w.json: katas[0].performance[0] needs a \"benchmark\""},
      {kata(R"({"kata": "02", "performance": [{"benchmark": "BM_A", "baseline": "BM_B",
                "min_speedup": 2, "wieght": 1}]})"),
       "w.json: katas[0].performance[0]: unknown field \"wieght\""},
      {kata(R"({"kata": "02", "performance": [{"benchmark": "BM_A", "baseline": "BM_B",
                "min_speedup": 2, "weight": -1}]})"),
       "w.json: katas[0].performance[0].weight must not be negative, got -1"},
      {kata(R"({"kata": "02", "performance": [{"benchmark": "BM_A", "baseline": "BM_B",
                "min_speedup": "2"}]})"),
       "w.json: katas[0].performance[0].min_speedup must be a finite number, got \"2\""},
      {kata(R"({"kata": "02", "performance": [{"benchmark": "BM_A", "baseline": "BM_B",
                "min_speedup": 2, "time": "gpu"}]})"),
       "w.json: katas[0].performance[0].time must be \"real\" or \"cpu\", got \"gpu\""},
      {kata(R"({"kata": "02", "performance": [{"benchmark": 7, "counter": "c", "min": 1}]})"),
       "w.json: katas[0].performance[0].benchmark must be a non-empty string, got 7"},
  };
  for (const auto& [json, error] : cases) {
    absl::StatusOr<Assignment> assignment = ParseAssignment(json, "w.json", catalog);
    ASSERT_FALSE(assignment.ok()) << json;
    EXPECT_EQ(assignment.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(assignment.status().message()), HasSubstr(error)) << json;
  }
}

TEST(Assignment, ANumberTooLargeForADoubleIsAnError) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  // 1e999 is valid JSON; it overflows a double.
  absl::StatusOr<Assignment> assignment = ParseAssignment(
      R"({"schema": "llmk-assignment/1", "katas": [{"kata": "02", "weight": 1e999}]})", "w.json",
      catalog);
  ASSERT_FALSE(assignment.ok());
  EXPECT_THAT(std::string(assignment.status().message()), HasSubstr("w.json: "));
}

TEST(Assignment, AMissingFileIsNotFoundAndNamed) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  const std::filesystem::path file = repo.root() / "week9.json";
  absl::StatusOr<Assignment> assignment = LoadAssignment(file, catalog);
  ASSERT_FALSE(assignment.ok());
  EXPECT_EQ(assignment.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(assignment.status().message()),
              HasSubstr(file.string() + ": cannot read it: No such file or directory"));
}

TEST(Assignment, LoadsAFile) {
  FakeRepo repo;
  const Catalog catalog = ThreeKatas(repo);
  repo.WriteFile("week2.json",
                 R"({"schema": "llmk-assignment/1", "katas": [{"kata": "02", "weight": 3}]})");
  absl::StatusOr<Assignment> assignment = LoadAssignment(repo.root() / "week2.json", catalog);
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_EQ(assignment->MaxScore(), 3);
}

// Every example an instructor may start from parses against the katas of
// this repository (found from the source tree, as without a build).
TEST(Assignment, EveryDocumentedExampleParses) {
  const std::filesystem::path root = LLMK_SOURCE_DIR;
  absl::StatusOr<Catalog> catalog =
      LoadCatalog(root, root / "no-such-build-dir", /*require_manifest=*/false);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  int examples = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root / "docs" / "assignments")) {
    if (entry.path().extension() != ".json") continue;
    ++examples;
    absl::StatusOr<Assignment> assignment = LoadAssignment(entry.path(), *catalog);
    EXPECT_TRUE(assignment.ok()) << assignment.status();
    if (assignment.ok()) {
      EXPECT_GT(assignment->MaxScore(), 0) << entry.path();
    }
  }
  EXPECT_GE(examples, 1);
}

}  // namespace
}  // namespace llmk::kata
