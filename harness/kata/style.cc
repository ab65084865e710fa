#include "style.h"

#include <unistd.h>

#include <cstdlib>

#include "text_util.h"

namespace llmk::kata {
namespace {

// SGR codes.
constexpr std::string_view kBold = "1";
constexpr std::string_view kDim = "2";
constexpr std::string_view kRed = "31";
constexpr std::string_view kGreen = "32";
constexpr std::string_view kYellow = "33";
constexpr std::string_view kMagenta = "35";
constexpr std::string_view kBoldRed = "1;31";

std::string_view StatusColor(StepStatus status) {
  switch (status) {
    case StepStatus::kPassing:
      return kGreen;
    case StepStatus::kTodo:
      return kYellow;
    case StepStatus::kFailing:
      return kRed;
    case StepStatus::kCrashed:
    case StepStatus::kTimedOut:
    case StepStatus::kExitedEarly:
    case StepStatus::kFlooded:
      return kMagenta;
    case StepStatus::kNoTests:
      return kYellow;
    case StepStatus::kNotRun:
      return kDim;
  }
  return kDim;
}

}  // namespace

Style Style::For(std::FILE* stream) {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  const bool color = isatty(fileno(stream)) == 1 && (no_color == nullptr || *no_color == '\0') &&
                     !(term != nullptr && std::string_view(term) == "dumb");
  return Style(color);
}

std::string Style::Paint(std::string_view code, std::string_view text) const {
  if (!color_) return std::string(text);
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

std::string Style::Status(StepStatus status, std::size_t width) const {
  return Paint(StatusColor(status), PadRight(StatusLabel(status), width));
}

std::string Style::Problem(KataProblem problem, std::size_t width) const {
  return Paint(kBoldRed, PadRight(ProblemLabel(problem), width));
}

std::string Style::Bold(std::string_view text) const { return Paint(kBold, text); }
std::string Style::Dim(std::string_view text) const { return Paint(kDim, text); }
std::string Style::Green(std::string_view text) const { return Paint(kGreen, text); }
std::string Style::Red(std::string_view text) const { return Paint(kRed, text); }

}  // namespace llmk::kata
