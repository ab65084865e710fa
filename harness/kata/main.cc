// The `kata` command: builds, runs and grades the katas. See harness/README.md.
//
//   kata [status]                      the board
//   kata list                          katas and steps
//   kata test KATA [--step N]          one kata, and what to fix first
//   kata hint KATA [LEVEL] [--step N]  a hint (levels 1 to 3)
//   kata grade [--format F] [--out FILE] [--variant V] [--assignment FILE] [--bench]
//   kata bench KATA [--variant V]      the benchmark and its performance thresholds
//   kata selftest                      the repository's own check
//   kata digests [--out FILE]          the published digests (tests.sha256)
//   kata digests --check               is tests.sha256 up to date
//   kata export DIR [--assignment FILE]  a learner's copy without solutions/
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "verbs.h"

ABSL_FLAG(std::string, root, ".", "The repository (the folder with katas/).");
ABSL_FLAG(std::string, build_dir, "", "The configured build; default ROOT/build.");
ABSL_FLAG(double, timeout, 0,
          "Seconds each step may run; default the kata's timeout_seconds, else 10.");
ABSL_FLAG(int, jobs, 2, "Parallel jobs of the cmake builds.");
ABSL_FLAG(std::optional<int>, memory_limit_mb, std::nullopt,
          "Address-space limit of a test binary in MiB; 0 = none. Default 4096, none "
          "when --build_dir is a sanitizer build.");
ABSL_FLAG(int, step, 0, "test, hint: the step (default: the first that does not pass).");
ABSL_FLAG(std::string, format, "text", "grade: text, json, junit, markdown or html.");
ABSL_FLAG(std::string, out, "", "grade: write the report to this file.");
ABSL_FLAG(std::string, assignment, "",
          "grade: an assignment file (llmk-assignment/1): its katas, steps, weights, "
          "time limits and performance thresholds.");
ABSL_FLAG(std::string, digests, "",
          "grade: the published digests of the test files; default ROOT/tests.sha256.");
ABSL_FLAG(bool, bench, false,
          "grade (without --assignment): also run every kata's benchmark against its "
          "kata.json thresholds (slow).");
ABSL_FLAG(bool, check, false,
          "digests: compare --digests (default ROOT/tests.sha256) with the tree instead of "
          "printing.");
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
    "  kata grade [--format text|json|junit|markdown|html] [--out FILE]\n"
    "             [--variant learner|solution] [--assignment FILE]\n"
    "             [--digests FILE] [--bench]\n"
    "  kata bench KATA [--variant learner|solution]\n"
    "                                     run the kata's benchmark, check its thresholds\n"
    "  kata selftest                      the repository's own check\n"
    "  kata digests [--out FILE]          the published digests (tests.sha256)\n"
    "  kata digests --check [--digests FILE]\n"
    "                                     is tests.sha256 up to date with the tree\n"
    "  kata export DIR [--assignment FILE]\n"
    "                                     a learner's copy without solutions/\n"
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

// Checks every --flag of the command line before absl parses it, so that an
// unknown flag or a value that does not parse gets one "kata: " line and exit
// code 2 like every other usage error. Returns the problem, if any.
std::optional<std::string> CommandLineProblem(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;  // the rest is positional
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const std::size_t equals = arg.find('=');
    std::string name(arg.substr(0, equals));
    // absl's own flags (--help, --flagfile, ...) are left to absl.
    for (const char* builtin :
         {"help", "helpfull", "helpshort", "helppackage", "version", "only_check_args", "flagfile",
          "fromenv", "tryfromenv", "undefok"}) {
      if (name == builtin) name.clear();
    }
    if (name.empty()) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && equals == std::string_view::npos && name.starts_with("no")) {
      const absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;  // --nobench
    }
    if (flag == nullptr) return fmt::format("unknown flag --{}", name);
    std::string value;
    if (equals != std::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];  // --flag VALUE
    } else {
      return fmt::format("--{} needs a value", name);
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return fmt::format("invalid value \"{}\" for --{}", value, name);
    }
  }
  return std::nullopt;
}

std::optional<int> StepFlag() {
  const int step = absl::GetFlag(FLAGS_step);
  return step > 0 ? std::optional<int>(step) : std::nullopt;
}

// True if build_dir was configured with LLMK_SANITIZE (the "sanitize" preset): its
// binaries reserve terabytes of address space for AddressSanitizer's shadow memory.
bool IsSanitizerBuild(const std::filesystem::path& build_dir) {
  std::ifstream cache(build_dir / "CMakeCache.txt");
  std::string line;
  while (std::getline(cache, line)) {
    if (line.rfind("LLMK_SANITIZE:", 0) != 0) continue;
    const std::string value = line.substr(line.find('=') + 1);
    return value == "ON" || value == "1" || value == "TRUE" || value == "YES" || value == "Y";
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) try {
  // absl prints "kata: " before the message itself.
  absl::SetProgramUsageMessage(absl::string_view(kUsage).substr(sizeof("kata: ") - 1));
  // `kata --help`, `kata -h` (and `kata help`, below): the usage on stdout, exit 0.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      fmt::print("{}\n", kUsage);
      return llmk::kata::kExitOk;
    }
  }
  if (const std::optional<std::string> problem = CommandLineProblem(argc, argv)) {
    return Usage(Context(), *problem);
  }
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());

  Context ctx;
  ctx.root = std::filesystem::absolute(absl::GetFlag(FLAGS_root)).lexically_normal();
  const std::string build_dir = absl::GetFlag(FLAGS_build_dir);
  ctx.build_dir = build_dir.empty() ? ctx.root / "build"
                                    : std::filesystem::absolute(build_dir).lexically_normal();
  if (absl::GetFlag(FLAGS_timeout) > 0) ctx.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  ctx.jobs = absl::GetFlag(FLAGS_jobs);
  const std::optional<int> memory_limit_mb = absl::GetFlag(FLAGS_memory_limit_mb);
  const double timeout = absl::GetFlag(FLAGS_timeout);
  if (!std::isfinite(timeout) || timeout < 0) {
    return Usage(ctx,
                 fmt::format("--timeout must be a number of seconds, 0 or more; got {}", timeout));
  }
  if (memory_limit_mb.value_or(0) < 0) {
    return Usage(ctx, fmt::format("--memory_limit_mb must be 0 or more; got {}", *memory_limit_mb));
  }
  if (absl::GetFlag(FLAGS_step) < 0) {
    return Usage(ctx, fmt::format("--step must be 1 or more; got {}", absl::GetFlag(FLAGS_step)));
  }
  if (ctx.jobs < 1) {
    return Usage(ctx, fmt::format("--jobs must be 1 or more; got {}", ctx.jobs));
  }
  if (memory_limit_mb) {
    ctx.memory_limit_bytes = static_cast<std::uint64_t>(*memory_limit_mb) << 20;
  } else if (IsSanitizerBuild(ctx.build_dir)) {
    ctx.memory_limit_bytes = 0;  // no limit leaves room for the sanitizer's shadow memory
  }
  ctx.style = llmk::kata::Style::For(stdout);

  const std::string verb = args.empty() ? "status" : args.front();
  if (!args.empty()) args.erase(args.begin());

  if (verb == "help") {
    fmt::print(ctx.out, "{}\n", kUsage);
    return llmk::kata::kExitOk;
  }
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
    if (!ArgumentCount(ctx, args, 0, 0,
                       "kata grade [--format F] [--out FILE] [--variant V] "
                       "[--assignment FILE] [--digests FILE] [--bench]")) {
      return kExitUsage;
    }
    llmk::kata::GradeFlags flags;
    flags.format = absl::GetFlag(FLAGS_format);
    flags.out_file = absl::GetFlag(FLAGS_out);
    flags.variant = absl::GetFlag(FLAGS_variant);
    flags.assignment_file = absl::GetFlag(FLAGS_assignment);
    flags.digests_file = absl::GetFlag(FLAGS_digests);
    flags.bench = absl::GetFlag(FLAGS_bench);
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
  if (verb == "digests") {
    if (!ArgumentCount(ctx, args, 0, 0, "kata digests [--out FILE] [--check [--digests FILE]]")) {
      return kExitUsage;
    }
    return llmk::kata::DigestsVerb(ctx, absl::GetFlag(FLAGS_out), absl::GetFlag(FLAGS_check),
                                   absl::GetFlag(FLAGS_digests));
  }
  if (verb == "export") {
    if (!ArgumentCount(ctx, args, 1, 1, "kata export DIR [--assignment FILE]")) return kExitUsage;
    return llmk::kata::ExportVerb(ctx, args[0], absl::GetFlag(FLAGS_assignment));
  }
  return Usage(ctx, fmt::format("unknown verb \"{}\"", verb));
} catch (const std::exception& error) {
  // Last resort: every expected problem is reported by the verbs themselves.
  std::fprintf(stderr, "kata: internal error: %s\n", error.what());
  return 1;
}
