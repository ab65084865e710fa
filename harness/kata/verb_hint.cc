// `kata hint KATA [LEVEL] [--step N]`: one hint from the kata's HINTS.md, for
// step N, else the first step that did not pass in the last run, else step 1.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "hints.h"
#include "last_run.h"
#include "verbs.h"

namespace llmk::kata {

int HintVerb(const Context& ctx, const std::string& kata_query, int level,
             std::optional<int> step) {
  absl::StatusOr<Catalog> catalog =
      LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/false);
  if (!catalog.ok()) {
    PrintError(ctx, catalog.status());
    return kExitNotPassing;
  }
  absl::StatusOr<const Kata*> found = FindKata(*catalog, kata_query);
  if (!found.ok()) {
    PrintError(ctx, found.status());
    return kExitUsage;
  }
  const Kata& kata = **found;

  const std::optional<int> last = FirstNonPassingStepOfLastRun(ctx.build_dir, kata.name);
  const int step_number = step ? *step : last ? *last : kata.steps.front().number;
  const Step* chosen = kata.FindStep(step_number);
  if (chosen == nullptr) {
    PrintError(ctx, fmt::format("{} has no step {} (its steps are 1 to {})", kata.name, step_number,
                                kata.steps.size()));
    return kExitUsage;
  }

  const std::string file = kata.dir + "/HINTS.md";
  std::ifstream in(ctx.root / file);
  if (!in) {
    PrintError(ctx, fmt::format("{} does not exist: this kata has no hints yet", file));
    return kExitNotPassing;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::vector<StepHints> hints = ParseHints(text.str());
  absl::StatusOr<Hint> hint = FindHint(hints, step_number, level, file);
  if (!hint.ok()) {
    PrintError(ctx, hint.status());
    return kExitUsage;
  }

  fmt::print(ctx.out, "{}\n\n",
             ctx.style.Bold(fmt::format("{}, step {}: {}. Hint, level {}{}", kata.name,
                                        chosen->number, chosen->title, hint->level,
                                        hint->name.empty() ? "" : ": " + hint->name)));
  fmt::print(ctx.out, "{}\n", hint->text);
  const std::string step_flag = step ? fmt::format(" --step {}", *step) : "";
  if (level < MaxHintLevel(hints, step_number)) {
    fmt::print(ctx.out, "Still stuck? ./kata hint {} {}{}\n", kata.ShortId(), level + 1, step_flag);
  }
  fmt::print(ctx.out, "Read: {}\n", kata.ReadmeLink(*chosen));
  return kExitOk;
}

}  // namespace llmk::kata
