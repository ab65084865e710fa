// `kata grade`: builds and runs every kata of one variant (or an assignment's
// katas and steps), checks the published test files against their digests,
// and writes the report in the chosen format. Exits 0 only if the grade passes:
// every graded step passes, every graded threshold is met, and no changed file
// fails it.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "assignment.h"
#include "board.h"
#include "grade.h"
#include "integrity.h"
#include "last_run.h"
#include "reports.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

// Writes `text` to FILE.tmp, then renames it to FILE, so that a failed write
// leaves no partial report behind.
absl::Status WriteReport(const std::string& file, const std::string& text) {
  const std::string tmp = file + ".tmp";
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (out == nullptr) {
    const int error = errno;
    return absl::UnavailableError(fmt::format("cannot write {}: {}", file, std::strerror(error)));
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  int error = errno;
  const bool closed = std::fclose(out) == 0;
  if (written && !closed) error = errno;
  if (!written || !closed) {
    std::remove(tmp.c_str());
    return absl::UnavailableError(fmt::format("cannot write {}: {}", file, std::strerror(error)));
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    error = errno;
    std::remove(tmp.c_str());
    return absl::UnavailableError(fmt::format("cannot write {}: {}", file, std::strerror(error)));
  }
  return absl::OkStatus();
}

// Checks, before anything is built or run, that the report could be written:
// its folder exists and is writable. (Root may write anywhere the file system
// lets it, so this catches a missing folder rather than permissions.)
absl::Status CheckReportPath(const std::string& file) {
  std::error_code error;
  const std::filesystem::path folder =
      std::filesystem::absolute(file, error).lexically_normal().parent_path();
  if (!std::filesystem::is_directory(folder, error)) {
    return absl::InvalidArgumentError(
        fmt::format("cannot write {}: {} {}", file, folder.string(),
                    std::filesystem::exists(folder, error) ? "is not a folder" : "does not exist"));
  }
  if (access(folder.c_str(), W_OK) != 0) {
    const int access_error = errno;
    return absl::InvalidArgumentError(
        fmt::format("cannot write {}: {}", file, std::strerror(access_error)));
  }
  return absl::OkStatus();
}

}  // namespace

int GradeVerb(const Context& ctx, const GradeFlags& flags) {
  if (flags.format != "text" && flags.format != "json" && flags.format != "junit" &&
      flags.format != "markdown" && flags.format != "html") {
    PrintError(ctx, fmt::format("unknown --format \"{}\" (text, json, junit, markdown or html)",
                                flags.format));
    return kExitUsage;
  }
  if (flags.variant != "learner" && flags.variant != "solution") {
    PrintError(ctx, fmt::format("unknown --variant \"{}\" (learner or solution)", flags.variant));
    return kExitUsage;
  }
  if (flags.bench && !flags.assignment_file.empty()) {
    PrintError(ctx,
               "--bench grades the kata.json thresholds of every kata; with --assignment the "
               "assignment's thresholds are graded: use one or the other");
    return kExitUsage;
  }
  if (!flags.out_file.empty()) {
    if (absl::Status writable = CheckReportPath(flags.out_file); !writable.ok()) {
      PrintError(ctx, writable);
      return kExitUsage;
    }
  }
  const Variant variant = flags.variant == "solution" ? Variant::kSolution : Variant::kLearner;
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }

  GradeOptions options;
  options.run = ctx.MakeRunOptions();
  options.bench = flags.bench;
  options.benchmark.memory_limit_bytes = ctx.memory_limit_bytes;
  std::optional<Assignment> assignment;
  if (!flags.assignment_file.empty()) {
    // A missing or broken assignment is a usage error: the command's input is wrong.
    absl::StatusOr<Assignment> loaded = LoadAssignment(flags.assignment_file, *catalog);
    if (!loaded.ok()) {
      PrintError(ctx, loaded.status());
      return kExitUsage;
    }
    assignment = *std::move(loaded);
    options.assignment = &*assignment;
    options.assignment_file = flags.assignment_file;
  }

  const bool digests_named = !flags.digests_file.empty();
  const std::filesystem::path digests_path =
      digests_named ? std::filesystem::path(flags.digests_file) : ctx.root / "tests.sha256";
  if (digests_named || std::filesystem::exists(digests_path)) {
    absl::StatusOr<Digests> digests = LoadDigests(digests_path);
    if (!digests.ok()) {
      PrintError(ctx, digests.status());
      return kExitNotPassing;
    }
    options.digests = *std::move(digests);
    options.digests_file = digests_named ? flags.digests_file : "tests.sha256";
  } else if (assignment && assignment->integrity == IntegrityPolicy::kFail) {
    PrintError(ctx, fmt::format("{} says \"integrity\": \"fail\", but there are no digests to "
                                "check the test files against: {} does not exist (give them "
                                "with --digests FILE)",
                                flags.assignment_file, digests_path.string()));
    return kExitNotPassing;
  }

  if (!ctx.build) {  // the real build (tests substitute their own)
    options.prebuild = [&ctx](const std::vector<std::string>& targets) {
      PrintProgress(ctx, fmt::format("building {} targets together (-j{}) ...", targets.size(),
                                     std::max(1, ctx.jobs)));
      BuildTargets(ctx.build_dir, targets, ctx.jobs, /*keep_going=*/true);
    };
  }
  const GradeReport report = Grade(*catalog, variant, options, ctx.Builder(),
                                   [&](std::string_view line) { PrintProgress(ctx, line); });
  if (variant == Variant::kLearner) {
    for (const KataResult& kata : report.katas) {
      if (absl::Status saved = SaveLastRun(ctx.build_dir, kata); !saved.ok()) {
        PrintError(ctx, saved);
      }
    }
  }

  const bool to_file = !flags.out_file.empty();
  std::string text;
  if (flags.format == "json") {
    text = JsonReport(report);
  } else if (flags.format == "junit") {
    text = JunitReport(report);
  } else if (flags.format == "markdown") {
    text = MarkdownReport(report);
  } else if (flags.format == "html") {
    text = HtmlReport(report);
  } else {
    text = RenderBoard(report, to_file ? Style::Plain() : ctx.style);
  }
  if (to_file) {
    if (absl::Status written = WriteReport(flags.out_file, text); !written.ok()) {
      PrintError(ctx, written);
      return kExitNotPassing;
    }
    std::string score;
    if (report.has_assignment) {
      score =
          fmt::format("score {}/{}; ", FormatPoints(report.score), FormatPoints(report.max_score));
    }
    fmt::print(ctx.out, "{}{}/{} steps passing; report written to {}\n", score,
               report.PassingSteps(), report.StepCount(), flags.out_file);
  } else {
    fmt::print(ctx.out, "{}", text);
  }
  return report.AllPass() ? kExitOk : kExitNotPassing;
}

}  // namespace llmk::kata
