// Tests of kata 03, one suite per step of README.md. Each step checks the hand-derived
// fixture first (fixtures/03_scaling/*.json), then properties and random inputs
// against the double-precision oracle in reference/scaling_ref.h, then bad inputs.
#include <cmath>
#include <vector>

#include "llmk/testing/testing.h"
#include "scaling.h"
#include "scaling_ref.h"

namespace llmk::scaling {
namespace {

namespace ref = ::llmk::reference::scaling;
using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::Tolerance;

const Fixture& DotVariance() { return KataFixture("03_scaling/dot_variance.json"); }
const Fixture& SoftmaxScale() { return KataFixture("03_scaling/softmax_scale.json"); }
const Fixture& DkExample() { return KataFixture("03_scaling/dk_example.json"); }

// Double against the double oracle. Every value here is a short chain of exp, log,
// products and sums of at most 129 terms, each off by at most an ulp (1.1e-16), so
// two sound implementations agree to about 129 · 1.1e-16 ~ 1.4e-14 relative; ln of a
// sum just above 1 (ln vs log1p) adds up to 1e-16 absolute, hence the atol. 1e-9
// relative leaves a margin of 1e4 while any real slip (bits for nats, a missing p_i,
// a wrong sign, the wrong factor) is off by more than 1e-2.
constexpr Tolerance kVsReference{1e-14, 1e-9};

// The Monte-Carlo estimates use the same normals in the same order as the oracle;
// only the order of the d_k-term dot product may differ, which moves a sum of
// 10⁴ squares by a few ulps of each term: 1e-12 relative is a margin of ~1e3.
constexpr Tolerance kSameDraws{0.0, 1e-12};

// The Monte-Carlo bound of Steps 2 and 5 in units of the estimator's standard
// deviation. README.md, "How sure is the check?", derives what it means.
constexpr double kStdDevs = 5.0;

MatrixD M(double x) {
  MatrixD m(1, 1);
  m << x;
  return m;
}

Eigen::VectorXd Vec(std::initializer_list<double> values) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (double x : values) v(i++) = x;
  return v;
}

// Row i of a fixture matrix as a vector.
Eigen::VectorXd RowOf(const MatrixD& m, Eigen::Index i) { return m.row(i).transpose(); }

MatrixD AsRow(const Eigen::VectorXd& v) { return v.transpose(); }

Eigen::VectorXd RandomLogits(Rng& rng, Eigen::Index n, double scale) {
  Eigen::VectorXd z(n);
  for (Eigen::Index i = 0; i < n; ++i) z(i) = scale * rng.Normal();
  return z;
}

// The worked example of Steps 3 and 4: logits [1, 2, 3] times scale s.
Eigen::VectorXd ScaledLogits(const Fixture& fx, Eigen::Index s) {
  return fx.MatrixD("scales")(0, s) * RowOf(fx.MatrixD("logits"), 0);
}

std::vector<int> DkList() {
  const MatrixD d = DotVariance().MatrixD("d_k");
  std::vector<int> list;
  for (Eigen::Index i = 0; i < d.cols(); ++i) list.push_back(static_cast<int>(d(0, i)));
  return list;
}

// ---------------------------------------------------------------------------------
// Step 1: Var(q·k) = d_k · σ_q² · σ_k².

TEST(Step1_DotProductVariance, FixtureUnitComponents) {
  const auto& fx = DotVariance();
  const std::vector<int> dks = DkList();
  MatrixD actual(1, static_cast<Eigen::Index>(dks.size()));
  for (size_t i = 0; i < dks.size(); ++i) {
    actual(0, static_cast<Eigen::Index>(i)) = DotProductVariance(dks[i]);  // σ² = 1 default
  }
  EXPECT_ALLCLOSE(actual, fx.MatrixD("variance").topRows(1), fx.tolerance());
}

TEST(Step1_DotProductVariance, FixtureOtherComponentVariances) {
  const auto& fx = DotVariance();
  const MatrixD var = fx.MatrixD("component_variances");
  const std::vector<int> dks = DkList();
  MatrixD actual(var.rows(), static_cast<Eigen::Index>(dks.size()));
  for (Eigen::Index r = 0; r < var.rows(); ++r) {
    for (size_t i = 0; i < dks.size(); ++i) {
      actual(r, static_cast<Eigen::Index>(i)) = DotProductVariance(dks[i], var(r, 0), var(r, 1));
    }
  }
  EXPECT_ALLCLOSE(actual, fx.MatrixD("variance"), fx.tolerance());
}

TEST(Step1_DotProductVariance, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(DotProductVariance(0), {"d_k", "0"});
  EXPECT_INVALID_ARGUMENT(DotProductVariance(-3), {"d_k", "-3"});
  EXPECT_INVALID_ARGUMENT(DotProductVariance(4, -1.0, 1.0), {"var_q", "-1"});
  EXPECT_INVALID_ARGUMENT(DotProductVariance(4, 1.0, -0.5), {"var_k", "-0.5"});
}

// ---------------------------------------------------------------------------------
// Step 2: a seeded Monte-Carlo estimate of Var(q·k) and its standard deviation.

TEST(Step2_MonteCarlo, FixtureEstimatorStdDev) {
  const auto& fx = DotVariance();
  const std::vector<int> dks = DkList();
  MatrixD actual(1, static_cast<Eigen::Index>(dks.size()));
  for (size_t i = 0; i < dks.size(); ++i) {
    actual(0, static_cast<Eigen::Index>(i)) = SampleVarianceStdDev(dks[i], fx.Int("num_samples"));
  }
  EXPECT_ALLCLOSE(actual, fx.MatrixD("estimator_sd"), fx.tolerance());
}

TEST(Step2_MonteCarlo, StdDevMatchesTheMomentsOnOtherSizes) {
  // 100000: 2·d_k² = 2e10 does not fit in an int.
  for (int d : {2, 3, 100, 1000, 100000}) {
    for (int n : {1, 7, 400, 123456}) {
      SCOPED_TRACE(::testing::Message() << "d_k=" << d << " n=" << n);
      EXPECT_ALLCLOSE(M(SampleVarianceStdDev(d, n)), M(ref::MeanSquaredDotStdDev(d, n)),
                      kVsReference);
    }
  }
}

// The check of the derivation: for every d_k the seeded estimate lies within
// kStdDevs standard deviations (taken from the fixture, i.e. from the derivation,
// not from the code under test) of the analytic d_k.
TEST(Step2_MonteCarlo, EstimateIsWithinFiveStdDevsOfDk) {
  const auto& fx = DotVariance();
  const int n = fx.Int("num_samples");
  const MatrixD sd = fx.MatrixD("estimator_sd");
  const std::vector<int> dks = DkList();
  Rng rng(2024);
  for (size_t i = 0; i < dks.size(); ++i) {
    const double estimate = SampleDotProductVariance(dks[i], n, rng);
    const double sigma = sd(0, static_cast<Eigen::Index>(i));
    EXPECT_LE(std::abs(estimate - dks[i]), kStdDevs * sigma)
        << "d_k=" << dks[i] << ": estimate " << estimate << " is "
        << (estimate - dks[i]) / sigma << " standard deviations (" << sigma
        << " each, n=" << n << ") from " << dks[i];
  }
}

TEST(Step2_MonteCarlo, SameSeedDrawsTheSameSamplesAsTheReference) {
  for (int d : {1, 2, 7, 64}) {
    for (int n : {1, 3, 200}) {
      Rng mine(77 + static_cast<std::uint64_t>(d));
      Rng theirs(77 + static_cast<std::uint64_t>(d));
      SCOPED_TRACE(::testing::Message() << "d_k=" << d << " n=" << n);
      EXPECT_ALLCLOSE(M(SampleDotProductVariance(d, n, mine)),
                      M(ref::MeanSquaredDot(d, n, theirs)), kSameDraws);
      // Exactly 2·d_k·n normals consumed: the next draw of both generators agrees.
      EXPECT_EQ(mine.NextU64(), theirs.NextU64())
          << "draw q's d_k components, then k's, for each sample, one Normal() each";
    }
  }
}

TEST(Step2_MonteCarlo, RejectsBadArguments) {
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(SampleDotProductVariance(0, 100, rng), {"d_k", "0"});
  EXPECT_INVALID_ARGUMENT(SampleDotProductVariance(4, 0, rng), {"num_samples", "0"});
  EXPECT_INVALID_ARGUMENT(SampleDotProductVariance(4, -5, rng), {"num_samples", "-5"});
  EXPECT_INVALID_ARGUMENT(SampleVarianceStdDev(0, 100), {"d_k", "0"});
  EXPECT_INVALID_ARGUMENT(SampleVarianceStdDev(4, 0), {"num_samples", "0"});
}

// ---------------------------------------------------------------------------------
// Step 3: softmax weights, the largest weight and the entropy as the scale grows.

TEST(Step3_SoftmaxStatistics, FixtureSoftmax) {
  const auto& fx = SoftmaxScale();
  const MatrixD expected = fx.MatrixD("softmax");
  for (Eigen::Index s = 0; s < expected.rows(); ++s) {
    SCOPED_TRACE(::testing::Message() << "scale " << fx.MatrixD("scales")(0, s));
    EXPECT_ALLCLOSE(AsRow(Softmax(ScaledLogits(fx, s))), expected.row(s), fx.tolerance());
  }
}

TEST(Step3_SoftmaxStatistics, FixtureMaxWeightAndEntropy) {
  const auto& fx = SoftmaxScale();
  const MatrixD expected = fx.MatrixD("statistics");
  MatrixD actual(expected.rows(), 2);
  for (Eigen::Index s = 0; s < expected.rows(); ++s) {
    actual(s, 0) = MaxWeight(ScaledLogits(fx, s));
    actual(s, 1) = Entropy(ScaledLogits(fx, s));
  }
  EXPECT_ALLCLOSE(actual, expected, fx.tolerance());
}

TEST(Step3_SoftmaxStatistics, EqualLogitsGiveTheUniformDistribution) {
  for (int n : {1, 2, 5, 64}) {
    const Eigen::VectorXd z = Eigen::VectorXd::Constant(n, 0.75);
    SCOPED_TRACE(::testing::Message() << "N=" << n);
    EXPECT_ALLCLOSE(Softmax(z), Eigen::VectorXd::Constant(n, 1.0 / n), kVsReference);
    EXPECT_ALLCLOSE(M(MaxWeight(z)), M(1.0 / n), kVsReference);
    EXPECT_ALLCLOSE(M(Entropy(z)), M(std::log(static_cast<double>(n))), kVsReference)
        << "the uniform distribution over N outcomes has entropy ln N (nats)";
  }
}

TEST(Step3_SoftmaxStatistics, GrowingScaleSharpensTheWeights) {
  const Eigen::VectorXd z = Vec({0.3, -1.2, 2.0, 0.9, -0.4});
  const std::vector<double> scales = {0, 0.5, 1, 2, 4, 8, 16, 32, 64};
  std::vector<double> max_weight;
  std::vector<double> entropy;
  for (double s : scales) {
    max_weight.push_back(MaxWeight(s * z));
    entropy.push_back(Entropy(s * z));
  }
  // Scale 0: all logits equal, the uniform distribution over 5 keys.
  EXPECT_NEAR(max_weight[0], 0.2, 1e-15);
  EXPECT_NEAR(entropy[0], std::log(5.0), 1e-15);
  for (size_t i = 1; i < scales.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "scale " << scales[i - 1] << " -> " << scales[i]);
    EXPECT_GE(max_weight[i], max_weight[i - 1]);
    EXPECT_LE(entropy[i], entropy[i - 1]);
    // Strictly, as long as double precision can still see the change.
    if (scales[i] <= 16) {
      EXPECT_LT(entropy[i], entropy[i - 1]);
    }
    if (scales[i] <= 8) {
      EXPECT_GT(max_weight[i], max_weight[i - 1]);
    }
  }
  // Scale 64: the top gap is 1.1 · 64 = 70.4, so 1 - p_max < 5e-31 and H < 5e-29.
  EXPECT_EQ(max_weight.back(), 1.0);
  EXPECT_GE(entropy.back(), 0.0);
  EXPECT_LT(entropy.back(), 5e-29);
}

TEST(Step3_SoftmaxStatistics, StableForLargeLogits) {
  const Eigen::VectorXd big = Vec({1000, 1001, 1002});
  const Eigen::VectorXd small = Vec({0, 1, 2});
  const Eigen::VectorXd p = Softmax(big);
  ASSERT_TRUE(p.allFinite()) << "exp(1000) overflows double; subtract the max first";
  EXPECT_ALLCLOSE(p, ref::Softmax(small), kVsReference);
  EXPECT_ALLCLOSE(M(MaxWeight(big)), M(ref::Softmax(small).maxCoeff()), kVsReference);
  EXPECT_ALLCLOSE(M(Entropy(big)), M(ref::Entropy(small)), kVsReference);
  // exp(-1e4) underflows to 0: its weight is 0 and its term 0 · ln 0 counts as 0.
  const Eigen::VectorXd underflow = Vec({0, -1e4, 5});
  const double h = Entropy(underflow);
  ASSERT_TRUE(std::isfinite(h)) << "0 * ln(0) is NaN in floating point; a weight of 0 "
                                   "contributes 0 to the entropy";
  EXPECT_ALLCLOSE(M(h), M(ref::Entropy(underflow)), kVsReference);
}

TEST(Step3_SoftmaxStatistics, MatchesReferenceOnRandomLogits) {
  Rng rng(303);
  for (int n : AwkwardSizes(129)) {
    for (double scale : {0.1, 1.0, 10.0}) {
      const Eigen::VectorXd z = RandomLogits(rng, n, scale);
      SCOPED_TRACE(::testing::Message() << "N=" << n << " logit scale " << scale);
      EXPECT_ALLCLOSE(Softmax(z), ref::Softmax(z), kVsReference);
      EXPECT_ALLCLOSE(M(MaxWeight(z)), M(ref::Softmax(z).maxCoeff()), kVsReference);
      EXPECT_ALLCLOSE(M(Entropy(z)), M(ref::Entropy(z)), kVsReference);
    }
  }
}

TEST(Step3_SoftmaxStatistics, RejectsEmptyLogits) {
  const Eigen::VectorXd empty(0);
  EXPECT_INVALID_ARGUMENT(Softmax(empty), {"Softmax", "logits", "empty"});
  EXPECT_INVALID_ARGUMENT(MaxWeight(empty), {"MaxWeight", "logits", "empty"});
  EXPECT_INVALID_ARGUMENT(Entropy(empty), {"Entropy", "logits", "empty"});
}

// ---------------------------------------------------------------------------------
// Step 4: J = diag(p) - p·pᵀ and its Frobenius norm.

TEST(Step4_SoftmaxJacobian, FixtureJacobians) {
  const auto& fx = SoftmaxScale();
  const char* keys[] = {"jacobian_scale1", "jacobian_scale4", "jacobian_scale16"};
  for (Eigen::Index s = 0; s < 3; ++s) {
    SCOPED_TRACE(::testing::Message() << keys[s]);
    EXPECT_ALLCLOSE(SoftmaxJacobian(ScaledLogits(fx, s)), fx.MatrixD(keys[s]),
                    fx.tolerance());
  }
}

TEST(Step4_SoftmaxJacobian, FixtureNorms) {
  const auto& fx = SoftmaxScale();
  const MatrixD expected = fx.MatrixD("jacobian_norm");
  MatrixD actual(expected.rows(), 1);
  for (Eigen::Index s = 0; s < expected.rows(); ++s) actual(s, 0) = JacobianNorm(ScaledLogits(fx, s));
  EXPECT_ALLCLOSE(actual, expected, fx.tolerance());
}

// Column j of J is ∂p/∂z_j; a central difference approximates it to O(h²) (third
// derivatives of the softmax are below 1, so h = 1e-5 gives < 1e-10) plus rounding
// of eps/h ~ 1e-11: 1e-8 absolute is a margin of 100, while a transposed or
// sign-flipped formula is off by the size of p itself.
TEST(Step4_SoftmaxJacobian, MatchesFiniteDifferences) {
  Rng rng(404);
  for (int n : {1, 2, 3, 7, 16}) {
    const Eigen::VectorXd z = RandomLogits(rng, n, 1.5);
    const double h = 1e-5;
    MatrixD numeric(n, n);
    for (Eigen::Index j = 0; j < n; ++j) {
      Eigen::VectorXd up = z;
      Eigen::VectorXd down = z;
      up(j) += h;
      down(j) -= h;
      numeric.col(j) = (ref::Softmax(up) - ref::Softmax(down)) / (2 * h);
    }
    SCOPED_TRACE(::testing::Message() << "N=" << n);
    EXPECT_ALLCLOSE(SoftmaxJacobian(z), numeric, (Tolerance{1e-8, 0}));
  }
}

TEST(Step4_SoftmaxJacobian, IsSymmetricAndAnnihilatesConstantShifts) {
  Rng rng(405);
  const Eigen::VectorXd z = RandomLogits(rng, 6, 2.0);
  const MatrixD jac = SoftmaxJacobian(z);
  ASSERT_EQ(jac.rows(), 6);
  ASSERT_EQ(jac.cols(), 6);
  EXPECT_ALLCLOSE(jac, MatrixD(jac.transpose()), (Tolerance{1e-16, 0}));
  // softmax(z + c·1) = softmax(z), so J·1 = 0: every row sums to 0. (Rows of 0.2-ish
  // entries summed in double leave ~1e-16.)
  EXPECT_ALLCLOSE(MatrixD(jac.rowwise().sum()), MatrixD::Zero(6, 1), (Tolerance{1e-15, 0}));
  EXPECT_GT(jac.diagonal().minCoeff(), 0.0) << "∂p_i/∂z_i = p_i (1 - p_i) > 0";
}

// ‖J‖_F falls from √2/3 = 0.4714 at scale 0 towards 0, and once one runner-up takes
// almost all of the remaining weight it is 2 · p_runner-up (README, Step 4): the
// gradient through the softmax vanishes at the rate of the weights it is not choosing.
TEST(Step4_SoftmaxJacobian, NormCollapsesAsLogitsGrow) {
  const Eigen::VectorXd z = Vec({1, 2, 3});
  const std::vector<double> scales = {0, 0.25, 0.5, 1, 2, 4, 8, 16, 32};
  std::vector<double> norms;
  for (double s : scales) norms.push_back(JacobianNorm(s * z));
  EXPECT_ALLCLOSE(M(norms[0]), M(std::sqrt(2.0) / 3.0), kVsReference);
  for (size_t i = 1; i < scales.size(); ++i) {
    EXPECT_LT(norms[i], norms[i - 1]) << "scale " << scales[i - 1] << " -> " << scales[i];
  }
  // From scale 8 on, 2 · p_2 predicts the norm to better than 3e-4 relative.
  for (size_t i = 6; i < scales.size(); ++i) {
    const double runner_up = ref::Softmax(scales[i] * z)(1);
    EXPECT_ALLCLOSE(M(norms[i]), M(2 * runner_up), (Tolerance{0, 1e-3}))
        << "scale " << scales[i];
  }
}

// At scale 32 the largest weight is 1 - 1.3e-14: p_3 - p_3² cancels all but the last
// two digits of p_3 (an error of ~1e-16 / 1.3e-14 ~ 1%), while p_3 · (p_1 + p_2) keeps
// full precision. 1e-6 relative separates the two by a factor of 1e4.
TEST(Step4_SoftmaxJacobian, AccurateWhenNearlyOneHot) {
  const Eigen::VectorXd z = Vec({32, 64, 96});
  EXPECT_ALLCLOSE(SoftmaxJacobian(z), ref::SoftmaxJacobian(z), (Tolerance{0, 1e-6}));
  EXPECT_ALLCLOSE(M(JacobianNorm(z)), M(ref::FrobeniusNorm(ref::SoftmaxJacobian(z))),
                  (Tolerance{0, 1e-6}));
}

// Logits (0, -400, -400): p = (1 - 2ε, ε, ε) with ε = e^-400 / (1 + 2e^-400) = e^-400
// to far below an ulp (1.9e-174). J(0, 0) = p_0·(p_1 + p_2) = 2ε·(1 - 2ε), J(1, 1) =
// J(2, 2) = ε·(1 - ε), J(0, 1) = J(1, 0) = J(0, 2) = J(2, 0) = -ε·(1 - 2ε), J(1, 2) = J(2, 1)
// = -ε²; so ‖J‖_F² = 4ε² + 2ε² + 4ε² + O(ε³) = 10ε² and ‖J‖_F = √10 · e^-400 to relative
// O(ε). Every entry is representable, but its square (~1e-347) underflows to 0: a norm
// that squares entries unscaled (Eigen's norm(), or sqrt of a sum of J(i, j)²) returns 0.
TEST(Step4_SoftmaxJacobian, NormDoesNotUnderflowForTinyEntries) {
  const Eigen::VectorXd z = Vec({0, -400, -400});
  const double expected = std::sqrt(10.0) * std::exp(-400.0);
  EXPECT_ALLCLOSE(M(JacobianNorm(z)), M(expected), (Tolerance{0, 1e-12}));
}

TEST(Step4_SoftmaxJacobian, MatchesReferenceOnRandomLogits) {
  Rng rng(406);
  for (int n : AwkwardSizes(65)) {
    for (double scale : {0.1, 1.0, 4.0}) {
      const Eigen::VectorXd z = RandomLogits(rng, n, scale);
      SCOPED_TRACE(::testing::Message() << "N=" << n << " logit scale " << scale);
      const MatrixD expected = ref::SoftmaxJacobian(z);
      EXPECT_ALLCLOSE(SoftmaxJacobian(z), expected, kVsReference);
      EXPECT_ALLCLOSE(M(JacobianNorm(z)), M(ref::FrobeniusNorm(expected)), kVsReference);
    }
  }
}

TEST(Step4_SoftmaxJacobian, RejectsEmptyLogits) {
  const Eigen::VectorXd empty(0);
  EXPECT_INVALID_ARGUMENT(SoftmaxJacobian(empty), {"SoftmaxJacobian", "logits", "empty"});
  EXPECT_INVALID_ARGUMENT(JacobianNorm(empty), {"JacobianNorm", "logits", "empty"});
}

// ---------------------------------------------------------------------------------
// Step 5: scaling by 1/√d_k keeps the score variance at 1 for every d_k.

TEST(Step5_UnitVariance, FixtureScaledScores) {
  const auto& fx = DkExample();
  EXPECT_ALLCLOSE(AsRow(ScaleScores(RowOf(fx.MatrixD("scores_d4"), 0), fx.Int("d_k_small"))),
                  fx.MatrixD("scaled_d4"), fx.tolerance());
  EXPECT_ALLCLOSE(AsRow(ScaleScores(RowOf(fx.MatrixD("scores_d64"), 0), fx.Int("d_k_large"))),
                  fx.MatrixD("scaled_d64"), fx.tolerance());
}

// The four rows of the fixture: d_k = 4 raw, d_k = 4 scaled, d_k = 64 raw, d_k = 64
// scaled. The scores are exact integers, so nothing rounded is fed forward.
std::vector<Eigen::VectorXd> ExampleRows() {
  const auto& fx = DkExample();
  const Eigen::VectorXd d4 = RowOf(fx.MatrixD("scores_d4"), 0);
  const Eigen::VectorXd d64 = RowOf(fx.MatrixD("scores_d64"), 0);
  return {d4, ScaleScores(d4, fx.Int("d_k_small")), d64, ScaleScores(d64, fx.Int("d_k_large"))};
}

TEST(Step5_UnitVariance, FixtureWeightsBeforeAndAfterScaling) {
  const auto& fx = DkExample();
  const std::vector<Eigen::VectorXd> rows = ExampleRows();
  MatrixD actual(4, 4);
  for (Eigen::Index r = 0; r < 4; ++r) actual.row(r) = AsRow(Softmax(rows[static_cast<size_t>(r)]));
  EXPECT_ALLCLOSE(actual, fx.MatrixD("weights"), fx.tolerance());
}

TEST(Step5_UnitVariance, FixtureStatisticsBeforeAndAfterScaling) {
  const auto& fx = DkExample();
  const std::vector<Eigen::VectorXd> rows = ExampleRows();
  MatrixD actual(4, 3);
  for (Eigen::Index r = 0; r < 4; ++r) {
    const Eigen::VectorXd& z = rows[static_cast<size_t>(r)];
    actual(r, 0) = MaxWeight(z);
    actual(r, 1) = Entropy(z);
    actual(r, 2) = JacobianNorm(z);
  }
  EXPECT_ALLCLOSE(actual, fx.MatrixD("statistics"), fx.tolerance());
}

TEST(Step5_UnitVariance, MonteCarloVarianceOfScaledScoresIsOne) {
  const auto& fx = DotVariance();
  const int n = fx.Int("num_samples");
  const MatrixD sd = fx.MatrixD("scaled_estimator_sd");
  const std::vector<int> dks = DkList();
  Rng rng(2025);
  for (size_t i = 0; i < dks.size(); ++i) {
    const double estimate = SampleScaledScoreVariance(dks[i], n, rng);
    const double sigma = sd(0, static_cast<Eigen::Index>(i));
    EXPECT_LE(std::abs(estimate - 1.0), kStdDevs * sigma)
        << "d_k=" << dks[i] << ": estimate " << estimate << " is " << (estimate - 1.0) / sigma
        << " standard deviations (" << sigma << " each, n=" << n << ") from 1";
  }
}

TEST(Step5_UnitVariance, SameSeedDrawsTheSameSamplesAsTheReference) {
  for (int d : {1, 3, 64}) {
    Rng mine(505 + static_cast<std::uint64_t>(d));
    Rng theirs(505 + static_cast<std::uint64_t>(d));
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    SCOPED_TRACE(::testing::Message() << "d_k=" << d);
    EXPECT_ALLCLOSE(M(SampleScaledScoreVariance(d, 300, mine)),
                    M(ref::MeanSquaredDot(d, 300, theirs, scale)), kSameDraws);
    EXPECT_EQ(mine.NextU64(), theirs.NextU64()) << "2·d_k·n normals, q before k";
  }
}

TEST(Step5_UnitVariance, RejectsBadArguments) {
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(ScaleScores(Vec({1, 2}), 0), {"ScaleScores", "d_k", "0"});
  EXPECT_INVALID_ARGUMENT(ScaleScores(Eigen::VectorXd(0), 4), {"ScaleScores", "scores", "empty"});
  EXPECT_INVALID_ARGUMENT(SampleScaledScoreVariance(0, 10, rng), {"d_k", "0"});
  EXPECT_INVALID_ARGUMENT(SampleScaledScoreVariance(4, 0, rng), {"num_samples", "0"});
}

}  // namespace
}  // namespace llmk::scaling
