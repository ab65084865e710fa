// A fresh private directory under $TMPDIR (or /tmp), removed with everything in
// it when the object goes away: where test binaries write their JSON reports.
//
//   absl::StatusOr<TempDir> dir = TempDir::Create("kata");
//   std::filesystem::path report = dir->path() / "step1.json";
#pragma once

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"

namespace llmk::kata {

class TempDir {
 public:
  // Creates "<tmp>/<prefix>-XXXXXX".
  static absl::StatusOr<TempDir> Create(std::string_view prefix);

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  void Remove();

  std::filesystem::path path_;
};

}  // namespace llmk::kata
