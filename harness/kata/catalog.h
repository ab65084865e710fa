// The katas the harness knows: each kata's steps from katas/NAME/kata.json and
// its test binaries from the build's manifest (BUILD/katas.json, written when
// CMake configures).
//
//   absl::StatusOr<Catalog> catalog = LoadCatalog(root, build_dir);
//   absl::StatusOr<const Kata*> kata = FindKata(*catalog, "02");  // or "attention"
//   std::string link = (*kata)->ReadmeLink((*kata)->steps[0]);
//       // "katas/02_attention/README.md#step-1-project-x-into-q-k-and-v"
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace llmk::kata {

// One step of a kata: one gtest suite, one "## Step N: title" README section.
struct Step {
  int number = 0;
  std::string suite;   // "Step4_Softmax"
  std::string title;   // "Stable row softmax"
  std::string anchor;  // "step-4-stable-row-softmax"
  std::vector<std::string> functions;
};

// The two builds of a kata's tests.
enum class Variant { kLearner, kSolution };
std::string_view VariantName(Variant variant);  // "learner", "solution"

// One build of a kata's tests, from the manifest.
struct Binaries {
  std::string target;        // "02_attention_test"
  std::string binary;        // absolute path; empty if unknown
  std::string bench_target;  // empty if the kata has no benchmark
  std::string bench;
};

struct Kata {
  std::string name;  // "02_attention"
  std::string title;
  std::string dir;          // relative to the root: "katas/02_attention"
  int timeout_seconds = 0;  // per step; 0 = not given by kata.json
  std::vector<Step> steps;  // in order of number
  Binaries learner;
  Binaries solution;

  const Binaries& Of(Variant variant) const;
  // What a learner types to name the kata: "02".
  std::string ShortId() const;
  // The step with this number, or nullptr.
  const Step* FindStep(int number) const;
  // "katas/02_attention/README.md#step-4-stable-row-softmax".
  std::string ReadmeLink(const Step& step) const;
};

struct Catalog {
  std::filesystem::path root;
  std::filesystem::path build_dir;
  bool has_manifest = false;  // false: katas found in the source tree, no binaries
  std::vector<Kata> katas;
};

// Parses a kata.json text; `where` names it in error messages.
absl::StatusOr<Kata> ParseKataJson(std::string_view json_text, std::string_view where);

// Reads and parses `file`; the kata's dir is taken relative to `root`.
absl::StatusOr<Kata> LoadKataJson(const std::filesystem::path& root,
                                  const std::filesystem::path& file);

// Loads the katas listed in BUILD/katas.json. Without a manifest: if
// `require_manifest`, an error that says how to configure; otherwise the
// katas/NN_*/kata.json of the source tree, without binaries.
absl::StatusOr<Catalog> LoadCatalog(const std::filesystem::path& root,
                                    const std::filesystem::path& build_dir, bool require_manifest);

// Finds a kata by "02", "2", "02_attention" or "attention".
absl::StatusOr<const Kata*> FindKata(const Catalog& catalog, std::string_view query);

// GitHub's anchor for a heading: "Step 4: Stable row softmax" ->
// "step-4-stable-row-softmax".
std::string HeadingAnchor(std::string_view heading);

}  // namespace llmk::kata
