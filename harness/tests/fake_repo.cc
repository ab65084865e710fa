#include "fake_repo.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

namespace llmk::kata::testing {
namespace {

TempDir MustCreateTempDir() {
  absl::StatusOr<TempDir> dir = TempDir::Create("kata-harness-test");
  if (!dir.ok()) {
    ADD_FAILURE() << dir.status();
    std::abort();
  }
  return *std::move(dir);
}

}  // namespace

std::string ReadAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  return text;
}

std::string FakeKataBinary(std::string_view name) {
  return fmt::format("{}/fake_kata_{}", LLMK_FAKE_KATA_DIR, name);
}

std::string ThreeStepKataJson(std::string_view name, int timeout_seconds,
                              const std::vector<std::string>& extra_suites) {
  std::string steps =
      R"({"number": 1, "suite": "Step1_First", "title": "First things", "anchor": "step-1-first-things"},
    {"number": 2, "suite": "Step2_Second", "title": "Second <&\"> thing", "anchor": "step-2-second-thing"},
    {"number": 3, "suite": "Step3_Third", "title": "Third thing", "anchor": "step-3-third-thing"})";
  int number = 4;
  for (const std::string& suite : extra_suites) {
    steps += fmt::format(
        R"(,
    {{"number": {0}, "suite": "{1}", "title": "Extra {0}", "anchor": "step-{0}-extra-{0}"}})",
        number, suite);
    ++number;
  }
  return fmt::format(R"({{"name": "{}", "title": "Fake kata {}", "timeout_seconds": {},
  "steps": [
    {}
  ]}})",
                     name, name, timeout_seconds, steps);
}

FakeRepo::FakeRepo() : dir_(MustCreateTempDir()) {
  std::filesystem::create_directories(build_dir());
}

void FakeRepo::AddKata(const std::string& name, const std::string& binary,
                       const std::string& kata_json) {
  WriteFile("katas/" + name + "/kata.json",
            kata_json.empty() ? ThreeStepKataJson(name) : kata_json);
  if (!manifest_entries_.empty()) manifest_entries_ += ",\n";
  manifest_entries_ += fmt::format(
      R"(    {{"name": "{0}", "dir": "katas/{0}",
     "learner": {{"target": "{0}_test", "binary": "{1}", "bench_target": "", "bench": ""}},
     "solution": {{"target": "{0}_solution_test", "binary": "{1}", "bench_target": "", "bench": ""}}}})",
      name, binary);
}

void FakeRepo::WriteFile(const std::string& relative_path, std::string_view content) const {
  const std::filesystem::path file = root() / relative_path;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
}

Catalog FakeRepo::Load() const {
  WriteFile("build/katas.json",
            fmt::format(R"({{"source_dir": "{}", "build_dir": "{}", "katas": [
{}
]}})",
                        root().string(), build_dir().string(), manifest_entries_));
  absl::StatusOr<Catalog> catalog = LoadCatalog(root(), build_dir(), /*require_manifest=*/true);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  return catalog.ok() ? *std::move(catalog) : Catalog{};
}

}  // namespace llmk::kata::testing
