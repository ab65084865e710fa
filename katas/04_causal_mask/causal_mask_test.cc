// Tests of kata 04, one suite per step of README.md. Each step checks the hand-derived
// fixture first (fixtures/04_causal_mask/*.json), then properties and random inputs
// against the double-precision oracle in reference/causal_ref.h, then bad inputs.
// Where a mask matters, EXPECT_SUPPORT_MATCHES_MASK draws where the weights are non-zero
// next to where they may be, so an off-by-one on the diagonal shows at a glance.
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "causal_mask.h"
#include "causal_ref.h"
#include "llmk/testing/mask.h"
#include "llmk/testing/testing.h"

namespace llmk::causal {
namespace {

using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const ::llmk::testing::Fixture& CausalFx() { return KataFixture("04_causal_mask/causal.json"); }
const ::llmk::testing::Fixture& PaddedFx() { return KataFixture("04_causal_mask/padded.json"); }

// float32 against the double oracle: unit roundoff is 6e-8; a dot product of n <= 65
// terms errs by at most about n * 6e-8 ~ 4e-6 of the sum of |terms|, and the softmax
// and the weighted sum keep that relative size. 1e-4 relative plus 1e-5 absolute leaves
// a margin of more than ten while any real slip (a mask off by one, a missing scale,
// a max taken over masked entries) is off by far more.
constexpr Tolerance kVsReference{1e-5, 1e-4};
// Copies and exact arithmetic: no difference at all.
constexpr Tolerance kExact{0, 0};

MatrixD D(const Matrix& m) { return m.cast<double>(); }

// A fixture's 0/1 matrix as a Mask.
Mask MaskOf(const Matrix& zero_one) { return (zero_one.array() != 0.0f).matrix(); }

// What ApplyMask must return, built here independently: scores where allowed, -inf not.
Matrix MinusInfWhereMasked(const Matrix& scores, const Mask& mask) {
  Matrix z = scores;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
      if (!mask(i, j)) z(i, j) = -kInf;
    }
  }
  return z;
}

// Each entry allowed with probability p_allowed; row `empty_row` (if >= 0) fully masked.
Mask RandomMask(Rng& rng, Eigen::Index rows, Eigen::Index cols, double p_allowed,
                Eigen::Index empty_row = -1) {
  Mask m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = i != empty_row && rng.Uniform() < p_allowed;
  }
  return m;
}

// The mask of a sequence of `length` real tokens padded to t, built here from the
// definition: key j is real, and j <= i.
Mask ExpectedBatchMask(int t, int length, PadSide side) {
  const int first_real = side == PadSide::kRight ? 0 : t - length;
  Mask m(t, t);
  for (int i = 0; i < t; ++i) {
    for (int j = 0; j < t; ++j) m(i, j) = j <= i && j >= first_real && j < first_real + length;
  }
  return m;
}

// The first `rows` rows of `after` hold the same bits as those of `before` (row-major:
// one contiguous block, compared with memcmp); `changed` says what differed between the
// two inputs. On failure, which entries moved.
::testing::AssertionResult SameBitsInTopRows(const Matrix& after, const Matrix& before,
                                             Eigen::Index rows, std::string_view changed) {
  if (after.rows() != before.rows() || after.cols() != before.cols() || after.rows() < rows) {
    return ::testing::AssertionFailure()
           << "shapes " << ShapeOf(after) << " and " << ShapeOf(before) << ", expected "
           << rows << " rows or more of the same shape";
  }
  const size_t bytes = static_cast<size_t>(rows * after.cols()) * sizeof(float);
  if (std::memcmp(after.data(), before.data(), bytes) == 0) return ::testing::AssertionSuccess();
  const ::testing::AssertionResult where = ::llmk::testing::AllClose(
      "after", "before", "exact", D(after.topRows(rows)), D(before.topRows(rows)), kExact);
  return ::testing::AssertionFailure()
         << "rows 0.." << rows - 1 << " of the output changed although only " << changed
         << " changed: they leak in.\n"
         << (where ? "  (the values compare equal: only the sign of a zero changed)"
                   : where.message());
}

// ---------------------------------------------------------------------------------
// Step 1: the causal mask, mask(i, j) = (j <= i).

TEST(Step1_CausalMask, Fixture) {
  EXPECT_SUPPORT_MATCHES_MASK(CausalMask(4), CausalFx().Matrix("mask"));
}

TEST(Step1_CausalMask, AllowsThePastAndItselfOnAwkwardSizes) {
  for (int t : AwkwardSizes(129)) {
    const Mask m = CausalMask(t);
    ASSERT_EQ(m.rows(), t);
    ASSERT_EQ(m.cols(), t);
    SCOPED_TRACE(::testing::Message() << "T=" << t);
    ASSERT_SUPPORT_MATCHES_MASK(m, reference::causal::CausalAllowed(t));
  }
}

TEST(Step1_CausalMask, RejectsNonPositiveSize) {
  EXPECT_INVALID_ARGUMENT(CausalMask(0), {"num_tokens", "0"});
  EXPECT_INVALID_ARGUMENT(CausalMask(-3), {"num_tokens", "-3"});
}

// ---------------------------------------------------------------------------------
// Step 2: -inf where the mask forbids, before the softmax.

TEST(Step2_ApplyMask, Fixture) {
  const auto& fx = CausalFx();
  const Matrix scores = fx.Matrix("scores");
  const Mask mask = MaskOf(fx.Matrix("mask"));
  // A copy and a constant: exactly equal, and -inf matches only -inf.
  EXPECT_ALLCLOSE(ApplyMask(scores, mask), MinusInfWhereMasked(scores, mask), kExact);
}

TEST(Step2_ApplyMask, ForbiddenEntriesBecomeMinusInfinityWhateverTheyHeld) {
  Matrix scores(2, 4);
  scores << 1.5f, kInf, kNaN, -2.0f,  //
      1e30f, -1e30f, 3e38f, 0.0f;
  Mask mask(2, 4);
  mask << true, false, false, true,  //
      false, true, false, true;
  const Matrix z = ApplyMask(scores, mask);
  Matrix expected(2, 4);
  expected << 1.5f, -kInf, -kInf, -2.0f,  //
      -kInf, -1e30f, -kInf, 0.0f;
  // -1e9 or the lowest float in place of -inf would give a masked entry a weight as
  // soon as the allowed scores are lower still (-1e30 here); so would adding -inf to
  // NaN. Only -inf itself is safe.
  EXPECT_ALLCLOSE(z, expected, kExact);
}

TEST(Step2_ApplyMask, CopiesAllowedScoresBitForBitForAnyMaskShape) {
  Rng rng(202);
  for (auto [t, n] : {std::pair{1, 1}, {3, 7}, {7, 3}, {17, 17}, {33, 65}}) {
    const Matrix scores = RandomMatrix(rng, t, n, 100.0);
    const Mask mask = RandomMask(rng, t, n, 0.5, t / 2);
    SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n);
    EXPECT_ALLCLOSE(ApplyMask(scores, mask), MinusInfWhereMasked(scores, mask), kExact);
  }
}

TEST(Step2_ApplyMask, RejectsMismatchedShapes) {
  EXPECT_INVALID_ARGUMENT(ApplyMask(Matrix::Ones(3, 4), Mask::Constant(4, 4, true)),
                          {"mask", "4x4", "3x4"});
  EXPECT_INVALID_ARGUMENT(ApplyMask(Matrix::Ones(3, 4), Mask::Constant(3, 3, true)),
                          {"mask", "3x3", "3x4"});
}

TEST(Step2_ApplyMask, RejectsEmptyScores) {
  EXPECT_INVALID_ARGUMENT(ApplyMask(Matrix(0, 0), Mask(0, 0)), {"scores", "0x0"});
}

// ---------------------------------------------------------------------------------
// Step 3: softmax over the entries that are not -inf; a row of -inf gives zeros.

TEST(Step3_MaskedSoftmax, Fixture) {
  const auto& fx = CausalFx();
  const Matrix z = MinusInfWhereMasked(fx.Matrix("scores"), MaskOf(fx.Matrix("mask")));
  // The fixture's scores are rounded to 4 decimals (error e_j <= 5e-5 each), and the
  // weights were computed from the unrounded scores. A softmax moves by
  // dp_i = p_i (e_i - Σ_j p_j e_j), and |e_i - Σ_j p_j e_j| <= 2 (1 - p_i) 5e-5, so
  // |dp_i| <= p_i (1 - p_i) 1e-4 <= 2.5e-5 on top of the weights' own rounding.
  const Tolerance tol{fx.tolerance().atol + 2.5e-5, fx.tolerance().rtol};
  EXPECT_ALLCLOSE(MaskedSoftmax(z), fx.Matrix("weights"), tol);
}

TEST(Step3_MaskedSoftmax, MaskedEntriesGetExactlyZeroAndRowsSumToOne) {
  Rng rng(303);
  for (int n : AwkwardSizes(65)) {
    for (double p_allowed : {0.2, 0.7, 1.0}) {
      const Matrix scores = RandomMatrix(rng, 5, n, 3.0);
      const Mask mask = RandomMask(rng, 5, n, p_allowed, /*empty_row=*/2);
      const Matrix p = MaskedSoftmax(MinusInfWhereMasked(scores, mask));
      SCOPED_TRACE(::testing::Message() << "N=" << n << ", P(allowed)=" << p_allowed
                                        << ", row 2 fully masked");
      // Scores of size 3 keep every allowed weight above 1e-10: none underflows to 0.
      ASSERT_SUPPORT_MATCHES_MASK(p, mask);
      for (Eigen::Index i = 0; i < p.rows(); ++i) {
        if (mask.row(i).any()) {
          ASSERT_NEAR(p.row(i).sum(), 1.0f, 1e-5) << "row " << i;
        } else {
          ASSERT_EQ(p.row(i).cwiseAbs().sum(), 0.0f) << "fully masked row " << i;
        }
      }
    }
  }
}

TEST(Step3_MaskedSoftmax, FullyMaskedRowIsZerosNeverNaN) {
  Matrix z(3, 4);
  z << 0.5f, -kInf, 2.0f, -kInf,  //
      -kInf, -kInf, -kInf, -kInf,   //
      1.0f, 1.0f, -kInf, 1.0f;
  const Matrix p = MaskedSoftmax(z);
  ASSERT_TRUE(p.allFinite()) << "a fully masked row must not give (-inf) - (-inf) = NaN or "
                                "0/0; this kata defines its weights as zeros\n"
                             << p;
  Matrix expected(3, 4);
  const float e = std::exp(-1.5f);
  expected << e / (1 + e), 0, 1 / (1 + e), 0,  //
      0, 0, 0, 0,                                //
      1.0f / 3, 1.0f / 3, 0, 1.0f / 3;
  EXPECT_ALLCLOSE(p, expected, (Tolerance{1e-7, 1e-6}));
  EXPECT_ALLCLOSE(MaskedSoftmax(Matrix::Constant(1, 1, -kInf)), Matrix::Zero(1, 1), kExact);
}

TEST(Step3_MaskedSoftmax, HugeFiniteLogitsNextToMinusInfinity) {
  Matrix z(5, 4);
  z << 1e30f, -1e30f, -kInf, 0.0f,    // the max is 1e30: everything else underflows to 0
      -1e30f, -kInf, -1e30f, -kInf,   // the max of the unmasked entries is -1e30, not -inf
      3e38f, -kInf, 3e38f, -3e38f,    // 3e38 - (-3e38) overflows to inf: exp(-inf) = 0
      -3e38f, -kInf, -kInf, -kInf,    // one allowed entry gets everything
      -kInf, -kInf, -kInf, -kInf;     // fully masked
  Matrix expected(5, 4);
  expected << 1, 0, 0, 0,  //
      0.5f, 0, 0.5f, 0,    //
      0.5f, 0, 0.5f, 0,    //
      1, 0, 0, 0,          //
      0, 0, 0, 0;
  const Matrix p = MaskedSoftmax(z);
  ASSERT_TRUE(p.allFinite()) << "subtract the max of the unmasked entries; if there is none, "
                                "the row is zeros\n"
                             << p;
  EXPECT_ALLCLOSE(p, expected, (Tolerance{1e-7, 0}));
}

TEST(Step3_MaskedSoftmax, MatchesReferenceOnAwkwardSizes) {
  Rng rng(306);
  for (int n : AwkwardSizes(129)) {
    for (double scale : {0.1, 1.0, 30.0}) {
      const Matrix scores = RandomMatrix(rng, 4, n, scale);
      const Mask mask = RandomMask(rng, 4, n, 0.6, /*empty_row=*/n % 4);
      SCOPED_TRACE(::testing::Message() << "N=" << n << " logit scale " << scale);
      EXPECT_ALLCLOSE(MaskedSoftmax(MinusInfWhereMasked(scores, mask)),
                      reference::causal::MaskedSoftmaxRows(D(scores), mask), kVsReference);
    }
  }
}

TEST(Step3_MaskedSoftmax, RejectsNaNAndPlusInfinity) {
  Matrix z = Matrix::Zero(3, 3);
  z(1, 2) = kNaN;
  EXPECT_INVALID_ARGUMENT(MaskedSoftmax(z), {"masked_scores", "row 1"});
  z(1, 2) = 0.0f;
  z(2, 0) = kInf;
  EXPECT_INVALID_ARGUMENT(MaskedSoftmax(z), {"masked_scores", "row 2"});
}

TEST(Step3_MaskedSoftmax, RejectsEmptyRows) {
  EXPECT_INVALID_ARGUMENT(MaskedSoftmax(Matrix(2, 0)), {"masked_scores", "2x0"});
  EXPECT_INVALID_ARGUMENT(MaskedSoftmax(Matrix(0, 3)), {"masked_scores", "0x3"});
}

// ---------------------------------------------------------------------------------
// Step 4: causal attention, MaskedSoftmax(ApplyMask(q·kᵀ / √d, mask)) · v.

TEST(Step4_CausalAttention, FixtureWeights) {
  const auto& fx = CausalFx();
  Matrix weights;
  CausalAttention(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"), &weights);
  EXPECT_ALLCLOSE(weights, fx.Matrix("weights"), fx.tolerance());
}

TEST(Step4_CausalAttention, FixtureOutput) {
  const auto& fx = CausalFx();
  EXPECT_ALLCLOSE(CausalAttention(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V")),
                  fx.Matrix("output"), fx.tolerance());
}

TEST(Step4_CausalAttention, WeightsAreNonZeroExactlyOnAndBelowTheDiagonal) {
  Rng rng(401);
  // T = 6 first: if the mask is wrong, the first (and only) picture is small and whole.
  std::vector<int> sizes = {6};
  for (int t : AwkwardSizes(65)) sizes.push_back(t);
  for (int t : sizes) {
    const Matrix q = RandomMatrix(rng, t, 8);
    const Matrix k = RandomMatrix(rng, t, 8);
    const Matrix v = RandomMatrix(rng, t, 3);
    Matrix weights;
    CausalAttention(q, k, v, &weights);
    SCOPED_TRACE(::testing::Message() << "T=" << t);
    // Unit-scale scores: no allowed weight underflows, every future weight must be 0.
    ASSERT_SUPPORT_MATCHES_MASK(weights, reference::causal::CausalAllowed(t));
    for (Eigen::Index i = 0; i < weights.rows(); ++i) {
      ASSERT_NEAR(weights.row(i).sum(), 1.0f, 1e-5) << "row " << i;
    }
  }
}

// Changing any token after position t leaves every output at or before t unchanged,
// bit for bit: not close, identical. A max taken over the masked entries, a global
// max, or a mask applied after the softmax all let the future in.
TEST(Step4_CausalAttention, NoFutureLeakageBitForBit) {
  Rng rng(402);
  for (int t_total : {2, 7, 33}) {
    const Matrix q = RandomMatrix(rng, t_total, 8);
    const Matrix k = RandomMatrix(rng, t_total, 8);
    const Matrix v = RandomMatrix(rng, t_total, 5);
    const Matrix out = CausalAttention(q, k, v);
    for (int t = 0; t + 1 < t_total; ++t) {
      const int future = t_total - t - 1;
      Matrix q2 = q;
      Matrix k2 = k;
      Matrix v2 = v;
      // Large future tokens: their scores dwarf the past ones if anything leaks.
      q2.bottomRows(future) = RandomMatrix(rng, future, 8, 10.0);
      k2.bottomRows(future) = RandomMatrix(rng, future, 8, 10.0);
      v2.bottomRows(future) = RandomMatrix(rng, future, 5, 10.0);
      const Matrix out2 = CausalAttention(q2, k2, v2);
      SCOPED_TRACE(::testing::Message() << "T=" << t_total << ", tokens " << t + 1 << ".."
                                        << t_total - 1 << " changed");
      // Stops at the first leak; the report marks the outputs that moved.
      ASSERT_TRUE(SameBitsInTopRows(out2, out, t + 1, "later tokens"));
    }
  }
}

TEST(Step4_CausalAttention, FirstTRowsEqualAttentionOverTheFirstTTokens) {
  Rng rng(403);
  const int t_total = 17;
  const Matrix q = RandomMatrix(rng, t_total, 6);
  const Matrix k = RandomMatrix(rng, t_total, 6);
  const Matrix v = RandomMatrix(rng, t_total, 4);
  const Matrix whole = CausalAttention(q, k, v);
  for (int t = 1; t <= t_total; ++t) {
    SCOPED_TRACE(::testing::Message() << "first " << t << " of " << t_total << " tokens");
    // Mathematically equal; in float the products may be blocked differently for
    // different sizes, so each side is within the float-vs-exact error of the
    // reference comparison, and their difference within about twice that.
    EXPECT_ALLCLOSE(CausalAttention(q.topRows(t), k.topRows(t), v.topRows(t)),
                    whole.topRows(t), kVsReference);
  }
}

TEST(Step4_CausalAttention, FirstTokenCopiesItsOwnValue) {
  Rng rng(404);
  const Matrix q = RandomMatrix(rng, 5, 4, 3.0);
  const Matrix k = RandomMatrix(rng, 5, 4, 3.0);
  const Matrix v = RandomMatrix(rng, 5, 3);
  // Token 0 sees only itself: weight exp(0)/exp(0) = 1 exactly, output = v(0, :).
  EXPECT_ALLCLOSE(CausalAttention(q, k, v).row(0), v.row(0), kExact);
}

TEST(Step4_CausalAttention, MatchesReferenceOnAwkwardSizes) {
  Rng rng(405);
  for (int t : AwkwardSizes(65)) {
    for (auto [d, dv] : {std::pair{1, 1}, {3, 5}, {64, 8}}) {
      const Matrix q = RandomMatrix(rng, t, d);
      const Matrix k = RandomMatrix(rng, t, d);
      const Matrix v = RandomMatrix(rng, t, dv);
      SCOPED_TRACE(::testing::Message() << "T=" << t << " d=" << d << " d_v=" << dv);
      EXPECT_ALLCLOSE(CausalAttention(q, k, v),
                      reference::causal::MaskedAttention(D(q), D(k), D(v),
                                                         reference::causal::CausalAllowed(t)),
                      kVsReference);
    }
  }
}

TEST(Step4_CausalAttention, StableForLargeScores) {
  Rng rng(406);
  const Matrix q = RandomMatrix(rng, 9, 16, 40.0);
  const Matrix k = RandomMatrix(rng, 9, 16, 40.0);
  const Matrix v = RandomMatrix(rng, 9, 4);
  const Matrix out = CausalAttention(q, k, v);
  ASSERT_TRUE(out.allFinite()) << "scores near 1e4 must not overflow";
  // Scores this large make the weights nearly one-hot; compare loosely in absolute
  // terms because the float scores themselves carry an error of ~1e-3.
  EXPECT_ALLCLOSE(out,
                  reference::causal::MaskedAttention(D(q), D(k), D(v),
                                                     reference::causal::CausalAllowed(9)),
                  (Tolerance{2e-3, 2e-3}));
}

TEST(Step4_CausalAttention, MaskedAttentionTakesAnyMask) {
  Rng rng(407);
  for (auto [t, n] : {std::pair{1, 1}, {4, 9}, {9, 4}, {17, 31}}) {
    const Matrix q = RandomMatrix(rng, t, 5);
    const Matrix k = RandomMatrix(rng, n, 5);
    const Matrix v = RandomMatrix(rng, n, 3);
    const Mask mask = RandomMask(rng, t, n, 0.5, /*empty_row=*/t - 1);
    Matrix weights;
    const Matrix out = MaskedAttention(q, k, v, mask, &weights);
    SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n << ", last row fully masked");
    EXPECT_SUPPORT_MATCHES_MASK(weights, mask);
    EXPECT_ALLCLOSE(out, reference::causal::MaskedAttention(D(q), D(k), D(v), mask),
                    kVsReference);
    EXPECT_ALLCLOSE(out.row(t - 1), Matrix::Zero(1, 3), kExact)
        << "a query that may see no key outputs zeros";
  }
}

TEST(Step4_CausalAttention, RejectsMismatchedShapes) {
  const Matrix q = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(CausalAttention(q, Matrix::Ones(4, 2), Matrix::Ones(4, 2)),
                          {"k", "4x2", "3x2"});
  EXPECT_INVALID_ARGUMENT(CausalAttention(q, Matrix::Ones(3, 3), Matrix::Ones(3, 2)),
                          {"k", "3x3", "3x2"});
  EXPECT_INVALID_ARGUMENT(CausalAttention(q, Matrix::Ones(3, 2), Matrix::Ones(2, 2)),
                          {"v", "2x2"});
  EXPECT_INVALID_ARGUMENT(
      MaskedAttention(q, Matrix::Ones(4, 2), Matrix::Ones(4, 2), Mask::Constant(3, 3, true)),
      {"mask", "3x3", "3x4"});
  EXPECT_INVALID_ARGUMENT(
      MaskedAttention(q, Matrix::Ones(4, 2), Matrix::Ones(5, 2), Mask::Constant(3, 4, true)),
      {"v", "5x2", "4x2"});
}

TEST(Step4_CausalAttention, RejectsEmptySequence) {
  EXPECT_INVALID_ARGUMENT(CausalAttention(Matrix(0, 2), Matrix(0, 2), Matrix(0, 2)),
                          {"q", "0x2"});
  EXPECT_INVALID_ARGUMENT(MaskedAttention(Matrix::Ones(2, 2), Matrix(0, 2), Matrix(0, 2),
                                          Mask(2, 0)),
                          {"k", "0x2"});
}

// ---------------------------------------------------------------------------------
// Step 5: key padding, combined with the causal mask, over a batch.

TEST(Step5_PaddingMask, KeyPaddingMaskFixture) {
  EXPECT_SUPPORT_MATCHES_MASK(KeyPaddingMask(4, 2, PadSide::kLeft),
                              PaddedFx().Matrix("key_padding1"));
}

TEST(Step5_PaddingMask, KeyPaddingMaskAllowsTheRealKeysOnBothSides) {
  for (int t : {1, 2, 5, 16}) {
    for (int length = 0; length <= t; ++length) {
      for (PadSide side : {PadSide::kRight, PadSide::kLeft}) {
        const int first_real = side == PadSide::kRight ? 0 : t - length;
        Mask expected(t, t);
        for (int j = 0; j < t; ++j) {
          expected.col(j).setConstant(j >= first_real && j < first_real + length);
        }
        SCOPED_TRACE(::testing::Message() << "T=" << t << " length=" << length << " padded on the "
                                          << (side == PadSide::kRight ? "right" : "left"));
        ASSERT_SUPPORT_MATCHES_MASK(KeyPaddingMask(t, length, side), expected);
      }
    }
  }
}

TEST(Step5_PaddingMask, CombineMasksIsLogicalAnd) {
  Rng rng(501);
  const Mask a = RandomMask(rng, 6, 9, 0.5);
  const Mask b = RandomMask(rng, 6, 9, 0.5);
  Mask expected(6, 9);
  for (Eigen::Index i = 0; i < 6; ++i) {
    for (Eigen::Index j = 0; j < 9; ++j) expected(i, j) = a(i, j) && b(i, j);
  }
  EXPECT_SUPPORT_MATCHES_MASK(CombineMasks(a, b), expected);
}

TEST(Step5_PaddingMask, BatchMasksFixture) {
  const auto& fx = PaddedFx();
  const std::vector<Mask> masks = BatchMasks({fx.Int("length0"), fx.Int("length1")}, 4,
                                             PadSide::kLeft);
  ASSERT_EQ(masks.size(), 2u) << "one mask per sequence";
  EXPECT_SUPPORT_MATCHES_MASK(masks[0], fx.Matrix("mask0"));
  EXPECT_SUPPORT_MATCHES_MASK(masks[1], fx.Matrix("mask1"));
}

TEST(Step5_PaddingMask, BatchMasksAreCausalAndKeyPaddingOnBothSides) {
  const std::vector<int> lengths = {7, 0, 3, 1, 6};
  for (PadSide side : {PadSide::kRight, PadSide::kLeft}) {
    const std::vector<Mask> masks = BatchMasks(lengths, 7, side);
    ASSERT_EQ(masks.size(), lengths.size());
    for (size_t b = 0; b < lengths.size(); ++b) {
      SCOPED_TRACE(::testing::Message() << "sequence " << b << " of length " << lengths[b]
                                        << " padded to 7 on the "
                                        << (side == PadSide::kRight ? "right" : "left"));
      EXPECT_SUPPORT_MATCHES_MASK(masks[b], ExpectedBatchMask(7, lengths[b], side));
    }
  }
}

TEST(Step5_PaddingMask, FixtureWeights) {
  const auto& cfx = CausalFx();
  const auto& fx = PaddedFx();
  std::vector<Matrix> weights;
  BatchedCausalAttention({cfx.Matrix("Q"), fx.Matrix("q1")}, {cfx.Matrix("K"), fx.Matrix("k1")},
                         {cfx.Matrix("V"), fx.Matrix("v1")},
                         {fx.Int("length0"), fx.Int("length1")}, PadSide::kLeft, &weights);
  ASSERT_EQ(weights.size(), 2u) << "weights holds one matrix per sequence";
  EXPECT_ALLCLOSE(weights[0], cfx.Matrix("weights"), cfx.tolerance());
  EXPECT_ALLCLOSE(weights[1], fx.Matrix("weights1"), fx.tolerance());
}

TEST(Step5_PaddingMask, FixtureOutputs) {
  const auto& cfx = CausalFx();
  const auto& fx = PaddedFx();
  const std::vector<Matrix> out = BatchedCausalAttention(
      {cfx.Matrix("Q"), fx.Matrix("q1")}, {cfx.Matrix("K"), fx.Matrix("k1")},
      {cfx.Matrix("V"), fx.Matrix("v1")}, {fx.Int("length0"), fx.Int("length1")},
      PadSide::kLeft);
  ASSERT_EQ(out.size(), 2u) << "one output per sequence";
  EXPECT_ALLCLOSE(out[0], cfx.Matrix("output"), cfx.tolerance());
  EXPECT_ALLCLOSE(out[1], fx.Matrix("output1"), fx.tolerance());
}

// A random batch padded to t: real tokens where the sequence has them, padding rows
// drawn at scale 10 so that attending to them would show.
struct Batch {
  std::vector<Matrix> q, k, v;
};
Batch RandomBatch(Rng& rng, size_t size, int t, int d, int dv) {
  Batch batch;
  for (size_t b = 0; b < size; ++b) {
    batch.q.push_back(RandomMatrix(rng, t, d, 10.0));
    batch.k.push_back(RandomMatrix(rng, t, d, 10.0));
    batch.v.push_back(RandomMatrix(rng, t, dv, 10.0));
  }
  return batch;
}
std::pair<int, int> RealRows(int t, int length, PadSide side) {
  return side == PadSide::kRight ? std::pair{0, length} : std::pair{t - length, t};
}

TEST(Step5_PaddingMask, NoTokenAttendsToPadding) {
  Rng rng(502);
  const std::vector<int> lengths = {9, 4, 1, 0, 7};
  for (PadSide side : {PadSide::kRight, PadSide::kLeft}) {
    const Batch x = RandomBatch(rng, lengths.size(), 9, 4, 3);
    std::vector<Matrix> weights;
    BatchedCausalAttention(x.q, x.k, x.v, lengths, side, &weights);
    ASSERT_EQ(weights.size(), lengths.size());
    for (size_t b = 0; b < lengths.size(); ++b) {
      SCOPED_TRACE(::testing::Message() << "sequence " << b << " of length " << lengths[b]
                                        << " padded to 9 on the "
                                        << (side == PadSide::kRight ? "right" : "left"));
      // Padding keys and future keys: weight exactly 0; scores are large here, so
      // an allowed weight may underflow and only the forbidden side is checked.
      EXPECT_ZERO_WHERE_MASKED(weights[b], ExpectedBatchMask(9, lengths[b], side));
    }
  }
}

TEST(Step5_PaddingMask, LeftPaddingRowsAreFullyMaskedAndOutputZeros) {
  Rng rng(503);
  const std::vector<int> lengths = {2, 5, 0};
  const Batch x = RandomBatch(rng, lengths.size(), 5, 3, 2);
  const std::vector<Matrix> out = BatchedCausalAttention(x.q, x.k, x.v, lengths, PadSide::kLeft);
  ASSERT_EQ(out.size(), lengths.size());
  for (size_t b = 0; b < lengths.size(); ++b) {
    ASSERT_TRUE(out[b].allFinite()) << "sequence " << b << ": fully masked rows must not be "
                                    << "NaN\n" << out[b];
    const int pad = 5 - lengths[b];
    EXPECT_ALLCLOSE(out[b].topRows(pad), Matrix::Zero(pad, 2), kExact)
        << "sequence " << b << ": the " << pad << " padding rows see no key";
  }
}

TEST(Step5_PaddingMask, RealTokensMatchTheUnpaddedSequence) {
  Rng rng(504);
  const std::vector<int> lengths = {8, 5, 1, 3};
  for (PadSide side : {PadSide::kRight, PadSide::kLeft}) {
    Batch x = RandomBatch(rng, lengths.size(), 8, 6, 4);
    for (size_t b = 0; b < lengths.size(); ++b) {  // real tokens at unit scale
      auto [begin, end] = RealRows(8, lengths[b], side);
      x.q[b].middleRows(begin, end - begin) /= 10.0f;
      x.k[b].middleRows(begin, end - begin) /= 10.0f;
    }
    const std::vector<Matrix> out = BatchedCausalAttention(x.q, x.k, x.v, lengths, side);
    ASSERT_EQ(out.size(), lengths.size());
    for (size_t b = 0; b < lengths.size(); ++b) {
      auto [begin, end] = RealRows(8, lengths[b], side);
      const int n = end - begin;
      SCOPED_TRACE(::testing::Message() << "sequence " << b << " of length " << n
                                        << " padded to 8 on the "
                                        << (side == PadSide::kRight ? "right" : "left"));
      const MatrixD unpadded = reference::causal::MaskedAttention(
          D(x.q[b].middleRows(begin, n)), D(x.k[b].middleRows(begin, n)),
          D(x.v[b].middleRows(begin, n)), reference::causal::CausalAllowed(n));
      EXPECT_ALLCLOSE(out[b].middleRows(begin, n), unpadded, kVsReference);
    }
  }
}

TEST(Step5_PaddingMask, PaddingContentNeverReachesARealToken) {
  Rng rng(505);
  const std::vector<int> lengths = {6, 3, 1};
  for (PadSide side : {PadSide::kRight, PadSide::kLeft}) {
    const Batch x = RandomBatch(rng, lengths.size(), 6, 4, 3);
    Batch changed = x;
    for (size_t b = 0; b < lengths.size(); ++b) {
      auto [begin, end] = RealRows(6, lengths[b], side);
      for (int row = 0; row < 6; ++row) {
        if (row >= begin && row < end) continue;
        changed.q[b].row(row) = RandomMatrix(rng, 1, 4, 10.0);
        changed.k[b].row(row) = RandomMatrix(rng, 1, 4, 10.0);
        changed.v[b].row(row) = RandomMatrix(rng, 1, 3, 10.0);
      }
    }
    const std::vector<Matrix> out = BatchedCausalAttention(x.q, x.k, x.v, lengths, side);
    const std::vector<Matrix> out2 =
        BatchedCausalAttention(changed.q, changed.k, changed.v, lengths, side);
    ASSERT_EQ(out.size(), lengths.size());
    ASSERT_EQ(out2.size(), lengths.size());
    for (size_t b = 0; b < lengths.size(); ++b) {
      auto [begin, end] = RealRows(6, lengths[b], side);
      SCOPED_TRACE(::testing::Message() << "sequence " << b << ", padding on the "
                                        << (side == PadSide::kRight ? "right" : "left")
                                        << " changed");
      // Bit for bit, like the causal property of Step 4 (compared at the real rows).
      const Matrix real_after = out2[b].middleRows(begin, end - begin);
      const Matrix real_before = out[b].middleRows(begin, end - begin);
      EXPECT_TRUE(SameBitsInTopRows(real_after, real_before, end - begin, "padding tokens"));
    }
  }
}

TEST(Step5_PaddingMask, RejectsBadLengths) {
  EXPECT_INVALID_ARGUMENT(KeyPaddingMask(4, 5, PadSide::kLeft), {"length = 5", "4"});
  EXPECT_INVALID_ARGUMENT(KeyPaddingMask(4, -1, PadSide::kRight), {"length = -1"});
  EXPECT_INVALID_ARGUMENT(KeyPaddingMask(0, 0, PadSide::kRight), {"num_tokens", "0"});
  EXPECT_INVALID_ARGUMENT(BatchMasks({4, 5}, 4, PadSide::kRight), {"lengths[1] = 5", "4"});
  EXPECT_INVALID_ARGUMENT(BatchMasks({-2}, 4, PadSide::kLeft), {"lengths[0] = -2"});
  EXPECT_INVALID_ARGUMENT(BatchMasks({}, 4, PadSide::kLeft), {"lengths"});
  EXPECT_INVALID_ARGUMENT(BatchMasks({1}, 0, PadSide::kLeft), {"num_tokens", "0"});
}

TEST(Step5_PaddingMask, RejectsMismatchedShapes) {
  EXPECT_INVALID_ARGUMENT(CombineMasks(Mask::Constant(4, 4, true), Mask::Constant(3, 3, true)),
                          {"b", "3x3", "4x4"});
  const std::vector<Matrix> two(2, Matrix::Ones(4, 2));
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention({Matrix::Ones(4, 2), Matrix::Ones(3, 2)}, two,
                                                 two, {4, 2}, PadSide::kLeft),
                          {"q[1]", "3x2", "4x2"});
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention(two, two, {Matrix::Ones(4, 2), Matrix::Ones(4, 3)},
                                                 {4, 2}, PadSide::kLeft),
                          {"v[1]", "4x3", "4x2"});
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention({Matrix(0, 2)}, {Matrix(0, 2)}, {Matrix(0, 2)},
                                                 {0}, PadSide::kRight),
                          {"q[0]", "0x2"});
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention(two, two, two, {4, 5}, PadSide::kRight),
                          {"lengths[1] = 5", "4"});
}

TEST(Step5_PaddingMask, RejectsBatchSizeMismatch) {
  const std::vector<Matrix> two(2, Matrix::Ones(4, 2));
  const std::vector<Matrix> three(3, Matrix::Ones(4, 2));
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention(three, two, two, {4, 2}, PadSide::kLeft),
                          {"q has 3", "lengths has 2"});
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention(two, three, two, {4, 2}, PadSide::kLeft),
                          {"k has 3", "lengths has 2"});
  EXPECT_INVALID_ARGUMENT(BatchedCausalAttention(two, two, two, {4, 2, 1}, PadSide::kLeft),
                          {"q has 2", "lengths has 3"});
}

}  // namespace
}  // namespace llmk::causal
