// Colors for the terminal, used only when stdout is a terminal and NO_COLOR is
// not set (https://no-color.org), so pipes and files get plain text.
//
//   Style style = Style::ForStdout();
//   fmt::print("{}\n", style.Status(StepStatus::kPassing, 14));  // green, padded
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "results.h"

namespace llmk::kata {

class Style {
 public:
  // Color iff `stream` is a terminal, NO_COLOR is unset or empty and TERM is
  // not "dumb".
  static Style For(std::FILE* stream);
  static Style Plain() { return Style(false); }

  explicit Style(bool color) : color_(color) {}
  bool color() const { return color_; }

  // The status label padded to `width` columns, in the status's color.
  std::string Status(StepStatus status, std::size_t width = 0) const;
  std::string Problem(KataProblem problem, std::size_t width = 0) const;
  std::string Bold(std::string_view text) const;
  std::string Dim(std::string_view text) const;
  std::string Green(std::string_view text) const;
  std::string Red(std::string_view text) const;

 private:
  std::string Paint(std::string_view code, std::string_view text) const;

  bool color_;
};

}  // namespace llmk::kata
