// `kata` / `kata status`: the board, from the latest recorded run of each kata
// (`kata test`, `kata grade`). It builds and runs nothing, so it appears at once on
// a fresh clone; a kata never run says "not run yet". Always exits 0: the board
// is information, not a verdict.
#include <fmt/format.h>

#include "board.h"
#include "grade.h"
#include "last_run.h"
#include "verbs.h"

namespace llmk::kata {

int StatusVerb(const Context& ctx) {
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }
  GradeReport report;
  report.variant = std::string(VariantName(Variant::kLearner));
  int not_run = 0;
  for (const Kata& kata : catalog->katas) {
    report.katas.push_back(LastRunResult(kata, ctx.root, ctx.build_dir));
    const KataResult& shown = report.katas.back();
    if (shown.NoneRun() && shown.problem == KataProblem::kNone) ++not_run;
  }
  fmt::print(ctx.out, "{}", RenderBoard(report, ctx.style));
  if (not_run > 0) {
    fmt::print(ctx.out,
               "\n{} of {} katas not run yet. The board shows each kata's latest run;\n"
               "./kata test NN builds and runs one, ./kata grade all of them.\n",
               not_run, report.katas.size());
  }
  return kExitOk;
}

}  // namespace llmk::kata
