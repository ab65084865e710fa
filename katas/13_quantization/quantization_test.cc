// Tests of kata 13, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/13_quantization/*.json), then properties over seeded random
// tensors and comparisons with the oracles of reference/quantization_ref.h, then bad input.
//
// R, C = rows and columns of a tensor; G = group size along a row; M, K, N = the product
// [M, K]·[K, N]; s = a scale, q = a code, x̂ = the reconstruction.
#include "quantization.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "llmk/testing/testing.h"
#include "quantization_ref.h"

namespace llmk::quant {
namespace {

namespace ref = ::llmk::reference::quant;
using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const Fixture& SymmetricFx() { return KataFixture("13_quantization/symmetric.json"); }
const Fixture& ZeroPointFx() { return KataFixture("13_quantization/zero_point.json"); }
const Fixture& GranularityFx() { return KataFixture("13_quantization/granularity.json"); }
const Fixture& Int4Fx() { return KataFixture("13_quantization/int4.json"); }
const Fixture& Fp4Fx() { return KataFixture("13_quantization/fp4.json"); }
const Fixture& GemmFx() { return KataFixture("13_quantization/gemm.json"); }
const Fixture& FakeQuantFx() { return KataFixture("13_quantization/fake_quant.json"); }
const Fixture& QatFx() { return KataFixture("13_quantization/qat.json"); }
const Fixture& MemoryFx() { return KataFixture("13_quantization/memory.json"); }

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
// Codes and integer sums are compared exactly.
const Tolerance kExact{0, 0};

MatrixD D(const Matrix& m) { return m.cast<double>(); }

template <typename IntMatrix>
MatrixD D(const IntMatrix& m) {
  return m.template cast<double>();
}

// A block of 32 that the fixtures show 8 to a line, as the one row it is.
Matrix AsRow(const Matrix& m) { return Eigen::Map<const Matrix>(m.data(), 1, m.size()); }

Matrix AsLines(const Matrix& row) { return Eigen::Map<const Matrix>(row.data(), 4, 8); }

MatrixD CodesOf(const Mxfp4Tensor& t) {
  MatrixD m(t.rows, t.cols);
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) m(i, j) = t.codes[static_cast<size_t>(i) * t.cols + j];
  }
  return m;
}

// x with rows of different sizes: row i multiplied by 2^(i mod 7 − 3), so that per-row and
// per-group scales differ and exponents of MXFP4 blocks spread.
Matrix SpreadRows(Rng& rng, int rows, int cols) {
  Matrix x = RandomMatrix(rng, rows, cols);
  for (int i = 0; i < rows; ++i) x.row(i) *= std::ldexp(1.0f, i % 7 - 3);
  return x;
}

// Every |x − x̂| within half a step of its scale; `scale_of(i, j)` gives the step. A float
// division and a float product each round by 2⁻²⁴ relative, hence the small slack.
template <typename ScaleOf>
::testing::AssertionResult WithinHalfStep(const Matrix& x, const Matrix& x_hat, ScaleOf scale_of) {
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      const double s = scale_of(i, j);
      const double err = std::abs(static_cast<double>(x(i, j)) - x_hat(i, j));
      const double allowed = s / 2 * (1 + 1e-5) + 1e-6 * std::abs(x(i, j)) + 1e-30;
      if (!(err <= allowed)) {
        return ::testing::AssertionFailure()
               << "|x - x_hat| at (" << i << ", " << j << ") is " << err << " for x = " << x(i, j)
               << " and x_hat = " << x_hat(i, j) << "; half the step is " << s / 2;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------
// Step 1: symmetric absmax int8.

TEST(Step1_Symmetric, HandExample) {
  const Fixture& fx = SymmetricFx();
  const Matrix x = fx.Matrix("x");
  const float s = SymmetricScale(x);
  EXPECT_NEAR(s, fx.Scalar("scale"), 1e-12);
  const Int8Matrix q = QuantizeSymmetric(x, s);
  EXPECT_ALLCLOSE(D(q), fx.MatrixD("q"), kExact);
  const Matrix x_hat = DequantizeSymmetric(q, s);
  EXPECT_ALLCLOSE(x_hat, fx.MatrixD("x_hat"), fx.tolerance());
  EXPECT_ALLCLOSE((D(x) - D(x_hat)).cwiseAbs(), fx.MatrixD("error"), fx.tolerance());
}

// 2.5 → 2, 3.5 → 4, −2.5 → −2: half to even, not half away from zero (std::round gives 3,
// 4, −3) and not truncation (2, 3, −2).
TEST(Step1_Symmetric, TiesRoundToEven) {
  const float s = 1.0f / 64;
  Matrix x(1, 6);
  x << 2.5f * s, 3.5f * s, -2.5f * s, 0.5f * s, -1.5f * s, 126.5f * s;
  const Int8Matrix q = QuantizeSymmetric(x, s);
  Matrix expected(1, 6);
  expected << 2, 4, -2, 0, -2, 126;
  EXPECT_ALLCLOSE(D(q), D(expected), kExact);
}

TEST(Step1_Symmetric, ErrorBoundOverSeededTensors) {
  Rng rng(101);
  for (int rows : {1, 3, 17}) {
    for (int cols : AwkwardSizes(65)) {
      const Matrix x = RandomMatrix(rng, rows, cols, std::ldexp(1.0, cols % 9 - 4));
      const float s = SymmetricScale(x);
      EXPECT_NEAR(s, x.cwiseAbs().maxCoeff() / 127.0, 1e-7 * s);
      const Int8Matrix q = QuantizeSymmetric(x, s);
      const Matrix x_hat = DequantizeSymmetric(q, s);
      EXPECT_TRUE(WithinHalfStep(x, x_hat, [&](Eigen::Index, Eigen::Index) { return s; }))
          << rows << "x" << cols;
      // The largest magnitude lands on ±127 exactly.
      Eigen::Index i, j;
      x.cwiseAbs().maxCoeff(&i, &j);
      EXPECT_EQ(std::abs(static_cast<int>(q(i, j))), 127) << rows << "x" << cols;
      EXPECT_LE(q.cast<int>().cwiseAbs().maxCoeff(), 127);
    }
  }
}

// A scale smaller than max|x| / 127 (a calibrated scale, step 3's groups) clamps to ±127
// instead of wrapping around in int8.
TEST(Step1_Symmetric, ClampsOutsideTheRange) {
  Matrix x(1, 4);
  x << 10.0f, -10.0f, 1.27f, 1.0f;
  const Int8Matrix q = QuantizeSymmetric(x, 0.01f);
  Matrix expected(1, 4);
  expected << 127, -127, 127, 100;
  EXPECT_ALLCLOSE(D(q), D(expected), kExact);
}

TEST(Step1_Symmetric, ZeroTensorHasScaleZero) {
  const Matrix zeros = Matrix::Zero(2, 5);
  const float s = SymmetricScale(zeros);
  EXPECT_EQ(s, 0.0f);
  const Int8Matrix q = QuantizeSymmetric(zeros, s);
  EXPECT_ALLCLOSE(D(q), MatrixD::Zero(2, 5), kExact);
  const Matrix x_hat = DequantizeSymmetric(q, s);
  EXPECT_ALLCLOSE(x_hat, MatrixD::Zero(2, 5), kExact);  // no 0/0, no NaN
}

TEST(Step1_Symmetric, RejectsBadInput) {
  Matrix bad(1, 3);
  bad << 1.0f, kNaN, 2.0f;
  EXPECT_INVALID_ARGUMENT(SymmetricScale(bad), {"x", "nan"});
  bad(0, 1) = kInf;
  EXPECT_INVALID_ARGUMENT(SymmetricScale(bad), {"x", "inf"});
  EXPECT_INVALID_ARGUMENT(QuantizeSymmetric(bad, 0.1f), {"x", "inf"});
  EXPECT_INVALID_ARGUMENT(SymmetricScale(Matrix(0, 3)), {"x", "0x3"});
  EXPECT_INVALID_ARGUMENT(QuantizeSymmetric(Matrix(2, 0), 0.1f), {"x", "2x0"});
  const Matrix x = Matrix::Ones(1, 2);
  EXPECT_INVALID_ARGUMENT(QuantizeSymmetric(x, -0.5f), {"scale", "-0.5"});
  EXPECT_INVALID_ARGUMENT(QuantizeSymmetric(x, kNaN), {"scale", "nan"});
  EXPECT_INVALID_ARGUMENT(QuantizeSymmetric(x, 0.0f), {"scale", "0"});
  EXPECT_INVALID_ARGUMENT(DequantizeSymmetric(Int8Matrix::Ones(1, 2), kInf), {"scale", "inf"});
}

// ---------------------------------------------------------------------------------
// Step 2: asymmetric (zero-point) uint8.

TEST(Step2_ZeroPoint, ReluOutputBothWays) {
  const Fixture& fx = ZeroPointFx();
  const Matrix r = fx.Matrix("relu");
  const float ss = SymmetricScale(r);
  EXPECT_NEAR(ss, fx.Scalar("sym_scale"), 1e-6 * ss);
  const Matrix sym = DequantizeSymmetric(QuantizeSymmetric(r, ss), ss);
  EXPECT_ALLCLOSE(D(QuantizeSymmetric(r, ss)), fx.MatrixD("sym_q"), kExact);
  EXPECT_ALLCLOSE(sym, fx.MatrixD("sym_x_hat"), fx.tolerance());
  const AffineParams p = AffineParamsFor(r);
  EXPECT_NEAR(p.scale, fx.Scalar("affine_scale"), 1e-6 * p.scale);
  EXPECT_EQ(p.zero_point, fx.Int("affine_zero_point"));
  const Uint8Matrix qa = QuantizeAffine(r, p);
  EXPECT_ALLCLOSE(D(qa), fx.MatrixD("affine_q"), kExact);
  const Matrix aff = DequantizeAffine(qa, p);
  EXPECT_ALLCLOSE(aff, fx.MatrixD("affine_x_hat"), fx.tolerance());
  const QuantError es = ErrorOf(r, sym), ea = ErrorOf(r, aff);
  const Tolerance tol = fx.tolerance();
  EXPECT_NEAR(es.max_abs, fx.Scalar("sym_max_error"), tol.atol + tol.rtol * es.max_abs);
  EXPECT_NEAR(es.rms, fx.Scalar("sym_rms"), tol.atol + tol.rtol * es.rms);
  EXPECT_NEAR(ea.max_abs, fx.Scalar("affine_max_error"), tol.atol + tol.rtol * ea.max_abs);
  EXPECT_NEAR(ea.rms, fx.Scalar("affine_rms"), tol.atol + tol.rtol * ea.rms);
}

TEST(Step2_ZeroPoint, SignedRowZeroPoint) {
  const Fixture& fx = ZeroPointFx();
  const Matrix y = fx.Matrix("signed");
  const AffineParams p = AffineParamsFor(y);
  EXPECT_NEAR(p.scale, fx.Scalar("signed_scale"), 1e-6 * p.scale);
  EXPECT_EQ(p.zero_point, fx.Int("signed_zero_point"));
  const Uint8Matrix q = QuantizeAffine(y, p);
  EXPECT_ALLCLOSE(D(q), fx.MatrixD("signed_q"), kExact);
  EXPECT_ALLCLOSE(DequantizeAffine(q, p), fx.MatrixD("signed_x_hat"), fx.tolerance());
}

// The range always holds 0 and 0 lands on the zero point, so a zero (padding, a ReLU's
// negative half) comes back as exactly 0; the error elsewhere is at most half a step.
TEST(Step2_ZeroPoint, ZeroIsExactAndErrorBounded) {
  Rng rng(202);
  for (int cols : AwkwardSizes(65)) {
    for (double shift : {-3.0, -0.5, 0.0, 0.7, 4.0}) {
      Matrix x = (RandomMatrix(rng, 3, cols).array() + static_cast<float>(shift)).matrix();
      for (int j = 0; j < cols; j += 3) x(1, j) = 0.0f;
      const AffineParams p = AffineParamsFor(x);
      EXPECT_GE(p.zero_point, 0);
      EXPECT_LE(p.zero_point, 255);
      const Matrix x_hat = DequantizeAffine(QuantizeAffine(x, p), p);
      for (int j = 0; j < cols; j += 3) EXPECT_EQ(x_hat(1, j), 0.0f) << cols << " " << shift;
      EXPECT_TRUE(
          WithinHalfStep(x, x_hat, [&](Eigen::Index, Eigen::Index) { return 1.01 * p.scale; }))
          << cols << " " << shift;
    }
  }
}

// On a ReLU output symmetric int8 spends half its codes on negatives that never occur: the
// zero-point step is max/255 against max/127, so its error is about half.
TEST(Step2_ZeroPoint, BeatsSymmetricOnReluOutput) {
  Rng rng(203);
  const Matrix relu = RandomMatrix(rng, 16, 64).cwiseMax(0.0f);
  const float s = SymmetricScale(relu);
  const QuantError sym = ErrorOf(relu, DequantizeSymmetric(QuantizeSymmetric(relu, s), s));
  const AffineParams p = AffineParamsFor(relu);
  EXPECT_EQ(p.zero_point, 0);
  const QuantError aff = ErrorOf(relu, DequantizeAffine(QuantizeAffine(relu, p), p));
  EXPECT_LT(aff.rms, 0.6 * sym.rms);
  EXPECT_GT(aff.rms, 0.4 * sym.rms);
}

// The range is widened to hold 0 even when no entry is 0: an all-positive tensor has
// z = 0 and an all-negative one z = 255, and 0 stays exact.
TEST(Step2_ZeroPoint, RangeAlwaysHoldsZero) {
  Matrix pos(1, 4), neg(1, 4);
  pos << 1.0f, 2.0f, 3.0f, 5.1f;
  neg << -1.0f, -2.0f, -3.0f, -5.1f;
  const AffineParams p = AffineParamsFor(pos);
  EXPECT_NEAR(p.scale, 5.1 / 255, 1e-8);
  EXPECT_EQ(p.zero_point, 0);
  const AffineParams n = AffineParamsFor(neg);
  EXPECT_NEAR(n.scale, 5.1 / 255, 1e-8);
  EXPECT_EQ(n.zero_point, 255);
  Matrix expected(1, 4);
  expected << 50, 100, 150, 255;
  EXPECT_ALLCLOSE(D(QuantizeAffine(pos, p)), D(expected), kExact);
  EXPECT_ALLCLOSE(D(QuantizeAffine(neg, n)), D((255 - expected.array()).matrix()), kExact);
  EXPECT_EQ(DequantizeAffine(QuantizeAffine(Matrix::Zero(1, 1), n), n)(0, 0), 0.0f);
}

TEST(Step2_ZeroPoint, ErrorOfIsMaxAndRms) {
  Matrix x(1, 2), x_hat(1, 2);
  x << 1.0f, -2.0f;
  x_hat << 4.0f, 2.0f;  // differences 3 and 4
  const QuantError e = ErrorOf(x, x_hat);
  EXPECT_DOUBLE_EQ(e.max_abs, 4.0);
  EXPECT_DOUBLE_EQ(e.rms, std::sqrt(12.5));
}

TEST(Step2_ZeroPoint, ZeroTensor) {
  const Matrix zeros = Matrix::Zero(3, 2);
  const AffineParams p = AffineParamsFor(zeros);
  EXPECT_EQ(p.scale, 0.0f);
  EXPECT_EQ(p.zero_point, 0);
  EXPECT_ALLCLOSE(DequantizeAffine(QuantizeAffine(zeros, p), p), MatrixD::Zero(3, 2), kExact);
}

TEST(Step2_ZeroPoint, RejectsBadInput) {
  Matrix bad = Matrix::Ones(2, 2);
  bad(1, 0) = -kInf;
  EXPECT_INVALID_ARGUMENT(AffineParamsFor(bad), {"x", "inf"});
  EXPECT_INVALID_ARGUMENT(AffineParamsFor(Matrix(0, 0)), {"x", "0x0"});
  const Matrix x = Matrix::Ones(1, 3);
  EXPECT_INVALID_ARGUMENT(QuantizeAffine(x, AffineParams{0.1f, 256}), {"zero_point", "256"});
  EXPECT_INVALID_ARGUMENT(QuantizeAffine(x, AffineParams{0.1f, -1}), {"zero_point", "-1"});
  EXPECT_INVALID_ARGUMENT(QuantizeAffine(x, AffineParams{-0.1f, 0}), {"scale", "-0.1"});
  EXPECT_INVALID_ARGUMENT(QuantizeAffine(bad, AffineParams{0.1f, 0}), {"x", "inf"});
  EXPECT_INVALID_ARGUMENT(DequantizeAffine(Uint8Matrix::Zero(1, 1), AffineParams{0.1f, 300}),
                          {"zero_point", "300"});
  EXPECT_INVALID_ARGUMENT(ErrorOf(x, Matrix::Ones(3, 1)), {"x_hat", "1x3", "3x1"});
}

// ---------------------------------------------------------------------------------
// Step 3: which entries share a scale.

struct Mode {
  const char* key;
  Granularity granularity;
  int group_size;
};
const Mode kModes[] = {{"per_tensor", Granularity::kPerTensor, 0},
                       {"per_row", Granularity::kPerRow, 0},
                       {"per_column", Granularity::kPerColumn, 0},
                       {"group4", Granularity::kPerGroup, 4}};

TEST(Step3_Granularity, HandExample) {
  const Fixture& fx = GranularityFx();
  const Matrix w = fx.Matrix("w");
  const Tolerance tol = fx.tolerance();
  for (const Mode& mode : kModes) {
    SCOPED_TRACE(mode.key);
    const Int8Quantized t = QuantizeInt8(w, mode.granularity, mode.group_size);
    const std::string key = mode.key;
    EXPECT_ALLCLOSE(t.scales, fx.MatrixD(key + "_scales"), tol);
    EXPECT_ALLCLOSE(D(t.q), fx.MatrixD(key + "_q"), kExact);
    const QuantError e = ErrorOf(w, DequantizeInt8(t));
    EXPECT_NEAR(e.rms, fx.Scalar(key + "_rms"), tol.atol + tol.rtol * e.rms);
    EXPECT_NEAR(e.max_abs, fx.Scalar(key + "_max_error"), tol.atol + tol.rtol * e.max_abs);
  }
}

// The seeded experiment of the README: one column 50 times larger than the rest.
TEST(Step3_Granularity, OutlierColumn) {
  const Fixture& fx = GranularityFx();
  Rng rng(static_cast<std::uint64_t>(fx.Int("outlier_seed")));
  Matrix x = RandomMatrix(rng, fx.Int("outlier_rows"), fx.Int("outlier_cols"));
  const int outlier = fx.Int("outlier_column");
  x.col(outlier) *= static_cast<float>(fx.Scalar("outlier_factor"));
  const MatrixD expected = fx.MatrixD("outlier_rms");
  const Mode modes[] = {
      {"per tensor", Granularity::kPerTensor, 0}, {"per row", Granularity::kPerRow, 0},
      {"per column", Granularity::kPerColumn, 0}, {"G = 32", Granularity::kPerGroup, 32},
      {"G = 64", Granularity::kPerGroup, 64},     {"G = 128", Granularity::kPerGroup, 128}};
  MatrixD rms(6, 2);
  for (int m = 0; m < 6; ++m) {
    const Matrix x_hat = DequantizeInt8(QuantizeInt8(x, modes[m].granularity, modes[m].group_size));
    rms(m, 0) = ErrorOf(x, x_hat).rms;
    Matrix rest(x.rows(), x.cols() - 1), rest_hat(x.rows(), x.cols() - 1);
    rest << x.leftCols(outlier), x.rightCols(x.cols() - outlier - 1);
    rest_hat << x_hat.leftCols(outlier), x_hat.rightCols(x.cols() - outlier - 1);
    rms(m, 1) = ErrorOf(rest, rest_hat).rms;
  }
  EXPECT_ALLCLOSE(rms, expected, GranularityFx().tolerance());
  // Per column isolates the outlier: more than 50 times better than per tensor on the
  // other columns; per row does not (every row holds an outlier entry).
  EXPECT_LT(rms(2, 1) * 50, rms(0, 1));
  EXPECT_GT(rms(1, 1) * 4, rms(0, 1));
}

TEST(Step3_Granularity, MatchesReferenceOnAwkwardSizes) {
  Rng rng(303);
  for (int rows : {1, 2, 7}) {
    for (int group : {1, 3, 32, 64, 128}) {
      for (int groups : {1, 2, 3}) {
        const int cols = group * groups;
        const Matrix x = SpreadRows(rng, rows, cols);
        SCOPED_TRACE(::testing::Message() << rows << "x" << cols << " G = " << group);
        const MatrixD expected = ref::SymmetricRoundTrip(D(x), 127, group);
        const Int8Quantized t = QuantizeInt8(x, Granularity::kPerGroup, group);
        ASSERT_EQ(t.scales.rows(), rows);
        ASSERT_EQ(t.scales.cols(), groups);
        EXPECT_ALLCLOSE(DequantizeInt8(t), expected, (Tolerance{1e-30, 1e-6}));
        // Per row is one group the width of the row.
        const Int8Quantized per_row = QuantizeInt8(x, Granularity::kPerRow);
        ASSERT_EQ(per_row.scales.rows(), rows);
        ASSERT_EQ(per_row.scales.cols(), 1);
        EXPECT_ALLCLOSE(DequantizeInt8(per_row), ref::SymmetricRoundTrip(D(x), 127, cols),
                        (Tolerance{1e-30, 1e-6}));
        // Per tensor is one group holding everything; per column is per row of xᵀ.
        const Matrix flat = Eigen::Map<const Matrix>(x.data(), 1, x.size());
        const Matrix per_tensor = DequantizeInt8(QuantizeInt8(x, Granularity::kPerTensor));
        EXPECT_ALLCLOSE(Eigen::Map<const Matrix>(per_tensor.data(), 1, x.size()),
                        ref::SymmetricRoundTrip(D(flat), 127, static_cast<int>(x.size())),
                        (Tolerance{1e-30, 1e-6}));
        const Matrix xt = x.transpose();
        const Int8Quantized per_col = QuantizeInt8(x, Granularity::kPerColumn);
        ASSERT_EQ(per_col.scales.rows(), 1);
        ASSERT_EQ(per_col.scales.cols(), cols);
        const Matrix col_hat = DequantizeInt8(per_col);
        EXPECT_ALLCLOSE(col_hat.transpose(), ref::SymmetricRoundTrip(D(xt), 127, rows),
                        (Tolerance{1e-30, 1e-6}));
      }
    }
  }
}

TEST(Step3_Granularity, ZeroGroupHasScaleZero) {
  Matrix x = Matrix::Zero(2, 8);
  x.block(0, 4, 1, 4) << 1.0f, -2.0f, 0.5f, 0.25f;
  const Int8Quantized t = QuantizeInt8(x, Granularity::kPerGroup, 4);
  EXPECT_EQ(t.scales(0, 0), 0.0f);
  EXPECT_EQ(t.scales(1, 1), 0.0f);
  EXPECT_NEAR(t.scales(0, 1), 2.0 / 127, 1e-9);
  const Matrix x_hat = DequantizeInt8(t);
  EXPECT_TRUE(x_hat.allFinite());
  EXPECT_ALLCLOSE(x_hat.leftCols(4), MatrixD::Zero(2, 4), kExact);
}

TEST(Step3_Granularity, RejectsBadInput) {
  const Matrix x = Matrix::Ones(2, 8);
  EXPECT_INVALID_ARGUMENT(QuantizeInt8(x, Granularity::kPerGroup, 3), {"group_size", "3", "8"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt8(x, Granularity::kPerGroup, 0), {"group_size", "0"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt8(x, Granularity::kPerGroup, -4), {"group_size", "-4"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt8(Matrix(0, 8), Granularity::kPerRow), {"x", "0x8"});
  Matrix bad = x;
  bad(1, 7) = kNaN;
  EXPECT_INVALID_ARGUMENT(QuantizeInt8(bad, Granularity::kPerColumn), {"x", "nan"});
  Int8Quantized t = QuantizeInt8(x, Granularity::kPerRow);
  t.scales = Matrix::Ones(1, 1);
  EXPECT_INVALID_ARGUMENT(DequantizeInt8(t), {"scales", "2x1", "1x1"});
}

// ---------------------------------------------------------------------------------
// Step 4: int4, two values to a byte.

MatrixD Unpacked(const Int4Quantized& t) {
  const std::vector<std::int8_t> codes = UnpackInt4(t.packed);
  MatrixD m(t.rows, t.cols);
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) m(i, j) = codes[static_cast<size_t>(i) * t.cols + j];
  }
  return m;
}

MatrixD BytesOf(const std::vector<std::uint8_t>& bytes) {
  MatrixD m(1, bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = bytes[i];
  return m;
}

TEST(Step4_Int4Packing, HandExample) {
  const Fixture& fx = Int4Fx();
  const Matrix x = fx.Matrix("x");
  const Int4Quantized t = QuantizeInt4(x, fx.Int("group_size"));
  EXPECT_EQ(t.rows, 1);
  EXPECT_EQ(t.cols, 8);
  EXPECT_ALLCLOSE(t.scales, fx.MatrixD("scales"), fx.tolerance());
  EXPECT_ALLCLOSE(BytesOf(t.packed), fx.MatrixD("packed"), kExact);
  EXPECT_ALLCLOSE(Unpacked(t), fx.MatrixD("q"), kExact);
  EXPECT_ALLCLOSE(DequantizeInt4(t), fx.MatrixD("x_hat"), fx.tolerance());
  const MatrixD demo = fx.MatrixD("demo_values");
  std::vector<std::int8_t> values;
  for (Eigen::Index j = 0; j < demo.cols(); ++j)
    values.push_back(static_cast<std::int8_t>(demo(0, j)));
  EXPECT_ALLCLOSE(BytesOf(PackInt4(values)), fx.MatrixD("demo_packed"), kExact);
}

// Value 2i goes to the low nibble: {1, 2} is 0x21, not 0x12.
TEST(Step4_Int4Packing, NibbleOrder) {
  const std::vector<std::int8_t> values = {1, 2, -1, 0, 0, -8};
  const std::vector<std::uint8_t> packed = PackInt4(values);
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(packed[0], 0x21);
  EXPECT_EQ(packed[1], 0x0F);
  EXPECT_EQ(packed[2], 0x80);
}

// Every pair of values packs and unpacks to itself, and every byte unpacks and packs back.
TEST(Step4_Int4Packing, EveryPairAndEveryByteRoundTrips) {
  std::vector<std::int8_t> values;
  for (int lo = -8; lo <= 7; ++lo) {
    for (int hi = -8; hi <= 7; ++hi) {
      values.push_back(static_cast<std::int8_t>(lo));
      values.push_back(static_cast<std::int8_t>(hi));
    }
  }
  const std::vector<std::uint8_t> packed = PackInt4(values);
  ASSERT_EQ(packed.size(), 256u);
  EXPECT_EQ(UnpackInt4(packed), values);
  std::vector<std::uint8_t> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[b] = static_cast<std::uint8_t>(b);
  EXPECT_EQ(PackInt4(UnpackInt4(bytes)), bytes);
  EXPECT_TRUE(UnpackInt4(std::vector<std::uint8_t>{}).empty());
}

TEST(Step4_Int4Packing, MatchesReferenceOnAwkwardSizes) {
  Rng rng(404);
  for (int rows : {1, 3, 8}) {
    for (int group : {2, 4, 32, 64, 128}) {
      for (int groups : {1, 3}) {
        const int cols = group * groups;
        const Matrix x = SpreadRows(rng, rows, cols);
        SCOPED_TRACE(::testing::Message() << rows << "x" << cols << " G = " << group);
        const Int4Quantized t = QuantizeInt4(x, group);
        ASSERT_EQ(t.packed.size(), static_cast<size_t>(rows * cols / 2));
        const Matrix x_hat = DequantizeInt4(t);
        EXPECT_ALLCLOSE(x_hat, ref::SymmetricRoundTrip(D(x), 7, group), (Tolerance{1e-30, 1e-6}));
        EXPECT_TRUE(WithinHalfStep(
            x, x_hat, [&](Eigen::Index i, Eigen::Index j) { return t.scales(i, j / group); }));
        EXPECT_LE(Unpacked(t).cwiseAbs().maxCoeff(), 7.0);
      }
    }
  }
}

TEST(Step4_Int4Packing, RejectsBadInput) {
  const std::vector<std::int8_t> odd = {1, 2, 3};
  EXPECT_INVALID_ARGUMENT(PackInt4(odd), {"values", "even", "3"});
  const std::vector<std::int8_t> too_big = {1, 8};
  EXPECT_INVALID_ARGUMENT(PackInt4(too_big), {"values[1]", "8"});
  const std::vector<std::int8_t> too_small = {-9, 0};
  EXPECT_INVALID_ARGUMENT(PackInt4(too_small), {"values[0]", "-9"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt4(Matrix::Ones(2, 7), 7), {"x", "even", "2x7"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt4(Matrix::Ones(2, 8), 3), {"group_size", "3", "8"});
  EXPECT_INVALID_ARGUMENT(QuantizeInt4(Matrix(0, 8), 4), {"x", "0x8"});
  Matrix bad = Matrix::Ones(1, 4);
  bad(0, 2) = kNaN;
  EXPECT_INVALID_ARGUMENT(QuantizeInt4(bad, 2), {"x", "nan"});
  Int4Quantized t = QuantizeInt4(Matrix::Ones(2, 8), 4);
  t.packed.pop_back();
  EXPECT_INVALID_ARGUMENT(DequantizeInt4(t), {"packed", "8", "7"});
}

// ---------------------------------------------------------------------------------
// Step 5: FP4 E2M1 and MXFP4.

TEST(Step5_Fp4, AllSixteenCodes) {
  const MatrixD expected = Fp4Fx().MatrixD("code_values");  // [2, 8]: codes 0-7, then 8-15
  for (int code = 0; code < 16; ++code) {
    const float v = Fp4Value(static_cast<std::uint8_t>(code));
    EXPECT_EQ(v, expected(code / 8, code % 8)) << "code " << code;
    EXPECT_EQ(std::signbit(v), code >= 8) << "code " << code << " (code 8 is -0)";
    EXPECT_EQ(Fp4Encode(v), code) << "code " << code;
    EXPECT_EQ(ref::Fp4CodeValue(code), expected(code / 8, code % 8)) << "code " << code;
  }
}

// Each midpoint between neighbours goes to the even mantissa; a hair below it goes down, a
// hair above it goes up. Also negated.
TEST(Step5_Fp4, EveryRoundingBoundary) {
  const MatrixD table = Fp4Fx().MatrixD("boundaries");  // v, code(v), value, code(-v), value
  const float magnitudes[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (Eigen::Index r = 0; r < table.rows(); ++r) {
    const float v = static_cast<float>(table(r, 0));
    EXPECT_EQ(Fp4Encode(v), table(r, 1)) << "v = " << v;
    EXPECT_EQ(Fp4Value(Fp4Encode(v)), table(r, 2)) << "v = " << v;
    EXPECT_EQ(Fp4Encode(-v), table(r, 3)) << "v = " << -v;
    const int lower = static_cast<int>(r), upper = static_cast<int>(r) + 1;
    EXPECT_EQ(Fp4Encode(std::nextafter(v, 0.0f)), lower) << "just below " << v;
    EXPECT_EQ(Fp4Encode(std::nextafter(v, 10.0f)), upper) << "just above " << v;
    EXPECT_EQ(Fp4Encode(-std::nextafter(v, 10.0f)), upper | 8) << "just below " << -v;
    EXPECT_EQ(magnitudes[table(r, 1) == lower ? lower : upper], table(r, 2));
  }
}

TEST(Step5_Fp4, SaturatesAboveSix) {
  const MatrixD table = Fp4Fx().MatrixD("saturation");  // v, code, value
  for (Eigen::Index r = 0; r < table.rows(); ++r) {
    const float v = static_cast<float>(table(r, 0));
    EXPECT_EQ(Fp4Encode(v), table(r, 1)) << "v = " << v;
    EXPECT_EQ(Fp4Value(Fp4Encode(v)), table(r, 2)) << "v = " << v;
  }
  EXPECT_EQ(Fp4Encode(std::numeric_limits<float>::max()), 7);
  EXPECT_EQ(Fp4Encode(-std::numeric_limits<float>::max()), 15);
}

TEST(Step5_Fp4, MatchesReferenceOnASweep) {
  for (int i = -8 * 256; i <= 8 * 256; ++i) {
    const float v = static_cast<float>(i) / 256.0f;
    EXPECT_EQ(Fp4Value(Fp4Encode(v)), ref::Fp4Nearest(v)) << "v = " << v;
  }
}

TEST(Step5_Fp4, MxBlockHandExample) {
  const Fixture& fx = Fp4Fx();
  const Matrix x = AsRow(fx.Matrix("block"));
  const Mxfp4Tensor t = QuantizeMxfp4(x);
  ASSERT_EQ(t.scales.size(), 1u);
  EXPECT_EQ(t.scales[0], fx.Int("block_e8m0"));
  EXPECT_EQ(t.scales[0] - 127, fx.Int("block_exponent"));
  EXPECT_ALLCLOSE(AsLines(CodesOf(t).cast<float>()), fx.MatrixD("block_codes"), kExact);
  EXPECT_ALLCLOSE(AsLines(DequantizeMxfp4(t)), fx.MatrixD("block_x_hat"), kExact);
  EXPECT_ALLCLOSE(AsLines(x) * std::ldexp(1.0f, -fx.Int("block_exponent")),
                  fx.MatrixD("block_scaled"), fx.tolerance());
}

// Powers of two and E2M1 values are exact, so the round trip equals the reference exactly,
// block exponents from 2^−20 to 2^20 included.
TEST(Step5_Fp4, MatchesReferenceOnAwkwardSizes) {
  Rng rng(505);
  for (int rows : {1, 2, 5, 9}) {
    for (int cols : {32, 64, 96}) {
      Matrix x = RandomMatrix(rng, rows, cols);
      for (int i = 0; i < rows; ++i) {
        for (int b = 0; b < cols / 32; ++b) {
          x.block(i, 32 * b, 1, 32) *= std::ldexp(1.0f, static_cast<int>(rng.Below(41)) - 20);
        }
      }
      SCOPED_TRACE(::testing::Message() << rows << "x" << cols);
      const Mxfp4Tensor t = QuantizeMxfp4(x);
      ASSERT_EQ(t.codes.size(), static_cast<size_t>(rows * cols));
      ASSERT_EQ(t.scales.size(), static_cast<size_t>(rows * cols / 32));
      const Matrix x_hat = DequantizeMxfp4(t);
      EXPECT_ALLCLOSE(x_hat, ref::Mxfp4RoundTrip(D(x)), kExact);
      for (int i = 0; i < rows; ++i) {
        for (int b = 0; b < cols / 32; ++b) {
          const double amax = x.block(i, 32 * b, 1, 32).cwiseAbs().maxCoeff();
          const double scale = std::ldexp(1.0, t.scales[i * (cols / 32) + b] - 127);
          EXPECT_GE(amax / scale, 4.0);
          EXPECT_LT(amax / scale, 8.0);
        }
      }
    }
  }
}

TEST(Step5_Fp4, ZeroBlock) {
  Matrix x = Matrix::Zero(1, 64);
  x(0, 40) = 3.0f;
  const Mxfp4Tensor t = QuantizeMxfp4(x);
  ASSERT_EQ(t.scales.size(), 2u);
  EXPECT_EQ(t.scales[0], 0);        // 2^−127
  EXPECT_EQ(t.scales[1], 127 - 1);  // floor(log2 3) − 2 = −1
  for (int j = 0; j < 32; ++j) EXPECT_EQ(t.codes[j], 0) << j;
  const Matrix x_hat = DequantizeMxfp4(t);
  EXPECT_TRUE(x_hat.allFinite());
  EXPECT_EQ(x_hat(0, 40), 3.0f);
  EXPECT_EQ(x_hat.cwiseAbs().sum(), 3.0f);
}

TEST(Step5_Fp4, RejectsBadInput) {
  EXPECT_INVALID_ARGUMENT(Fp4Value(16), {"code", "16"});
  EXPECT_INVALID_ARGUMENT(Fp4Encode(kNaN), {"v", "nan"});
  EXPECT_INVALID_ARGUMENT(Fp4Encode(-kInf), {"v", "inf"});
  EXPECT_INVALID_ARGUMENT(QuantizeMxfp4(Matrix::Ones(2, 33)), {"32", "33"});
  EXPECT_INVALID_ARGUMENT(QuantizeMxfp4(Matrix(0, 32)), {"x", "0x32"});
  Matrix bad = Matrix::Ones(1, 32);
  bad(0, 31) = kInf;
  EXPECT_INVALID_ARGUMENT(QuantizeMxfp4(bad), {"x", "inf"});
  Mxfp4Tensor t = QuantizeMxfp4(Matrix::Ones(1, 32));
  t.scales[0] = 255;
  EXPECT_INVALID_ARGUMENT(DequantizeMxfp4(t), {"scales", "255"});
  t.scales.push_back(127);
  EXPECT_INVALID_ARGUMENT(DequantizeMxfp4(t), {"scales", "1", "2"});
}

// ---------------------------------------------------------------------------------
// Step 6: the int8 matrix product.

std::vector<Backend> Backends() {
  std::vector<Backend> backends = {Backend::kScalar, Backend::kAuto};
  if (__builtin_cpu_supports("avx2")) backends.push_back(Backend::kAvx2);
  return backends;
}

const char* Name(Backend b) {
  return b == Backend::kScalar ? "kScalar" : b == Backend::kAuto ? "kAuto" : "kAvx2";
}

Int8Matrix RandomInt8(Rng& rng, int rows, int cols) {
  Int8Matrix m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j)
      m(i, j) = static_cast<std::int8_t>(static_cast<int>(rng.Below(256)) - 128);
  }
  return m;
}

TEST(Step6_Int8Gemm, HandExample) {
  const Fixture& fx = GemmFx();
  const Int8Quantized a = QuantizeInt8(fx.Matrix("a"), Granularity::kPerRow);
  const Int8Quantized b = QuantizeInt8(fx.Matrix("b"), Granularity::kPerColumn);
  EXPECT_ALLCLOSE(a.scales, fx.MatrixD("a_scales"), fx.tolerance());
  EXPECT_ALLCLOSE(D(a.q), fx.MatrixD("a_q"), kExact);
  EXPECT_ALLCLOSE(b.scales, fx.MatrixD("b_scales"), fx.tolerance());
  EXPECT_ALLCLOSE(D(b.q), fx.MatrixD("b_q"), kExact);
  for (Backend backend : Backends()) {
    SCOPED_TRACE(Name(backend));
    EXPECT_ALLCLOSE(D(Int8MatMul(a.q, b.q, backend)), fx.MatrixD("acc"), kExact);
    const Matrix c = QuantizedMatMul(a, b, backend);
    EXPECT_ALLCLOSE(c, fx.MatrixD("c"), fx.tolerance());
    EXPECT_ALLCLOSE(c, fx.MatrixD("dequantized_product"), fx.tolerance());
  }
}

// The scalar path and the AVX2 kernel on sizes around the kernel's tiles (6 rows, 16
// columns, pairs of k, blocks of 256 k): exact against int64 sums.
TEST(Step6_Int8Gemm, MatchesInt64ReferenceOnAwkwardSizes) {
  Rng rng(606);
  for (int m : {1, 5, 7, 33}) {
    for (int n : {1, 7, 16, 33}) {
      for (int k : {1, 2, 31, 33, 257, 300}) {
        const Int8Matrix a = RandomInt8(rng, m, k);
        const Int8Matrix b = RandomInt8(rng, k, n);
        const ref::Int64Matrix expected = ref::Int8MatMul(a, b);
        for (Backend backend : Backends()) {
          const Int32Matrix c = Int8MatMul(a, b, backend);
          ASSERT_EQ(c.rows(), m);
          ASSERT_EQ(c.cols(), n);
          EXPECT_TRUE((c.cast<std::int64_t>().array() == expected.array()).all())
              << Name(backend) << " M = " << m << " K = " << k << " N = " << n;
        }
      }
    }
  }
}

// Every product at its largest, (−128)·(−128), summed over the deepest K the kata allows:
// 131071·16384 = 2147467264 still fits in int32, and no int16 step may saturate.
TEST(Step6_Int8Gemm, DeepestProductDoesNotOverflow) {
  const Int8Matrix a = Int8Matrix::Constant(2, kMaxInt8Depth, -128);
  Int8Matrix b = Int8Matrix::Constant(kMaxInt8Depth, 17, -128);
  b.col(3).setConstant(127);
  for (Backend backend : Backends()) {
    const Int32Matrix c = Int8MatMul(a, b, backend);
    EXPECT_EQ(c(1, 0), 2147467264) << Name(backend);
    EXPECT_EQ(c(0, 16), 2147467264) << Name(backend);
    EXPECT_EQ(c(0, 3), -128 * 127 * kMaxInt8Depth) << Name(backend);
  }
}

// Rescaling the integer product gives the product of the dequantized matrices up to float
// rounding: each c(i, j) is sa·sb·acc with acc exact, 2 roundings, against a double sum.
TEST(Step6_Int8Gemm, EqualsTheDequantizedProduct) {
  Rng rng(607);
  for (int m : {1, 7, 33}) {
    for (int k : {1, 33, 100}) {
      for (int n : {1, 7, 33}) {
        const Int8Quantized a = QuantizeInt8(
            RandomMatrix(rng, m, k), m % 2 ? Granularity::kPerRow : Granularity::kPerTensor);
        const Int8Quantized b =
            QuantizeInt8(RandomMatrix(rng, k, n, 0.1),
                         n % 2 ? Granularity::kPerColumn : Granularity::kPerTensor);
        const MatrixD expected = D(DequantizeInt8(a)) * D(DequantizeInt8(b));
        const MatrixD terms = D(DequantizeInt8(a)).cwiseAbs() * D(DequantizeInt8(b)).cwiseAbs();
        for (Backend backend : Backends()) {
          EXPECT_ALLCLOSE(QuantizedMatMul(a, b, backend), expected,
                          (Tolerance{1e-6 * terms.maxCoeff(), 0}))
              << Name(backend) << " " << m << " " << k << " " << n;
        }
      }
    }
  }
}

TEST(Step6_Int8Gemm, RejectsScalesThatChangeAlongK) {
  Rng rng(608);
  const Matrix x = RandomMatrix(rng, 4, 8), w = RandomMatrix(rng, 8, 4);
  const Int8Quantized b = QuantizeInt8(w, Granularity::kPerColumn);
  const Int8Quantized a = QuantizeInt8(x, Granularity::kPerRow);
  EXPECT_INVALID_ARGUMENT(QuantizedMatMul(QuantizeInt8(x, Granularity::kPerColumn), b),
                          {"a's scales"});
  EXPECT_INVALID_ARGUMENT(QuantizedMatMul(QuantizeInt8(x, Granularity::kPerGroup, 4), b),
                          {"a's scales"});
  EXPECT_INVALID_ARGUMENT(QuantizedMatMul(a, QuantizeInt8(w, Granularity::kPerRow)),
                          {"b's scales"});
  EXPECT_INVALID_ARGUMENT(QuantizedMatMul(a, QuantizeInt8(w, Granularity::kPerGroup, 2)),
                          {"b's scales"});
}

TEST(Step6_Int8Gemm, RejectsBadShapes) {
  const Int8Matrix a = Int8Matrix::Ones(2, 3);
  EXPECT_INVALID_ARGUMENT(Int8MatMul(a, Int8Matrix::Ones(4, 2)), {"b", "3xc", "4x2"});
  EXPECT_INVALID_ARGUMENT(Int8MatMul(Int8Matrix(0, 3), Int8Matrix::Ones(3, 2)), {"a", "0x3"});
  EXPECT_INVALID_ARGUMENT(Int8MatMul(a, Int8Matrix(3, 0)), {"b", "3x0"});
  EXPECT_INVALID_ARGUMENT(
      Int8MatMul(Int8Matrix::Ones(1, kMaxInt8Depth + 1), Int8Matrix::Ones(kMaxInt8Depth + 1, 1)),
      {"K", "131071", "131072"});
}

// ---------------------------------------------------------------------------------
// Step 7: quantization-aware training.

TEST(Step7_Qat, FakeQuantizeHandExample) {
  const Fixture& fx = FakeQuantFx();
  const Matrix w = AsRow(fx.Matrix("w"));
  EXPECT_ALLCLOSE(AsLines(FakeQuantize(w, QatFormat::kInt4)), fx.MatrixD("int4_w_hat"),
                  fx.tolerance());
  EXPECT_ALLCLOSE(AsLines(FakeQuantize(w, QatFormat::kFp4)), fx.MatrixD("fp4_w_hat"), kExact);
}

TEST(Step7_Qat, FakeQuantizeIsQuantizeThenDequantize) {
  Rng rng(707);
  for (int rows : {1, 3, 8}) {
    for (int cols : {32, 64, 160}) {
      const Matrix w = SpreadRows(rng, rows, cols);
      EXPECT_ALLCLOSE(FakeQuantize(w, QatFormat::kInt4), DequantizeInt4(QuantizeInt4(w, 32)),
                      kExact);
      EXPECT_ALLCLOSE(FakeQuantize(w, QatFormat::kFp4), ref::Mxfp4RoundTrip(D(w)), kExact);
      // Rounding twice changes nothing: ŵ is on the grid it was rounded to.
      for (QatFormat f : {QatFormat::kInt4, QatFormat::kFp4}) {
        const Matrix once = FakeQuantize(w, f);
        EXPECT_ALLCLOSE(FakeQuantize(once, f), D(once), (Tolerance{0, 1e-6}));
      }
    }
  }
}

// The gradient passes straight through the rounding (its derivative, 0 almost everywhere,
// is replaced by 1), and is 0 only where FP4 clipped: the block's 6.6/8 above 6 of 1/8.
TEST(Step7_Qat, StraightThroughEstimator) {
  const Fixture& fx = FakeQuantFx();
  const Matrix w = AsRow(fx.Matrix("w"));
  Rng rng(708);
  const Matrix upstream = RandomMatrix(rng, 1, 32);
  const Matrix mask = AsRow(fx.Matrix("fp4_mask"));
  EXPECT_ALLCLOSE(FakeQuantizeBackward(w, upstream, QatFormat::kInt4), D(upstream), kExact);
  EXPECT_ALLCLOSE(FakeQuantizeBackward(w, upstream, QatFormat::kFp4),
                  D(upstream).cwiseProduct(D(mask)), kExact);
  EXPECT_ALLCLOSE(AsLines(FakeQuantizeBackward(w, Matrix::Ones(1, 32), QatFormat::kFp4)),
                  fx.MatrixD("fp4_mask"), kExact);
}

TEST(Step7_Qat, ClippedExactlyAboveSixTimesTheScale) {
  Rng rng(709);
  for (int trial = 0; trial < 50; ++trial) {
    Matrix w = RandomMatrix(rng, 2, 64);
    const Matrix g = Matrix::Ones(2, 64);
    const Matrix dw = FakeQuantizeBackward(w, g, QatFormat::kFp4);
    for (int i = 0; i < 2; ++i) {
      for (int b = 0; b < 2; ++b) {
        const double amax = w.block(i, 32 * b, 1, 32).cwiseAbs().maxCoeff();
        const double limit = 6 * std::ldexp(1.0, static_cast<int>(std::floor(std::log2(amax))) - 2);
        for (int j = 32 * b; j < 32 * b + 32; ++j) {
          EXPECT_EQ(dw(i, j), std::abs(w(i, j)) > limit ? 0.0f : 1.0f)
              << trial << " " << i << " " << j;
        }
      }
    }
  }
}

// The README's run: a float model, the same model rounded, and the model fine-tuned through
// the rounding. Quantization-aware training must beat rounding after training by at least
// 3 points (8 of 256 samples) in both formats; the seeded run clears that with 5.5 and 5.1.
// A gradient of zero through the rounding leaves w where it was, so its fine-tuned model is
// the rounded one and the gap is 0.
TEST(Step7_Qat, TrainingThroughTheRoundingBeatsRoundingAfterTraining) {
  const Fixture& fx = QatFx();
  const LogisticTask task = MakeQatTask(static_cast<std::uint64_t>(fx.Int("seed")),
                                        fx.Int("samples"), fx.Int("features"));
  TrainOptions float_run;
  float_run.steps = fx.Int("float_steps");
  float_run.lr = static_cast<float>(fx.Scalar("float_lr"));
  const Matrix w = TrainLogistic(task, Matrix::Zero(1, task.x.cols()), float_run);
  const MatrixD expected = fx.MatrixD("accuracy");
  const double atol = fx.tolerance().atol;
  const QatFormat formats[] = {QatFormat::kInt4, QatFormat::kFp4};
  for (int f = 0; f < 2; ++f) {
    SCOPED_TRACE(f == 0 ? "int4" : "fp4");
    TrainOptions qat;
    qat.steps = fx.Int("qat_steps");
    qat.lr = static_cast<float>(fx.Scalar("qat_lr"));
    qat.decay = true;
    qat.fake_quant = true;
    qat.format = formats[f];
    const Matrix w_qat = TrainLogistic(task, w, qat);
    const double float_acc = Accuracy(task, w);
    const double ptq = Accuracy(task, FakeQuantize(w, formats[f]));
    const double qat_acc = Accuracy(task, FakeQuantize(w_qat, formats[f]));
    EXPECT_NEAR(float_acc, expected(f, 0), atol);
    EXPECT_NEAR(ptq, expected(f, 1), atol);
    EXPECT_NEAR(qat_acc, expected(f, 2), atol);
    EXPECT_GE(qat_acc - ptq, 0.03)
        << "after rounding: " << ptq << ", trained through it: " << qat_acc;
  }
}

// One step by hand: from w = 0 every p is ½, so dŵ = (½ − y)ᵀ·x / N and w = −lr·dŵ; with
// fake quantization of w = 0 the forward pass is the same (ŵ = 0) and the STE passes dŵ.
TEST(Step7_Qat, OneStepFromZero) {
  LogisticTask task;
  task.x = Matrix::Zero(2, 32);
  task.x(0, 0) = 1.0f;
  task.x(0, 1) = 2.0f;
  task.x(1, 0) = 1.0f;
  task.x(1, 2) = -4.0f;
  task.y = Matrix(2, 1);
  task.y << 1.0f, 0.0f;
  // dŵ = ((½ − 1)·x₀ + (½ − 0)·x₁) / 2: feature 0: 0, feature 1: −½, feature 2: −1.
  MatrixD expected = MatrixD::Zero(1, 32);
  expected(0, 1) = 0.5 * 0.5;
  expected(0, 2) = 0.5 * 1.0;
  for (bool fake_quant : {false, true}) {
    TrainOptions o;
    o.steps = 1;
    o.lr = 0.5f;
    o.fake_quant = fake_quant;
    EXPECT_ALLCLOSE(TrainLogistic(task, Matrix::Zero(1, 32), o), expected, (Tolerance{1e-7, 0}))
        << (fake_quant ? "fake quantization" : "float");
  }
  // Accuracy counts x·wᵀ > 0 as label 1: w = (0, 1, 0, …) gets sample 0 right (2 > 0) and
  // sample 1 right (0 is not > 0).
  Matrix w = Matrix::Zero(1, 32);
  w(0, 1) = 1.0f;
  EXPECT_DOUBLE_EQ(Accuracy(task, w), 1.0);
  w(0, 1) = -1.0f;
  EXPECT_DOUBLE_EQ(Accuracy(task, w), 0.5);
}

// With decay the last step's learning rate is lr·(1 − (steps−1)/steps): two steps at lr 1
// take lr 1 then ½.
TEST(Step7_Qat, LearningRateDecaysLinearly) {
  LogisticTask task;
  task.x = Matrix::Zero(1, 32);
  task.x(0, 3) = 1.0f;
  task.y = Matrix::Zero(1, 1);
  TrainOptions o;
  o.steps = 2;
  o.lr = 1.0f;
  o.decay = true;
  const Matrix w = TrainLogistic(task, Matrix::Zero(1, 32), o);
  // Step 0: p = ½, dw = ½, w = −½. Step 1: p = σ(−½), w = −½ − ½·σ(−½).
  const double sig = 1.0 / (1.0 + std::exp(0.5));
  EXPECT_NEAR(w(0, 3), -0.5 - 0.5 * sig, 1e-6);
}

TEST(Step7_Qat, RejectsBadInput) {
  EXPECT_INVALID_ARGUMENT(FakeQuantize(Matrix::Ones(2, 48), QatFormat::kInt4), {"32", "48"});
  Matrix bad = Matrix::Ones(1, 32);
  bad(0, 0) = kNaN;
  EXPECT_INVALID_ARGUMENT(FakeQuantize(bad, QatFormat::kFp4), {"w", "nan"});
  EXPECT_INVALID_ARGUMENT(
      FakeQuantizeBackward(Matrix::Ones(1, 32), Matrix::Ones(2, 32), QatFormat::kFp4),
      {"d_w_hat", "1x32", "2x32"});
  const LogisticTask task = MakeQatTask(1, 8, 32);
  TrainOptions o;
  o.steps = -1;
  EXPECT_INVALID_ARGUMENT(TrainLogistic(task, Matrix::Zero(1, 32), o), {"options.steps", "-1"});
  o.steps = 1;
  o.lr = kNaN;
  EXPECT_INVALID_ARGUMENT(TrainLogistic(task, Matrix::Zero(1, 32), o), {"options.lr", "nan"});
  o.lr = 0.1f;
  EXPECT_INVALID_ARGUMENT(TrainLogistic(task, Matrix::Zero(1, 31), o), {"w", "1x32", "1x31"});
  EXPECT_INVALID_ARGUMENT(Accuracy(task, Matrix::Zero(2, 32)), {"w", "1x32", "2x32"});
  o.fake_quant = true;
  const LogisticTask narrow = MakeQatTask(1, 8, 16);
  EXPECT_INVALID_ARGUMENT(TrainLogistic(narrow, Matrix::Zero(1, 16), o), {"32", "16"});
}

// ---------------------------------------------------------------------------------
// Step 8: memory arithmetic.

TEST(Step8_Memory, SevenBillionParameters) {
  const Fixture& fx = MemoryFx();
  const std::int64_t params = static_cast<std::int64_t>(fx.Scalar("params"));
  const int g = fx.Int("group_size");
  const MatrixD bytes = fx.MatrixD("bytes");  // rows fp16, int8, int4, MXFP4: bytes, bits/weight
  const std::int64_t got[4] = {StorageBytes(params, StorageFormat::kFp16, 0),
                               StorageBytes(params, StorageFormat::kInt8, g),
                               StorageBytes(params, StorageFormat::kInt4, g),
                               StorageBytes(params, StorageFormat::kMxfp4, 32)};
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(got[r], static_cast<std::int64_t>(bytes(r, 0))) << "row " << r;
    EXPECT_DOUBLE_EQ(8.0 * static_cast<double>(got[r]) / static_cast<double>(params), bytes(r, 1))
        << "row " << r;
  }
}

TEST(Step8_Memory, SmallCounts) {
  EXPECT_EQ(StorageBytes(3, StorageFormat::kFp16, 7), 6);
  EXPECT_EQ(StorageBytes(256, StorageFormat::kInt8, 128), 256 + 4);
  EXPECT_EQ(StorageBytes(256, StorageFormat::kInt8, 256), 256 + 2);
  EXPECT_EQ(StorageBytes(128, StorageFormat::kInt4, 128), 64 + 2);
  EXPECT_EQ(StorageBytes(128, StorageFormat::kInt4, 32), 64 + 8);
  EXPECT_EQ(StorageBytes(64, StorageFormat::kMxfp4, 32), 32 + 2);
}

TEST(Step8_Memory, RejectsBadInput) {
  EXPECT_INVALID_ARGUMENT(StorageBytes(0, StorageFormat::kFp16, 0), {"num_params", "0"});
  EXPECT_INVALID_ARGUMENT(StorageBytes(-5, StorageFormat::kInt8, 1), {"num_params", "-5"});
  EXPECT_INVALID_ARGUMENT(StorageBytes(256, StorageFormat::kInt4, 0), {"group_size", "0"});
  EXPECT_INVALID_ARGUMENT(StorageBytes(100, StorageFormat::kInt4, 64), {"group_size", "64", "100"});
  EXPECT_INVALID_ARGUMENT(StorageBytes(128, StorageFormat::kMxfp4, 64), {"group_size", "32", "64"});
}

}  // namespace
}  // namespace llmk::quant
