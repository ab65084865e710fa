// `kata selftest`: the repository's own check (see selftest.h). Its last line is
// always "selftest: N passed, N failed"; exits 0 iff nothing failed.
#include <fmt/format.h>

#include "selftest.h"
#include "verbs.h"

namespace llmk::kata {

int SelftestVerb(const Context& ctx) {
  SelftestTally tally;
  absl::StatusOr<Catalog> catalog = LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/true);
  if (!catalog.ok()) {
    ++tally.structure_failed;
    tally.problems.emplace_back(catalog.status().message());
  } else {
    SelftestOptions options;
    options.run = ctx.MakeRunOptions();
    options.jobs = ctx.jobs;
    tally = RunSelftest(*catalog, options, [&](std::string_view line) {
      fmt::print(ctx.out, "{}\n", line);
      std::fflush(ctx.out);
    });
  }

  fmt::print(ctx.out, "\n{}\n", ctx.style.Bold("Summary"));
  fmt::print(ctx.out, "  solution tests: {} passed, {} did not\n", tally.solution_passed,
             tally.solution_failed);
  fmt::print(ctx.out, "  stub tests:     {} failed as required, {} did not\n", tally.stub_failed,
             tally.stub_passed);
  fmt::print(ctx.out, "  other tests (ctest -LE \"learner|solution\"): {} passed, {} failed\n",
             tally.ctest_passed, tally.ctest_failed);
  if (tally.structure_failed > 0) {
    fmt::print(ctx.out, "  structure (builds, steps, suites): {} problems\n",
               tally.structure_failed);
  }
  for (const std::string& note : tally.notes) fmt::print(ctx.out, "  note: {}\n", note);
  for (const std::string& problem : tally.problems) {
    fmt::print(ctx.out, "  {} {}\n", ctx.style.Red("FAIL"), problem);
  }
  fmt::print(ctx.out, "selftest: {} passed, {} failed\n", tally.Passed(), tally.Failed());
  return tally.Failed() == 0 ? kExitOk : kExitNotPassing;
}

}  // namespace llmk::kata
