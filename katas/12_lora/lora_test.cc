// Tests of kata 12, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/12_lora/*.json, every intermediate the derivation prints),
// then properties and random inputs against the double-precision oracles in
// reference/lora_ref.h, then bad inputs, after each of which whatever the call could write
// (a trace, an adapter, a layer, a bank) must be as it was.
//
// T = tokens, D_in = inputs of the adapted weight, D_out = its outputs, r = rank;
// x [T, D_in], W₀ [D_in, D_out], A [D_in, r], B [r, D_out], h = x·W₀ + s·(x·A)·B.
#include "lora.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "llmk/testing/testing.h"
#include "lora_ref.h"

namespace llmk::lora {
namespace {

namespace ref = ::llmk::reference::lora;
using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const Fixture& Counts() { return KataFixture("12_lora/counts.json"); }
const Fixture& ForwardFixture() { return KataFixture("12_lora/forward.json"); }
const Fixture& TrainingFixture() { return KataFixture("12_lora/training.json"); }
const Fixture& Scales() { return KataFixture("12_lora/scales.json"); }
const Fixture& PlacementFixture() { return KataFixture("12_lora/placement.json"); }

// float32's unit roundoff, 2⁻²⁴.
constexpr double kU = 0x1.0p-24;

// ---------------------------------------------------------------------------------
// The tolerance of float results against the double oracles (fixture checks use the
// fixture's own).
//
// A float sum of n products, in any order and any association of the products, errs by
// at most γ_n = n·u/(1 − n·u) of the sum of its |terms| (the classic bound of an inner
// product). Every entry compared here is such a chain of at most n = 100: x·W₀ and x·A sum
// D_in <= 65 terms, ·B adds r <= 8, s and the final addition two roundings more; the
// backward pass sums T <= 33 and D_out <= 65 terms (dA = xᵀ·(s·dh·Bᵀ)), D_in and T
// (dB = s·(x·A)ᵀ·dh), D_out and r (dx = dh·W₀ᵀ + du·Aᵀ). So γ_100 = 6e-6 of the entry's sum
// of |terms| bounds the error rigorously, and 1e-5 of the largest such sum in the matrix
// leaves a margin of 1.7 over that worst case (the typical error, √n·u = 6e-7 of it, is
// smaller still: measured on the solution, at most 1.2e-7 of it). The sums of |terms| are
// the oracle's own formulas on |x|, |W₀|, |A|, |B|, |s| and |dh| (ForwardTerms and
// BackwardTerms below). A wrong scale (α, α·r or α/√r for α/r, s applied twice), a
// missing path of the chain rule or a transposed factor is off by a sizeable fraction of
// the terms themselves.
constexpr double kRoundoff = 1e-5;

Tolerance Roundoff(const MatrixD& terms) {
  return {kRoundoff * (terms.size() == 0 ? 0.0 : terms.maxCoeff()), 0};
}

MatrixD D(const Matrix& m) { return m.cast<double>(); }

// |actual − expected| allowed by `tol` at `expected`, for scalars.
double Allowed(const Tolerance& tol, double expected) {
  return tol.atol + tol.rtol * std::abs(expected);
}

std::int64_t Count(const Fixture& fx, std::string_view key) {
  return static_cast<std::int64_t>(fx.Scalar(key));
}

// Success when `now` is `before` bit for bit: what a call that throws, or refuses with a
// status, must leave behind.
::testing::AssertionResult Same(const Matrix& now, const Matrix& before) {
  if (now.rows() != before.rows() || now.cols() != before.cols()) {
    return ::testing::AssertionFailure()
           << "the shape changed from " << ShapeOf(before) << " to " << ShapeOf(now);
  }
  for (Eigen::Index i = 0; i < now.rows(); ++i) {
    for (Eigen::Index j = 0; j < now.cols(); ++j) {
      if (!(now(i, j) == before(i, j))) {
        return ::testing::AssertionFailure() << "entry (" << i << ", " << j << ") changed from "
                                             << before(i, j) << " to " << now(i, j);
      }
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult SameAdapter(const Adapter& now, const Adapter& before) {
  if (::testing::AssertionResult a = Same(now.a, before.a); !a) return a << " in adapter.a";
  if (::testing::AssertionResult b = Same(now.b, before.b); !b) return b << " in adapter.b";
  if (!(now.alpha == before.alpha)) {
    return ::testing::AssertionFailure()
           << "adapter.alpha changed from " << before.alpha << " to " << now.alpha;
  }
  return ::testing::AssertionSuccess();
}

// The value of a StatusOr, or an exception carrying the status (the test fails with it).
Matrix ValueOf(absl::StatusOr<Matrix> result) {
  if (!result.ok()) throw std::runtime_error("unexpected status: " + result.status().ToString());
  return *std::move(result);
}

Adapter MakeAdapter(Matrix a, Matrix b, float alpha) {
  Adapter adapter;
  adapter.a = std::move(a);
  adapter.b = std::move(b);
  adapter.alpha = alpha;
  return adapter;
}

// The forward fixture's rank-2 adapter (α = 4, s = 2).
Adapter FixtureAdapter() {
  const Fixture& fx = ForwardFixture();
  return MakeAdapter(fx.Matrix("A"), fx.Matrix("B"), static_cast<float>(fx.Scalar("alpha")));
}

// A trained-looking adapter: A with N(0, 1/D_in) entries (so x·A has entries of size 1
// for x of N(0, 1) entries), B with N(0, 1) entries (not zero, so the update shows).
Adapter RandomAdapter(Rng& rng, int d_in, int d_out, int rank, float alpha) {
  return MakeAdapter(RandomMatrix(rng, d_in, rank, 1.0 / std::sqrt(d_in)),
                     RandomMatrix(rng, rank, d_out), alpha);
}

Matrix RandomWeight(Rng& rng, int d_in, int d_out) {
  return RandomMatrix(rng, d_in, d_out, 1.0 / std::sqrt(d_in));
}

double ScaleOf(const Adapter& adapter) {
  return adapter.alpha / static_cast<double>(adapter.rank());
}

MatrixD ReferenceForward(const Matrix& x, const Matrix& w0, const Adapter& adapter) {
  return ref::Forward(D(x), D(w0), D(adapter.a), D(adapter.b), ScaleOf(adapter));
}

MatrixD Abs(const Matrix& m) { return m.cast<double>().cwiseAbs(); }

// The sum of |terms| of every entry of h: |x|·|W₀| + |s|·(|x|·|A|)·|B|.
MatrixD ForwardTerms(const Matrix& x, const Matrix& w0, const Adapter& adapter) {
  return ref::Forward(Abs(x), Abs(w0), Abs(adapter.a), Abs(adapter.b), std::abs(ScaleOf(adapter)));
}

// α = 2.5 keeps s = α/r away from 1 for every rank used (2.5, 1.25, 0.83, 0.625, 0.5, ...),
// so that a missing scale, or one applied twice, shows.
constexpr float kAlpha = 2.5f;

// {D_in, D_out, r}: a scalar layer, square layers of full rank (where a transposed A or B
// still fits and only the values tell), tall and wide ones, primes, and rank 1.
const std::vector<std::tuple<int, int, int>> kLayerShapes = {
    {1, 1, 1}, {4, 3, 2}, {3, 3, 3}, {5, 5, 5}, {7, 16, 3}, {16, 7, 5}, {33, 17, 8}, {64, 65, 1}};

// ---------------------------------------------------------------------------------
// Step 1: why full fine-tuning is expensive.

TEST(Step1_Counting, FixtureSmallWeight) {
  const Fixture& fx = Counts();
  const std::int64_t d_in = Count(fx, "small_d_in");
  const std::int64_t d_out = Count(fx, "small_d_out");
  EXPECT_EQ(FullParams(d_in, d_out), Count(fx, "small_full"));
  EXPECT_EQ(LoraParams(d_in, d_out, Count(fx, "small_rank")), Count(fx, "small_lora"))
      << "r·(D_in + D_out) = 2·(4 + 3)";
}

// An adapter has D_in + D_out parameters per unit of rank, so it is as large as the full
// weight at r = D_in·D_out / (D_in + D_out) = 12/7.
TEST(Step1_Counting, FixtureBreakEvenRank) {
  const Fixture& fx = Counts();
  const std::int64_t d_in = Count(fx, "small_d_in");
  const std::int64_t d_out = Count(fx, "small_d_out");
  const double per_rank = static_cast<double>(LoraParams(d_in, d_out, 1));
  const double expected = fx.Scalar("small_break_even_rank");
  EXPECT_NEAR(static_cast<double>(FullParams(d_in, d_out)) / per_rank, expected,
              Allowed(fx.tolerance(), expected));
}

TEST(Step1_Counting, FixtureRealProjection) {
  const Fixture& fx = Counts();
  const std::int64_t d_in = Count(fx, "real_d_in");
  const std::int64_t d_out = Count(fx, "real_d_out");
  const std::int64_t full = FullParams(d_in, d_out);
  const std::int64_t lora = LoraParams(d_in, d_out, Count(fx, "real_rank"));
  EXPECT_EQ(full, Count(fx, "real_full"));
  EXPECT_EQ(lora, Count(fx, "real_lora"));
  const double expected = fx.Scalar("real_fraction");
  EXPECT_NEAR(static_cast<double>(lora) / static_cast<double>(full), expected,
              Allowed(fx.tolerance(), expected));
}

void ExpectMemory(const TrainingMemory& memory, const MatrixD& row) {
  ASSERT_EQ(row.cols(), 4) << "a memory row is [weights, gradients, adam_state, total]";
  EXPECT_EQ(memory.weights, static_cast<std::int64_t>(row(0, 0))) << "weights";
  EXPECT_EQ(memory.gradients, static_cast<std::int64_t>(row(0, 1))) << "gradients";
  EXPECT_EQ(memory.adam_state, static_cast<std::int64_t>(row(0, 2))) << "adam_state";
  EXPECT_EQ(memory.total, static_cast<std::int64_t>(row(0, 3))) << "total";
}

TEST(Step1_Counting, FixtureMemoryOfFullFineTuning) {
  const Fixture& fx = Counts();
  // Every weight is trainable: 16 bytes each.
  ExpectMemory(MemoryFor(0, Count(fx, "real_full")), fx.MatrixD("full_memory"));
}

TEST(Step1_Counting, FixtureMemoryOfLora) {
  const Fixture& fx = Counts();
  // The frozen weight costs its 4 bytes once; only the adapter has gradients and moments.
  ExpectMemory(MemoryFor(Count(fx, "real_full"), Count(fx, "real_lora")),
               fx.MatrixD("lora_memory"));
}

TEST(Step1_Counting, LoraParamsIsRankTimesInputsPlusOutputs) {
  // Rectangular weights, so that r·D_in·D_out, r·max(D_in, D_out), 2·r·D_in and
  // r·(D_in + D_out) all differ.
  EXPECT_EQ(LoraParams(4096, 11008, 16), 16 * (4096 + 11008));
  EXPECT_EQ(LoraParams(11008, 4096, 16), 16 * (4096 + 11008));
  EXPECT_EQ(LoraParams(3, 5, 3), 24) << "the largest rank, min(D_in, D_out) = 3";
  EXPECT_EQ(LoraParams(7, 2, 1), 9);
  EXPECT_EQ(LoraParams(1, 1, 1), 2);
}

TEST(Step1_Counting, CountsDoNotOverflowInt) {
  // 2²⁰ x 2²⁰ = 2⁴⁰ weights, and 2¹⁹·(2²⁰ + 2²⁰) = 2⁴⁰ adapter parameters: products that
  // overflow a 32-bit int must be formed in 64 bits.
  constexpr std::int64_t kTwoTo20 = std::int64_t{1} << 20;
  EXPECT_EQ(FullParams(kTwoTo20, kTwoTo20), std::int64_t{1} << 40);
  EXPECT_EQ(LoraParams(kTwoTo20, kTwoTo20, kTwoTo20 / 2), std::int64_t{1} << 40);
  EXPECT_EQ(MemoryFor(std::int64_t{1} << 40, 0).weights, std::int64_t{1} << 42);
}

TEST(Step1_Counting, MemoryCountsFrozenWeightsOnceAndOptimizerStateOnlyForTrainable) {
  TrainingMemory m = MemoryFor(1000, 10);
  EXPECT_EQ(m.weights, 4040) << "4 bytes for every weight, frozen or trainable";
  EXPECT_EQ(m.gradients, 40) << "a gradient only for the trainable ones";
  EXPECT_EQ(m.adam_state, 80) << "Adam's two moments only for the trainable ones";
  EXPECT_EQ(m.total, 4160);
  m = MemoryFor(7, 0);
  EXPECT_EQ(m.weights, 28);
  EXPECT_EQ(m.gradients, 0);
  EXPECT_EQ(m.adam_state, 0);
  EXPECT_EQ(m.total, 28);
  m = MemoryFor(0, 0);
  EXPECT_EQ(m.total, 0);
}

TEST(Step1_Counting, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(LoraParams(4, 3, 4), {"rank", "3", "4"});
  EXPECT_INVALID_ARGUMENT(LoraParams(3, 4, 4), {"rank", "3", "4"});
  EXPECT_INVALID_ARGUMENT(LoraParams(4, 3, 0), {"rank", "0"});
  EXPECT_INVALID_ARGUMENT(LoraParams(4, 3, -2), {"rank", "-2"});
  EXPECT_INVALID_ARGUMENT(LoraParams(0, 3, 1), {"d_in", "0"});
  EXPECT_INVALID_ARGUMENT(LoraParams(4, -2, 1), {"d_out", "-2"});
  EXPECT_INVALID_ARGUMENT(FullParams(0, 3), {"d_in", "0"});
  EXPECT_INVALID_ARGUMENT(FullParams(3, -1), {"d_out", "-1"});
  EXPECT_INVALID_ARGUMENT(MemoryFor(-1, 0), {"frozen", "-1"});
  EXPECT_INVALID_ARGUMENT(MemoryFor(0, -5), {"trainable", "-5"});
}

// ---------------------------------------------------------------------------------
// Step 2: the forward pass, h = x·W₀ + s·(x·A)·B.
//
// Whether the [D_in, D_out] product A·B is formed cannot be seen in the numbers (x·(A·B)
// and (x·A)·B agree to rounding); the benchmark's threshold (BM_LoraForward against
// BM_FormProductEachCall) is what checks that it is not.

TEST(Step2_Forward, FixtureScale) {
  const Fixture& fx = ForwardFixture();
  const float alpha = static_cast<float>(fx.Scalar("alpha"));
  const int rank = fx.Int("rank");
  const double lora = fx.Scalar("scale");
  const double rslora = fx.Scalar("rslora_scale");
  // α = 4, r = 2: α/r = 2, where α, α·r, r/α and α/√r are 4, 8, 0.5 and 2.83.
  EXPECT_NEAR(Scale(alpha, rank), lora, Allowed(fx.tolerance(), lora)) << "the default is kLora";
  EXPECT_NEAR(Scale(alpha, rank, ScaleRule::kLora), lora, Allowed(fx.tolerance(), lora));
  EXPECT_NEAR(Scale(alpha, rank, ScaleRule::kRsLora), rslora, Allowed(fx.tolerance(), rslora));
}

TEST(Step2_Forward, FixtureBase) {
  const Fixture& fx = ForwardFixture();
  ForwardTrace trace;
  LoraForward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter(), &trace);
  EXPECT_ALLCLOSE(trace.base, fx.Matrix("base"), fx.tolerance()) << "trace.base = x·W₀";
}

TEST(Step2_Forward, FixtureDown) {
  const Fixture& fx = ForwardFixture();
  ForwardTrace trace;
  LoraForward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter(), &trace);
  EXPECT_ALLCLOSE(trace.down, fx.Matrix("down"), fx.tolerance()) << "trace.down = x·A";
}

TEST(Step2_Forward, FixtureUp) {
  const Fixture& fx = ForwardFixture();
  ForwardTrace trace;
  LoraForward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter(), &trace);
  EXPECT_ALLCLOSE(trace.up, fx.Matrix("up"), fx.tolerance())
      << "trace.up = (x·A)·B, before the scale";
}

TEST(Step2_Forward, FixtureOutput) {
  const Fixture& fx = ForwardFixture();
  ForwardTrace trace;
  const Matrix h = LoraForward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter(), &trace);
  EXPECT_ALLCLOSE(trace.output, fx.Matrix("output"), fx.tolerance())
      << "trace.output = base + s·up";
  EXPECT_ALLCLOSE(h, fx.Matrix("output"), fx.tolerance()) << "the returned h";
}

TEST(Step2_Forward, FixtureOutputWithoutTrace) {
  const Fixture& fx = ForwardFixture();
  EXPECT_ALLCLOSE(LoraForward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter()),
                  fx.Matrix("output"), fx.tolerance());
}

// The scale alone, on values a float holds exactly: α/r is one correctly rounded
// division, and √r of a perfect square is exact, so these are exact.
TEST(Step2_Forward, ScaleIsAlphaOverRank) {
  EXPECT_EQ(Scale(16.0f, 8), 2.0f);
  EXPECT_EQ(Scale(1.0f, 4), 0.25f);
  EXPECT_EQ(Scale(3.0f, 3), 1.0f);
  EXPECT_EQ(Scale(0.0f, 5), 0.0f);
  EXPECT_EQ(Scale(8.0f, 1), 8.0f);
  EXPECT_EQ(Scale(16.0f, 4, ScaleRule::kRsLora), 8.0f);
  EXPECT_EQ(Scale(6.0f, 9, ScaleRule::kRsLora), 2.0f);
}

TEST(Step2_Forward, MatchesReferenceOnAwkwardSizes) {
  Rng rng(12201);
  for (int t : AwkwardSizes(33)) {
    for (auto [d_in, d_out, rank] : kLayerShapes) {
      const Matrix x = RandomMatrix(rng, t, d_in);
      const Matrix w0 = RandomWeight(rng, d_in, d_out);
      const Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
      SCOPED_TRACE(::testing::Message()
                   << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
      EXPECT_ALLCLOSE(LoraForward(x, w0, adapter), ReferenceForward(x, w0, adapter),
                      Roundoff(ForwardTerms(x, w0, adapter)));
    }
  }
}

TEST(Step2_Forward, TraceMatchesReferenceStepByStep) {
  Rng rng(12202);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    const Matrix x = RandomMatrix(rng, 5, d_in);
    const Matrix w0 = RandomWeight(rng, d_in, d_out);
    const Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
    ForwardTrace trace;
    const Matrix h = LoraForward(x, w0, adapter, &trace);
    SCOPED_TRACE(::testing::Message() << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
    const MatrixD base = D(x) * D(w0);
    const MatrixD down = D(x) * D(adapter.a);
    const MatrixD up = down * D(adapter.b);
    const MatrixD output = ReferenceForward(x, w0, adapter);
    const Tolerance tol = Roundoff(ForwardTerms(x, w0, adapter));
    EXPECT_ALLCLOSE(trace.base, base, Roundoff(Abs(x) * Abs(w0))) << "trace.base = x·W₀";
    EXPECT_ALLCLOSE(trace.down, down, Roundoff(Abs(x) * Abs(adapter.a))) << "trace.down = x·A";
    EXPECT_ALLCLOSE(trace.up, up, Roundoff(Abs(x) * Abs(adapter.a) * Abs(adapter.b)))
        << "trace.up = (x·A)·B";
    EXPECT_ALLCLOSE(trace.output, output, tol) << "trace.output";
    EXPECT_ALLCLOSE(h, output, tol) << "the returned h";
  }
}

// With W₀ = 0 only the update is left: h = s·(x·A)·B. Here x·A = [1, 2]·[[1, 0], [1, 1]]
// = [3, 2], (x·A)·B = [3, 2]·[[2, −1], [0, 1]] = [6, −1] and s = 6/2 = 3: h = [18, −3],
// exact in float (s = α would give [36, −6]).
TEST(Step2_Forward, ZeroBaseWeightLeavesTheScaledUpdate) {
  Matrix x(1, 2);
  x << 1, 2;
  Matrix a(2, 2);
  a << 1, 0,  //
      1, 1;
  Matrix b(2, 2);
  b << 2, -1,  //
      0, 1;
  Matrix expected(1, 2);
  expected << 18, -3;
  EXPECT_ALLCLOSE(LoraForward(x, Matrix::Zero(2, 2), MakeAdapter(a, b, 6.0f)), expected,
                  (Tolerance{0, 0}));
}

// h is linear in the adapter's contribution: doubling α doubles s·(x·A)·B, so
// h(2α) − h(α) = s·(x·A)·B, up to the rounding of the two h (each within Roundoff of the
// larger one's terms).
TEST(Step2_Forward, UpdateIsScaledOnce) {
  Rng rng(12203);
  const Matrix x = RandomMatrix(rng, 6, 9);
  const Matrix w0 = RandomWeight(rng, 9, 7);
  Adapter adapter = RandomAdapter(rng, 9, 7, 3, kAlpha);
  const Matrix h1 = LoraForward(x, w0, adapter);
  adapter.alpha = 2 * kAlpha;
  const Matrix h2 = LoraForward(x, w0, adapter);
  const MatrixD update = ReferenceForward(x, w0, adapter) - D(x) * D(w0);  // 2·s·up
  const Tolerance each = Roundoff(ForwardTerms(x, w0, adapter));
  EXPECT_ALLCLOSE(D(h2) - D(h1), 0.5 * update, (Tolerance{2 * each.atol, 0}));
}

TEST(Step2_Forward, RejectsBadShapes) {
  const Matrix x = Matrix::Ones(2, 4);
  const Matrix w0 = Matrix::Ones(4, 3);
  const Adapter good = MakeAdapter(Matrix::Ones(4, 2), Matrix::Ones(2, 3), 4.0f);
  ForwardTrace trace;
  trace.base = Matrix::Constant(1, 1, 7.0f);
  trace.down = Matrix::Constant(1, 2, 8.0f);
  trace.up = Matrix::Constant(2, 1, 9.0f);
  trace.output = Matrix::Constant(1, 3, 10.0f);
  const ForwardTrace before = trace;
  const auto untouched = [&] {
    EXPECT_TRUE(Same(trace.base, before.base)) << "trace.base (a call that throws writes nothing)";
    EXPECT_TRUE(Same(trace.down, before.down)) << "trace.down";
    EXPECT_TRUE(Same(trace.up, before.up)) << "trace.up";
    EXPECT_TRUE(Same(trace.output, before.output)) << "trace.output";
  };
  EXPECT_INVALID_ARGUMENT(LoraForward(Matrix(0, 4), w0, good, &trace), {"x", "0x4"});
  untouched();
  EXPECT_INVALID_ARGUMENT(LoraForward(Matrix(2, 0), Matrix(0, 3), good, &trace), {"x", "2x0"});
  untouched();
  EXPECT_INVALID_ARGUMENT(LoraForward(x, Matrix::Ones(3, 3), good, &trace), {"w0", "3x3"});
  untouched();
  EXPECT_INVALID_ARGUMENT(LoraForward(x, Matrix(4, 0), good, &trace), {"w0", "4x0"});
  untouched();
  Adapter bad = good;
  bad.a = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"adapter.a", "3x2"});
  untouched();
  bad.a = Matrix::Ones(2, 4);  // the paper's orientation, [r, D_in]
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"adapter.a", "2x4"});
  untouched();
  bad = good;
  bad.a = Matrix::Ones(4, 4);
  bad.b = Matrix::Ones(4, 3);
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"rank", "3", "4"});
  untouched();
  bad = good;
  bad.a = Matrix(4, 0);
  bad.b = Matrix(0, 3);
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"rank", "0"});
  untouched();
  bad = good;
  bad.b = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"adapter.b", "2x3", "2x2"});
  untouched();
  bad.b = Matrix::Ones(3, 3);
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, bad, &trace), {"adapter.b", "2x3", "3x3"});
  untouched();
}

TEST(Step2_Forward, RejectsNonFiniteAlpha) {
  const Matrix x = Matrix::Ones(2, 4);
  const Matrix w0 = Matrix::Ones(4, 3);
  Adapter adapter = MakeAdapter(Matrix::Ones(4, 2), Matrix::Ones(2, 3), 4.0f);
  adapter.alpha = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, adapter), {"alpha", "inf"});
  adapter.alpha = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(LoraForward(x, w0, adapter), {"alpha", "nan"});
  EXPECT_INVALID_ARGUMENT(Scale(std::numeric_limits<float>::infinity(), 2), {"alpha", "inf"});
  EXPECT_INVALID_ARGUMENT(Scale(1.0f, 0), {"rank", "0"});
  EXPECT_INVALID_ARGUMENT(Scale(1.0f, -3, ScaleRule::kRsLora), {"rank", "-3"});
}

// ---------------------------------------------------------------------------------
// Step 3: initialization, A random and B zero.

// A(i, j) = z/√D_in for the normals z of llmk::Rng(seed) taken row by row. The same
// double computed either way (z/√D_in or z·(1/√D_in)) rounds to float within one ulp, and
// in float (z rounded, √ and / in float) within three roundings: 4e-7 relative. Drawing
// column by column, another seed or another scale gives other numbers altogether.
Matrix ExpectedInitA(int d_in, int rank, std::uint64_t seed) {
  Rng rng(seed);
  Matrix a(d_in, rank);
  for (int i = 0; i < d_in; ++i) {
    for (int j = 0; j < rank; ++j) {
      a(i, j) = static_cast<float>(rng.Normal() / std::sqrt(static_cast<double>(d_in)));
    }
  }
  return a;
}
constexpr Tolerance kInitDraw{0, 4e-7};

TEST(Step3_Init, ShapesAndZeroB) {
  const Adapter adapter = InitAdapter(7, 5, 3, 6.0f, 12301);
  EXPECT_EQ(adapter.a.rows(), 7);
  EXPECT_EQ(adapter.a.cols(), 3);
  EXPECT_EQ(adapter.rank(), 3);
  EXPECT_EQ(adapter.alpha, 6.0f);
  EXPECT_ALLCLOSE(adapter.b, Matrix::Zero(3, 5), (Tolerance{0, 0})) << "B = 0 exactly";
}

TEST(Step3_Init, DrawsARowByRowFromTheSeedScaledByOneOverSqrtDin) {
  // D_in, D_out and r all differ, so 1/√D_out or 1/√r in place of 1/√D_in shows, and so
  // does the order of the draws.
  for (auto [d_in, d_out, rank, seed] : {std::tuple{6, 4, 3, std::uint64_t{12302}},
                                         {9, 2, 2, std::uint64_t{7}},
                                         {1, 3, 1, std::uint64_t{0}},
                                         {64, 32, 8, std::uint64_t{12303}}}) {
    SCOPED_TRACE(::testing::Message()
                 << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank << " seed=" << seed);
    const Adapter adapter = InitAdapter(d_in, d_out, rank, 1.0f, seed);
    EXPECT_ALLCLOSE(adapter.a, ExpectedInitA(d_in, rank, seed), kInitDraw);
    EXPECT_ALLCLOSE(adapter.b, Matrix::Zero(rank, d_out), (Tolerance{0, 0}));
  }
}

TEST(Step3_Init, SameSeedSameAdapterOtherSeedOtherA) {
  const Adapter first = InitAdapter(16, 12, 4, 8.0f, 12304);
  const Adapter again = InitAdapter(16, 12, 4, 8.0f, 12304);
  EXPECT_TRUE(SameAdapter(again, first)) << "the seed alone decides A";
  const Adapter other = InitAdapter(16, 12, 4, 8.0f, 12305);
  int equal = 0;
  for (Eigen::Index i = 0; i < other.a.size(); ++i) {
    if (other.a.data()[i] == first.a.data()[i]) ++equal;
  }
  EXPECT_LT(equal, 2) << "two seeds drew " << equal << " equal entries of 64: is the seed used?";
}

// B = 0 makes s·(x·A)·B exactly 0, and base + 0 is base: the adapted layer starts as the
// base layer, bit for bit, whatever the shapes, α and seed. Bit for bit within one call:
// two evaluations of the float product x·W₀ by different code paths may round differently
// (even Eigen's `Matrix h = x * w;` and `h = x * w;` for an existing h do, at some shapes),
// so a call without a trace is held to the oracle's tolerance instead.
TEST(Step3_Init, AdaptedLayerStartsAsTheBaseLayerExactly) {
  Rng rng(12306);
  std::uint64_t seed = 100;
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    for (int t : {1, 4, 17}) {
      const Matrix x = RandomMatrix(rng, t, d_in);
      const Matrix w0 = RandomWeight(rng, d_in, d_out);
      const Adapter adapter = InitAdapter(d_in, d_out, rank, 16.0f, ++seed);
      SCOPED_TRACE(::testing::Message()
                   << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
      ForwardTrace trace;
      const Matrix h = LoraForward(x, w0, adapter, &trace);
      EXPECT_ALLCLOSE(h, trace.base, (Tolerance{0, 0})) << "h = x·W₀ exactly at initialization";
      EXPECT_ALLCLOSE(trace.output, trace.base, (Tolerance{0, 0})) << "trace.output";
      const MatrixD base = D(x) * D(w0);
      const Tolerance tol = Roundoff(ForwardTerms(x, w0, adapter));
      EXPECT_ALLCLOSE(h, base, tol);
      EXPECT_ALLCLOSE(LoraForward(x, w0, adapter), base, tol) << "without a trace";
    }
  }
}

TEST(Step3_Init, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(InitAdapter(4, 3, 4, 1.0f, 1), {"rank", "3", "4"});
  EXPECT_INVALID_ARGUMENT(InitAdapter(4, 3, 0, 1.0f, 1), {"rank", "0"});
  EXPECT_INVALID_ARGUMENT(InitAdapter(0, 3, 1, 1.0f, 1), {"d_in", "0"});
  EXPECT_INVALID_ARGUMENT(InitAdapter(4, -1, 1, 1.0f, 1), {"d_out", "-1"});
  EXPECT_INVALID_ARGUMENT(InitAdapter(4, 3, 2, std::numeric_limits<float>::infinity(), 1),
                          {"alpha", "inf"});
  EXPECT_INVALID_ARGUMENT(InitAdapter(4, 3, 2, std::numeric_limits<float>::quiet_NaN(), 1),
                          {"alpha", "nan"});
}

// ---------------------------------------------------------------------------------
// Step 4: the backward pass; W₀ is frozen and gets no gradient (AdapterGrads has none).

ref::Grads ReferenceBackward(const Matrix& x, const Matrix& w0, const Adapter& adapter,
                             const Matrix& dh) {
  return ref::Backward(D(x), D(w0), D(adapter.a), D(adapter.b), ScaleOf(adapter), D(dh));
}

// The sums of |terms| of every entry of dA, dB and dx.
ref::Grads BackwardTerms(const Matrix& x, const Matrix& w0, const Adapter& adapter,
                         const Matrix& dh) {
  return ref::Backward(Abs(x), Abs(w0), Abs(adapter.a), Abs(adapter.b), std::abs(ScaleOf(adapter)),
                       Abs(dh));
}

// Each gradient against `expected` within Roundoff of its terms.
void ExpectGrads(const AdapterGrads& g, const ref::Grads& expected, const ref::Grads& terms) {
  EXPECT_ALLCLOSE(g.da, expected.da, Roundoff(terms.da)) << "dA";
  EXPECT_ALLCLOSE(g.db, expected.db, Roundoff(terms.db)) << "dB";
  EXPECT_ALLCLOSE(g.dx, expected.dx, Roundoff(terms.dx)) << "dx";
}

TEST(Step4_Backward, FixtureGradients) {
  const Fixture& fx = ForwardFixture();
  const AdapterGrads g =
      LoraBackward(fx.Matrix("x"), fx.Matrix("W0"), FixtureAdapter(), fx.Matrix("dh"));
  EXPECT_ALLCLOSE(g.da, fx.Matrix("dA"), fx.tolerance()) << "dA = xᵀ·du, du = s·dh·Bᵀ";
  EXPECT_ALLCLOSE(g.db, fx.Matrix("dB"), fx.tolerance()) << "dB = s·(x·A)ᵀ·dh";
  EXPECT_ALLCLOSE(g.dx, fx.Matrix("dx"), fx.tolerance()) << "dx = dh·W₀ᵀ + du·Aᵀ";
}

TEST(Step4_Backward, FixtureGradientsAtInitialization) {
  const Fixture& fx = ForwardFixture();
  Adapter adapter = FixtureAdapter();
  adapter.b.setZero();
  const AdapterGrads g = LoraBackward(fx.Matrix("x"), fx.Matrix("W0"), adapter, fx.Matrix("dh"));
  // du = s·dh·Bᵀ = 0, so dA = xᵀ·0 = 0 exactly; dB does not involve B at all.
  EXPECT_ALLCLOSE(g.da, fx.Matrix("dA_at_init"), (Tolerance{0, 0})) << "dA = 0 exactly when B = 0";
  EXPECT_ALLCLOSE(g.db, fx.Matrix("dB_at_init"), fx.tolerance());
}

TEST(Step4_Backward, MatchesReferenceOnAwkwardSizes) {
  Rng rng(12401);
  for (int t : AwkwardSizes(33)) {
    for (auto [d_in, d_out, rank] : kLayerShapes) {
      const Matrix x = RandomMatrix(rng, t, d_in);
      const Matrix w0 = RandomWeight(rng, d_in, d_out);
      const Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
      const Matrix dh = RandomMatrix(rng, t, d_out);
      SCOPED_TRACE(::testing::Message()
                   << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
      ExpectGrads(LoraBackward(x, w0, adapter, dh), ReferenceBackward(x, w0, adapter, dh),
                  BackwardTerms(x, w0, adapter, dh));
    }
  }
}

// The gradients of L = ½·mean((h − y)²) for dh = ∂L/∂h = (h − y)/(T·D_out), against
// central differences of reference::lora::Loss in double. L is quadratic in any one entry
// of A, B or x (h is linear in each), so the difference quotient with step 1e-6 is exact
// but for double rounding: about 1e-16·L/1e-6 = 1e-10 here, nothing against Roundoff
// (dh rounded to float adds one rounding to each term).
TEST(Step4_Backward, MatchesCentralDifferencesOfTheLoss) {
  Rng rng(12402);
  for (auto [t, d_in, d_out, rank] : {std::tuple{5, 6, 4, 2}, {3, 4, 4, 4}, {7, 3, 5, 1}}) {
    const Matrix x = RandomMatrix(rng, t, d_in);
    const Matrix w0 = RandomWeight(rng, d_in, d_out);
    const Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
    const Matrix y = RandomMatrix(rng, t, d_out);
    const double s = ScaleOf(adapter);
    const MatrixD h = ReferenceForward(x, w0, adapter);
    const Matrix dh = ((h - D(y)) / static_cast<double>(h.size())).cast<float>();
    const AdapterGrads g = LoraBackward(x, w0, adapter, dh);

    MatrixD xd = D(x);
    MatrixD a = D(adapter.a);
    MatrixD b = D(adapter.b);
    const MatrixD yd = D(y);
    const MatrixD w = D(w0);
    constexpr double kStep = 1e-6;
    const auto numeric = [&](MatrixD& param) {
      MatrixD grad(param.rows(), param.cols());
      for (Eigen::Index i = 0; i < param.rows(); ++i) {
        for (Eigen::Index j = 0; j < param.cols(); ++j) {
          const double keep = param(i, j);
          param(i, j) = keep + kStep;
          const double up = ref::Loss(xd, yd, w, a, b, s);
          param(i, j) = keep - kStep;
          const double down = ref::Loss(xd, yd, w, a, b, s);
          param(i, j) = keep;
          grad(i, j) = (up - down) / (2 * kStep);
        }
      }
      return grad;
    };
    SCOPED_TRACE(::testing::Message()
                 << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
    const ref::Grads numerical{numeric(a), numeric(b), numeric(xd)};
    ExpectGrads(g, numerical, BackwardTerms(x, w0, adapter, dh));
  }
}

// With W₀ = 0 the only path from x to h goes through the adapter: dx = du·Aᵀ =
// s·dh·Bᵀ·Aᵀ, which a dx of dh·W₀ᵀ alone misses entirely.
TEST(Step4_Backward, DxIncludesTheAdaptersPath) {
  Rng rng(12403);
  const Matrix x = RandomMatrix(rng, 4, 6);
  const Adapter adapter = RandomAdapter(rng, 6, 5, 2, kAlpha);
  const Matrix dh = RandomMatrix(rng, 4, 5);
  const MatrixD expected =
      ScaleOf(adapter) * D(dh) * D(adapter.b).transpose() * D(adapter.a).transpose();
  EXPECT_ALLCLOSE(LoraBackward(x, Matrix::Zero(6, 5), adapter, dh).dx, expected,
                  Roundoff(BackwardTerms(x, Matrix::Zero(6, 5), adapter, dh).dx));
}

// dA and dB are linear in s: doubling α doubles them, and a doubling is exact in float
// whatever the order of the products, so dA(2α) = 2·dA(α) bit for bit. s applied twice
// would give 4·dA; s left out, 1·dA.
TEST(Step4_Backward, GradientsScaleLinearlyWithAlpha) {
  Rng rng(12404);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    const Matrix x = RandomMatrix(rng, 6, d_in);
    const Matrix w0 = RandomWeight(rng, d_in, d_out);
    Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
    const Matrix dh = RandomMatrix(rng, 6, d_out);
    const AdapterGrads once = LoraBackward(x, w0, adapter, dh);
    adapter.alpha = 2 * kAlpha;
    const AdapterGrads twice = LoraBackward(x, w0, adapter, dh);
    SCOPED_TRACE(::testing::Message() << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
    EXPECT_ALLCLOSE(twice.da, 2.0 * D(once.da), (Tolerance{0, 0})) << "dA(2α) = 2·dA(α)";
    EXPECT_ALLCLOSE(twice.db, 2.0 * D(once.db), (Tolerance{0, 0})) << "dB(2α) = 2·dB(α)";
  }
}

// dh is given, so dA and dB depend on x, A, B and s only, never on the frozen W₀, which
// enters only dx (and gets no gradient of its own).
TEST(Step4_Backward, AdapterGradientsDoNotDependOnW0) {
  Rng rng(12405);
  const Matrix x = RandomMatrix(rng, 5, 7);
  const Adapter adapter = RandomAdapter(rng, 7, 4, 3, kAlpha);
  const Matrix dh = RandomMatrix(rng, 5, 4);
  const AdapterGrads g1 = LoraBackward(x, RandomWeight(rng, 7, 4), adapter, dh);
  const AdapterGrads g2 = LoraBackward(x, RandomWeight(rng, 7, 4), adapter, dh);
  EXPECT_TRUE(Same(g2.da, g1.da)) << "dA";
  EXPECT_TRUE(Same(g2.db, g1.db)) << "dB";
}

// At initialization B = 0: dA = 0 exactly, but dB = s·(x·A)ᵀ·dh is not, so B moves first
// and A follows from the second step.
TEST(Step4_Backward, AtInitializationOnlyBHasAGradient) {
  Rng rng(12406);
  std::uint64_t seed = 200;
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    const Matrix x = RandomMatrix(rng, 8, d_in);
    const Matrix w0 = RandomWeight(rng, d_in, d_out);
    const Adapter adapter = InitAdapter(d_in, d_out, rank, kAlpha, ++seed);
    const Matrix dh = RandomMatrix(rng, 8, d_out);
    const AdapterGrads g = LoraBackward(x, w0, adapter, dh);
    SCOPED_TRACE(::testing::Message() << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
    EXPECT_ALLCLOSE(g.da, Matrix::Zero(d_in, rank), (Tolerance{0, 0})) << "dA = 0 exactly";
    const ref::Grads expected = ReferenceBackward(x, w0, adapter, dh);
    const ref::Grads terms = BackwardTerms(x, w0, adapter, dh);
    EXPECT_GT(expected.db.cwiseAbs().maxCoeff(), 0.1) << "the test's own premise";
    EXPECT_ALLCLOSE(g.db, expected.db, Roundoff(terms.db)) << "dB is not zero";
    EXPECT_ALLCLOSE(g.dx, expected.dx, Roundoff(terms.dx)) << "dx = dh·W₀ᵀ";
  }
}

TEST(Step4_Backward, RejectsBadShapes) {
  const Matrix x = Matrix::Ones(2, 4);
  const Matrix w0 = Matrix::Ones(4, 3);
  const Adapter good = MakeAdapter(Matrix::Ones(4, 2), Matrix::Ones(2, 3), 4.0f);
  const Matrix dh = Matrix::Ones(2, 3);
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, good, Matrix::Ones(3, 2)), {"dh", "2x3", "3x2"});
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, good, Matrix::Ones(2, 2)), {"dh", "2x3", "2x2"});
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, Matrix::Ones(3, 3), good, dh), {"w0", "3x3"});
  EXPECT_INVALID_ARGUMENT(LoraBackward(Matrix(0, 4), w0, good, Matrix(0, 3)), {"x", "0x4"});
  Adapter bad = good;
  bad.a = Matrix::Ones(5, 2);
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, bad, dh), {"adapter.a", "5x2"});
  bad = good;
  bad.b = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, bad, dh), {"adapter.b", "2x3", "2x2"});
  bad = good;
  bad.a = Matrix::Ones(4, 4);
  bad.b = Matrix::Ones(4, 3);
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, bad, dh), {"rank", "3", "4"});
  bad = good;
  bad.alpha = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(LoraBackward(x, w0, bad, dh), {"alpha", "nan"});
}

// ---------------------------------------------------------------------------------
// Step 5: training an adapter by gradient descent on ½·mean((h − y)²).

RegressionTask FixtureTask() {
  const Fixture& fx = TrainingFixture();
  return RegressionTask{fx.Matrix("x"), fx.Matrix("y"), fx.Matrix("W0")};
}

Adapter FixtureStartAdapter() {
  const Fixture& fx = TrainingFixture();
  return MakeAdapter(fx.Matrix("A0"), fx.Matrix("B0"), static_cast<float>(fx.Scalar("alpha")));
}

void ExpectLosses(const std::vector<float>& losses, const MatrixD& expected, const Tolerance& tol) {
  ASSERT_EQ(static_cast<Eigen::Index>(losses.size()), expected.cols())
      << "one loss before each step and one after the last";
  for (std::size_t k = 0; k < losses.size(); ++k) {
    const double e = expected(0, static_cast<Eigen::Index>(k));
    EXPECT_NEAR(losses[k], e, Allowed(tol, e)) << "losses[" << k << "]";
  }
}

TEST(Step5_Training, FixtureLossBeforeTraining) {
  const Fixture& fx = TrainingFixture();
  const double expected = fx.Matrix("losses")(0, 0);
  EXPECT_NEAR(RegressionLoss(FixtureTask(), FixtureStartAdapter()), expected,
              Allowed(fx.tolerance(), expected))
      << "½·mean((x·W₀ − y)²) while B = 0";
}

// One step at a time, each from the learner's own A and B of the step before (nothing
// rounded from the fixture is fed back, so the fixture's tolerance holds).
TEST(Step5_Training, FixtureStepByStep) {
  const Fixture& fx = TrainingFixture();
  const RegressionTask task = FixtureTask();
  const float lr = static_cast<float>(fx.Scalar("lr"));
  const MatrixD losses = fx.MatrixD("losses");
  Adapter adapter = FixtureStartAdapter();
  for (int step = 1; step <= fx.Int("steps"); ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const std::vector<float> got = TrainAdapter(task, lr, 1, &adapter);
    ExpectLosses(got, losses.middleCols(step - 1, 2), fx.tolerance());
    EXPECT_ALLCLOSE(adapter.a, fx.Matrix("A" + std::to_string(step)), fx.tolerance())
        << "A after step " << step << (step == 1 ? " (dA = 0 while B = 0: A stays)" : "");
    EXPECT_ALLCLOSE(adapter.b, fx.Matrix("B" + std::to_string(step)), fx.tolerance())
        << "B after step " << step;
  }
}

TEST(Step5_Training, FixtureThreeStepsInOneCall) {
  const Fixture& fx = TrainingFixture();
  Adapter adapter = FixtureStartAdapter();
  const std::vector<float> losses =
      TrainAdapter(FixtureTask(), static_cast<float>(fx.Scalar("lr")), fx.Int("steps"), &adapter);
  ExpectLosses(losses, fx.MatrixD("losses"), fx.tolerance());
  EXPECT_ALLCLOSE(adapter.a, fx.Matrix("A3"), fx.tolerance());
  EXPECT_ALLCLOSE(adapter.b, fx.Matrix("B3"), fx.tolerance());
  EXPECT_EQ(adapter.alpha, 1.0f) << "training changes A and B only";
}

// x = I₂, W₀ = [[1, 2], [0, 1]], A = [1, 0]ᵀ, B = [1, 0], s = 1, y = 0: h = [[2, 2], [0, 1]],
// Σ(h − y)² = 9 over T·D_out = 4 entries, L = ½·9/4 = 1.125. (Without the ½: 2.25; a sum
// instead of a mean: 4.5; the mean over T only: 2.25.)
TEST(Step5_Training, RegressionLossIsHalfTheMeanSquaredError) {
  RegressionTask task;
  task.x = Matrix::Identity(2, 2);
  task.w0.resize(2, 2);
  task.w0 << 1, 2,  //
      0, 1;
  task.y = Matrix::Zero(2, 2);
  Matrix a(2, 1);
  a << 1, 0;
  Matrix b(1, 2);
  b << 1, 0;
  EXPECT_NEAR(RegressionLoss(task, MakeAdapter(a, b, 1.0f)), 1.125, 1e-7);
}

// L = ½·mean(r²) from float residuals r = h − y: the residuals' own errors δ (Roundoff of
// h, typically 6e-7 of its terms, which are of size one here) move L by about mean(|r|·δ),
// under 1e-6 of L for residuals of size one; a float sum of N <= 31·65 positive squares
// adds at most N·u = 1.2e-4 of L in the worst case, √N·u = 3e-6 typically (a double sum,
// nothing). 1e-4 relative leaves a margin of thirty over the typical error (measured on
// the solution: 9e-8); half the mean, the sum, or the mean over T alone are off by 2x
// and more.
TEST(Step5_Training, RegressionLossMatchesReference) {
  Rng rng(12501);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    for (int t : {1, 6, 31}) {
      const RegressionTask task{RandomMatrix(rng, t, d_in), RandomMatrix(rng, t, d_out),
                                RandomWeight(rng, d_in, d_out)};
      const Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
      const double expected =
          ref::Loss(D(task.x), D(task.y), D(task.w0), D(adapter.a), D(adapter.b), ScaleOf(adapter));
      EXPECT_NEAR(RegressionLoss(task, adapter), expected, 1e-4 * expected)
          << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank;
    }
  }
}

// The same gradient descent in double with the oracles: dh = (h − y)/(T·D_out),
// A ← A − lr·dA and B ← B − lr·dB, both gradients taken before either moves. Each float
// step adds a rounding (u) to A and B, and lr times the gradients' own error (Roundoff,
// typically 6e-7 of their terms), and passes on the errors of the steps before, which at
// these learning rates (a quarter of 2/λ̂, gradient descent's limit for the bound λ̂ below)
// neither grow nor fade much: over 20 steps some 20·(u + 6e-7·lr·|terms|) ≈ 2e-6 of the
// largest entry, and about as much of each loss. 1e-5 of the largest entry and 1e-4 relative leave
// a margin of five (measured on the solution: at most 2.2e-7 of the largest entry, 2.2e-7 of a
// loss). A sign, lr applied twice or a dh without the 1/(T·D_out) are off by a large part of the
// distance A and B travel.
TEST(Step5_Training, MatchesReferenceGradientDescent) {
  Rng rng(12502);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    const int t = 16;
    const RegressionTask task{RandomMatrix(rng, t, d_in), RandomMatrix(rng, t, d_out),
                              RandomWeight(rng, d_in, d_out)};
    Adapter adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
    MatrixD a = D(adapter.a);
    MatrixD b = D(adapter.b);
    const double s = ScaleOf(adapter);
    // Half of 1/λ̂ for λ̂ = s²·‖x‖²·(‖A‖² + ‖B‖²)/(T·D_out), a bound (in Frobenius norms) on
    // the curvature of the loss in A and B near the start.
    const double curvature = s * s * D(task.x).squaredNorm() * (a.squaredNorm() + b.squaredNorm()) /
                             static_cast<double>(t * d_out);
    const float lr = static_cast<float>(0.5 / curvature);
    const int steps = 20;
    std::vector<double> expected_losses;
    for (int step = 0; step <= steps; ++step) {
      expected_losses.push_back(ref::Loss(D(task.x), D(task.y), D(task.w0), a, b, s));
      if (step == steps) break;
      const MatrixD h = ref::Forward(D(task.x), D(task.w0), a, b, s);
      const MatrixD dh = (h - D(task.y)) / static_cast<double>(h.size());
      const ref::Grads g = ref::Backward(D(task.x), D(task.w0), a, b, s, dh);
      a -= double{lr} * g.da;
      b -= double{lr} * g.db;
    }
    const std::vector<float> losses = TrainAdapter(task, lr, steps, &adapter);
    SCOPED_TRACE(::testing::Message() << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
    ASSERT_EQ(losses.size(), expected_losses.size());
    for (std::size_t k = 0; k < losses.size(); ++k) {
      EXPECT_NEAR(losses[k], expected_losses[k], 1e-4 * expected_losses[k])
          << "losses[" << k << "]";
    }
    EXPECT_LT(expected_losses.back(), expected_losses.front()) << "the test's own premise";
    EXPECT_ALLCLOSE(adapter.a, a, (Tolerance{1e-5 * a.cwiseAbs().maxCoeff(), 1e-4}))
        << "A after " << steps << " steps";
    EXPECT_ALLCLOSE(adapter.b, b, (Tolerance{1e-5 * b.cwiseAbs().maxCoeff(), 1e-4}))
        << "B after " << steps << " steps";
  }
}

// Targets from W₀ plus a rank-1 change, which a rank-1 adapter can represent exactly:
// from B = 0 and a random A, 200 steps bring the loss below 1% of where it started.
TEST(Step5_Training, LearnsARankOneChange) {
  Rng rng(12503);
  for (auto [d_in, d_out] : {std::pair{8, 6}, {16, 16}, {5, 12}}) {
    const Matrix x = RandomMatrix(rng, 48, d_in);
    const Matrix w0 = RandomWeight(rng, d_in, d_out);
    const Matrix u = RandomMatrix(rng, d_in, 1, 1.0 / std::sqrt(d_in));
    const Matrix v = RandomMatrix(rng, 1, d_out);
    const RegressionTask task{x, (D(x) * (D(w0) + D(u) * D(v))).cast<float>(), w0};
    Adapter adapter = InitAdapter(d_in, d_out, 1, 1.0f, 12504 + static_cast<std::uint64_t>(d_in));
    const std::vector<float> losses = TrainAdapter(task, 0.5f, 200, &adapter);
    SCOPED_TRACE(::testing::Message() << "D_in=" << d_in << " D_out=" << d_out);
    ASSERT_EQ(losses.size(), 201u);
    EXPECT_GT(losses.front(), 0.1f) << "the test's own premise";
    EXPECT_LT(losses.back(), 0.01f * losses.front())
        << "from " << losses.front() << " to " << losses.back() << " in 200 steps";
  }
}

TEST(Step5_Training, ZeroStepsReturnTheLossAndChangeNothing) {
  Rng rng(12505);
  const RegressionTask task{RandomMatrix(rng, 6, 5), RandomMatrix(rng, 6, 4),
                            RandomWeight(rng, 5, 4)};
  const Adapter start = RandomAdapter(rng, 5, 4, 2, kAlpha);
  Adapter adapter = start;
  const std::vector<float> losses = TrainAdapter(task, 0.5f, 0, &adapter);
  ASSERT_EQ(losses.size(), 1u) << "steps + 1 = 1 loss";
  const double expected =
      ref::Loss(D(task.x), D(task.y), D(task.w0), D(start.a), D(start.b), ScaleOf(start));
  EXPECT_NEAR(losses[0], expected, 1e-4 * expected);
  EXPECT_NEAR(losses[0], RegressionLoss(task, start), 1e-4 * expected);
  EXPECT_TRUE(SameAdapter(adapter, start));
}

// A − 0·dA is A exactly (dA is finite), so a learning rate of 0 keeps A and B bit for bit
// and every loss is the first.
TEST(Step5_Training, ZeroLearningRateKeepsTheAdapter) {
  Rng rng(12506);
  const RegressionTask task{RandomMatrix(rng, 7, 6), RandomMatrix(rng, 7, 3),
                            RandomWeight(rng, 6, 3)};
  const Adapter start = RandomAdapter(rng, 6, 3, 3, kAlpha);
  Adapter adapter = start;
  const std::vector<float> losses = TrainAdapter(task, 0.0f, 5, &adapter);
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_TRUE(SameAdapter(adapter, start));
  for (std::size_t k = 1; k < losses.size(); ++k) EXPECT_EQ(losses[k], losses[0]) << k;
}

TEST(Step5_Training, NeverChangesTheTask) {
  Rng rng(12507);
  const RegressionTask task{RandomMatrix(rng, 9, 4), RandomMatrix(rng, 9, 5),
                            RandomWeight(rng, 4, 5)};
  const RegressionTask copy = task;
  Adapter adapter = RandomAdapter(rng, 4, 5, 2, kAlpha);
  TrainAdapter(task, 0.5f, 10, &adapter);
  EXPECT_TRUE(Same(task.w0, copy.w0)) << "W₀ is frozen";
  EXPECT_TRUE(Same(task.x, copy.x));
  EXPECT_TRUE(Same(task.y, copy.y));
}

TEST(Step5_Training, RejectsBadArguments) {
  const RegressionTask task{Matrix::Ones(4, 3), Matrix::Ones(4, 2), Matrix::Ones(3, 2)};
  const Adapter start = MakeAdapter(Matrix::Ones(3, 1), Matrix::Zero(1, 2), 1.0f);
  Adapter adapter = start;
  const auto untouched = [&] { EXPECT_TRUE(SameAdapter(adapter, start)); };
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, -0.1f, 3, &adapter), {"lr", "-0.1"});
  untouched();
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, std::numeric_limits<float>::quiet_NaN(), 3, &adapter),
                          {"lr", "nan"});
  untouched();
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, std::numeric_limits<float>::infinity(), 3, &adapter),
                          {"lr", "inf"});
  untouched();
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, 0.1f, -1, &adapter), {"steps", "-1"});
  untouched();
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, 0.1f, 3, nullptr), {"adapter"});
  RegressionTask bad = task;
  bad.y = Matrix::Ones(4, 3);
  EXPECT_INVALID_ARGUMENT(TrainAdapter(bad, 0.1f, 3, &adapter), {"task.y", "4x2", "4x3"});
  untouched();
  EXPECT_INVALID_ARGUMENT(RegressionLoss(bad, adapter), {"task.y", "4x2", "4x3"});
  bad = task;
  bad.w0 = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(TrainAdapter(bad, 0.1f, 3, &adapter), {"w0", "2x2"});
  untouched();
  EXPECT_INVALID_ARGUMENT(RegressionLoss(bad, adapter), {"w0", "2x2"});
  Adapter wrong = MakeAdapter(Matrix::Ones(3, 1), Matrix::Zero(1, 3), 1.0f);
  EXPECT_INVALID_ARGUMENT(TrainAdapter(task, 0.1f, 3, &wrong), {"adapter.b", "1x2", "1x3"});
  EXPECT_TRUE(Same(wrong.b, Matrix::Zero(1, 3)));
  EXPECT_INVALID_ARGUMENT(RegressionLoss(task, wrong), {"adapter.b", "1x2", "1x3"});
}

// ---------------------------------------------------------------------------------
// Step 6: merging, unmerging, and the scale.

LoraLinear FixtureLayer() {
  LoraLinear layer;
  layer.w = ForwardFixture().Matrix("W0");
  layer.adapter = FixtureAdapter();
  return layer;
}

TEST(Step6_Merging, FixtureMergedWeight) {
  const Fixture& fx = ForwardFixture();
  LoraLinear layer = FixtureLayer();
  const absl::Status status = Merge(&layer);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(layer.merged);
  EXPECT_ALLCLOSE(layer.w, fx.Matrix("merged_W"), fx.tolerance()) << "W₀ + s·A·B";
  EXPECT_TRUE(SameAdapter(layer.adapter, FixtureAdapter())) << "merging keeps the adapter";
}

TEST(Step6_Merging, FixtureMergedOutput) {
  const Fixture& fx = ForwardFixture();
  LoraLinear layer = FixtureLayer();
  EXPECT_ALLCLOSE(Forward(layer, fx.Matrix("x")), fx.Matrix("output"), fx.tolerance())
      << "unmerged: x·W₀ + s·(x·A)·B";
  ASSERT_TRUE(Merge(&layer).ok());
  EXPECT_ALLCLOSE(Forward(layer, fx.Matrix("x")), fx.Matrix("merged_output"), fx.tolerance())
      << "merged: x·W";
}

// Every number of the worked layer (halves and small integers, s = 2) and of W₀ ± s·A·B is
// exact in float, so here Unmerge gives W₀ back exactly.
TEST(Step6_Merging, FixtureUnmergeRestoresW0) {
  const Fixture& fx = ForwardFixture();
  LoraLinear layer = FixtureLayer();
  ASSERT_TRUE(Merge(&layer).ok());
  const absl::Status status = Unmerge(&layer);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(layer.merged);
  EXPECT_TRUE(Same(layer.w, fx.Matrix("W0")));
}

// Merged, x·W sums D_in products of W = fl(W₀ + s·A·B), whose entries carry the rounding
// of a chain of r + 2 operations (γ_{r+2} of |W₀| + |s|·|A|·|B|); x·W then adds D_in more
// to a chain on the same terms as the unmerged forward's, |x|·|W₀| + |s|·|x|·|A|·|B|. Both
// are within Roundoff of the oracle, so within twice that of each other.
TEST(Step6_Merging, MergedForwardEqualsUnmergedForward) {
  Rng rng(12601);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    for (int t : {1, 3, 16}) {
      const Matrix x = RandomMatrix(rng, t, d_in);
      LoraLinear layer;
      layer.w = RandomWeight(rng, d_in, d_out);
      layer.adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
      const MatrixD expected = ReferenceForward(x, layer.w, layer.adapter);
      const Tolerance tol = Roundoff(ForwardTerms(x, layer.w, layer.adapter));
      SCOPED_TRACE(::testing::Message()
                   << "T=" << t << " D_in=" << d_in << " D_out=" << d_out << " r=" << rank);
      const Matrix unmerged = Forward(layer, x);
      EXPECT_ALLCLOSE(unmerged, expected, tol) << "unmerged";
      ASSERT_TRUE(Merge(&layer).ok());
      const Matrix merged = Forward(layer, x);
      EXPECT_ALLCLOSE(merged, expected, tol) << "merged";
      EXPECT_ALLCLOSE(merged, unmerged, (Tolerance{2 * tol.atol, 0}));
    }
  }
}

TEST(Step6_Merging, UnmergedForwardIsLoraForward) {
  Rng rng(12602);
  const Matrix x = RandomMatrix(rng, 5, 9);
  LoraLinear layer;
  layer.w = RandomWeight(rng, 9, 4);
  layer.adapter = RandomAdapter(rng, 9, 4, 3, kAlpha);
  // Two float results each within Roundoff of the oracle.
  const Tolerance tol = Roundoff(ForwardTerms(x, layer.w, layer.adapter));
  EXPECT_ALLCLOSE(Forward(layer, x), LoraForward(x, layer.w, layer.adapter),
                  (Tolerance{2 * tol.atol, 0}));
  EXPECT_ALLCLOSE(Forward(layer, x), ReferenceForward(x, layer.w, layer.adapter), tol);
}

// A layer flagged merged computes x·W with the W it holds; the adapter is in W already and
// must not be added a second time. Here W is left at W₀ on purpose: the forward must then
// be x·W₀ (the fixture's base), not x·W₀ + s·(x·A)·B (its output).
TEST(Step6_Merging, ForwardOfAMergedLayerDoesNotAddTheAdapterAgain) {
  const Fixture& fx = ForwardFixture();
  LoraLinear layer = FixtureLayer();
  layer.merged = true;
  EXPECT_ALLCLOSE(Forward(layer, fx.Matrix("x")), fx.Matrix("base"), fx.tolerance());
}

TEST(Step6_Merging, MergeTwiceIsFailedPreconditionAndChangesNothing) {
  Rng rng(12603);
  LoraLinear layer;
  layer.w = RandomWeight(rng, 6, 5);
  layer.adapter = RandomAdapter(rng, 6, 5, 2, kAlpha);
  ASSERT_TRUE(Merge(&layer).ok());
  const Matrix merged_w = layer.w;
  const absl::Status again = Merge(&layer);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
  EXPECT_TRUE(Same(layer.w, merged_w)) << "a refused merge leaves W as it was";
  EXPECT_TRUE(layer.merged);
  // The state is checked before the shapes: a merged layer whose adapter no longer fits is
  // still refused with the status, not an exception.
  layer.adapter.b = Matrix::Ones(2, 4);
  EXPECT_EQ(Merge(&layer).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Same(layer.w, merged_w));
  EXPECT_TRUE(layer.merged);
}

TEST(Step6_Merging, UnmergeOfAnUnmergedLayerIsFailedPreconditionAndChangesNothing) {
  Rng rng(12604);
  LoraLinear layer;
  layer.w = RandomWeight(rng, 6, 5);
  layer.adapter = RandomAdapter(rng, 6, 5, 2, kAlpha);
  const Matrix w0 = layer.w;
  const absl::Status status = Unmerge(&layer);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(Same(layer.w, w0)) << "a refused unmerge leaves W as it was";
  EXPECT_FALSE(layer.merged);
  // And once more after a merge and an unmerge.
  ASSERT_TRUE(Merge(&layer).ok());
  ASSERT_TRUE(Unmerge(&layer).ok());
  const Matrix restored = layer.w;
  EXPECT_EQ(Unmerge(&layer).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Same(layer.w, restored));
}

// Success when every |w(i, j) − w0(i, j)| <= 4u·max(|W₀(i, j)|, s·(|A|·|B|)(i, j)).
//
// Merging rounds W₁ = fl(W₀ + U) for the float update U (|U| <= s·|A|·|B| up to r·u);
// unmerging the same U rounds W₂ = fl(W₁ − U). W₁ = W₀ + U + e₁ with |e₁| <= u·|W₀ + U|,
// then W₂ = W₀ + e₁ + e₂ with |e₂| <= u·|W₀ + e₁|: |W₂ − W₀| <= u·(2·|W₀| + |U|) + O(u²)
// <= 3u·max(|W₀|, |U|). Not exactly W₀ in general (W₀ + U drops the low bits of the
// smaller one); 4u leaves room for the O(u²) and for U's own rounding. An unmerge that
// forgets s, subtracts twice or adds is off by |U| itself.
::testing::AssertionResult RestoredWithinRounding(const Matrix& w, const Matrix& w0,
                                                  const Adapter& adapter) {
  if (w.rows() != w0.rows() || w.cols() != w0.cols()) {
    return ::testing::AssertionFailure() << "W is " << ShapeOf(w) << ", W₀ was " << ShapeOf(w0);
  }
  const MatrixD size =
      std::abs(ScaleOf(adapter)) * (D(adapter.a).cwiseAbs() * D(adapter.b).cwiseAbs());
  double worst = 0.0;
  for (Eigen::Index i = 0; i < w.rows(); ++i) {
    for (Eigen::Index j = 0; j < w.cols(); ++j) {
      const double bound = 4 * kU * std::max<double>(std::abs(w0(i, j)), size(i, j));
      const double diff = std::abs(double{w(i, j)} - double{w0(i, j)});
      if (bound > 0) worst = std::max(worst, diff / bound);
      if (!(diff <= bound)) {
        return ::testing::AssertionFailure()
               << "W(" << i << ", " << j << ") = " << w(i, j) << " after Merge and Unmerge, W₀ was "
               << w0(i, j) << ": off by " << diff
               << ", more than 4u·max(|W₀|, |s·A·B|) = " << bound;
      }
    }
  }
  return ::testing::AssertionSuccess() << "at most " << worst << " of the bound";
}

TEST(Step6_Merging, MergeThenUnmergeRestoresW0WithinRounding) {
  Rng rng(12605);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    for (float alpha : {kAlpha, 300.0f}) {  // an update smaller than W₀, and far larger
      LoraLinear layer;
      layer.w = RandomWeight(rng, d_in, d_out);
      layer.adapter = RandomAdapter(rng, d_in, d_out, rank, alpha);
      const Matrix w0 = layer.w;
      ASSERT_TRUE(Merge(&layer).ok());
      ASSERT_TRUE(layer.merged);
      ASSERT_TRUE(Unmerge(&layer).ok());
      EXPECT_FALSE(layer.merged);
      EXPECT_TRUE(RestoredWithinRounding(layer.w, w0, layer.adapter))
          << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank << " α=" << alpha;
    }
  }
}

// The merged W is W₀ + s·A·B entry by entry: a chain of r products, the scale and one
// addition, within γ_{r+2} (at most 10u = 6e-7) of |W₀| + |s|·|A|·|B|: inside Roundoff.
TEST(Step6_Merging, MergedWeightMatchesReference) {
  Rng rng(12606);
  for (auto [d_in, d_out, rank] : kLayerShapes) {
    LoraLinear layer;
    layer.w = RandomWeight(rng, d_in, d_out);
    layer.adapter = RandomAdapter(rng, d_in, d_out, rank, kAlpha);
    const MatrixD expected =
        D(layer.w) + ScaleOf(layer.adapter) * D(layer.adapter.a) * D(layer.adapter.b);
    const MatrixD terms = Abs(layer.w) + std::abs(ScaleOf(layer.adapter)) *
                                             (Abs(layer.adapter.a) * Abs(layer.adapter.b));
    ASSERT_TRUE(Merge(&layer).ok());
    EXPECT_ALLCLOSE(layer.w, expected, Roundoff(terms))
        << "D_in=" << d_in << " D_out=" << d_out << " r=" << rank;
  }
}

// Fixture table: α = 16 for r = 1 ... 64. The update sizes s·√r come from the learner's
// scale times √r in double: one more rounding (6e-8 relative) than the fixture's 1e-5.
TEST(Step6_Merging, FixtureScaleTable) {
  const Fixture& fx = Scales();
  const float alpha = static_cast<float>(fx.Scalar("alpha"));
  const Matrix ranks = fx.Matrix("ranks");
  Matrix lora(1, ranks.cols());
  Matrix rslora(1, ranks.cols());
  MatrixD lora_size(1, ranks.cols());
  MatrixD rslora_size(1, ranks.cols());
  for (Eigen::Index k = 0; k < ranks.cols(); ++k) {
    const int r = static_cast<int>(ranks(0, k));
    lora(0, k) = Scale(alpha, r, ScaleRule::kLora);
    rslora(0, k) = Scale(alpha, r, ScaleRule::kRsLora);
    lora_size(0, k) = lora(0, k) * std::sqrt(static_cast<double>(r));
    rslora_size(0, k) = rslora(0, k) * std::sqrt(static_cast<double>(r));
  }
  EXPECT_ALLCLOSE(lora, fx.Matrix("lora_scale"), fx.tolerance()) << "α/r";
  EXPECT_ALLCLOSE(rslora, fx.Matrix("rslora_scale"), fx.tolerance()) << "α/√r";
  EXPECT_ALLCLOSE(lora_size, fx.Matrix("lora_update_size"), fx.tolerance())
      << "with α/r the update shrinks as 1/√r";
  EXPECT_ALLCLOSE(rslora_size, fx.Matrix("rslora_update_size"), fx.tolerance())
      << "with α/√r it keeps its size";
}

// α/r in double rounds once to float (u = 6e-8 relative), and so does a float division
// (float(r) is exact); α/√r in float rounds twice. 2.4e-7 relative covers either.
TEST(Step6_Merging, ScaleMatchesItsFormula) {
  Rng rng(12607);
  for (int k = 0; k < 200; ++k) {
    const float alpha = static_cast<float>(rng.Uniform(-64.0, 64.0));
    const int rank = 1 + static_cast<int>(rng.Below(4096));
    SCOPED_TRACE(::testing::Message() << "α=" << alpha << " r=" << rank);
    const double lora = alpha / static_cast<double>(rank);
    const double rslora = alpha / std::sqrt(static_cast<double>(rank));
    EXPECT_NEAR(Scale(alpha, rank), lora, 2.4e-7 * std::abs(lora));
    EXPECT_NEAR(Scale(alpha, rank, ScaleRule::kRsLora), rslora, 2.4e-7 * std::abs(rslora));
  }
}

TEST(Step6_Merging, RejectsBadLayers) {
  EXPECT_INVALID_ARGUMENT(Merge(nullptr), {"layer"});
  EXPECT_INVALID_ARGUMENT(Unmerge(nullptr), {"layer"});
  LoraLinear layer = FixtureLayer();
  layer.adapter.b = Matrix::Ones(2, 2);
  const Matrix w0 = layer.w;
  EXPECT_INVALID_ARGUMENT(Merge(&layer), {"adapter.b", "2x3", "2x2"});
  EXPECT_TRUE(Same(layer.w, w0));
  EXPECT_FALSE(layer.merged);
  layer = FixtureLayer();
  layer.adapter.a = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(Merge(&layer), {"adapter.a", "3x2"});
  EXPECT_TRUE(Same(layer.w, w0));
  EXPECT_FALSE(layer.merged);
  layer = FixtureLayer();
  ASSERT_TRUE(Merge(&layer).ok());
  const Matrix merged_w = layer.w;
  layer.adapter.alpha = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(Unmerge(&layer), {"alpha", "inf"});
  EXPECT_TRUE(Same(layer.w, merged_w));
  EXPECT_TRUE(layer.merged);
  // An empty weight is named as the weight, not as the rank it leaves no room for.
  LoraLinear empty;
  empty.w = Matrix(0, 3);
  empty.adapter.a = Matrix(0, 1);
  empty.adapter.b = Matrix::Ones(1, 3);
  EXPECT_INVALID_ARGUMENT(Merge(&empty), {"layer.w", "0x3"});
  EXPECT_FALSE(empty.merged);
  layer = FixtureLayer();
  EXPECT_INVALID_ARGUMENT(Forward(layer, Matrix::Ones(2, 5)), {"layer.w", "4x3"});
  EXPECT_INVALID_ARGUMENT(Forward(layer, Matrix(0, 4)), {"x", "0x4"});
  layer.adapter.b = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(Forward(layer, Matrix::Ones(2, 4)), {"adapter.b", "2x3", "2x2"});
}

// ---------------------------------------------------------------------------------
// Step 7: where adapters go in a block, and several adapters on one weight.

constexpr Target kAllTargets[] = {Target::kQ,    Target::kK,  Target::kV,   Target::kO,
                                  Target::kGate, Target::kUp, Target::kDown};
constexpr const char* kTargetNames[] = {"q", "k", "v", "o", "gate", "up", "down"};

BlockShapes FixtureShapes() {
  const Fixture& fx = PlacementFixture();
  BlockShapes shapes;
  shapes.d_model = fx.Int("d_model");
  shapes.num_heads = fx.Int("num_heads");
  shapes.num_kv_heads = fx.Int("num_kv_heads");
  shapes.head_dim = fx.Int("head_dim");
  shapes.d_ff = fx.Int("d_ff");
  return shapes;
}

// A small grouped-query block whose every weight shape differs from its transpose and from
// its neighbours': D = 12, H·d = 4·2 = 8 (not D), Hkv·d = 2·2 = 4, F = 20.
BlockShapes SmallGqaShapes() {
  BlockShapes shapes;
  shapes.d_model = 12;
  shapes.num_heads = 4;
  shapes.num_kv_heads = 2;
  shapes.head_dim = 2;
  shapes.d_ff = 20;
  return shapes;
}

TEST(Step7_Placement, TargetShapesOfAGroupedQueryBlock) {
  const BlockShapes shapes = SmallGqaShapes();
  EXPECT_EQ(TargetShape(shapes, Target::kQ), std::pair(12, 8)) << "wq [D, H·d]";
  EXPECT_EQ(TargetShape(shapes, Target::kK), std::pair(12, 4)) << "wk [D, Hkv·d]";
  EXPECT_EQ(TargetShape(shapes, Target::kV), std::pair(12, 4)) << "wv [D, Hkv·d]";
  EXPECT_EQ(TargetShape(shapes, Target::kO), std::pair(8, 12)) << "wo [H·d, D]";
  EXPECT_EQ(TargetShape(shapes, Target::kGate), std::pair(12, 20)) << "gate [D, F]";
  EXPECT_EQ(TargetShape(shapes, Target::kUp), std::pair(12, 20)) << "up [D, F]";
  EXPECT_EQ(TargetShape(shapes, Target::kDown), std::pair(20, 12)) << "down [F, D]";
}

TEST(Step7_Placement, FixtureTargetShapes) {
  const BlockShapes shapes = FixtureShapes();
  EXPECT_EQ(TargetShape(shapes, Target::kQ), std::pair(4096, 4096));
  EXPECT_EQ(TargetShape(shapes, Target::kK), std::pair(4096, 1024)) << "8 kv heads of 128";
  EXPECT_EQ(TargetShape(shapes, Target::kV), std::pair(4096, 1024));
  EXPECT_EQ(TargetShape(shapes, Target::kO), std::pair(4096, 4096));
  EXPECT_EQ(TargetShape(shapes, Target::kGate), std::pair(4096, 14336));
  EXPECT_EQ(TargetShape(shapes, Target::kUp), std::pair(4096, 14336));
  EXPECT_EQ(TargetShape(shapes, Target::kDown), std::pair(14336, 4096));
}

TEST(Step7_Placement, FixtureParamsPerTarget) {
  const Fixture& fx = PlacementFixture();
  const BlockShapes shapes = FixtureShapes();
  const int rank = fx.Int("rank");
  const MatrixD per_target = fx.MatrixD("per_target");
  ASSERT_EQ(per_target.cols(), 7) << "q, k, v, o, gate, up, down";
  for (int k = 0; k < 7; ++k) {
    const Target target = kAllTargets[k];
    const auto expected = static_cast<std::int64_t>(per_target(0, k));
    EXPECT_EQ(BlockAdapterParams(shapes, {target}, rank), expected) << kTargetNames[k];
    const auto [d_in, d_out] = TargetShape(shapes, target);
    EXPECT_EQ(LoraParams(d_in, d_out, rank), expected) << kTargetNames[k];
  }
}

TEST(Step7_Placement, FixtureQvAgainstAllSeven) {
  const Fixture& fx = PlacementFixture();
  const BlockShapes shapes = FixtureShapes();
  const int rank = fx.Int("rank");
  const std::int64_t layers = fx.Int("layers");
  const std::int64_t qv = BlockAdapterParams(shapes, {Target::kQ, Target::kV}, rank);
  const std::int64_t all = BlockAdapterParams(
      shapes, std::vector<Target>(std::begin(kAllTargets), std::end(kAllTargets)), rank);
  EXPECT_EQ(qv, Count(fx, "qv_per_block"));
  EXPECT_EQ(all, Count(fx, "all_per_block"));
  EXPECT_EQ(layers * qv, Count(fx, "qv_model"));
  EXPECT_EQ(layers * all, Count(fx, "all_model"));
  std::int64_t base = 0;
  for (Target target : kAllTargets) {
    const auto [d_in, d_out] = TargetShape(shapes, target);
    base += FullParams(d_in, d_out);
  }
  EXPECT_EQ(base, Count(fx, "base_per_block")) << "the seven weights of one block";
}

// Every subset of the seven targets, in two orders: the sum of r·(D_in + D_out) over it.
TEST(Step7_Placement, BlockAdapterParamsIsTheSumOverTargets) {
  const BlockShapes shapes = SmallGqaShapes();
  for (int rank : {1, 3, 4}) {  // 4 = min(12, 4), the largest rank k and v allow
    for (int subset = 0; subset < (1 << 7); ++subset) {
      std::vector<Target> targets;
      std::int64_t expected = 0;
      for (int k = 0; k < 7; ++k) {
        if ((subset & (1 << k)) == 0) continue;
        targets.push_back(kAllTargets[k]);
        const auto [d_in, d_out] = TargetShape(shapes, kAllTargets[k]);
        expected += std::int64_t{rank} * (d_in + d_out);
      }
      EXPECT_EQ(BlockAdapterParams(shapes, targets, rank), expected)
          << "subset " << subset << " at rank " << rank;
      std::reverse(targets.begin(), targets.end());
      EXPECT_EQ(BlockAdapterParams(shapes, targets, rank), expected)
          << "subset " << subset << " reversed";
    }
  }
}

TEST(Step7_Placement, BlockAdapterParamsRejectsDuplicatesAndRanksTooLarge) {
  const BlockShapes shapes = SmallGqaShapes();
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(shapes, {Target::kQ, Target::kV, Target::kQ}, 2),
                          {"targets", "q", "twice"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(shapes, {Target::kDown, Target::kDown}, 2),
                          {"targets", "down", "twice"});
  // Rank 5 fits q [12, 8] but not k [12, 4].
  EXPECT_EQ(BlockAdapterParams(shapes, {Target::kQ}, 5), 5 * (12 + 8));
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(shapes, {Target::kQ, Target::kK}, 5),
                          {"rank", "4", "5"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(shapes, {Target::kO, Target::kGate}, 9),
                          {"rank", "8", "9"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(shapes, {Target::kQ}, 0), {"rank", "0"});
  // With F = 6 the feed-forward weights are the narrow ones (min 6, q's is 8): the message
  // names the target that does not allow the rank.
  BlockShapes narrow_ffn = shapes;
  narrow_ffn.d_ff = 6;
  EXPECT_EQ(BlockAdapterParams(narrow_ffn, {Target::kQ, Target::kDown}, 6), 6 * (20 + 18));
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(narrow_ffn, {Target::kQ, Target::kDown}, 7),
                          {"rank", "down", "6", "7"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(narrow_ffn, {Target::kGate, Target::kQ}, 7),
                          {"rank", "gate", "6", "7"});
}

TEST(Step7_Placement, RejectsBadBlockShapes) {
  const auto with = [](int BlockShapes::*field, int value) {
    BlockShapes shapes = SmallGqaShapes();
    shapes.*field = value;
    return shapes;
  };
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::d_model, 0), Target::kQ),
                          {"shapes.d_model", "0"});
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::num_heads, -2), Target::kO),
                          {"shapes.num_heads", "-2"});
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::num_kv_heads, 0), Target::kK),
                          {"shapes.num_kv_heads", "0"});
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::head_dim, 0), Target::kV),
                          {"shapes.head_dim", "0"});
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::d_ff, -1), Target::kDown),
                          {"shapes.d_ff", "-1"});
  // Every dimension, not only the ones the target uses.
  EXPECT_INVALID_ARGUMENT(TargetShape(with(&BlockShapes::d_ff, 0), Target::kQ),
                          {"shapes.d_ff", "0"});
  EXPECT_INVALID_ARGUMENT(
      BlockAdapterParams(with(&BlockShapes::num_kv_heads, 0), {Target::kQ, Target::kV}, 2),
      {"shapes.num_kv_heads", "0"});
}

// No targets, no adapters: 0 parameters. The shapes and the rank are checked all the same,
// so a validation inside the loop over targets (skipped when the list is empty) is caught.
TEST(Step7_Placement, NoTargetsIsZeroParamsButStillChecksItsArguments) {
  EXPECT_EQ(BlockAdapterParams(SmallGqaShapes(), {}, 2), 0);
  BlockShapes bad = SmallGqaShapes();
  bad.head_dim = 0;
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(bad, {}, 2), {"shapes.head_dim", "0"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(SmallGqaShapes(), {}, 0), {"rank", "0"});
  EXPECT_INVALID_ARGUMENT(BlockAdapterParams(SmallGqaShapes(), {}, -3), {"rank", "-3"});
}

// The bank's outputs against the oracle with each request's own adapter.
TEST(Step7_Placement, BankFixtureAdapterGivesTheLoraOutput) {
  const Fixture& fx = ForwardFixture();
  AdapterBank bank(fx.Matrix("W0"));
  const absl::Status status = bank.Add("fixture", FixtureAdapter());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_ALLCLOSE(ValueOf(bank.Forward(fx.Matrix("x"), "fixture")), fx.Matrix("output"),
                  fx.tolerance());
  EXPECT_ALLCLOSE(ValueOf(bank.Forward(fx.Matrix("x"), "")), fx.Matrix("base"), fx.tolerance())
      << "the empty name is the base model";
}

TEST(Step7_Placement, BankSwitchesAdapterPerRequest) {
  Rng rng(12701);
  const Matrix w0 = RandomWeight(rng, 10, 6);
  AdapterBank bank(w0);
  const std::vector<std::string> names = {"alice", "bob", "carol"};
  std::vector<Adapter> adapters;
  for (int k = 0; k < 3; ++k) {
    adapters.push_back(RandomAdapter(rng, 10, 6, k + 1, kAlpha * static_cast<float>(k + 1)));
    const absl::Status status = bank.Add(names[static_cast<std::size_t>(k)], adapters.back());
    ASSERT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(bank.size(), 3);
  // Requests in an order that revisits each adapter, with the base model between them.
  for (int request : {0, 1, 0, -1, 2, 1, -1, 2, 0}) {
    const Matrix x = RandomMatrix(rng, 1 + static_cast<int>(rng.Below(5)), 10);
    if (request < 0) {
      const MatrixD expected = D(x) * D(w0);
      EXPECT_ALLCLOSE(ValueOf(bank.Forward(x, "")), expected, Roundoff(Abs(x) * Abs(w0))) << "base";
      continue;
    }
    const auto k = static_cast<std::size_t>(request);
    const Matrix h = ValueOf(bank.Forward(x, names[k]));
    const Tolerance tol = Roundoff(ForwardTerms(x, w0, adapters[k]));
    EXPECT_ALLCLOSE(h, ReferenceForward(x, w0, adapters[k]), tol) << names[k];
    EXPECT_ALLCLOSE(h, LoraForward(x, w0, adapters[k]), (Tolerance{2 * tol.atol, 0}))
        << names[k] << " against LoraForward";
  }
}

TEST(Step7_Placement, BankUnknownNameIsNotFound) {
  Rng rng(12702);
  AdapterBank bank(RandomWeight(rng, 4, 3));
  ASSERT_TRUE(bank.Add("alice", RandomAdapter(rng, 4, 3, 2, kAlpha)).ok());
  const absl::StatusOr<Matrix> h = bank.Forward(Matrix::Ones(2, 4), "mallory");
  EXPECT_EQ(h.status().code(), absl::StatusCode::kNotFound) << h.status();
  EXPECT_EQ(bank.Remove("mallory").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(bank.size(), 1);
}

TEST(Step7_Placement, BankDuplicateNameIsAlreadyExistsAndKeepsTheFirst) {
  Rng rng(12703);
  const Matrix w0 = RandomWeight(rng, 5, 4);
  AdapterBank bank(w0);
  const Adapter first = RandomAdapter(rng, 5, 4, 2, kAlpha);
  ASSERT_TRUE(bank.Add("alice", first).ok());
  const absl::Status again = bank.Add("alice", RandomAdapter(rng, 5, 4, 3, kAlpha));
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(bank.size(), 1);
  const Matrix x = RandomMatrix(rng, 3, 5);
  EXPECT_ALLCLOSE(ValueOf(bank.Forward(x, "alice")), ReferenceForward(x, w0, first),
                  Roundoff(ForwardTerms(x, w0, first)))
      << "the adapter added first is the one kept";
}

TEST(Step7_Placement, BankRejectsAnEmptyNameWithAStatus) {
  Rng rng(12704);
  AdapterBank bank(RandomWeight(rng, 4, 3));
  const absl::Status status = bank.Add("", RandomAdapter(rng, 4, 3, 2, kAlpha));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("name"), std::string_view::npos) << status;
  EXPECT_EQ(bank.size(), 0);
}

TEST(Step7_Placement, BankRejectsAdaptersThatDoNotFitW0WithAStatus) {
  Rng rng(12705);
  const Matrix w0 = RandomWeight(rng, 4, 3);
  AdapterBank bank(w0);
  ASSERT_TRUE(bank.Add("good", RandomAdapter(rng, 4, 3, 2, kAlpha)).ok());
  struct Case {
    Adapter adapter;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {MakeAdapter(Matrix::Ones(5, 2), Matrix::Ones(2, 3), 1.0f), {"adapter.a", "5x2"}},
      {MakeAdapter(Matrix::Ones(4, 2), Matrix::Ones(2, 4), 1.0f), {"adapter.b", "2x3", "2x4"}},
      {MakeAdapter(Matrix::Ones(4, 4), Matrix::Ones(4, 3), 1.0f), {"rank", "3", "4"}},
      {MakeAdapter(Matrix::Ones(4, 2), Matrix::Ones(2, 3), std::numeric_limits<float>::infinity()),
       {"alpha", "inf"}},
  };
  for (const Case& c : cases) {
    const absl::Status status = bank.Add("bad", c.adapter);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    for (const std::string& word : c.words) {
      EXPECT_NE(status.message().find(word), std::string_view::npos)
          << status << " does not mention \"" << word << "\"";
    }
    ASSERT_EQ(bank.size(), 1) << "nothing is added";
    EXPECT_EQ(bank.Forward(Matrix::Ones(1, 4), "bad").status().code(), absl::StatusCode::kNotFound)
        << "a refused adapter is not in the bank";
  }
  EXPECT_TRUE(Same(bank.base(), w0));
}

TEST(Step7_Placement, BankRemoveThenForwardIsNotFound) {
  Rng rng(12706);
  const Matrix w0 = RandomWeight(rng, 6, 2);
  AdapterBank bank(w0);
  const Adapter bob = RandomAdapter(rng, 6, 2, 2, kAlpha);
  ASSERT_TRUE(bank.Add("alice", RandomAdapter(rng, 6, 2, 1, kAlpha)).ok());
  ASSERT_TRUE(bank.Add("bob", bob).ok());
  EXPECT_EQ(bank.size(), 2);
  const absl::Status removed = bank.Remove("alice");
  ASSERT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(bank.size(), 1);
  const Matrix x = RandomMatrix(rng, 2, 6);
  EXPECT_EQ(bank.Forward(x, "alice").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(bank.Remove("alice").code(), absl::StatusCode::kNotFound) << "removed already";
  EXPECT_EQ(bank.size(), 1);
  EXPECT_ALLCLOSE(ValueOf(bank.Forward(x, "bob")), ReferenceForward(x, w0, bob),
                  Roundoff(ForwardTerms(x, w0, bob)))
      << "the other adapter stays";
  // The name is free again.
  EXPECT_TRUE(bank.Add("alice", RandomAdapter(rng, 6, 2, 2, kAlpha)).ok());
  EXPECT_EQ(bank.size(), 2);
}

// One W₀ for every adapter: adding, using and removing adapters never touches it.
TEST(Step7_Placement, BankSharesOneBaseWeight) {
  Rng rng(12707);
  const Matrix w0 = RandomWeight(rng, 8, 5);
  AdapterBank bank(w0);
  EXPECT_EQ(bank.size(), 0);
  EXPECT_TRUE(Same(bank.base(), w0));
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(bank.Add("user" + std::to_string(k), RandomAdapter(rng, 8, 5, 2, 300.0f)).ok());
    EXPECT_EQ(bank.size(), k + 1);
    ValueOf(bank.Forward(RandomMatrix(rng, 3, 8), "user" + std::to_string(k)));
    EXPECT_TRUE(Same(bank.base(), w0))
        << "after adding and using user" << k << " (no adapter is merged into the shared W₀)";
  }
  ASSERT_TRUE(bank.Remove("user2").ok());
  EXPECT_EQ(bank.size(), 3);
  EXPECT_TRUE(Same(bank.base(), w0));
}

TEST(Step7_Placement, BankRejectsBadShapes) {
  EXPECT_INVALID_ARGUMENT(AdapterBank(Matrix(0, 3)), {"w0", "0x3"});
  EXPECT_INVALID_ARGUMENT(AdapterBank(Matrix(3, 0)), {"w0", "3x0"});
  AdapterBank bank(Matrix::Ones(4, 3));
  ASSERT_TRUE(bank.Add("alice", MakeAdapter(Matrix::Ones(4, 1), Matrix::Ones(1, 3), 1.0f)).ok());
  EXPECT_INVALID_ARGUMENT(static_cast<void>(bank.Forward(Matrix::Ones(2, 3), "alice")),
                          {"x", "2x3"});
  EXPECT_INVALID_ARGUMENT(static_cast<void>(bank.Forward(Matrix::Ones(2, 5), "")), {"x", "2x5"});
  EXPECT_INVALID_ARGUMENT(static_cast<void>(bank.Forward(Matrix(0, 4), "alice")), {"x", "0x4"});
  EXPECT_EQ(bank.size(), 1);
}

}  // namespace
}  // namespace llmk::lora
