#include "hints.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/status/status.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

// If `line` is "<hashes> <word> N[: name]" (e.g. "## Step 4: Softmax"), returns N
// and sets `name` to what follows the colon.
std::optional<int> NumberedHeading(std::string_view line, std::string_view hashes,
                                   std::string_view word, std::string* name) {
  const std::string prefix = fmt::format("{} {} ", hashes, word);
  if (!line.starts_with(prefix)) return std::nullopt;
  std::string_view rest = line.substr(prefix.size());
  int number = 0;
  std::size_t digits = 0;
  while (digits < rest.size() && digits < 6 &&
         std::isdigit(static_cast<unsigned char>(rest[digits]))) {
    number = number * 10 + (rest[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  rest.remove_prefix(digits);
  if (!rest.empty() && rest.front() != ':' && rest.front() != ' ') return std::nullopt;
  if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
  *name = std::string(Trim(rest));
  return number;
}

std::string TrimBlankLines(std::string_view text) {
  const std::size_t start = text.find_first_not_of('\n');
  if (start == std::string_view::npos) return "";
  std::string trimmed(TrimRight(text.substr(start)));
  return trimmed + "\n";
}

std::string Levels(const StepHints& hints) {
  std::string levels;
  for (const Hint& hint : hints.levels) {
    levels += (levels.empty() ? "" : ", ") + std::to_string(hint.level);
  }
  return levels;
}

}  // namespace

std::vector<StepHints> ParseHints(std::string_view markdown) {
  std::vector<StepHints> steps;
  Hint* current = nullptr;
  bool in_fence = false;
  for (std::string_view raw : SplitLines(markdown)) {
    const std::string_view line = TrimRight(raw);
    if (line.starts_with("```") || line.starts_with("~~~")) in_fence = !in_fence;
    std::string name;
    if (!in_fence && line.starts_with("## ")) {
      current = nullptr;
      if (std::optional<int> step = NumberedHeading(line, "##", "Step", &name)) {
        steps.push_back(StepHints{*step, name, {}});
      } else if (!steps.empty()) {
        steps.push_back(StepHints{0, "", {}});  // a section that is no step
      }
      continue;
    }
    if (!in_fence && line.starts_with("### ") && !steps.empty() && steps.back().step > 0) {
      current = nullptr;
      if (std::optional<int> level = NumberedHeading(line, "###", "Level", &name)) {
        steps.back().levels.push_back(Hint{*level, name, ""});
        current = &steps.back().levels.back();
      }
      continue;
    }
    if (current != nullptr) {
      current->text.append(raw);
      current->text.push_back('\n');
    }
  }
  std::erase_if(steps, [](const StepHints& s) { return s.step == 0; });
  for (StepHints& step : steps) {
    for (Hint& hint : step.levels) hint.text = TrimBlankLines(hint.text);
  }
  return steps;
}

absl::StatusOr<Hint> FindHint(const std::vector<StepHints>& hints, int step, int level,
                              std::string_view file) {
  const auto it =
      std::find_if(hints.begin(), hints.end(), [&](const StepHints& s) { return s.step == step; });
  if (it == hints.end()) {
    std::string steps;
    for (const StepHints& s : hints) steps += (steps.empty() ? "" : ", ") + std::to_string(s.step);
    return absl::NotFoundError(
        fmt::format("{} has no hints for step {} (it has hints for steps: {})", file, step,
                    steps.empty() ? std::string("none") : steps));
  }
  for (const Hint& hint : it->levels) {
    if (hint.level == level) return hint;
  }
  return absl::NotFoundError(fmt::format("{} has no level {} hint for step {} (levels: {})", file,
                                         level, step, it->levels.empty() ? "none" : Levels(*it)));
}

int MaxHintLevel(const std::vector<StepHints>& hints, int step) {
  int max_level = 0;
  for (const StepHints& s : hints) {
    if (s.step != step) continue;
    for (const Hint& hint : s.levels) max_level = std::max(max_level, hint.level);
  }
  return max_level;
}

}  // namespace llmk::kata
