// The `kata` command: builds, runs and grades the katas. See harness/README.md.
//
//   kata [status]                      the board
//   kata list                          katas and steps
//   kata test KATA [--step N]          one kata, and what to fix first
//   kata hint KATA [LEVEL] [--step N]  a hint (levels 1 to 3)
//   kata grade [--format F] [--out FILE] [--variant V]
//   kata bench KATA [--variant V]      the benchmark and its performance thresholds
//   kata selftest                      the repository's own check
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "verbs.h"

ABSL_FLAG(std::string, root, ".", "The repository (the folder with katas/).");
ABSL_FLAG(std::string, build_dir, "", "The configured build; default ROOT/build.");
ABSL_FLAG(double, timeout, 0,
          "Seconds each step may run; default the kata's timeout_seconds, else 10.");
ABSL_FLAG(int, jobs, 2, "Parallel jobs of the cmake builds.");
ABSL_FLAG(int, memory_limit_mb, static_cast<int>(llmk::kata::kDefaultMemoryLimitBytes >> 20),
          "Address-space limit of a test binary in MiB; 0 = none (the default of a "
          "sanitizer build).");
ABSL_FLAG(int, step, 0, "test, hint: the step (default: the first that does not pass).");
ABSL_FLAG(std::string, format, "text", "grade: text, json, junit or markdown.");
ABSL_FLAG(std::string, out, "", "grade: write the report to this file.");
ABSL_FLAG(std::string, variant, "learner",
          "grade, bench: learner (katas/) or solution (solutions/).");

namespace {

using llmk::kata::Context;
using llmk::kata::kExitUsage;

constexpr char kUsage[] =
    "kata: builds, runs and grades the LLM katas.\n"
    "\n"
    "  kata [status]                      build and run every kata, print the board\n"
    "  kata list                          the katas and their steps\n"
    "  kata test KATA [--step N]          run one kata (02, 02_attention or attention)\n"
    "  kata hint KATA [LEVEL] [--step N]  a hint for the step you are on (LEVEL 1-3)\n"
    "  kata grade [--format text|json|junit|markdown] [--out FILE]\n"
    "             [--variant learner|solution]\n"
    "  kata bench KATA [--variant learner|solution]\n"
    "                                     run the kata's benchmark, check its thresholds\n"
    "  kata selftest                      the repository's own check\n"
    "\n"
    "Global flags: --root, --build_dir, --timeout (seconds per step), --jobs,\n"
    "--memory_limit_mb. See harness/README.md.";

int Usage(const Context& ctx, std::string_view problem) {
  llmk::kata::PrintError(ctx, problem);
  fmt::print(ctx.err, "{}\n", kUsage);
  return kExitUsage;
}

// Checks that a verb got between `min` and `max` positional arguments.
bool ArgumentCount(const Context& ctx, const std::vector<std::string>& args, std::size_t min,
                   std::size_t max, std::string_view usage) {
  if (args.size() >= min && args.size() <= max) return true;
  Usage(ctx, fmt::format("usage: {}", usage));
  return false;
}

std::optional<int> StepFlag() {
  const int step = absl::GetFlag(FLAGS_step);
  return step > 0 ? std::optional<int>(step) : std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());

  Context ctx;
  ctx.root = std::filesystem::absolute(absl::GetFlag(FLAGS_root)).lexically_normal();
  const std::string build_dir = absl::GetFlag(FLAGS_build_dir);
  ctx.build_dir = build_dir.empty() ? ctx.root / "build"
                                    : std::filesystem::absolute(build_dir).lexically_normal();
  if (absl::GetFlag(FLAGS_timeout) > 0) ctx.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  ctx.jobs = absl::GetFlag(FLAGS_jobs);
  if (absl::GetFlag(FLAGS_memory_limit_mb) < 0 || absl::GetFlag(FLAGS_step) < 0 || ctx.jobs < 1 ||
      absl::GetFlag(FLAGS_timeout) < 0) {
    return Usage(ctx,
                 "--timeout, --memory_limit_mb and --step must not be negative, "
                 "--jobs must be 1 or more");
  }
  ctx.memory_limit_bytes = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_memory_limit_mb)) << 20;
  ctx.style = llmk::kata::Style::For(stdout);

  const std::string verb = args.empty() ? "status" : args.front();
  if (!args.empty()) args.erase(args.begin());

  if (verb == "status") {
    if (!ArgumentCount(ctx, args, 0, 0, "kata status")) return kExitUsage;
    return llmk::kata::StatusVerb(ctx);
  }
  if (verb == "list") {
    if (!ArgumentCount(ctx, args, 0, 0, "kata list")) return kExitUsage;
    return llmk::kata::ListVerb(ctx);
  }
  if (verb == "test") {
    if (!ArgumentCount(ctx, args, 1, 1, "kata test KATA [--step N]")) return kExitUsage;
    return llmk::kata::TestVerb(ctx, args[0], StepFlag());
  }
  if (verb == "hint") {
    if (!ArgumentCount(ctx, args, 1, 2, "kata hint KATA [LEVEL] [--step N]")) {
      return kExitUsage;
    }
    int level = 1;
    if (args.size() == 2 && (!absl::SimpleAtoi(args[1], &level) || level < 1)) {
      return Usage(ctx, fmt::format("LEVEL must be a number from 1 to 3, got \"{}\"", args[1]));
    }
    return llmk::kata::HintVerb(ctx, args[0], level, StepFlag());
  }
  if (verb == "grade") {
    if (!ArgumentCount(ctx, args, 0, 0, "kata grade [--format F] [--out FILE] [--variant V]")) {
      return kExitUsage;
    }
    llmk::kata::GradeFlags flags;
    flags.format = absl::GetFlag(FLAGS_format);
    flags.out_file = absl::GetFlag(FLAGS_out);
    flags.variant = absl::GetFlag(FLAGS_variant);
    return llmk::kata::GradeVerb(ctx, flags);
  }
  if (verb == "bench") {
    if (!ArgumentCount(ctx, args, 1, 1, "kata bench KATA [--variant learner|solution]")) {
      return kExitUsage;
    }
    return llmk::kata::BenchVerb(ctx, args[0], absl::GetFlag(FLAGS_variant));
  }
  if (verb == "selftest") {
    if (!ArgumentCount(ctx, args, 0, 0, "kata selftest")) return kExitUsage;
    return llmk::kata::SelftestVerb(ctx);
  }
  return Usage(ctx, fmt::format("unknown verb \"{}\"", verb));
}
