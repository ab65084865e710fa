// The tiered hints of a kata, from its HINTS.md:
//
//   ## Step 4: Stable row softmax
//   ### Level 1: nudge
//   ...
//   ### Level 2: idea
//   ...
//   ### Level 3: formula
//   ...
//
//   std::vector<StepHints> hints = ParseHints(markdown);
//   absl::StatusOr<Hint> hint = FindHint(hints, /*step=*/4, /*level=*/2, "HINTS.md");
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace llmk::kata {

struct Hint {
  int level = 0;
  std::string name;  // "nudge"
  std::string text;  // the section's body, without its heading
};

struct StepHints {
  int step = 0;
  std::string title;
  std::vector<Hint> levels;  // in the order of the file
};

// Sections of `markdown` headed "## Step N..." and, within them, "### Level K...".
// Headings inside fenced code blocks are not headings.
std::vector<StepHints> ParseHints(std::string_view markdown);

// The hint of `level` for `step`; an error naming what exists if there is none.
// `file` names the hints file in messages.
absl::StatusOr<Hint> FindHint(const std::vector<StepHints>& hints, int step, int level,
                              std::string_view file);

// The highest level of `step`'s hints, or 0.
int MaxHintLevel(const std::vector<StepHints>& hints, int step);

}  // namespace llmk::kata
