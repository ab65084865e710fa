// `kata test KATA [--step N]`: builds and runs one kata, prints every step's
// status and the details of the first step that does not pass (or of step N).
#include <fmt/format.h>

#include "board.h"
#include "grade.h"
#include "last_run.h"
#include "verbs.h"

namespace llmk::kata {

int TestVerb(const Context& ctx, const std::string& kata_query, std::optional<int> step) {
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }
  absl::StatusOr<const Kata*> kata = FindKata(*catalog, kata_query);
  if (!kata.ok()) {
    PrintError(ctx, kata.status());
    return kExitUsage;
  }
  if (step && (*kata)->FindStep(*step) == nullptr) {
    PrintError(ctx, fmt::format("{} has no step {} (its steps are 1 to {})", (*kata)->name, *step,
                                (*kata)->steps.size()));
    return kExitUsage;
  }

  RunOptions options = ctx.MakeRunOptions();
  options.only_step = step;
  const KataResult result =
      BuildAndRunKata(**kata, Variant::kLearner, options, ctx.Builder(),
                      [&](std::string_view line) { PrintProgress(ctx, line); });
  if (absl::Status saved = SaveLastRun(ctx.build_dir, result); !saved.ok()) {
    PrintError(ctx, saved);
  }

  fmt::print(ctx.out, "\n{}", RenderKata(result, ctx.style, /*only_run_steps=*/true));
  if (result.problem != KataProblem::kNone) return kExitNotPassing;
  if (!step) {
    fmt::print(ctx.out, "\n{}", RenderScore(result.PassingSteps(), result.StepCount(), ctx.style));
  }

  const StepResult* focus = result.FirstNonPassingRun();
  if (step) {
    for (const StepResult& s : result.steps) {
      if (s.number == *step) focus = &s;
    }
  }
  if (focus != nullptr) {
    fmt::print(ctx.out, "\n{}", RenderStepDetails(result, *focus, ctx.style));
  } else if (result.AllStepsPass()) {
    fmt::print(ctx.out, "\n{}\n",
               ctx.style.Green(fmt::format("Every step of {} passes. Well done!", result.name)));
  }
  return result.RunStepsPass() ? kExitOk : kExitNotPassing;
}

}  // namespace llmk::kata
