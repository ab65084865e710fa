#include "llmk/testing/mask.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace llmk::testing {
namespace {

constexpr int kMaxListed = 5;
constexpr Eigen::Index kMaxGrid = 32;

// ' ' when the entry is fine, otherwise the mark of the "wrong" grid.
char Wrong(double value, bool allowed, MaskCheck check) {
  if (std::isnan(value)) return 'N';
  const bool nonzero = value != 0.0;
  if (nonzero && !allowed) return 'X';
  if (!nonzero && allowed && check == MaskCheck::kSupportMatchesMask) return 'o';
  return ' ';
}

std::string Padded(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string MaskHeatmap(const llmk::MatrixD& values, const BoolMatrix& allowed, MaskCheck check) {
  const Eigen::Index rows = std::min(values.rows(), kMaxGrid);
  const Eigen::Index cols = std::min(values.cols(), kMaxGrid);
  std::string out = "  rows are queries, columns keys; '#' yes, '.' no; wrong: 'X' non-zero "
                    "where forbidden";
  if (check == MaskCheck::kSupportMatchesMask) out += ", 'o' zero where allowed";
  out += ", 'N' NaN";
  if (rows < values.rows() || cols < values.cols()) {
    out += fmt::format(" (top-left {}x{} of {}x{})", rows, cols, values.rows(), values.cols());
  }
  out += ":\n";
  const size_t width = std::max<size_t>(static_cast<size_t>(cols), 8) + 2;
  out += fmt::format("  {:>4} {}{}{}\n", "", Padded("non-zero", width), Padded("allowed", width),
                     "wrong");
  for (Eigen::Index i = 0; i < rows; ++i) {
    std::string nonzero;
    std::string allow;
    std::string wrong;
    for (Eigen::Index j = 0; j < cols; ++j) {
      const double v = values(i, j);
      nonzero += (v != 0.0) ? '#' : '.';  // NaN != 0: drawn as non-zero
      allow += allowed(i, j) ? '#' : '.';
      const char w = Wrong(v, allowed(i, j), check);
      wrong += (w == ' ') ? '.' : w;
    }
    out += fmt::format("  {:>4} {}{}{}\n", i, Padded(nonzero, width), Padded(allow, width), wrong);
  }
  return out;
}

::testing::AssertionResult CheckAgainstMask(const char* values_expr, const char* allowed_expr,
                                            const llmk::MatrixD& values,
                                            const BoolMatrix& allowed, MaskCheck check) {
  if (values.rows() != allowed.rows() || values.cols() != allowed.cols()) {
    return ::testing::AssertionFailure()
           << values_expr << " has shape " << ShapeOf(values) << " but the mask "
           << allowed_expr << " has shape " << ShapeOf(allowed);
  }
  Eigen::Index count = 0;
  std::string listed;
  for (Eigen::Index i = 0; i < values.rows(); ++i) {
    for (Eigen::Index j = 0; j < values.cols(); ++j) {
      const char w = Wrong(values(i, j), allowed(i, j), check);
      if (w == ' ') continue;
      if (count < kMaxListed) {
        const char* what = w == 'X'   ? "forbidden by the mask but non-zero"
                           : w == 'o' ? "allowed by the mask but exactly zero"
                                      : "NaN";
        listed += fmt::format("    ({}, {}): {:.6g}, {}\n", i, j, values(i, j), what);
      }
      ++count;
    }
  }
  if (count == 0) return ::testing::AssertionSuccess();
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  failure << values_expr
          << (check == MaskCheck::kSupportMatchesMask
                  ? " is not non-zero exactly where the mask "
                  : " is not zero everywhere the mask ")
          << allowed_expr
          << (check == MaskCheck::kSupportMatchesMask ? " allows" : " forbids")
          << ": " << count << " of " << values.size() << " entries are wrong (shape "
          << ShapeOf(values) << ")\n"
          << "  first wrong entries:\n"
          << listed;
  if (count > kMaxListed) failure << "    ... and " << (count - kMaxListed) << " more\n";
  failure << MaskHeatmap(values, allowed, check);
  return failure;
}

}  // namespace llmk::testing
