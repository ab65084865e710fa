// The verbs of the `kata` command. Each prints to ctx.out and returns the
// process's exit code: 0 success, 1 not everything passes (or an error),
// 2 a usage error. Described for learners in harness/README.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "builder.h"
#include "catalog.h"
#include "kata_runner.h"
#include "style.h"

namespace llmk::kata {

// What every verb gets from the global flags.
struct Context {
  std::filesystem::path root;       // the repository
  std::filesystem::path build_dir;  // the configured build
  std::optional<double> timeout_seconds;
  int jobs = 2;
  std::uint64_t memory_limit_bytes = kDefaultMemoryLimitBytes;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  Style style = Style::Plain();
  // Builds a target; empty = `cmake --build build_dir --target T` (tests
  // substitute a fake).
  BuildFunction build;

  RunOptions MakeRunOptions() const;
  BuildFunction Builder() const;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitNotPassing = 1;
inline constexpr int kExitUsage = 2;

// `kata` / `kata status`: the board from each kata's latest recorded run; builds and
// runs nothing ("not run yet" for a kata never run).
int StatusVerb(const Context& ctx);

// `kata list`: katas and their steps, without building.
int ListVerb(const Context& ctx);

// `kata test KATA [--step N]`.
int TestVerb(const Context& ctx, const std::string& kata_query, std::optional<int> step);

// `kata hint KATA [LEVEL] [--step N]`.
int HintVerb(const Context& ctx, const std::string& kata_query, int level, std::optional<int> step);

// `kata grade [--format F] [--out FILE] [--variant V] [--assignment FILE]
// [--digests FILE] [--bench]`.
struct GradeFlags {
  std::string format = "text";  // text | json | junit | markdown | html
  std::string out_file;         // empty = stdout
  std::string variant = "learner";
  std::string assignment_file;  // empty = every kata, every step
  std::string digests_file;     // empty = ROOT/tests.sha256 if it exists
  bool bench = false;           // without an assignment: every kata.json threshold too
};
int GradeVerb(const Context& ctx, const GradeFlags& flags);

// `kata bench KATA [--variant learner|solution]`: runs the kata's benchmark
// and checks the performance thresholds of its kata.json against that run.
int BenchVerb(const Context& ctx, const std::string& kata_query, const std::string& variant);

// `kata selftest`.
int SelftestVerb(const Context& ctx);

// `kata digests [--out FILE]`: the digests of the published files (test
// sources, kata.json, fixtures, test-support library) in sha256sum's format.
// With `check`: compares `digests_file` (default ROOT/tests.sha256) with the
// tree, naming each stale file; 1 if any.
int DigestsVerb(const Context& ctx, const std::string& out_file, bool check,
                const std::string& digests_file);

// `kata export DIR [--assignment FILE]`: writes a learner's copy without
// solutions/ (see export.h); with an assignment, only its katas.
int ExportVerb(const Context& ctx, const std::string& dir, const std::string& assignment_file);

// Prints "kata: <message>" to ctx.err.
void PrintError(const Context& ctx, std::string_view message);
void PrintError(const Context& ctx, const absl::Status& status);

// A progress line on ctx.err, dimmed (the board on stdout stays clean).
void PrintProgress(const Context& ctx, std::string_view line);

}  // namespace llmk::kata
