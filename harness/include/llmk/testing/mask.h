// Where attention weights may be non-zero, checked against a mask, with a picture.
//
//   EXPECT_ZERO_WHERE_MASKED(weights, allowed);     // forbidden entries are exactly 0
//   EXPECT_SUPPORT_MATCHES_MASK(weights, allowed);  // non-zero exactly where allowed
//
// `allowed` is any matrix whose non-zero (true) entries mark where query i may attend
// to key j: a bool mask, or a 0/1 fixture matrix. `weights` is any numeric matrix; a
// bool matrix works too, so the same check compares a learner's mask with the right one.
// "Zero" means == 0 exactly (a tiny 1e-30 is non-zero); NaN is always wrong.
//
// On failure the message lists the first wrong entries with their indices and values,
// then draws three grids side by side, rows are queries and columns keys:
//
//          non-zero  allowed   wrong
//        0 ....      #...      o...
//        1 #...      ##..      .o..
//        2 ##..      ###.      ..o.
//        3 ###.      ####      ...o
//
// '#' yes, '.' no; in "wrong": 'X' non-zero where forbidden, 'o' zero where allowed
// (only for the support check), 'N' NaN. Above, a mask shifted one diagonal down (j < i
// instead of j <= i) shows as a staircase one step off and a diagonal of 'o'.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "llmk/core.h"

namespace llmk::testing {

// The matcher's own mask type: true where query i may attend to key j.
using BoolMatrix = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class MaskCheck {
  kZeroWhereMasked,     // every forbidden entry is exactly 0; allowed entries may be anything
  kSupportMatchesMask,  // non-zero exactly where allowed
};

// Returns success when `values` and `allowed` have the same shape and pass `check`.
// Used through the EXPECT_ / ASSERT_ macros below.
::testing::AssertionResult CheckAgainstMask(const char* values_expr, const char* allowed_expr,
                                            const llmk::MatrixD& values,
                                            const BoolMatrix& allowed, MaskCheck check);

// The three grids described above (top-left 32x32 of larger matrices, said so).
std::string MaskHeatmap(const llmk::MatrixD& values, const BoolMatrix& allowed, MaskCheck check);

// Non-zero entries of any matrix, as a BoolMatrix.
template <typename A>
BoolMatrix NonZero(const A& m) {
  const llmk::MatrixD d = m.template cast<double>();
  return (d.array() != 0.0).matrix();
}

template <typename V, typename A>
::testing::AssertionResult ZeroWhereMasked(const char* values_expr, const char* allowed_expr,
                                           const V& values, const A& allowed) {
  return CheckAgainstMask(values_expr, allowed_expr, values.template cast<double>(),
                          NonZero(allowed), MaskCheck::kZeroWhereMasked);
}

template <typename V, typename A>
::testing::AssertionResult SupportMatchesMask(const char* values_expr, const char* allowed_expr,
                                              const V& values, const A& allowed) {
  return CheckAgainstMask(values_expr, allowed_expr, values.template cast<double>(),
                          NonZero(allowed), MaskCheck::kSupportMatchesMask);
}

}  // namespace llmk::testing

#define EXPECT_ZERO_WHERE_MASKED(values, allowed) \
  EXPECT_PRED_FORMAT2(::llmk::testing::ZeroWhereMasked, values, allowed)
#define ASSERT_ZERO_WHERE_MASKED(values, allowed) \
  ASSERT_PRED_FORMAT2(::llmk::testing::ZeroWhereMasked, values, allowed)
#define EXPECT_SUPPORT_MATCHES_MASK(values, allowed) \
  EXPECT_PRED_FORMAT2(::llmk::testing::SupportMatchesMask, values, allowed)
#define ASSERT_SUPPORT_MATCHES_MASK(values, allowed) \
  ASSERT_PRED_FORMAT2(::llmk::testing::SupportMatchesMask, values, allowed)
