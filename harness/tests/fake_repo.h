// A throwaway repository for the harness tests: katas/NN_name/kata.json files
// and a build/katas.json manifest pointing at the fake kata binaries.
//
//   FakeRepo repo;
//   repo.AddKata("01_pass", FakeKataBinary("pass"));
//   Catalog catalog = repo.Load();
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "catalog.h"
#include "temp_dir.h"

namespace llmk::kata::testing {

// The path of fake_kata_NAME (NAME: pass, todo, fail, segv, ...).
std::string FakeKataBinary(std::string_view name);

// Everything written so far to `file` (a tmpfile a verb printed to).
std::string ReadAll(std::FILE* file);

// A kata.json with three steps: Step1_First, Step2_Second, Step3_Third, plus
// the suites in `extra_suites` as steps 4, 5, ...
std::string ThreeStepKataJson(std::string_view name, int timeout_seconds = 0,
                              const std::vector<std::string>& extra_suites = {});

class FakeRepo {
 public:
  FakeRepo();

  // Adds katas/NAME/kata.json (ThreeStepKataJson unless given) and a manifest
  // entry whose learner and solution binaries are both `binary`.
  void AddKata(const std::string& name, const std::string& binary,
               const std::string& kata_json = "");
  // Writes a file under the root.
  void WriteFile(const std::string& relative_path, std::string_view content) const;
  // Writes build/katas.json and loads the catalog.
  Catalog Load() const;

  const std::filesystem::path& root() const { return dir_.path(); }
  std::filesystem::path build_dir() const { return dir_.path() / "build"; }

 private:
  TempDir dir_;
  std::string manifest_entries_;
};

}  // namespace llmk::kata::testing
