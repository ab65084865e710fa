#include "llmk/core.h"

#include <fmt/format.h>

namespace llmk {

std::string ShapeString(Eigen::Index rows, Eigen::Index cols) {
  return fmt::format("{}x{}", rows, cols);
}

void Require(bool condition, std::string_view where, std::string_view message) {
  if (!condition) throw InvalidArgument(fmt::format("{}: {}", where, message));
}

namespace {
std::string Dim(Eigen::Index expected, char any) {
  return expected < 0 ? std::string(1, any) : std::to_string(expected);
}
}  // namespace

void RequireShape(std::string_view where, std::string_view name, Eigen::Index rows,
                  Eigen::Index cols, Eigen::Index expected_rows,
                  Eigen::Index expected_cols, std::string_view why) {
  const bool rows_ok = expected_rows < 0 || rows == expected_rows;
  const bool cols_ok = expected_cols < 0 || cols == expected_cols;
  if (rows_ok && cols_ok) return;
  std::string message =
      fmt::format("{}: {} must be {}x{}", where, name, Dim(expected_rows, 'r'),
                  Dim(expected_cols, 'c'));
  if (!why.empty()) message += fmt::format(" ({})", why);
  message += fmt::format(", got {}", ShapeString(rows, cols));
  throw InvalidArgument(message);
}

}  // namespace llmk
