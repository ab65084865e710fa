// `kata list`: every kata and its steps, straight from kata.json; no build.
#include <fmt/format.h>

#include "verbs.h"

namespace llmk::kata {

int ListVerb(const Context& ctx) {
  absl::StatusOr<Catalog> catalog =
      LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/false);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }
  if (catalog->katas.empty()) {
    fmt::print(ctx.out, "No katas found under {}.\n", (ctx.root / "katas").string());
    return kExitOk;
  }
  for (const Kata& kata : catalog->katas) {
    fmt::print(ctx.out, "{}  {}\n", ctx.style.Bold(kata.name), kata.title);
    for (const Step& step : kata.steps) {
      fmt::print(ctx.out, "  Step {}  {}\n", step.number, step.title);
    }
    fmt::print(ctx.out, "  ({} steps; ./kata test {}; read {}/README.md)\n\n", kata.steps.size(),
               kata.ShortId(), kata.dir);
  }
  return kExitOk;
}

}  // namespace llmk::kata
