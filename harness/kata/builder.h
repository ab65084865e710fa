// Builds CMake targets of the configured build as a child process, its output
// captured, so that one kata that does not compile is reported and the others go
// on.
//
//   BuildResult built = BuildTargets(build_dir, {"02_attention_test"}, /*jobs=*/2);
//   if (!built.ok) fmt::print("{}", built.errors);  // the first lines of the errors
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace llmk::kata {

struct BuildResult {
  bool ok = false;
  // The first ~40 lines of the errors, starting at the first failed command or
  // error message: what a learner needs to fix it.
  std::string errors;
  std::string output;  // everything the build printed (head and tail if long)
};

// Runs `cmake --build BUILD_DIR --parallel JOBS [--target T...]`; no targets =
// everything. With `keep_going`, a target that fails does not stop the others (Ninja's
// -k 0, Make's -k).
BuildResult BuildTargets(const std::filesystem::path& build_dir,
                         const std::vector<std::string>& targets, int jobs,
                         bool keep_going = false);

// Builds one target; what grade, status and test call (tests substitute it).
using BuildFunction = std::function<BuildResult(const std::string& target)>;

// A BuildFunction that calls BuildTargets.
BuildFunction CmakeBuilder(const std::filesystem::path& build_dir, int jobs);

// The part of a failed build's output a learner should read first.
std::string BuildErrorExcerpt(const std::string& output, std::size_t max_lines = 40);

}  // namespace llmk::kata
