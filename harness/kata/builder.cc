#include "builder.h"

#include <fmt/format.h>

#include "child_process.h"
#include "text_util.h"

namespace llmk::kata {

BuildResult BuildTargets(const std::filesystem::path& build_dir,
                         const std::vector<std::string>& targets, int jobs, bool keep_going) {
  ChildSpec spec;
  spec.argv = {"cmake", "--build", build_dir.string(), "--parallel",
               std::to_string(jobs < 1 ? 1 : jobs)};
  if (!targets.empty()) {
    spec.argv.push_back("--target");
    spec.argv.insert(spec.argv.end(), targets.begin(), targets.end());
  }
  if (keep_going) {
    std::error_code error;
    if (std::filesystem::exists(build_dir / "build.ninja", error)) {
      spec.argv.insert(spec.argv.end(), {"--", "-k", "0"});
    } else if (std::filesystem::exists(build_dir / "Makefile", error)) {
      spec.argv.insert(spec.argv.end(), {"--", "-k"});
    }
  }
  spec.keep_head_bytes = 1 << 20;  // compile errors come first; keep plenty
  const ChildOutcome outcome = RunChild(spec);

  BuildResult result;
  result.output = CleanText(outcome.output);
  result.ok = outcome.end == ChildEnd::kExited && outcome.exit_code == 0;
  if (!result.ok) {
    result.errors = outcome.end == ChildEnd::kFailedToStart ? outcome.start_error + "\n"
                                                            : BuildErrorExcerpt(result.output);
  }
  return result;
}

BuildFunction CmakeBuilder(const std::filesystem::path& build_dir, int jobs) {
  return [build_dir, jobs](const std::string& target) {
    return BuildTargets(build_dir, {target}, jobs);
  };
}

std::string BuildErrorExcerpt(const std::string& output, std::size_t max_lines) {
  const std::vector<std::string_view> lines = SplitLines(output);
  const auto has = [](std::string_view line, std::string_view what) {
    return line.find(what) != std::string_view::npos;
  };
  // Ninja prints "FAILED: <target>" and the failed command before the
  // compiler's messages: both are noise to a learner. Without that marker,
  // start at the first error.
  std::size_t start = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].starts_with("FAILED:")) {
      start = i + 1;
      if (start < lines.size() && !has(lines[start], "error")) ++start;  // the command
      break;
    }
  }
  if (start == lines.size()) {
    for (std::size_t i = 0; i < lines.size() && start == lines.size(); ++i) {
      if (has(lines[i], "error") || has(lines[i], "Error")) start = i;
    }
  }
  if (start == lines.size()) start = 0;
  std::string excerpt;
  for (std::size_t i = start; i < lines.size(); ++i) {
    if (lines[i].starts_with("ninja: build stopped")) continue;
    excerpt.append(lines[i]);
    excerpt.push_back('\n');
  }
  return FirstLines(excerpt, max_lines);
}

}  // namespace llmk::kata
