// `kata` / `kata status`: builds and runs every learner kata and prints the
// board. Always exits 0: the board is information, not a verdict.
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
  const GradeReport report =
      GradeKatas(catalog->katas, Variant::kLearner, ctx.MakeRunOptions(), ctx.Builder(),
                 [&](std::string_view line) { PrintProgress(ctx, line); });
  for (const KataResult& kata : report.katas) {
    if (absl::Status saved = SaveLastRun(ctx.build_dir, kata); !saved.ok()) {
      PrintError(ctx, saved);
    }
  }
  fmt::print(ctx.out, "\n{}", RenderBoard(report, ctx.style));
  return kExitOk;
}

}  // namespace llmk::kata
