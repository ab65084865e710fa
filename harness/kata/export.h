// A learner's copy of the repository, without solutions/: what `kata export`
// writes. The copy holds the build (CMakeLists.txt, CMakePresets.json, cmake/,
// the `kata` launcher, the style files, harness/, reference/, tools/), the
// exported katas (katas/NAME, fixtures/NAME, tools/recompute/NAME.py), a
// tests.sha256 that lists the copy's published files, a handout note at the top
// of README.md and, for an assignment, assignment.json. Build folders (build,
// build-*), .git and everything else at the root stay behind.
//
//   ExportRequest request{.root = root, .dir = "/tmp/week2"};
//   request.katas = {"02_attention"};          // empty: every kata
//   absl::StatusOr<ExportSummary> summary = ExportCopy(request);
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmk::kata {

struct ExportRequest {
  std::filesystem::path root;  // the repository
  std::filesystem::path dir;   // the copy: must not exist, or be an empty folder
  // The katas to export (folder names under katas/); empty = every kata.
  std::vector<std::string> katas;
  // Written to DIR/assignment.json when not empty: the assignment's JSON text.
  std::string assignment_json;
  std::string assignment_title;  // named in the handout note
};

struct ExportSummary {
  std::vector<std::string> katas;  // exported, sorted
  std::size_t files = 0;           // regular files written, tests.sha256 included
  std::size_t published = 0;       // entries of the copy's tests.sha256
};

// Writes the copy. It is assembled in a sibling folder and renamed to `dir`
// at the end, so that on any error (which names the path and the reason)
// nothing is left at `dir`. Refuses a `dir` that exists and is not an empty
// folder (FailedPrecondition), and a kata that is not in the repository
// (NotFound).
absl::StatusOr<ExportSummary> ExportCopy(const ExportRequest& request);

// The entries of the root that a copy takes (the katas, fixtures and tools
// are filtered further).
const std::vector<std::string>& ExportedRootEntries();

}  // namespace llmk::kata
