// `kata grade`: builds and runs every kata of one variant and writes the report
// in the chosen format. Exits 0 only if every kata passes every step.
#include <fmt/format.h>

#include <fstream>

#include "board.h"
#include "grade.h"
#include "last_run.h"
#include "reports.h"
#include "verbs.h"

namespace llmk::kata {

int GradeVerb(const Context& ctx, const GradeFlags& flags) {
  if (flags.format != "text" && flags.format != "json" && flags.format != "junit" &&
      flags.format != "markdown") {
    PrintError(
        ctx, fmt::format("unknown --format \"{}\" (text, json, junit or markdown)", flags.format));
    return kExitUsage;
  }
  if (flags.variant != "learner" && flags.variant != "solution") {
    PrintError(ctx, fmt::format("unknown --variant \"{}\" (learner or solution)", flags.variant));
    return kExitUsage;
  }
  const Variant variant = flags.variant == "solution" ? Variant::kSolution : Variant::kLearner;
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }

  const GradeReport report =
      GradeKatas(catalog->katas, variant, ctx.MakeRunOptions(), ctx.Builder(),
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
  } else {
    text = RenderBoard(report, to_file ? Style::Plain() : ctx.style);
  }
  if (to_file) {
    std::ofstream out(flags.out_file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      PrintError(ctx, fmt::format("cannot write {}", flags.out_file));
      return kExitNotPassing;
    }
    fmt::print(ctx.out, "{}/{} steps passing; report written to {}\n", report.PassingSteps(),
               report.StepCount(), flags.out_file);
  } else {
    fmt::print(ctx.out, "{}", text);
  }
  return report.AllPass() ? kExitOk : kExitNotPassing;
}

}  // namespace llmk::kata
