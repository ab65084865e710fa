// One tolerance rule for every numeric comparison in the repository:
//   |actual - expected| <= atol + rtol * |expected|
// On a mismatch the report lists the first differing entries with their indices,
// the largest difference, and for matrices a heatmap of the entries that differ,
// so a transposed product or a wrong mask shows its shape at a glance.
//
//   EXPECT_ALLCLOSE(actual, expected, (llmk::testing::Tolerance{1e-5, 1e-5}));
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "llmk/core.h"

namespace llmk::testing {

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

// Returns success when `actual` and `expected` have the same shape and every
// entry is within tolerance; NaN never matches anything, +-inf matches only
// itself. Used through EXPECT_ALLCLOSE / ASSERT_ALLCLOSE.
::testing::AssertionResult AllClose(const char* actual_expr, const char* expected_expr,
                                    const char* tolerance_expr, const llmk::MatrixD& actual,
                                    const llmk::MatrixD& expected, const Tolerance& tol);

template <typename A, typename E>
::testing::AssertionResult AllCloseAny(const char* actual_expr, const char* expected_expr,
                                       const char* tolerance_expr, const A& actual,
                                       const E& expected, const Tolerance& tol) {
  const llmk::MatrixD a = actual.template cast<double>();
  const llmk::MatrixD e = expected.template cast<double>();
  return AllClose(actual_expr, expected_expr, tolerance_expr, a, e, tol);
}

// A text heatmap of a mismatch mask: '.' within tolerance, 'X' outside.
// Large matrices are cut to their top-left corner, said so in the output.
std::string MismatchHeatmap(const Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>& differs);

}  // namespace llmk::testing

#define EXPECT_ALLCLOSE(actual, expected, tolerance) \
  EXPECT_PRED_FORMAT3(::llmk::testing::AllCloseAny, actual, expected, tolerance)
#define ASSERT_ALLCLOSE(actual, expected, tolerance) \
  ASSERT_PRED_FORMAT3(::llmk::testing::AllCloseAny, actual, expected, tolerance)
