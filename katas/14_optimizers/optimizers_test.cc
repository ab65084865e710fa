// Tests of kata 14, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/14_optimizers/*.json, every intermediate the derivation
// prints), then properties and random inputs against the double-precision oracles in
// reference/optimizers_ref.h, then bad inputs, after each of which the parameter and the
// state must be as they were (a call that throws writes nothing).
//
// Shapes: a parameter, its gradient and its state share one shape; a weight is
// [D_in, D_out]. The fixture quadratic is f(θ) = ½·θ·H·θᵀ with θ a row [1, n], so its
// gradient is θ·H. Trajectories are [steps + 1, n]: row 0 is θ before the first step.
#include "optimizers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmk/testing/testing.h"
#include "optimizers_ref.h"
#include "race_task.h"

namespace llmk::optim {
namespace {

namespace ref = ::llmk::reference::optim;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const Fixture& Quadratic() { return KataFixture("14_optimizers/quadratic.json"); }
const Fixture& WeightDecayFixture() { return KataFixture("14_optimizers/weight_decay.json"); }
const Fixture& Schedule() { return KataFixture("14_optimizers/schedule.json"); }
const Fixture& Clipping() { return KataFixture("14_optimizers/clipping.json"); }
const Fixture& Muon() { return KataFixture("14_optimizers/muon.json"); }
const Fixture& RaceFixture() { return KataFixture("14_optimizers/race.json"); }

// ---------------------------------------------------------------------------------
// Tolerances of the comparisons with formulas and oracles (fixture checks use the
// fixture's own). u = 6e-8 is float32's unit roundoff; the oracles run in double, whose
// own error (1e-16 per operation) is negligible against it.

// A float result of one or two roundings (θ − lr·g, β·v + g) against the same formula in
// double: at most 2u·|value| = 1.2e-7 relative, plus 2u of the terms that cancel (|θ| and
// |lr·g| below 5 here: 6e-7 absolute). 1e-6 + 1e-6 relative leaves a margin of at least
// two; any real slip (a sign, lr applied twice, a term left out) is off by percents.
constexpr Tolerance kFewRoundings{1e-6, 1e-6};

// Many steps of momentum or Adam in float against the double oracle. Each step adds about
// 2u of rounding to every state entry and to θ; momentum's velocity carries its error on
// with weight β (an error of at most 2u·|v| per step, summed over 1/(1−β) = 10 steps:
// 1.2e-6·|v|, |v| <= 10 for N(0, 1) gradients), Adam's moments likewise, and θ adds lr
// times the error of its step to its own rounding (25 steps · 2u·|θ| = 3e-6·|θ|). The
// bound is 5e-6 of values of size 1 to 5; 2e-5 leaves a margin of four (measured on the
// solution: at most 1.2e-6 for momentum, 8e-7 for Adam, 1.4e-6 for AdamW). A wrong bias
// correction, a forgotten β or a swapped moment moves θ by a visible fraction of lr
// (>= 1e-4 here) per step and the state by percents.
constexpr Tolerance kStepsVsReference{2e-5, 2e-5};

// Newton–Schulz in float against the double oracle. Each iteration forms three products
// whose inner dimensions total k <= 3·31 = 93: an entry errs by about √k·u·|X| = 6e-7
// (at most k·u = 6e-6). The iteration amplifies an error in the direction of a singular
// value σ by p'(σ) = a + 3bσ² + 5cσ⁴ (at most a = 3.44 for σ near 0, below 1 near 1), so
// five steps can carry the first step's error up to a⁵ = 484 times only along singular
// values that stay near 0, which random matrices of these shapes seldom have. Measured on
// the solution: at most 8e-7 against the oracle, and 2.3e-6 between NS(c·G) and NS(G),
// two float runs; 5e-5 leaves a margin of twenty. Wrong coefficients, a missing
// normalization or a product on the wrong side are off by 0.1 or more.
constexpr Tolerance kNsVsReference{5e-5, 5e-5};

// Muon in float against the double oracle: per step, θ moves by lr·scale·NS(u) with
// lr·scale <= 0.02·√(31/17) = 0.027, so an error of kNsVsReference in NS(u) costs 1.4e-6
// of θ per step, 7e-6 over five; the momentum is one rounding per step (2u·|m|, and over
// five steps |m| <= 5·max|g| = 20 for N(0, 1) gradients: 2.4e-6 each). 2e-5 leaves a
// margin of about three over those bounds (measured on the solution: at most 8.4e-7).
constexpr Tolerance kMuonVsReference{2e-5, 2e-5};

// Shapes that shake out a transposed index or a loop bound: a scalar, a row, a column,
// tall and wide rectangles, a square, and a prime by prime.
const std::vector<std::pair<int, int>> kShapes = {{1, 1}, {1, 7},   {7, 1},  {5, 3},
                                                  {3, 5}, {16, 16}, {17, 31}};
// Muon's weights: at least 2 by 2, wide, tall and square.
const std::vector<std::pair<int, int>> kWeightShapes = {{2, 2}, {2, 3},   {3, 2},   {5, 3},
                                                        {3, 5}, {16, 16}, {17, 31}, {31, 17}};

MatrixD D(const Matrix& m) { return m.cast<double>(); }
float F(double x) { return static_cast<float>(x); }

Matrix Row(std::initializer_list<float> values) {
  Matrix m(1, static_cast<Eigen::Index>(values.size()));
  Eigen::Index j = 0;
  for (float v : values) m(0, j++) = v;
  return m;
}

// |actual − expected| allowed by `tol` at `expected`, for scalars.
double Allowed(const Tolerance& tol, double expected) {
  return tol.atol + tol.rtol * std::abs(expected);
}

// `m` itself when it is rows x cols; otherwise records a failure and returns NaNs of that
// shape, so that a wrongly shaped result fails its test instead of tripping an Eigen
// assertion that would end the whole test binary.
Matrix Shaped(const Matrix& m, Eigen::Index rows, Eigen::Index cols, std::string_view what) {
  if (m.rows() == rows && m.cols() == cols) return m;
  ADD_FAILURE() << what << " is " << ShapeOf(m) << ", expected " << ShapeString(rows, cols);
  return Matrix::Constant(rows, cols, std::numeric_limits<float>::quiet_NaN());
}

// Success when `now` is `before` bit for bit: what a call that throws must leave behind.
::testing::AssertionResult Same(const Matrix& now, const Matrix& before) {
  if (now.rows() != before.rows() || now.cols() != before.cols()) {
    return ::testing::AssertionFailure() << "the shape changed from " << ShapeOf(before) << " to "
                                         << ShapeOf(now) << " (a call that throws must not write)";
  }
  for (Eigen::Index i = 0; i < now.rows(); ++i) {
    for (Eigen::Index j = 0; j < now.cols(); ++j) {
      if (!(now(i, j) == before(i, j))) {
        return ::testing::AssertionFailure()
               << "entry (" << i << ", " << j << ") changed from " << before(i, j) << " to "
               << now(i, j) << " (a call that throws must not write)";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// The fixture quadratic's gradient at θ: θ·H.
Matrix QuadraticGrad(const Matrix& theta, const Matrix& h) { return theta * h; }

// ½·θ·H·θᵀ, in double.
double QuadraticLoss(const Matrix& theta, const Matrix& h) {
  const MatrixD t = D(theta);
  return 0.5 * (t * D(h) * t.transpose())(0, 0);
}

// A random symmetric positive definite H = AᵀA/n + 0.05·I (eigenvalues from 0.05 to about
// 4), exactly symmetric in float (symmetrized in double, then rounded entry by entry).
Matrix RandomSpd(Rng& rng, int n) {
  const MatrixD a = RandomMatrix(rng, n, n).cast<double>();
  const MatrixD h = a.transpose() * a / n + 0.05 * MatrixD::Identity(n, n);
  const MatrixD symmetric = 0.5 * (h + h.transpose());
  return symmetric.cast<float>();
}

// A random matrix whose entries are at least `floor` in magnitude (so that ε, 1e-8, is
// negligible against √v̂ in Adam).
Matrix RandomAwayFromZero(Rng& rng, Eigen::Index rows, Eigen::Index cols, float floor) {
  Matrix m = RandomMatrix(rng, rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) {
      const float sign = m(i, j) < 0 ? -1.0f : 1.0f;
      m(i, j) = sign * std::max(std::abs(m(i, j)), floor);
    }
  }
  return m;
}

ref::AdamConfig RefConfig(const AdamConfig& c) {
  ref::AdamConfig r;
  r.lr = c.lr;
  r.beta1 = c.beta1;
  r.beta2 = c.beta2;
  r.eps = c.eps;
  r.weight_decay = c.weight_decay;
  r.decoupled = c.decay == WeightDecay::kDecoupled;
  r.bias_correction = c.bias_correction;
  return r;
}

// ---------------------------------------------------------------------------------
// Step 1: gradient descent and the learning rate.

// GD on the fixture quadratic from θ₀: the trajectory [steps + 1, 2].
Matrix GdOnQuadratic(float lr, Eigen::Index steps) {
  const Fixture& fx = Quadratic();
  const Matrix h = fx.Matrix("H");
  Matrix theta = fx.Matrix("theta0");
  Matrix rows(steps + 1, theta.cols());
  rows.row(0) = theta;
  for (Eigen::Index s = 1; s <= steps; ++s) {
    GdStep(lr, QuadraticGrad(theta, h), &theta);
    rows.row(s) = Shaped(theta, 1, rows.cols(), "param");
  }
  return rows;
}

void ExpectGdFixture(const char* lr_key, const char* trajectory_key) {
  const Fixture& fx = Quadratic();
  const Matrix expected = fx.Matrix(trajectory_key);
  EXPECT_ALLCLOSE(GdOnQuadratic(F(fx.Scalar(lr_key)), expected.rows() - 1), expected,
                  fx.tolerance());
}

TEST(Step1_GradientDescent, FixtureConvergesBelowTheCriticalRate) {
  ExpectGdFixture("lr_converges", "gd_converges");
}

TEST(Step1_GradientDescent, FixtureOscillatesNearTheCriticalRate) {
  ExpectGdFixture("lr_oscillates", "gd_oscillates");
}

TEST(Step1_GradientDescent, FixtureDivergesAboveTheCriticalRate) {
  ExpectGdFixture("lr_diverges", "gd_diverges");
}

TEST(Step1_GradientDescent, FixtureCriticalLearningRate) {
  const Fixture& fx = Quadratic();
  const double expected = fx.Scalar("critical_lr");
  EXPECT_NEAR(CriticalLearningRate(fx.Matrix("H")), expected, Allowed(fx.tolerance(), expected));
}

TEST(Step1_GradientDescent, SubtractsLrTimesTheGradient) {
  Rng rng(1101);
  const Matrix theta0 = RandomMatrix(rng, 5, 7);
  const Matrix g = RandomMatrix(rng, 5, 7);
  const float lr = 0.05f;
  Matrix theta = theta0;
  GdStep(lr, g, &theta);
  EXPECT_ALLCLOSE(theta, D(theta0) - double{lr} * D(g), kFewRoundings);
}

TEST(Step1_GradientDescent, ZeroLearningRateChangesNothing) {
  Rng rng(1102);
  const Matrix theta0 = RandomMatrix(rng, 3, 4);
  Matrix theta = theta0;
  GdStep(0.0f, RandomMatrix(rng, 3, 4), &theta);
  EXPECT_TRUE(Same(theta, theta0)) << "θ − 0·g is θ exactly";
}

// On f = ½·θ·H·θᵀ every eigendirection of H is multiplied by (1 − lr·λ) per step: below
// 2/λ_max all of them shrink and the loss falls at every step; above it the stiffest one
// grows by |1 − lr·λ_max| = 1.2 per step (1.2¹²⁰ = 3e9 for the loss over 60 steps).
TEST(Step1_GradientDescent, LossFallsBelowTheCriticalRateAndGrowsAboveIt) {
  Rng rng(1103);
  for (int n : {2, 5, 8}) {
    const Matrix h = RandomSpd(rng, n);
    const Matrix theta0 = RandomMatrix(rng, 1, n);
    const double critical = CriticalLearningRate(h);
    for (double factor : {0.9, 1.1}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " lr = " << factor << "·2/λ_max");
      Matrix theta = theta0;
      const double initial = QuadraticLoss(theta, h);
      double loss = initial;
      int rises = 0;
      for (int s = 0; s < 60; ++s) {
        GdStep(F(factor * critical), QuadraticGrad(theta, h), &theta);
        const double next = QuadraticLoss(theta, h);
        if (next > loss * (1.0 + 1e-6)) ++rises;
        loss = next;
      }
      if (factor < 1.0) {
        EXPECT_EQ(rises, 0) << "below the critical rate the loss falls at every step";
        EXPECT_LT(loss, 0.5 * initial);
      } else {
        EXPECT_GT(loss, 1e3 * initial) << "above the critical rate gradient descent diverges";
      }
    }
  }
}

TEST(Step1_GradientDescent, CriticalLearningRateOfANonDiagonalHessian) {
  // Eigenvalues (5 ± √5)/2 = 3.618 and 1.382: not the largest diagonal entry (3), not the
  // largest row sum (4), not the Frobenius norm (3.873).
  Matrix h(2, 2);
  h << 2, 1,  //
      1, 3;
  const double expected = 2.0 / ((5.0 + std::sqrt(5.0)) / 2.0);
  EXPECT_NEAR(CriticalLearningRate(h), expected, 1e-6 * expected);
}

TEST(Step1_GradientDescent, CriticalLearningRateUsesTheLargestEigenvalueNotTheLargestMagnitude) {
  // Eigenvalues 1 and −5 (eigenvectors (1, 1) and (1, −1)): λ_max = 1, so 2/λ_max = 2.
  // Power iteration finds the eigenvalue of largest magnitude, −5, instead.
  Matrix h(2, 2);
  h << -2, 3,  //
      3, -2;
  EXPECT_NEAR(CriticalLearningRate(h), 2.0, 1e-6);
}

// A backward-stable eigensolver in float errs by a small multiple of u·‖H‖₂ = 6e-8·‖H‖₂,
// with ‖H‖₂ <= 10·λ_max here (the shift below): 6e-6 of λ_max for a multiple of ten.
// 1e-4 relative leaves a margin of fifteen; the slips worth catching (the eigenvalue of
// largest magnitude, a Gershgorin bound, the largest diagonal entry) are off by percents.
TEST(Step1_GradientDescent, CriticalLearningRateMatchesReferenceOnRandomSymmetricMatrices) {
  Rng rng(1104);
  for (int n : {1, 2, 3, 5, 8, 16, 17, 33}) {
    const Matrix a = RandomMatrix(rng, n, n);
    Matrix h = 0.5f * (a + a.transpose());  // exactly symmetric: float addition commutes
    std::vector<double> eigenvalues = ref::SymmetricEigenvalues(D(h));
    const double magnitude = std::max(std::abs(eigenvalues.front()), std::abs(eigenvalues.back()));
    if (eigenvalues.back() < 0.1 * magnitude) {  // make λ_max clearly positive
      h.diagonal().array() += F(magnitude);
      eigenvalues = ref::SymmetricEigenvalues(D(h));
    }
    const double expected = 2.0 / eigenvalues.back();
    EXPECT_NEAR(CriticalLearningRate(h), expected, 1e-4 * expected) << "n=" << n;
  }
}

TEST(Step1_GradientDescent, CriticalLearningRateAcceptsAsymmetryFromRounding) {
  // One float ulp of asymmetry (1.2e-7 relative), well inside the contract's 1e-6.
  Matrix h(2, 2);
  h << 2, 1,  //
      std::nextafter(1.0f, 2.0f), 3;
  const double expected = 2.0 / ((5.0 + std::sqrt(5.0)) / 2.0);
  EXPECT_NEAR(CriticalLearningRate(h), expected, 1e-6);
}

TEST(Step1_GradientDescent, GdStepRejectsBadArguments) {
  const Matrix param0 = Row({1.0f, -2.0f});
  Matrix param = param0;
  const Matrix grad = Row({0.5f, 0.25f});
  EXPECT_INVALID_ARGUMENT(GdStep(0.1f, Matrix::Ones(2, 3), &param), {"grad", "1x2", "2x3"});
  EXPECT_TRUE(Same(param, param0));
  EXPECT_INVALID_ARGUMENT(GdStep(-0.1f, grad, &param), {"lr", "-0.1"});
  EXPECT_TRUE(Same(param, param0));
  Matrix bad = grad;
  bad(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(GdStep(0.1f, bad, &param), {"grad(0, 1)", "nan"});
  EXPECT_TRUE(Same(param, param0));
  bad(0, 1) = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(GdStep(0.1f, bad, &param), {"grad(0, 1)", "inf"});
  EXPECT_TRUE(Same(param, param0));
  bad = grad;
  bad(0, 0) = -std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(GdStep(0.1f, bad, &param), {"grad(0, 0)", "-inf"});
  EXPECT_TRUE(Same(param, param0));
  EXPECT_INVALID_ARGUMENT(GdStep(0.1f, grad, nullptr), {"param"});
}

TEST(Step1_GradientDescent, CriticalLearningRateRejectsBadHessians) {
  EXPECT_INVALID_ARGUMENT(CriticalLearningRate(Matrix::Ones(2, 3)), {"hessian", "square", "2x3"});
  EXPECT_INVALID_ARGUMENT(CriticalLearningRate(Matrix(0, 0)), {"hessian", "0x0"});
  Matrix asymmetric(2, 2);
  asymmetric << 1, 1,  //
      2, 1;
  EXPECT_INVALID_ARGUMENT(CriticalLearningRate(asymmetric), {"symmetric", "hessian(0, 1)"});
  Matrix negative(2, 2);
  negative << -1, 0,  //
      0, -3;
  EXPECT_INVALID_ARGUMENT(CriticalLearningRate(negative), {"eigenvalue"});
  EXPECT_INVALID_ARGUMENT(CriticalLearningRate(Matrix::Zero(3, 3)), {"eigenvalue"});
}

// ---------------------------------------------------------------------------------
// Step 2: momentum (heavy ball) and Nesterov.

// A run on the fixture quadratic: θ after each step (row 0: θ₀) and the state after each.
struct MomentumRun {
  Matrix thetas;  // [steps + 1, n]
  Matrix states;  // [steps, n]
};

MomentumRun MomentumOnQuadratic(bool nesterov, Eigen::Index steps) {
  const Fixture& fx = Quadratic();
  const MomentumConfig config{F(fx.Scalar("momentum_lr")), F(fx.Scalar("momentum_beta")), nesterov};
  const Matrix h = fx.Matrix("H");
  Matrix theta = fx.Matrix("theta0");
  MomentumState state;
  MomentumRun run{Matrix(steps + 1, theta.cols()), Matrix(steps, theta.cols())};
  run.thetas.row(0) = theta;
  for (Eigen::Index s = 0; s < steps; ++s) {
    MomentumStep(config, QuadraticGrad(theta, h), &state, &theta);
    run.thetas.row(s + 1) = Shaped(theta, 1, theta.cols(), "param");
    run.states.row(s) = Shaped(state.velocity, 1, theta.cols(), "state.velocity");
  }
  return run;
}

TEST(Step2_Momentum, FixtureHeavyBall) {
  const Fixture& fx = Quadratic();
  const Matrix expected = fx.Matrix("heavy_ball");
  const MomentumRun run = MomentumOnQuadratic(false, expected.rows() - 1);
  EXPECT_ALLCLOSE(run.thetas, expected, fx.tolerance());
  EXPECT_ALLCLOSE(run.states, fx.Matrix("heavy_ball_velocity"), fx.tolerance());
}

TEST(Step2_Momentum, FixtureNesterov) {
  const Fixture& fx = Quadratic();
  const Matrix expected = fx.Matrix("nesterov");
  const MomentumRun run = MomentumOnQuadratic(true, expected.rows() - 1);
  EXPECT_ALLCLOSE(run.thetas, expected, fx.tolerance());
  EXPECT_ALLCLOSE(run.states, fx.Matrix("nesterov_velocity"), fx.tolerance());
}

TEST(Step2_Momentum, NesterovStepsAlongGradientPlusBetaVelocity) {
  // β = 0.5, lr = 0.1, from θ = 0: g₁ = (1, −2), g₂ = (3, 1).
  //   v₁ = g₁;             heavy ball θ₁ = −0.1·v₁ = (−0.1, 0.2)
  //                        Nesterov   θ₁ = −0.1·(g₁ + 0.5·v₁) = (−0.15, 0.3)
  //   v₂ = 0.5·v₁ + g₂ = (3.5, 0);
  //                        heavy ball θ₂ = θ₁ − 0.1·v₂ = (−0.45, 0.2)
  //                        Nesterov   θ₂ = θ₁ − 0.1·(g₂ + 0.5·v₂) = (−0.625, 0.2)
  const Matrix g1 = Row({1.0f, -2.0f});
  const Matrix g2 = Row({3.0f, 1.0f});
  const Matrix expected_v2 = Row({3.5f, 0.0f});
  const MomentumConfig heavy{0.1f, 0.5f, false};
  const MomentumConfig nesterov{0.1f, 0.5f, true};
  Matrix theta_heavy = Matrix::Zero(1, 2);
  Matrix theta_nesterov = Matrix::Zero(1, 2);
  MomentumState heavy_state;
  MomentumState nesterov_state;
  MomentumStep(heavy, g1, &heavy_state, &theta_heavy);
  MomentumStep(nesterov, g1, &nesterov_state, &theta_nesterov);
  EXPECT_ALLCLOSE(theta_heavy, Row({-0.1f, 0.2f}), kFewRoundings);
  EXPECT_ALLCLOSE(theta_nesterov, Row({-0.15f, 0.3f}), kFewRoundings);
  MomentumStep(heavy, g2, &heavy_state, &theta_heavy);
  MomentumStep(nesterov, g2, &nesterov_state, &theta_nesterov);
  EXPECT_ALLCLOSE(theta_heavy, Row({-0.45f, 0.2f}), kFewRoundings);
  EXPECT_ALLCLOSE(theta_nesterov, Row({-0.625f, 0.2f}), kFewRoundings);
  // Both keep the same velocity; only the step taken from it differs.
  EXPECT_ALLCLOSE(heavy_state.velocity, expected_v2, kFewRoundings);
  EXPECT_ALLCLOSE(nesterov_state.velocity, expected_v2, kFewRoundings);
}

// With β = 0 the velocity is the gradient (0·v + g = g exactly), and both variants step
// θ − lr·g: the same single operation as GdStep, hence the same float to within a
// rounding (1 ulp: 1.2e-7 relative).
TEST(Step2_Momentum, BetaZeroIsGradientDescent) {
  Rng rng(1201);
  for (bool nesterov : {false, true}) {
    const MomentumConfig config{0.05f, 0.0f, nesterov};
    Matrix theta = RandomMatrix(rng, 4, 3);
    Matrix theta_gd = theta;
    MomentumState state;
    for (int s = 0; s < 5; ++s) {
      const Matrix g = RandomMatrix(rng, 4, 3);
      MomentumStep(config, g, &state, &theta);
      GdStep(config.lr, g, &theta_gd);
      EXPECT_ALLCLOSE(state.velocity, g, (Tolerance{0, 0})) << "β = 0: v = g";
    }
    EXPECT_ALLCLOSE(theta, theta_gd, (Tolerance{1e-7, 2.4e-7})) << "nesterov=" << nesterov;
  }
}

TEST(Step2_Momentum, EmptyStateStartsAtZeroVelocity) {
  Rng rng(1202);
  const Matrix theta0 = RandomMatrix(rng, 3, 5);
  const Matrix g = RandomMatrix(rng, 3, 5);
  const MomentumConfig config{0.1f, 0.9f, false};
  Matrix theta = theta0;
  MomentumState state;
  MomentumStep(config, g, &state, &theta);
  EXPECT_ALLCLOSE(state.velocity, g, (Tolerance{0, 0})) << "v = β·0 + g = g";
  EXPECT_ALLCLOSE(theta, D(theta0) - 0.1 * D(g), kFewRoundings);
}

TEST(Step2_Momentum, ContinuesFromAGivenVelocity) {
  Rng rng(1203);
  for (bool nesterov : {false, true}) {
    const Matrix theta0 = RandomMatrix(rng, 4, 6);
    const Matrix v0 = RandomMatrix(rng, 4, 6, 3.0);
    const Matrix g = RandomMatrix(rng, 4, 6);
    const MomentumConfig config{0.05f, 0.8f, nesterov};
    Matrix theta = theta0;
    MomentumState state;
    state.velocity = v0;
    MomentumStep(config, g, &state, &theta);
    MatrixD v_ref = D(v0);
    MatrixD theta_ref = D(theta0);
    ref::MomentumStep(config.lr, config.beta, nesterov, D(g), &v_ref, &theta_ref);
    SCOPED_TRACE(::testing::Message() << "nesterov=" << nesterov);
    EXPECT_ALLCLOSE(state.velocity, v_ref, kFewRoundings) << "v = β·v₀ + g";
    EXPECT_ALLCLOSE(theta, theta_ref, kFewRoundings);
  }
}

TEST(Step2_Momentum, MatchesReferenceOverManySteps) {
  Rng rng(1204);
  for (auto [rows, cols] : kShapes) {
    for (bool nesterov : {false, true}) {
      const MomentumConfig config{0.02f, 0.9f, nesterov};
      Matrix theta = RandomMatrix(rng, rows, cols);
      MatrixD theta_ref = D(theta);
      MomentumState state;
      MatrixD v_ref;
      for (int s = 0; s < 25; ++s) {
        const Matrix g = RandomMatrix(rng, rows, cols);
        MomentumStep(config, g, &state, &theta);
        ref::MomentumStep(config.lr, config.beta, nesterov, D(g), &v_ref, &theta_ref);
      }
      SCOPED_TRACE(::testing::Message() << rows << "x" << cols << " nesterov=" << nesterov);
      EXPECT_ALLCLOSE(theta, theta_ref, kStepsVsReference);
      EXPECT_ALLCLOSE(state.velocity, v_ref, kStepsVsReference);
    }
  }
}

TEST(Step2_Momentum, RejectsBadArguments) {
  const Matrix param0 = Row({1.0f, -2.0f});
  const Matrix velocity0 = Row({0.5f, 0.5f});
  const Matrix grad = Row({0.25f, 4.0f});
  Matrix param = param0;
  MomentumState state;
  state.velocity = velocity0;
  const auto untouched = [&] {
    EXPECT_TRUE(Same(param, param0)) << "param";
    EXPECT_TRUE(Same(state.velocity, velocity0)) << "state.velocity";
  };
  MomentumConfig config{0.1f, 0.9f, false};
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, Matrix::Ones(2, 3), &state, &param),
                          {"grad", "1x2", "2x3"});
  untouched();
  Matrix bad = grad;
  bad(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, bad, &state, &param), {"grad(0, 1)", "nan"});
  untouched();
  bad(0, 1) = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, bad, &state, &param), {"grad(0, 1)", "inf"});
  untouched();
  config.beta = 1.0f;
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, &state, &param), {"beta", "1"});
  untouched();
  config.beta = -0.1f;
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, &state, &param), {"beta", "-0.1"});
  untouched();
  config = MomentumConfig{-0.1f, 0.9f, false};
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, &state, &param), {"lr", "-0.1"});
  untouched();
  config = MomentumConfig{0.1f, 0.9f, true};
  MomentumState wrong;
  wrong.velocity = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, &wrong, &param), {"state.velocity", "2x2"});
  EXPECT_TRUE(Same(param, param0));
  EXPECT_TRUE(Same(wrong.velocity, Matrix::Ones(2, 2)));
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, nullptr, &param), {"state"});
  EXPECT_TRUE(Same(param, param0));
  EXPECT_INVALID_ARGUMENT(MomentumStep(config, grad, &state, nullptr), {"param"});
  untouched();
}

// ---------------------------------------------------------------------------------
// Step 3: Adam, its two moments and their bias correction.

AdamConfig QuadraticAdam() {
  const Fixture& fx = Quadratic();
  AdamConfig config;
  config.lr = F(fx.Scalar("adam_lr"));
  config.beta1 = F(fx.Scalar("beta1"));
  config.beta2 = F(fx.Scalar("beta2"));
  config.eps = F(fx.Scalar("eps"));
  return config;
}

struct AdamRun {
  Matrix thetas;            // [steps + 1, n], row 0 is θ₀
  Matrix grads;             // [steps, n], the gradient fed to each step
  Matrix m;                 // [steps, n], state.m after each step
  Matrix v;                 // [steps, n], state.v after each step
  std::vector<int> counts;  // state.step after each step
};

// Adam on the fixture quadratic; each gradient is taken at the learner's own θ.
AdamRun AdamOnQuadratic(const AdamConfig& config, Eigen::Index steps) {
  const Fixture& fx = Quadratic();
  const Matrix h = fx.Matrix("H");
  Matrix theta = fx.Matrix("theta0");
  const Eigen::Index n = theta.cols();
  AdamRun run{Matrix(steps + 1, n), Matrix(steps, n), Matrix(steps, n), Matrix(steps, n), {}};
  run.thetas.row(0) = theta;
  AdamState state;
  for (Eigen::Index s = 0; s < steps; ++s) {
    const Matrix g = QuadraticGrad(theta, h);
    AdamStep(config, g, &state, &theta);
    run.grads.row(s) = g;
    run.thetas.row(s + 1) = Shaped(theta, 1, n, "param");
    run.m.row(s) = Shaped(state.m, 1, n, "state.m");
    run.v.row(s) = Shaped(state.v, 1, n, "state.v");
    run.counts.push_back(state.step);
  }
  return run;
}

Eigen::Index QuadraticAdamSteps() { return Quadratic().Matrix("adam").rows() - 1; }

TEST(Step3_Adam, FixtureTrajectory) {
  const Fixture& fx = Quadratic();
  EXPECT_ALLCLOSE(AdamOnQuadratic(QuadraticAdam(), QuadraticAdamSteps()).thetas, fx.Matrix("adam"),
                  fx.tolerance());
}

TEST(Step3_Adam, FixtureGradientsAlongTheTrajectory) {
  const Fixture& fx = Quadratic();
  EXPECT_ALLCLOSE(AdamOnQuadratic(QuadraticAdam(), QuadraticAdamSteps()).grads,
                  fx.Matrix("adam_grad"), fx.tolerance());
}

TEST(Step3_Adam, FixtureMoments) {
  const Fixture& fx = Quadratic();
  const AdamRun run = AdamOnQuadratic(QuadraticAdam(), QuadraticAdamSteps());
  EXPECT_ALLCLOSE(run.m, fx.Matrix("adam_m"), fx.tolerance()) << "state.m after each step";
  EXPECT_ALLCLOSE(run.v, fx.Matrix("adam_v"), fx.tolerance()) << "state.v after each step";
}

// m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ) from the state after step t (computed here in
// double from the learner's m and v; one more rounding than the fixture allows for).
TEST(Step3_Adam, FixtureBiasCorrectedMoments) {
  const Fixture& fx = Quadratic();
  const AdamConfig config = QuadraticAdam();
  const AdamRun run = AdamOnQuadratic(config, QuadraticAdamSteps());
  MatrixD m_hat = D(run.m);
  MatrixD v_hat = D(run.v);
  for (Eigen::Index s = 0; s < m_hat.rows(); ++s) {
    const double t = static_cast<double>(s + 1);
    m_hat.row(s) /= 1.0 - std::pow(double{config.beta1}, t);
    v_hat.row(s) /= 1.0 - std::pow(double{config.beta2}, t);
  }
  EXPECT_ALLCLOSE(m_hat, fx.Matrix("adam_m_hat"), fx.tolerance());
  EXPECT_ALLCLOSE(v_hat, fx.Matrix("adam_v_hat"), fx.tolerance());
}

TEST(Step3_Adam, FixtureStepCounter) {
  const AdamRun run = AdamOnQuadratic(QuadraticAdam(), QuadraticAdamSteps());
  EXPECT_EQ(run.counts, (std::vector<int>{1, 2, 3})) << "state.step counts the updates made";
}

TEST(Step3_Adam, FixtureWithoutBiasCorrection) {
  const Fixture& fx = Quadratic();
  AdamConfig config = QuadraticAdam();
  config.bias_correction = false;
  const AdamRun run = AdamOnQuadratic(config, 1);
  // θ₁ = 1 − 0.1·0.1/(√0.001 + ε) = 0.683772: the first step is 3.16 times too long.
  EXPECT_ALLCLOSE(run.thetas.row(1), fx.Matrix("adam_uncorrected_first"), fx.tolerance());
  EXPECT_ALLCLOSE(run.m.row(0), fx.Matrix("adam_m").row(0), fx.tolerance())
      << "the moments themselves do not depend on the correction";
}

// With the corrections of the incremented t = 1, m̂ = g and v̂ = g², so the first step is
// lr·g/(|g| + ε): lr·sign(g) to within ε/|g| <= 1e-6 for |g| >= 0.01. Five roundings in the
// ratio and one in θ (from θ = 0) add 4e-7; 1e-5 relative leaves a margin of seven. With t
// not incremented first, 1 − β⁰ = 0 divides by zero; without the correction the step is
// (1 − β₁)/√(1 − β₂) = 3.16 times lr.
TEST(Step3_Adam, FirstStepIsLrTimesTheSignOfTheGradient) {
  Rng rng(1301);
  for (auto [beta1, beta2] : {std::pair{0.9f, 0.999f}, {0.5f, 0.9f}, {0.0f, 0.99f}}) {
    Matrix g(1, 12);
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      const double magnitude = std::pow(10.0, rng.Uniform(-2.0, 3.0));
      g(0, j) = F(rng.Uniform() < 0.5 ? -magnitude : magnitude);
    }
    AdamConfig config;
    config.lr = 1e-3f;
    config.beta1 = beta1;
    config.beta2 = beta2;
    Matrix theta = Matrix::Zero(1, 12);
    AdamState state;
    AdamStep(config, g, &state, &theta);
    const MatrixD expected = -1e-3 * D(g).array().sign().matrix();
    SCOPED_TRACE(::testing::Message() << "β₁=" << beta1 << " β₂=" << beta2);
    EXPECT_ALLCLOSE(theta, expected, (Tolerance{0, 1e-5}));
    EXPECT_EQ(state.step, 1);
  }
}

// A constant gradient keeps m̂ = g and v̂ = g² at every t when the corrections use β₁ᵗ and
// β₂ᵗ of the incremented t, so every step moves θ by lr·sign(g). With β₁·t instead of β₁ᵗ
// the second step's 1 − 1.8 turns m̂ negative; a t that lags by one stretches every step.
// Float: m and v gather about 2u per step (2.4e-6 after ten), and a power of β₂ formed in
// float loses up to u/(1 − β₂ᵗ) = 3e-5 when t = 2, β₂ = 0.999; 1e-4 leaves a margin of
// three, while the slips are off by 5% (β₂·t at t = 2) or more.
TEST(Step3_Adam, ConstantGradientMovesLrAtEveryStep) {
  Rng rng(1302);
  for (auto [beta1, beta2] : {std::pair{0.9f, 0.999f}, {0.5f, 0.9f}, {0.95f, 0.99f}}) {
    const Matrix g = RandomAwayFromZero(rng, 1, 6, 0.1f);
    AdamConfig config;
    config.lr = 1e-2f;
    config.beta1 = beta1;
    config.beta2 = beta2;
    Matrix theta = Matrix::Zero(1, 6);
    AdamState state;
    const MatrixD expected_move = -1e-2 * D(g).array().sign().matrix();
    for (int t = 1; t <= 10; ++t) {
      const Matrix before = theta;
      AdamStep(config, g, &state, &theta);
      SCOPED_TRACE(::testing::Message() << "β₁=" << beta1 << " β₂=" << beta2 << " t=" << t);
      EXPECT_ALLCLOSE(D(theta) - D(before), expected_move, (Tolerance{0, 1e-4}));
      EXPECT_EQ(state.step, t);
    }
  }
}

// g = 1e-8 = ε on the first step: m̂ = 1e-8 and √v̂ = 1e-8, so the ratio is
// 1e-8/(1e-8 + 1e-8) = 0.5. With ε inside the root, √(1e-16 + 1e-8) = 1e-4 and the
// ratio is 1e-4. (Float handles 1e-19 = (1 − β₂)·g² as a normal number.)
TEST(Step3_Adam, EpsilonIsAddedOutsideTheSquareRoot) {
  AdamConfig config;
  config.lr = 1.0f;
  config.eps = 1e-8f;
  Matrix theta = Matrix::Zero(1, 2);
  AdamState state;
  AdamStep(config, Row({1e-8f, -1e-8f}), &state, &theta);
  EXPECT_ALLCLOSE(theta, Row({-0.5f, 0.5f}), (Tolerance{0, 1e-4}));
}

// Adam divides each coordinate's m̂ by its own √v̂, so multiplying every gradient entry by
// a positive factor of its own (the same at every step) leaves θ unchanged, up to ε's
// share (√v̂ is at least the smallest |g|, 0.05·0.1, so ε/√v̂ <= 2e-6 of a step of
// lr = 1e-3: 2e-9) and the rounding of θ (at most 1 ulp per step apart, 6e-7 relative
// over five). 1e-6 relative plus 1e-7 absolute; plain SGD, a global normalization or a
// √ left off moves θ by up to 1000·lr.
TEST(Step3_Adam, InvariantToScalingEachCoordinateOfTheGradient) {
  Rng rng(1303);
  const Matrix theta0 = RandomMatrix(rng, 4, 6);
  Matrix scale(4, 6);
  for (Eigen::Index i = 0; i < scale.size(); ++i) {
    scale.data()[i] = F(std::pow(10.0, rng.Uniform(-1.0, 3.0)));
  }
  for (float global : {1.0f, 1000.0f}) {
    AdamConfig config;
    config.lr = 1e-3f;
    Matrix theta = theta0;
    Matrix theta_scaled = theta0;
    AdamState state;
    AdamState state_scaled;
    for (int s = 0; s < 5; ++s) {
      const Matrix g = RandomAwayFromZero(rng, 4, 6, 0.05f);
      const Matrix scaled = global == 1.0f ? Matrix(g.cwiseProduct(scale)) : Matrix(global * g);
      AdamStep(config, g, &state, &theta);
      AdamStep(config, scaled, &state_scaled, &theta_scaled);
    }
    SCOPED_TRACE(global == 1.0f ? "each coordinate scaled by 0.1 to 1000" : "all scaled by 1000");
    EXPECT_ALLCLOSE(theta_scaled, theta, (Tolerance{1e-7, 1e-6}));
    EXPECT_GT((D(theta) - D(theta0)).cwiseAbs().maxCoeff(), 1e-4) << "θ did move";
  }
}

TEST(Step3_Adam, ContinuesFromAGivenState) {
  Rng rng(1304);
  const Matrix theta0 = RandomMatrix(rng, 3, 4);
  const Matrix g = RandomMatrix(rng, 3, 4);
  AdamConfig config;
  config.lr = 1e-2f;
  AdamState state;
  state.m = RandomMatrix(rng, 3, 4, 0.5);
  state.v = RandomMatrix(rng, 3, 4).cwiseAbs2() + Matrix::Constant(3, 4, 0.01f);
  state.step = 7;
  ref::AdamState state_ref{D(state.m), D(state.v), 7};
  Matrix theta = theta0;
  MatrixD theta_ref = D(theta0);
  AdamStep(config, g, &state, &theta);
  ref::AdamStep(RefConfig(config), D(g), &state_ref, &theta_ref);
  EXPECT_EQ(state.step, 8);
  EXPECT_ALLCLOSE(state.m, state_ref.m, kFewRoundings) << "m = β₁·m₀ + (1 − β₁)·g";
  EXPECT_ALLCLOSE(state.v, state_ref.v, kFewRoundings) << "v = β₂·v₀ + (1 − β₂)·g²";
  EXPECT_ALLCLOSE(theta, theta_ref, kFewRoundings) << "corrected with t = 8";
}

TEST(Step3_Adam, MatchesReferenceOverManySteps) {
  Rng rng(1305);
  std::vector<AdamConfig> configs(4);
  configs[0].lr = 1e-2f;
  configs[1].lr = 1e-2f;
  configs[1].bias_correction = false;
  configs[2].lr = 1e-2f;
  configs[2].beta1 = 0.0f;
  configs[2].beta2 = 0.9f;
  configs[3].lr = 0.1f;
  configs[3].beta1 = 0.5f;
  configs[3].beta2 = 0.99f;
  configs[3].eps = 1e-3f;
  for (auto [rows, cols] : kShapes) {
    for (std::size_t c = 0; c < configs.size(); ++c) {
      const AdamConfig& config = configs[c];
      Matrix theta = RandomMatrix(rng, rows, cols);
      MatrixD theta_ref = D(theta);
      AdamState state;
      ref::AdamState state_ref;
      for (int s = 0; s < 20; ++s) {
        const Matrix g = RandomMatrix(rng, rows, cols);
        AdamStep(config, g, &state, &theta);
        ref::AdamStep(RefConfig(config), D(g), &state_ref, &theta_ref);
      }
      SCOPED_TRACE(::testing::Message() << rows << "x" << cols << " config " << c);
      EXPECT_ALLCLOSE(theta, theta_ref, kStepsVsReference);
      EXPECT_ALLCLOSE(state.m, state_ref.m, kStepsVsReference);
      EXPECT_ALLCLOSE(state.v, state_ref.v, kStepsVsReference);
      EXPECT_EQ(state.step, 20);
    }
  }
}

TEST(Step3_Adam, RejectsBadArguments) {
  const Matrix param0 = Row({1.0f, -2.0f});
  const Matrix m0 = Row({0.1f, -0.1f});
  const Matrix v0 = Row({0.2f, 0.3f});
  const Matrix grad = Row({0.25f, 4.0f});
  Matrix param = param0;
  AdamState state;
  state.m = m0;
  state.v = v0;
  state.step = 3;
  const auto untouched = [&] {
    EXPECT_TRUE(Same(param, param0)) << "param";
    EXPECT_TRUE(Same(state.m, m0)) << "state.m";
    EXPECT_TRUE(Same(state.v, v0)) << "state.v";
    EXPECT_EQ(state.step, 3) << "state.step";
  };
  const AdamConfig good;
  EXPECT_INVALID_ARGUMENT(AdamStep(good, Matrix::Ones(2, 3), &state, &param),
                          {"grad", "1x2", "2x3"});
  untouched();
  Matrix bad = grad;
  bad(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(AdamStep(good, bad, &state, &param), {"grad(0, 1)", "nan"});
  untouched();
  bad(0, 1) = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(AdamStep(good, bad, &state, &param), {"grad(0, 1)", "inf"});
  untouched();
  bad = grad;
  bad(0, 0) = -std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(AdamStep(good, bad, &state, &param), {"grad(0, 0)", "-inf"});
  untouched();
  AdamConfig config = good;
  config.beta1 = 1.0f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"beta1", "1"});
  untouched();
  config = good;
  config.beta1 = -0.1f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"beta1", "-0.1"});
  untouched();
  config = good;
  config.beta2 = 1.0f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"beta2", "1"});
  untouched();
  config = good;
  config.beta2 = 1.5f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"beta2", "1.5"});
  untouched();
  config = good;
  config.eps = 0.0f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"eps", "0"});
  untouched();
  config.eps = -1e-8f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"eps"});
  untouched();
  config = good;
  config.lr = -0.1f;
  EXPECT_INVALID_ARGUMENT(AdamStep(config, grad, &state, &param), {"lr", "-0.1"});
  untouched();

  AdamState wrong_m = state;
  wrong_m.m = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(AdamStep(good, grad, &wrong_m, &param), {"state.m", "2x2"});
  EXPECT_TRUE(Same(wrong_m.m, Matrix::Ones(2, 2)));
  EXPECT_TRUE(Same(wrong_m.v, v0));
  EXPECT_EQ(wrong_m.step, 3);
  AdamState wrong_v = state;
  wrong_v.v = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(AdamStep(good, grad, &wrong_v, &param), {"state.v", "2x2"});
  EXPECT_TRUE(Same(wrong_v.m, m0));
  EXPECT_EQ(wrong_v.step, 3);
  AdamState negative = state;
  negative.step = -1;
  EXPECT_INVALID_ARGUMENT(AdamStep(good, grad, &negative, &param), {"state.step", "-1"});
  EXPECT_TRUE(Same(negative.m, m0));
  EXPECT_TRUE(Same(negative.v, v0));
  EXPECT_EQ(negative.step, -1);
  untouched();
  EXPECT_INVALID_ARGUMENT(AdamStep(good, grad, nullptr, &param), {"state"});
  EXPECT_INVALID_ARGUMENT(AdamStep(good, grad, &state, nullptr), {"param"});
  untouched();
}

// ---------------------------------------------------------------------------------
// Step 4: AdamW, decoupled weight decay.

AdamConfig DecayConfig(WeightDecay decay) {
  const Fixture& fx = WeightDecayFixture();
  AdamConfig config;
  config.lr = F(fx.Scalar("lr"));
  config.weight_decay = F(fx.Scalar("weight_decay"));
  config.beta1 = F(fx.Scalar("beta1"));
  config.beta2 = F(fx.Scalar("beta2"));
  config.eps = F(fx.Scalar("eps"));
  config.decay = decay;
  return config;
}

// The fixture's two weights under a constant gradient: θ before, after each step.
Matrix DecayTrajectory(WeightDecay decay, Eigen::Index steps) {
  const Fixture& fx = WeightDecayFixture();
  const AdamConfig config = DecayConfig(decay);
  const Matrix g = fx.Matrix("grad");
  Matrix theta = fx.Matrix("theta0");
  Matrix rows(steps + 1, theta.cols());
  rows.row(0) = theta;
  AdamState state;
  for (Eigen::Index s = 1; s <= steps; ++s) {
    AdamStep(config, g, &state, &theta);
    rows.row(s) = Shaped(theta, 1, rows.cols(), "param");
  }
  return rows;
}

TEST(Step4_AdamW, FixtureDecoupled) {
  const Fixture& fx = WeightDecayFixture();
  const Matrix expected = fx.Matrix("adamw");
  EXPECT_ALLCLOSE(DecayTrajectory(WeightDecay::kDecoupled, expected.rows() - 1), expected,
                  fx.tolerance());
}

TEST(Step4_AdamW, FixtureL2) {
  const Fixture& fx = WeightDecayFixture();
  const Matrix expected = fx.Matrix("l2");
  EXPECT_ALLCLOSE(DecayTrajectory(WeightDecay::kL2, expected.rows() - 1), expected, fx.tolerance());
}

// With a zero gradient, AdamW's m̂ is 0 and θ only decays: θ·(1 − lr·λ) per step. Adam
// with L2 feeds λ·θ through the moments instead, which normalize it to a full step of lr
// (lr·λθ/(|λθ| + ε) = lr to within ε/|λθ| = 1e-7): L2 decay is not a decay at all in Adam.
TEST(Step4_AdamW, ZeroGradientDecaysByLrTimesLambdaInAdamWButMovesAFullLrInL2) {
  Rng rng(1401);
  const Matrix theta0 = RandomAwayFromZero(rng, 3, 4, 0.5f);
  const Matrix zero = Matrix::Zero(3, 4);
  AdamConfig config;
  config.lr = 0.01f;
  config.weight_decay = 0.1f;
  Matrix theta = theta0;
  AdamState state;
  const double factor = 1.0 - double{config.lr} * double{config.weight_decay};
  for (int t = 1; t <= 3; ++t) {
    AdamStep(config, zero, &state, &theta);
    EXPECT_ALLCLOSE(theta, D(theta0) * std::pow(factor, t), (Tolerance{1e-7, 1e-6}))
        << "AdamW after " << t << " steps of zero gradient: θ₀·(1 − lr·λ)^" << t;
  }
  config.decay = WeightDecay::kL2;
  theta = theta0;
  AdamState l2_state;
  AdamStep(config, zero, &l2_state, &theta);
  const MatrixD full_step = D(theta0) - 0.01 * D(theta0).array().sign().matrix();
  EXPECT_ALLCLOSE(theta, full_step, kFewRoundings) << "L2: one step of zero gradient";
}

// θ·(1 − lr·λ) − lr·r against θ − lr·r: AdamW minus Adam without decay is −lr·λ·θ
// exactly, whatever the gradient (its size here from 1e-3 to 1e3). Two float results of
// size |θ| <= 4 differ by at most 2 ulps beyond it: 1e-6 absolute.
TEST(Step4_AdamW, DecoupledDecayIsIndependentOfTheGradient) {
  Rng rng(1402);
  for (double size : {1e-3, 1.0, 1e3}) {
    const Matrix theta0 = RandomMatrix(rng, 2, 5);
    AdamConfig plain;
    plain.lr = 0.01f;
    AdamConfig decayed = plain;
    decayed.weight_decay = 0.1f;
    Matrix theta_plain = theta0;
    Matrix theta_decayed = theta0;
    AdamState state_plain;
    AdamState state_decayed;
    const Matrix g = RandomMatrix(rng, 2, 5, size);
    AdamStep(plain, g, &state_plain, &theta_plain);
    AdamStep(decayed, g, &state_decayed, &theta_decayed);
    SCOPED_TRACE(::testing::Message() << "gradient of size " << size);
    const double lr_lambda = double{decayed.lr} * double{decayed.weight_decay};
    EXPECT_ALLCLOSE(D(theta_decayed) - D(theta_plain), -lr_lambda * D(theta0),
                    (Tolerance{1e-6, 0}));
    EXPECT_ALLCLOSE(state_decayed.m, state_plain.m, (Tolerance{0, 0}))
        << "decoupled decay stays out of the moments";
  }
}

// λ = 0: both forms reduce to plain Adam (θ·1 and g + 0·θ are exact), bit for bit.
TEST(Step4_AdamW, ZeroWeightDecayMakesL2AndDecoupledIdentical) {
  Rng rng(1403);
  AdamConfig decoupled;
  decoupled.lr = 0.01f;
  decoupled.weight_decay = 0.0f;
  AdamConfig l2 = decoupled;
  l2.decay = WeightDecay::kL2;
  Matrix theta_a = RandomMatrix(rng, 4, 4);
  Matrix theta_b = theta_a;
  AdamState state_a;
  AdamState state_b;
  for (int s = 0; s < 5; ++s) {
    const Matrix g = RandomMatrix(rng, 4, 4);
    AdamStep(decoupled, g, &state_a, &theta_a);
    AdamStep(l2, g, &state_b, &theta_b);
  }
  EXPECT_ALLCLOSE(theta_b, theta_a, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(state_b.v, state_a.v, (Tolerance{0, 0}));
}

TEST(Step4_AdamW, MatchesReferenceWithWeightDecay) {
  Rng rng(1404);
  for (auto [rows, cols] : kShapes) {
    for (WeightDecay decay : {WeightDecay::kDecoupled, WeightDecay::kL2}) {
      AdamConfig config;
      config.lr = 1e-2f;
      config.weight_decay = 0.1f;
      config.decay = decay;
      Matrix theta = RandomMatrix(rng, rows, cols);
      MatrixD theta_ref = D(theta);
      AdamState state;
      ref::AdamState state_ref;
      for (int s = 0; s < 20; ++s) {
        const Matrix g = RandomMatrix(rng, rows, cols);
        AdamStep(config, g, &state, &theta);
        ref::AdamStep(RefConfig(config), D(g), &state_ref, &theta_ref);
      }
      SCOPED_TRACE(::testing::Message()
                   << rows << "x" << cols << (decay == WeightDecay::kL2 ? " L2" : " decoupled"));
      EXPECT_ALLCLOSE(theta, theta_ref, kStepsVsReference);
      EXPECT_ALLCLOSE(state.m, state_ref.m, kStepsVsReference);
      EXPECT_ALLCLOSE(state.v, state_ref.v, kStepsVsReference);
    }
  }
}

TEST(Step4_AdamW, RejectsNegativeWeightDecay) {
  const Matrix param0 = Row({1.0f, -2.0f});
  Matrix param = param0;
  AdamState state;
  for (WeightDecay decay : {WeightDecay::kDecoupled, WeightDecay::kL2}) {
    AdamConfig config;
    config.weight_decay = -0.1f;
    config.decay = decay;
    EXPECT_INVALID_ARGUMENT(AdamStep(config, Row({1.0f, 1.0f}), &state, &param),
                            {"weight_decay", "-0.1"});
    EXPECT_TRUE(Same(param, param0));
    EXPECT_EQ(state.m.size(), 0);
    EXPECT_EQ(state.v.size(), 0);
    EXPECT_EQ(state.step, 0);
  }
}

// ---------------------------------------------------------------------------------
// Step 5: linear warmup and cosine decay.

ScheduleConfig FixtureSchedule() {
  const Fixture& fx = Schedule();
  return ScheduleConfig{F(fx.Scalar("peak_lr")), F(fx.Scalar("min_lr")), fx.Int("warmup_steps"),
                        fx.Int("total_steps")};
}

TEST(Step5_Schedule, Fixture) {
  const Fixture& fx = Schedule();
  const ScheduleConfig config = FixtureSchedule();
  Matrix lr(1, fx.Int("steps_shown"));
  for (int s = 0; s < lr.cols(); ++s) lr(0, s) = LearningRateAt(config, s);
  EXPECT_ALLCLOSE(lr, fx.Matrix("lr"), fx.tolerance());
}

TEST(Step5_Schedule, FirstWarmupStepIsPeakOverWarmupNotZero) {
  const ScheduleConfig config{1e-3f, 1e-4f, 4, 12};
  EXPECT_NEAR(LearningRateAt(config, 0), 2.5e-4, 1e-10) << "peak·(0 + 1)/W: step 0 already learns";
  EXPECT_NEAR(LearningRateAt(config, 1), 5e-4, 1e-10);
}

TEST(Step5_Schedule, WarmupReachesPeakAtItsLastStepAndDecayStartsThere) {
  const ScheduleConfig config{1e-3f, 1e-4f, 4, 12};
  EXPECT_NEAR(LearningRateAt(config, 3), 1e-3, 1e-10) << "step W − 1 = peak·W/W";
  EXPECT_NEAR(LearningRateAt(config, 4), 1e-3, 1e-10) << "step W: cos(0) = 1";
  EXPECT_LT(LearningRateAt(config, 5), 1e-3f);
}

TEST(Step5_Schedule, CosineMidpointIsHalfwayBetweenPeakAndMin) {
  const ScheduleConfig config{2e-3f, 2e-4f, 10, 110};
  EXPECT_NEAR(LearningRateAt(config, 60), 1.1e-3, 1e-9) << "s − W = (S − W)/2: cos(π/2) = 0";
}

TEST(Step5_Schedule, ReachesMinAtTotalStepsAndStaysThere) {
  const ScheduleConfig config{1e-3f, 1e-4f, 4, 12};
  for (int s : {12, 13, 20, 1000, 1 << 30}) {
    EXPECT_NEAR(LearningRateAt(config, s), 1e-4, 1e-11) << "step " << s;
  }
  const ScheduleConfig to_zero{1e-3f, 0.0f, 0, 100};
  EXPECT_NEAR(LearningRateAt(to_zero, 100), 0.0, 1e-11);
  EXPECT_NEAR(LearningRateAt(to_zero, 101), 0.0, 1e-11) << "past S the cosine must not rise again";
}

TEST(Step5_Schedule, NoWarmupStartsAtPeak) {
  const ScheduleConfig config{1e-3f, 1e-4f, 0, 10};
  EXPECT_NEAR(LearningRateAt(config, 0), 1e-3, 1e-10);
  EXPECT_LT(LearningRateAt(config, 1), 1e-3f);
}

// Every operation of the formula is monotone in s, so float rounding cannot make the
// learning rate rise after warmup: the comparisons are exact.
TEST(Step5_Schedule, RisesDuringWarmupAndNeverRisesAfter) {
  for (const ScheduleConfig& config :
       {ScheduleConfig{1e-3f, 1e-4f, 4, 12}, ScheduleConfig{3e-4f, 0.0f, 0, 100},
        ScheduleConfig{1.0f, 0.5f, 10, 11}, ScheduleConfig{6e-4f, 6e-5f, 50, 500},
        ScheduleConfig{1e-3f, 1e-3f, 5, 50}}) {
    SCOPED_TRACE(::testing::Message()
                 << "peak " << config.peak_lr << " min " << config.min_lr << " W "
                 << config.warmup_steps << " S " << config.total_steps);
    for (int s = 0; s + 1 < config.warmup_steps; ++s) {
      EXPECT_LT(LearningRateAt(config, s), LearningRateAt(config, s + 1)) << "warmup step " << s;
    }
    for (int s = config.warmup_steps; s < config.total_steps + 5; ++s) {
      EXPECT_LE(LearningRateAt(config, s + 1), LearningRateAt(config, s)) << "step " << s;
    }
  }
}

// The formula in float: the cosine's argument π·(s − W)/(S − W) carries 2u, its cosine
// errs by about 4e-7 absolute, times ½·(peak − min): 2e-7·peak. 1e-6·peak absolute plus
// 1e-5 relative leaves a margin of five; an off-by-one in the warmup or a decay over S
// steps instead of S − W is off by percents.
TEST(Step5_Schedule, MatchesReferenceOnARangeOfSchedules) {
  for (const ScheduleConfig& config :
       {ScheduleConfig{1e-3f, 1e-4f, 4, 12}, ScheduleConfig{3e-4f, 0.0f, 0, 100},
        ScheduleConfig{1.0f, 0.5f, 10, 11}, ScheduleConfig{6e-4f, 6e-5f, 100, 1000},
        ScheduleConfig{1e-3f, 1e-3f, 5, 50}, ScheduleConfig{0.02f, 1e-3f, 1, 7}}) {
    const int count = config.total_steps + 20;
    Matrix lr(1, count);
    MatrixD expected(1, count);
    for (int s = 0; s < count; ++s) {
      lr(0, s) = LearningRateAt(config, s);
      expected(0, s) = ref::LearningRateAt(config.peak_lr, config.min_lr, config.warmup_steps,
                                           config.total_steps, s);
    }
    SCOPED_TRACE(::testing::Message()
                 << "peak " << config.peak_lr << " min " << config.min_lr << " W "
                 << config.warmup_steps << " S " << config.total_steps);
    EXPECT_ALLCLOSE(lr, expected, (Tolerance{1e-6 * config.peak_lr, 1e-5}));
  }
}

TEST(Step5_Schedule, RejectsBadSchedules) {
  const ScheduleConfig good{1e-3f, 1e-4f, 4, 12};
  EXPECT_INVALID_ARGUMENT(LearningRateAt(good, -1), {"step", "-1"});
  ScheduleConfig config = good;
  config.peak_lr = 0.0f;
  config.min_lr = 0.0f;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"peak_lr", "0"});
  config = good;
  config.peak_lr = -1.0f;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"peak_lr", "-1"});
  config = good;
  config.min_lr = 0.002f;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"min_lr", "0.002"});
  config.min_lr = -0.5f;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"min_lr", "-0.5"});
  config = good;
  config.warmup_steps = -1;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"warmup_steps", "-1"});
  config = good;
  config.total_steps = 4;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"total_steps", "4"});
  config.total_steps = 2;
  EXPECT_INVALID_ARGUMENT(LearningRateAt(config, 0), {"total_steps", "2"});
}

// ---------------------------------------------------------------------------------
// Step 6: clipping by the global norm.

std::vector<Matrix> FixtureGrads(double factor) {
  const Fixture& fx = Clipping();
  return {F(factor) * fx.Matrix("grad_a"), F(factor) * fx.Matrix("grad_b")};
}

TEST(Step6_Clipping, FixtureNormAndClippedTensors) {
  const Fixture& fx = Clipping();
  std::vector<Matrix> grads = FixtureGrads(1.0);
  const double expected = fx.Scalar("norm");
  EXPECT_NEAR(ClipByGlobalNorm(F(fx.Scalar("max_norm")), &grads), expected,
              Allowed(fx.tolerance(), expected));
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_ALLCLOSE(grads[0], fx.Matrix("clipped_a"), fx.tolerance());
  EXPECT_ALLCLOSE(grads[1], fx.Matrix("clipped_b"), fx.tolerance());
}

TEST(Step6_Clipping, FixtureSpikeClipsToTheSameVector) {
  const Fixture& fx = Clipping();
  std::vector<Matrix> grads = FixtureGrads(fx.Scalar("spike_factor"));
  const double expected = fx.Scalar("spike_norm");
  EXPECT_NEAR(ClipByGlobalNorm(F(fx.Scalar("max_norm")), &grads), expected,
              Allowed(fx.tolerance(), expected));
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_ALLCLOSE(grads[0], fx.Matrix("spike_clipped_a"), fx.tolerance());
  EXPECT_ALLCLOSE(grads[1], fx.Matrix("spike_clipped_b"), fx.tolerance());
  // And the same as the clipped normal gradient: clipping keeps only the direction.
  std::vector<Matrix> normal = FixtureGrads(1.0);
  ClipByGlobalNorm(F(fx.Scalar("max_norm")), &normal);
  EXPECT_ALLCLOSE(grads[0], normal[0], (Tolerance{1e-7, 1e-6}));
  EXPECT_ALLCLOSE(grads[1], normal[1], (Tolerance{1e-7, 1e-6}));
}

TEST(Step6_Clipping, ClipsTheConcatenationNotEachTensor) {
  // (3, 4) and (12): global norm 13. Clipping each tensor to norm 1 on its own would give
  // (0.6, 0.8) and (1), and turn the update's direction.
  std::vector<Matrix> grads = FixtureGrads(1.0);
  ClipByGlobalNorm(1.0f, &grads);
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_ALLCLOSE(grads[0], Row({3.0f / 13, 4.0f / 13}), (Tolerance{1e-7, 1e-6}));
  EXPECT_ALLCLOSE(grads[1], Row({12.0f / 13}), (Tolerance{1e-7, 1e-6}));
}

// Float: the norm is a sum of N <= 312 squares, at most N·u = 1.9e-5 relative off (√N·u
// = 1e-6 typically, or u when summed in double), and each clipped entry is one more
// product. 5e-5 relative leaves a margin of two and a half over the worst case.
TEST(Step6_Clipping, ScalesEveryTensorByTheSameFactorOnManyShapes) {
  Rng rng(1601);
  const std::vector<std::pair<int, int>> shapes = {{1, 1}, {3, 5}, {7, 1}, {16, 16}, {1, 33}};
  for (float max_norm : {0.5f, 4.0f}) {
    std::vector<Matrix> grads;
    double squares = 0.0;
    for (auto [rows, cols] : shapes) {
      grads.push_back(RandomMatrix(rng, rows, cols));
      squares += D(grads.back()).squaredNorm();
    }
    const std::vector<Matrix> original = grads;
    const double norm = std::sqrt(squares);
    ASSERT_GT(norm, max_norm);
    const float returned = ClipByGlobalNorm(max_norm, &grads);
    SCOPED_TRACE(::testing::Message() << "max_norm " << max_norm << ", norm " << norm);
    EXPECT_NEAR(returned, norm, 5e-5 * norm) << "returns the norm before clipping";
    ASSERT_EQ(grads.size(), original.size());
    double clipped_squares = 0.0;
    for (std::size_t k = 0; k < grads.size(); ++k) {
      EXPECT_ALLCLOSE(grads[k], D(original[k]) * (max_norm / norm), (Tolerance{1e-9, 5e-5}))
          << "tensor " << k << " (every tensor, the same factor max_norm/norm)";
      clipped_squares += D(grads[k]).squaredNorm();
    }
    EXPECT_NEAR(std::sqrt(clipped_squares), max_norm, 5e-5 * max_norm);
  }
}

TEST(Step6_Clipping, LeavesGradientsBelowTheLimitUntouched) {
  Rng rng(1602);
  std::vector<Matrix> grads = {RandomMatrix(rng, 2, 3, 0.1), RandomMatrix(rng, 4, 1, 0.1)};
  const std::vector<Matrix> original = grads;
  const double norm = std::sqrt(D(original[0]).squaredNorm() + D(original[1]).squaredNorm());
  ASSERT_LT(norm, 10.0);
  EXPECT_NEAR(ClipByGlobalNorm(10.0f, &grads), norm, 1e-5 * norm);
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_TRUE(Same(grads[0], original[0])) << "below max_norm nothing is rescaled, not even by 1";
  EXPECT_TRUE(Same(grads[1], original[1]));
}

TEST(Step6_Clipping, LeavesAGradientExactlyAtTheLimitUntouched) {
  // √(3² + 4²) = 5 exactly in float: n > max_norm is false, so nothing changes.
  std::vector<Matrix> grads = {Row({3.0f}), Row({4.0f, 0.0f})};
  EXPECT_EQ(ClipByGlobalNorm(5.0f, &grads), 5.0f);
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_TRUE(Same(grads[0], Row({3.0f})));
  EXPECT_TRUE(Same(grads[1], Row({4.0f, 0.0f})));
}

TEST(Step6_Clipping, RejectsBadArguments) {
  const std::vector<Matrix> original = {Row({3.0f, 4.0f}), Row({12.0f})};
  std::vector<Matrix> grads = original;
  const auto untouched = [&] {
    ASSERT_EQ(grads.size(), original.size());
    for (std::size_t k = 0; k < grads.size(); ++k) EXPECT_TRUE(Same(grads[k], original[k]));
  };
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(0.0f, &grads), {"max_norm", "0"});
  untouched();
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(-1.0f, &grads), {"max_norm", "-1"});
  untouched();
  std::vector<Matrix> none;
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(1.0f, &none), {"grads"});
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(1.0f, nullptr), {"grads"});
  // A non-finite entry in the second tensor: the first must not be scaled either.
  grads[1](0, 0) = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(1.0f, &grads), {"grads[1](0, 0)", "inf"});
  EXPECT_TRUE(Same(grads[0], original[0]));
  grads[1](0, 0) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(ClipByGlobalNorm(1.0f, &grads), {"grads[1](0, 0)", "nan"});
  EXPECT_TRUE(Same(grads[0], original[0]));
}

// ---------------------------------------------------------------------------------
// Step 7: Muon and the Newton–Schulz iteration.

// The singular values of m, descending.
std::vector<double> SingularValues(const Matrix& m) {
  return ::llmk::testing::SingularValues(m.cast<double>());
}

MuonConfig FixtureMuonConfig() {
  const Fixture& fx = Muon();
  MuonConfig config;
  config.lr = F(fx.Scalar("lr"));
  config.momentum = F(fx.Scalar("momentum"));
  config.nesterov = true;
  config.ns_steps = fx.Int("ns_steps");
  config.weight_decay = F(fx.Scalar("weight_decay"));
  return config;
}

TEST(Step7_Muon, FixtureNewtonSchulzIterates) {
  const Fixture& fx = Muon();
  const Matrix g = fx.Matrix("G");
  for (int k = 1; k <= fx.Int("ns_steps"); ++k) {
    const std::string key = "X" + std::to_string(k);
    EXPECT_ALLCLOSE(NewtonSchulz(g, k), fx.Matrix(key), fx.tolerance())
        << key << ": " << k << " iterations";
  }
}

// Row r of sigma_trace follows one singular value of X₀ = G/‖G‖_F through the scalar map
// σ ← a·σ + b·σ³ + c·σ⁵, column k after k iterations; the singular values of
// NewtonSchulz(G, k) are that column's values (in whatever order they now stand).
TEST(Step7_Muon, FixtureSingularValueTrace) {
  const Fixture& fx = Muon();
  const Matrix g = fx.Matrix("G");
  const Matrix trace = fx.Matrix("sigma_trace");
  for (int k = 0; k < trace.cols(); ++k) {
    const std::vector<double> actual = SingularValues(NewtonSchulz(g, k));
    std::vector<double> expected(static_cast<std::size_t>(trace.rows()));
    for (Eigen::Index r = 0; r < trace.rows(); ++r)
      expected[static_cast<std::size_t>(r)] = trace(r, k);
    std::sort(expected.rbegin(), expected.rend());
    ASSERT_EQ(actual.size(), expected.size()) << "k=" << k;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], Allowed(fx.tolerance(), expected[i]))
          << "singular value " << i << " after " << k << " iterations";
    }
  }
}

TEST(Step7_Muon, FixtureNormalizationByTheFrobeniusNorm) {
  const Fixture& fx = Muon();
  const Matrix g = fx.Matrix("G");
  // X₀ = G/(‖G‖_F + 1e-7) with ‖G‖_F = √29 = 5.38516; G_norm is rounded to 6 digits
  // (9e-7 relative), inside the fixture's tolerance.
  EXPECT_ALLCLOSE(D(NewtonSchulz(g, 0)) * fx.Scalar("G_norm"), g, fx.tolerance());
}

TEST(Step7_Muon, FixtureTallInput) {
  const Fixture& fx = Muon();
  EXPECT_ALLCLOSE(NewtonSchulz(fx.Matrix("G_tall"), fx.Int("ns_steps")), fx.Matrix("tall_result"),
                  fx.tolerance());
}

TEST(Step7_Muon, FixtureMuonScale) {
  const Fixture& fx = Muon();
  const Matrix w = fx.Matrix("W");
  const double expected = fx.Scalar("muon_scale");
  EXPECT_NEAR(MuonScale(static_cast<int>(w.rows()), static_cast<int>(w.cols())), expected,
              Allowed(fx.tolerance(), expected));
}

// Two Muon steps on W; u is derived from the state the learner keeps: u = g + μ·m.
TEST(Step7_Muon, FixtureTwoMuonSteps) {
  const Fixture& fx = Muon();
  const MuonConfig config = FixtureMuonConfig();
  const Matrix g1 = fx.Matrix("G");
  const Matrix g2 = fx.Matrix("G_step2");
  Matrix w = fx.Matrix("W");
  MuonState state;

  MuonStep(config, g1, &state, &w);
  ASSERT_EQ(ShapeOf(state.momentum), ShapeOf(g1)) << "state.momentum";
  EXPECT_ALLCLOSE(state.momentum, g1, (Tolerance{0, 0})) << "step 1: m = μ·0 + g = g";
  EXPECT_ALLCLOSE(D(g1) + double{config.momentum} * D(state.momentum), fx.Matrix("muon_u1"),
                  fx.tolerance())
      << "u₁ = g₁ + μ·m₁";
  EXPECT_ALLCLOSE(w, fx.Matrix("muon_W1"), fx.tolerance()) << "W after step 1";

  MuonStep(config, g2, &state, &w);
  ASSERT_EQ(ShapeOf(state.momentum), ShapeOf(g2)) << "state.momentum";
  EXPECT_ALLCLOSE(state.momentum, double{config.momentum} * D(g1) + D(g2), kFewRoundings)
      << "step 2: m = μ·g₁ + g₂";
  EXPECT_ALLCLOSE(D(g2) + double{config.momentum} * D(state.momentum), fx.Matrix("muon_u2"),
                  fx.tolerance())
      << "u₂ = g₂ + μ·m₂";
  EXPECT_ALLCLOSE(w, fx.Matrix("muon_W2"), fx.tolerance()) << "W after step 2";
}

TEST(Step7_Muon, ZeroStepsReturnTheNormalizedInput) {
  Rng rng(1701);
  for (auto [rows, cols] : kShapes) {
    const Matrix g = RandomMatrix(rng, rows, cols, 3.0);
    const MatrixD expected = D(g) / (D(g).norm() + 1e-7);
    EXPECT_ALLCLOSE(NewtonSchulz(g, 0), expected, (Tolerance{1e-7, 1e-6}))
        << rows << "x" << cols << ": X₀ = g/(‖g‖_F + 1e-7), no transpose left behind";
  }
}

// NS(c·G) = NS(G): the Frobenius normalization removes c (up to the 1e-7 in the
// denominator, 1e-7/‖c·G‖ <= 1e-8 here). The float roundings of the two runs differ, by
// no more than one run differs from the double oracle: kNsVsReference.
TEST(Step7_Muon, InvariantToScalingTheInput) {
  Rng rng(1702);
  for (auto [rows, cols] : kShapes) {
    const Matrix g = RandomMatrix(rng, rows, cols);
    const Matrix base = NewtonSchulz(g, 5);
    for (float c : {1000.0f, 7.5f, 0.25f}) {
      EXPECT_ALLCLOSE(NewtonSchulz(c * g, 5), base, kNsVsReference)
          << rows << "x" << cols << ", G scaled by " << c;
    }
  }
}

TEST(Step7_Muon, ZeroMatrixGivesZero) {
  for (auto [rows, cols] : {std::pair{3, 4}, {4, 3}, {1, 1}}) {
    const Matrix out = NewtonSchulz(Matrix::Zero(rows, cols), 5);
    EXPECT_ALLCLOSE(out, Matrix::Zero(rows, cols), (Tolerance{0, 0}))
        << rows << "x" << cols << ": 0/(0 + 1e-7) = 0, never 0/0";
  }
}

TEST(Step7_Muon, NewtonSchulzMatchesReferenceOnAwkwardShapes) {
  Rng rng(1703);
  for (auto [rows, cols] : kShapes) {
    for (int steps : {1, 2, 5}) {
      const Matrix g = RandomMatrix(rng, rows, cols);
      SCOPED_TRACE(::testing::Message() << rows << "x" << cols << ", " << steps << " steps");
      EXPECT_ALLCLOSE(NewtonSchulz(g, steps), ref::NewtonSchulz(D(g), steps), kNsVsReference);
    }
  }
}

// G = U·diag(s)·Vᵀ with k = 8 singular values s in [1, 2]. After the normalization
// σ = s/‖s‖₂ lies in [1/√(1 + 4·7), 2/√(4 + 7)] = [0.1857, 0.6030] (one s at 1 and the rest
// at 2, or one at 2 and the rest at 1). Five iterations of p(σ) = aσ + bσ³ + cσ⁵ map that
// interval onto [0.681831, 1.134357]: the minimum and maximum of p∘p∘p∘p∘p over it,
// evaluated in double at 2·10⁶ evenly spaced points (iterations 3 to 5 all land in this
// same band, set by p's local minimum and maximum). NS(G) = U·diag(p⁵(σ))·Vᵀ, so its
// singular values lie in the band (to within float rounding, 1e-4 of margin), and it
// differs from U·Vᵀ by U·diag(p⁵(σ) − 1)·Vᵀ, whose entries are at most
// max|p⁵(σ) − 1| = 1 − 0.681831 = 0.318169 in size.
TEST(Step7_Muon, SingularValuesLandInTheBandTheIterationReaches) {
  constexpr double kLo = 0.681831;
  constexpr double kHi = 1.134357;
  constexpr double kFloat = 1e-4;
  Rng rng(1704);
  for (auto [rows, cols] : {std::pair{8, 8}, {8, 13}, {13, 8}, {8, 20}}) {
    const int k = std::min(rows, cols);
    const MatrixD u = ::llmk::testing::RandomOrthogonal(rng, rows).leftCols(k);
    const MatrixD v = ::llmk::testing::RandomOrthogonal(rng, cols).leftCols(k);
    Eigen::VectorXd s(k);
    for (int i = 0; i < k; ++i) s(i) = rng.Uniform(1.0, 2.0);
    const MatrixD g = u * s.asDiagonal() * v.transpose();
    const Matrix out = NewtonSchulz(g.cast<float>(), 5);
    SCOPED_TRACE(::testing::Message() << rows << "x" << cols);
    for (double sigma : SingularValues(out)) {
      EXPECT_GE(sigma, kLo - kFloat);
      EXPECT_LE(sigma, kHi + kFloat);
    }
    const MatrixD polar = u * v.transpose();
    EXPECT_ALLCLOSE(out, polar, (Tolerance{1.0 - kLo + kFloat, 0})) << "close to U·Vᵀ";
  }
}

TEST(Step7_Muon, NewtonSchulzRejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(NewtonSchulz(Matrix(0, 3), 5), {"g", "0x3"});
  EXPECT_INVALID_ARGUMENT(NewtonSchulz(Matrix(3, 0), 5), {"g", "3x0"});
  EXPECT_INVALID_ARGUMENT(NewtonSchulz(Matrix::Ones(2, 3), -1), {"steps", "-1"});
  Matrix bad = Matrix::Ones(2, 3);
  bad(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(NewtonSchulz(bad, 5), {"g(0, 1)", "nan"});
}

TEST(Step7_Muon, MuonScaleOfWideAndTallWeights) {
  // √max(1, D_out/D_in) of a [D_in, D_out] weight.
  EXPECT_NEAR(MuonScale(2, 3), std::sqrt(1.5), 1e-7);
  EXPECT_EQ(MuonScale(3, 2), 1.0f) << "a tall weight is not scaled down";
  EXPECT_NEAR(MuonScale(4, 16), 2.0, 1e-7);
  EXPECT_NEAR(MuonScale(3, 12), 2.0, 1e-7);
  EXPECT_EQ(MuonScale(16, 4), 1.0f);
  EXPECT_EQ(MuonScale(5, 5), 1.0f);
  EXPECT_EQ(MuonScale(1, 1), 1.0f);
  EXPECT_NEAR(MuonScale(1, 2), std::sqrt(2.0), 1e-7)
      << "cols/rows in floating point, not 2/1 rounded";
  EXPECT_NEAR(MuonScale(2, 5), std::sqrt(2.5), 1e-7) << "5/2 = 2.5, not integer 2";
}

TEST(Step7_Muon, MuonScaleRejectsEmptyShapes) {
  EXPECT_INVALID_ARGUMENT(MuonScale(0, 3), {"rows", "0"});
  EXPECT_INVALID_ARGUMENT(MuonScale(3, 0), {"cols", "0"});
  EXPECT_INVALID_ARGUMENT(MuonScale(-2, 3), {"rows", "-2"});
}

TEST(Step7_Muon, MuonStepMatchesReferenceOverSeveralSteps) {
  Rng rng(1705);
  for (auto [rows, cols] : kWeightShapes) {
    for (bool nesterov : {true, false}) {
      for (float weight_decay : {0.0f, 0.1f}) {
        MuonConfig config;
        config.lr = 0.02f;
        config.momentum = 0.95f;
        config.nesterov = nesterov;
        config.weight_decay = weight_decay;
        Matrix theta = RandomMatrix(rng, rows, cols);
        MatrixD theta_ref = D(theta);
        MuonState state;
        MatrixD momentum_ref;
        for (int s = 0; s < 5; ++s) {
          const Matrix g = RandomMatrix(rng, rows, cols);
          MuonStep(config, g, &state, &theta);
          ref::MuonStep(config.lr, config.momentum, nesterov, config.ns_steps, config.weight_decay,
                        D(g), &momentum_ref, &theta_ref);
        }
        SCOPED_TRACE(::testing::Message() << rows << "x" << cols << " nesterov=" << nesterov
                                          << " weight_decay=" << weight_decay);
        EXPECT_ALLCLOSE(theta, theta_ref, kMuonVsReference);
        EXPECT_ALLCLOSE(state.momentum, momentum_ref, kMuonVsReference);
      }
    }
  }
}

TEST(Step7_Muon, FirstStepFromAnEmptyState) {
  Rng rng(1706);
  const Matrix theta0 = RandomMatrix(rng, 3, 6);
  const Matrix g = RandomMatrix(rng, 3, 6);
  MuonConfig config;
  config.nesterov = false;
  Matrix theta = theta0;
  MuonState state;
  MuonStep(config, g, &state, &theta);
  EXPECT_ALLCLOSE(state.momentum, g, (Tolerance{0, 0})) << "m = μ·0 + g = g";
  // θ − lr·√(6/3)·NS(g): the wide weight's update is scaled up by √2.
  const MatrixD expected = D(theta0) - 0.02 * std::sqrt(2.0) * ref::NewtonSchulz(D(g), 5);
  EXPECT_ALLCLOSE(theta, expected, kMuonVsReference);
}

// The first step cannot tell them apart (u = (1 + μ)·g or g, and NS removes the scale);
// from the second on, Nesterov's u = g + μ·m leans on the newest gradient.
TEST(Step7_Muon, NesterovAndPlainMomentumPartFromTheSecondStep) {
  Rng rng(1707);
  const Matrix theta0 = RandomMatrix(rng, 4, 4);
  const Matrix g1 = RandomMatrix(rng, 4, 4);
  const Matrix g2 = RandomMatrix(rng, 4, 4);
  MuonConfig nesterov;
  MuonConfig plain;
  plain.nesterov = false;
  Matrix theta_n = theta0;
  Matrix theta_p = theta0;
  MuonState state_n;
  MuonState state_p;
  MuonStep(nesterov, g1, &state_n, &theta_n);
  MuonStep(plain, g1, &state_p, &theta_p);
  EXPECT_ALLCLOSE(theta_n, theta_p, kMuonVsReference) << "step 1";
  MuonStep(nesterov, g2, &state_n, &theta_n);
  MuonStep(plain, g2, &state_p, &theta_p);
  EXPECT_GT((D(theta_n) - D(theta_p)).cwiseAbs().maxCoeff(), 1e-3) << "step 2 must differ";
  EXPECT_ALLCLOSE(state_n.momentum, state_p.momentum, (Tolerance{0, 0}))
      << "the momentum itself is the same: m = μ·m + g in both";
}

TEST(Step7_Muon, ZeroGradientOnlyDecays) {
  Rng rng(1708);
  const Matrix theta0 = RandomMatrix(rng, 3, 5);
  MuonConfig config;
  config.weight_decay = 0.1f;
  Matrix theta = theta0;
  MuonState state;
  MuonStep(config, Matrix::Zero(3, 5), &state, &theta);
  const double factor = 1.0 - double{config.lr} * double{config.weight_decay};
  EXPECT_ALLCLOSE(theta, D(theta0) * factor, (Tolerance{1e-7, 1e-6}))
      << "NS(0) = 0, so only θ·(1 − lr·λ) is left";
}

TEST(Step7_Muon, MuonStepRejectsBadArguments) {
  const Matrix param0 = (Matrix(2, 3) << 1, 2, 3, 4, 5, 6).finished();
  const Matrix momentum0 = Matrix::Constant(2, 3, 0.5f);
  const Matrix grad = Matrix::Ones(2, 3);
  Matrix param = param0;
  MuonState state;
  state.momentum = momentum0;
  const auto untouched = [&] {
    EXPECT_TRUE(Same(param, param0)) << "param";
    EXPECT_TRUE(Same(state.momentum, momentum0)) << "state.momentum";
  };
  const MuonConfig good;
  EXPECT_INVALID_ARGUMENT(MuonStep(good, Matrix::Ones(3, 2), &state, &param),
                          {"grad", "2x3", "3x2"});
  untouched();
  Matrix bad = grad;
  bad(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(MuonStep(good, bad, &state, &param), {"grad(0, 1)", "nan"});
  untouched();
  bad(0, 1) = -std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(MuonStep(good, bad, &state, &param), {"grad(0, 1)", "-inf"});
  untouched();
  MuonConfig config = good;
  config.momentum = 1.0f;
  EXPECT_INVALID_ARGUMENT(MuonStep(config, grad, &state, &param), {"momentum", "1"});
  untouched();
  config = good;
  config.ns_steps = 0;
  EXPECT_INVALID_ARGUMENT(MuonStep(config, grad, &state, &param), {"ns_steps", "0"});
  untouched();
  config = good;
  config.lr = -0.1f;
  EXPECT_INVALID_ARGUMENT(MuonStep(config, grad, &state, &param), {"lr", "-0.1"});
  untouched();
  config = good;
  config.weight_decay = -0.1f;
  EXPECT_INVALID_ARGUMENT(MuonStep(config, grad, &state, &param), {"weight_decay", "-0.1"});
  untouched();
  MuonState wrong;
  wrong.momentum = Matrix::Ones(3, 3);
  EXPECT_INVALID_ARGUMENT(MuonStep(good, grad, &wrong, &param), {"state.momentum", "3x3"});
  EXPECT_TRUE(Same(wrong.momentum, Matrix::Ones(3, 3)));
  untouched();
  EXPECT_INVALID_ARGUMENT(MuonStep(good, grad, nullptr, &param), {"state"});
  EXPECT_INVALID_ARGUMENT(MuonStep(good, grad, &state, nullptr), {"param"});
  untouched();

  // Vectors stay on AdamW.
  Matrix row = Row({1.0f, 2.0f, 3.0f});
  MuonState empty;
  EXPECT_INVALID_ARGUMENT(MuonStep(good, Matrix::Ones(1, 3), &empty, &row), {"param", "1x3"});
  EXPECT_TRUE(Same(row, Row({1.0f, 2.0f, 3.0f})));
  EXPECT_EQ(empty.momentum.size(), 0);
  Matrix column = Matrix::Ones(3, 1);
  EXPECT_INVALID_ARGUMENT(MuonStep(good, Matrix::Ones(3, 1), &empty, &column), {"param", "3x1"});
  EXPECT_TRUE(Same(column, Matrix::Ones(3, 1)));
}

TEST(Step7_Muon, OptimizerForPutsOnlyHiddenMatricesOnMuon) {
  EXPECT_EQ(OptimizerFor(ParamKind::kHiddenMatrix, 64, 256), OptimizerKind::kMuon);
  EXPECT_EQ(OptimizerFor(ParamKind::kHiddenMatrix, 256, 64), OptimizerKind::kMuon);
  EXPECT_EQ(OptimizerFor(ParamKind::kHiddenMatrix, 2, 2), OptimizerKind::kMuon);
  EXPECT_EQ(OptimizerFor(ParamKind::kHiddenMatrix, 1, 64), OptimizerKind::kAdamW)
      << "a 1 x n hidden 'matrix' is a vector";
  EXPECT_EQ(OptimizerFor(ParamKind::kHiddenMatrix, 64, 1), OptimizerKind::kAdamW);
  EXPECT_EQ(OptimizerFor(ParamKind::kEmbedding, 1000, 64), OptimizerKind::kAdamW)
      << "an embedding is a lookup table, not a linear map";
  EXPECT_EQ(OptimizerFor(ParamKind::kOutputHead, 64, 1000), OptimizerKind::kAdamW);
  EXPECT_EQ(OptimizerFor(ParamKind::kNormGain, 1, 64), OptimizerKind::kAdamW);
  EXPECT_EQ(OptimizerFor(ParamKind::kBias, 1, 256), OptimizerKind::kAdamW);
}

TEST(Step7_Muon, OptimizerForRejectsEmptyShapes) {
  EXPECT_INVALID_ARGUMENT(OptimizerFor(ParamKind::kHiddenMatrix, 0, 4), {"0x4"});
  EXPECT_INVALID_ARGUMENT(OptimizerFor(ParamKind::kBias, 1, 0), {"1x0"});
}

// ---------------------------------------------------------------------------------
// Step 8: a race of SGD with momentum, AdamW and Muon.

RaceTask FixtureTask() {
  const Fixture& fx = RaceFixture();
  return RaceTask{fx.Matrix("x"), fx.Matrix("y"), fx.Matrix("w1"), fx.Matrix("w2")};
}

RaceSettings FixtureSettings() {
  const Fixture& fx = RaceFixture();
  RaceSettings settings;
  settings.steps = fx.Int("steps");
  settings.sgd = MomentumConfig{F(fx.Scalar("sgd_lr")), F(fx.Scalar("sgd_beta")), false};
  settings.adamw.lr = F(fx.Scalar("adam_lr"));
  settings.adamw.beta1 = F(fx.Scalar("beta1"));
  settings.adamw.beta2 = F(fx.Scalar("beta2"));
  settings.adamw.eps = F(fx.Scalar("eps"));
  settings.adamw.weight_decay = F(fx.Scalar("adam_weight_decay"));
  settings.adamw.decay = WeightDecay::kDecoupled;
  settings.muon.lr = F(fx.Scalar("muon_lr"));
  settings.muon.momentum = F(fx.Scalar("muon_momentum"));
  settings.muon.nesterov = true;
  settings.muon.ns_steps = 5;
  settings.muon.weight_decay = F(fx.Scalar("muon_weight_decay"));
  return settings;
}

void ExpectRaceFixture(OptimizerKind kind, const char* key) {
  const Fixture& fx = RaceFixture();
  const RaceSettings settings = FixtureSettings();
  const std::vector<float> losses = Race(kind, FixtureTask(), settings);
  ASSERT_EQ(losses.size(), static_cast<std::size_t>(settings.steps) + 1)
      << "one loss before each step and one after the last";
  const Matrix shown = fx.Matrix("steps_shown");
  Matrix actual(1, shown.cols());
  for (Eigen::Index j = 0; j < shown.cols(); ++j) {
    actual(0, j) = losses[static_cast<std::size_t>(shown(0, j))];
  }
  EXPECT_ALLCLOSE(actual, fx.Matrix(key), fx.tolerance()) << "losses at steps " << shown;
}

TEST(Step8_Race, FixtureSgdWithMomentum) { ExpectRaceFixture(OptimizerKind::kSgd, "sgd_losses"); }

TEST(Step8_Race, FixtureAdamW) { ExpectRaceFixture(OptimizerKind::kAdamW, "adamw_losses"); }

TEST(Step8_Race, FixtureMuonWithAdamWOnTheOutputWeight) {
  ExpectRaceFixture(OptimizerKind::kMuon, "muon_losses");
}

TEST(Step8_Race, ReturnsTheLossBeforeEachStepAndAfterTheLast) {
  const RaceTask task = FixtureTask();
  const float initial = RaceLoss(task, task.w1, task.w2);
  RaceSettings settings = FixtureSettings();
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdamW, OptimizerKind::kMuon}) {
    settings.steps = 7;
    const std::vector<float> losses = Race(kind, task, settings);
    ASSERT_EQ(losses.size(), 8u);
    EXPECT_FLOAT_EQ(losses[0], initial) << "losses[0] is the loss of the initial weights";
    settings.steps = 0;
    const std::vector<float> none = Race(kind, task, settings);
    ASSERT_EQ(none.size(), 1u) << "zero steps: only the initial loss";
    EXPECT_FLOAT_EQ(none[0], initial);
  }
}

// Race's losses against a loop written here from the learner's own step functions, on a
// random task and with weight decay on (which the fixture leaves at 0). The same float
// operations in the same order give the same numbers; 1e-5 relative allows for a Race
// that groups them differently, over 12 steps of a well-conditioned problem.
TEST(Step8_Race, EachKindTrainsWithItsOptimizers) {
  Rng rng(1801);
  const RaceTask task{RandomMatrix(rng, 12, 3), RandomMatrix(rng, 12, 2),
                      RandomMatrix(rng, 3, 5, 0.5), RandomMatrix(rng, 5, 2, 0.5)};
  RaceSettings settings;
  settings.steps = 12;
  settings.sgd = MomentumConfig{0.2f, 0.8f, false};
  settings.adamw.lr = 0.01f;
  settings.adamw.weight_decay = 0.05f;
  settings.muon.lr = 0.03f;
  settings.muon.weight_decay = 0.1f;
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdamW, OptimizerKind::kMuon}) {
    Matrix w1 = task.w1;
    Matrix w2 = task.w2;
    MomentumState sgd1;
    MomentumState sgd2;
    AdamState adam1;
    AdamState adam2;
    MuonState muon1;
    Matrix expected(1, settings.steps + 1);
    for (int s = 0; s <= settings.steps; ++s) {
      Matrix dw1;
      Matrix dw2;
      expected(0, s) = RaceLoss(task, w1, w2, &dw1, &dw2);
      if (s == settings.steps) break;
      switch (kind) {
        case OptimizerKind::kSgd:
          MomentumStep(settings.sgd, dw1, &sgd1, &w1);
          MomentumStep(settings.sgd, dw2, &sgd2, &w2);
          break;
        case OptimizerKind::kAdamW:
          AdamStep(settings.adamw, dw1, &adam1, &w1);
          AdamStep(settings.adamw, dw2, &adam2, &w2);
          break;
        case OptimizerKind::kMuon:  // w1 is a hidden matrix, w2 the output head
          MuonStep(settings.muon, dw1, &muon1, &w1);
          AdamStep(settings.adamw, dw2, &adam2, &w2);
          break;
      }
    }
    const std::vector<float> losses = Race(kind, task, settings);
    ASSERT_EQ(losses.size(), static_cast<std::size_t>(settings.steps) + 1);
    const Matrix actual = Eigen::Map<const Matrix>(losses.data(), 1, settings.steps + 1);
    EXPECT_ALLCLOSE(actual, expected, (Tolerance{1e-7, 1e-5})) << "kind " << static_cast<int>(kind);
    EXPECT_LT(actual(0, settings.steps), actual(0, 0)) << "training lowers the loss";
  }
}

TEST(Step8_Race, SgdWithZeroLearningRateKeepsTheLossConstant) {
  const RaceTask task = FixtureTask();
  RaceSettings settings = FixtureSettings();
  settings.steps = 10;
  settings.sgd.lr = 0.0f;
  const std::vector<float> losses = Race(OptimizerKind::kSgd, task, settings);
  ASSERT_EQ(losses.size(), 11u);
  for (float loss : losses) EXPECT_EQ(loss, losses[0]);
}

TEST(Step8_Race, LeavesTheTaskUnchanged) {
  const RaceTask task = FixtureTask();
  const RaceTask copy = task;
  RaceSettings settings = FixtureSettings();
  settings.steps = 5;
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdamW, OptimizerKind::kMuon}) {
    Race(kind, task, settings);
    EXPECT_TRUE(Same(task.w1, copy.w1)) << "each optimizer trains its own copy of w1";
    EXPECT_TRUE(Same(task.w2, copy.w2));
    EXPECT_TRUE(Same(task.x, copy.x));
    EXPECT_TRUE(Same(task.y, copy.y));
  }
}

TEST(Step8_Race, RejectsBadSettings) {
  const RaceTask task = FixtureTask();
  RaceSettings settings = FixtureSettings();
  settings.steps = -1;
  EXPECT_INVALID_ARGUMENT(Race(OptimizerKind::kSgd, task, settings), {"steps", "-1"});
  settings.steps = 3;
  settings.sgd.beta = 1.0f;
  EXPECT_INVALID_ARGUMENT(Race(OptimizerKind::kSgd, task, settings), {"beta", "1"});
  settings = FixtureSettings();
  settings.steps = 3;
  settings.muon.ns_steps = 0;
  EXPECT_INVALID_ARGUMENT(Race(OptimizerKind::kMuon, task, settings), {"ns_steps", "0"});
  RaceTask wrong = task;
  wrong.w1 = Matrix::Ones(3, 8);  // x has 4 columns
  EXPECT_INVALID_ARGUMENT(Race(OptimizerKind::kAdamW, wrong, FixtureSettings()), {"w1", "3x8"});
}

}  // namespace
}  // namespace llmk::optim
