// The published digests of the files that decide a grade, and the check of a
// copy against them. Published: every kata's test sources (*_test.cc), its
// kata.json, its fixtures (fixtures/NAME/...), and the test-support library
// (harness/include/llmk/testing/, harness/support/). The digests live in
// tests.sha256 at the root, in the format `sha256sum` writes, so that
// `sha256sum -c tests.sha256` checks a copy without the harness.
//
//   absl::StatusOr<Digests> digests = LoadDigests(root / "tests.sha256");
//   std::vector<FileCheck> files = CheckKataFiles(root, *digests, kata);
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog.h"
#include "results.h"

namespace llmk::kata {

// SHA-256 (FIPS 180-4, computed by libcrypto) of `bytes`, as 64 lower-case hex digits;
// Internal if libcrypto fails (it cannot allocate its context).
absl::StatusOr<std::string> Sha256Hex(std::string_view bytes);

// SHA-256 of a file's bytes; NotFound if it cannot be read.
absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& file);

// Path (relative to the root, '/'-separated) -> digest, sorted by path.
struct Digests {
  std::vector<std::pair<std::string, std::string>> entries;
  // The digest of `path`, or nullptr if it is not published.
  const std::string* Find(std::string_view path) const;
};

// Parses "HEX  PATH" lines (sha256sum's format); an error names `where` and the line.
absl::StatusOr<Digests> ParseDigests(std::string_view text, std::string_view where);
absl::StatusOr<Digests> LoadDigests(const std::filesystem::path& file);
// The text of tests.sha256 for `digests`.
std::string FormatDigests(const Digests& digests);

// The published files of one kata, relative to the root, sorted.
std::vector<std::string> PublishedKataFiles(const std::filesystem::path& root, const Kata& kata);
// The published files every kata shares (the test-support library), sorted.
std::vector<std::string> PublishedSharedFiles(const std::filesystem::path& root);
// Every published file of the repository: the shared ones and those of `katas`, sorted.
std::vector<std::string> PublishedFiles(const std::filesystem::path& root,
                                        const std::vector<Kata>& katas);

// Digests of `files` (relative to root) as they are now.
absl::StatusOr<Digests> ComputeDigests(const std::filesystem::path& root,
                                       const std::vector<std::string>& files);

// The kata's published files (every entry of `digests` under the kata's folder
// or its fixtures folder), each compared with the copy under `root`.
std::vector<FileCheck> CheckKataFiles(const std::filesystem::path& root, const Digests& digests,
                                      const Kata& kata);
// The same for the shared test-support library.
std::vector<FileCheck> CheckSharedFiles(const std::filesystem::path& root, const Digests& digests);

// How `listed` (a digests file) falls behind `current` (the tree now), one line
// per file, sorted: "PATH: changed", "PATH: not listed", "PATH: listed, but no
// longer published". Empty when they agree.
std::vector<std::string> CompareDigests(const Digests& listed, const Digests& current);

}  // namespace llmk::kata
