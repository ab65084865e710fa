#include "llmk/testing/tolerance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace llmk::testing {
namespace {

constexpr int kMaxListed = 5;
constexpr Eigen::Index kMaxHeatmap = 32;

bool Within(double actual, double expected, const Tolerance& tol) {
  if (std::isnan(actual) || std::isnan(expected)) return false;
  if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
  return std::abs(actual - expected) <= tol.atol + tol.rtol * std::abs(expected);
}

}  // namespace

std::string MismatchHeatmap(const Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>& differs) {
  const Eigen::Index rows = std::min(differs.rows(), kMaxHeatmap);
  const Eigen::Index cols = std::min(differs.cols(), kMaxHeatmap);
  std::string out = "  which entries differ (X) -- rows down, columns across";
  if (rows < differs.rows() || cols < differs.cols()) {
    out += fmt::format(" (top-left {}x{} of {}x{})", rows, cols, differs.rows(), differs.cols());
  }
  out += ":\n";
  for (Eigen::Index i = 0; i < rows; ++i) {
    out += fmt::format("  {:>4} ", i);
    for (Eigen::Index j = 0; j < cols; ++j) out += differs(i, j) ? 'X' : '.';
    out += '\n';
  }
  return out;
}

::testing::AssertionResult AllClose(const char* actual_expr, const char* expected_expr,
                                    const char* tolerance_expr, const llmk::MatrixD& actual,
                                    const llmk::MatrixD& expected, const Tolerance& tol) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) {
    return ::testing::AssertionFailure()
           << actual_expr << " has shape " << ShapeOf(actual) << " but " << expected_expr
           << " has shape " << ShapeOf(expected);
  }
  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> differs(actual.rows(), actual.cols());
  Eigen::Index count = 0;
  double max_diff = 0.0;
  std::string listed;
  for (Eigen::Index i = 0; i < actual.rows(); ++i) {
    for (Eigen::Index j = 0; j < actual.cols(); ++j) {
      const double a = actual(i, j);
      const double e = expected(i, j);
      const bool bad = !Within(a, e, tol);
      differs(i, j) = bad;
      if (!bad) continue;
      const double diff = std::abs(a - e);
      if (std::isnan(diff)) {
        max_diff = diff;
      } else if (!std::isnan(max_diff)) {
        max_diff = std::max(max_diff, diff);
      }
      if (count < kMaxListed) {
        listed += fmt::format("    ({}, {}): expected {:.6g}, actual {:.6g}, |diff| {:.3g}\n", i, j,
                              e, a, diff);
      }
      ++count;
    }
  }
  if (count == 0) return ::testing::AssertionSuccess();
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  failure << actual_expr << " differs from " << expected_expr << " in " << count << " of "
          << actual.size() << " entries (shape " << ShapeOf(actual) << ", tolerance "
          << tolerance_expr << ": atol " << tol.atol << ", rtol " << tol.rtol << ")\n"
          << "  first differences:\n"
          << listed;
  if (count > kMaxListed) failure << "    ... and " << (count - kMaxListed) << " more\n";
  failure << "  max |diff| " << max_diff << "\n";
  if (actual.size() > 1) failure << MismatchHeatmap(differs);
  return failure;
}

}  // namespace llmk::testing
