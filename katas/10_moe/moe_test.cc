// Tests of kata 10, one suite per step of README.md. Each step checks the hand-derived
// fixture first (fixtures/10_moe/*.json), then properties and random inputs against the
// double-precision oracle in reference/moe_ref.h, then bad inputs.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "llmk/testing/testing.h"
#include "moe.h"
#include "moe_ref.h"

namespace llmk::moe {
namespace {

using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const Fixture& RouterFx() { return KataFixture("10_moe/router.json"); }
const Fixture& LayerFx() { return KataFixture("10_moe/layer.json"); }
const Fixture& FlopsFx() { return KataFixture("10_moe/flops.json"); }

// float32 against the double oracle: unit roundoff is 6e-8; the longest dot products here
// have n <= 64 terms of size O(1), so each errs by at most about 64 * 6e-8 * Σ|terms|
// ~ 4e-5 in the worst case (far less in practice), and the layer adds a few such sums.
// 1e-4 absolute plus 1e-4 relative leaves a margin while a real slip (a wrong gate, a
// missing ReLU, a dropped token counted) is off by far more.
constexpr Tolerance kVsReference{1e-4, 1e-4};
// Copies, 0/1 masks and sums of exact values: no difference at all.
constexpr Tolerance kExact{0, 0};
// The fixtures print computed values rounded to 4 decimals: each is off by <= 5e-5.
constexpr double kHalfUlp4 = 5e-5;

MatrixD D(const Matrix& m) { return m.cast<double>(); }

IndexMatrix Indices(const Matrix& m) { return m.array().round().cast<int>().matrix(); }

Expert FixtureExpert(const std::string& suffix) {
  return Expert{LayerFx().Matrix("W1_" + suffix), LayerFx().Matrix("W2_" + suffix)};
}

MoeWeights FixtureWeights() {
  MoeWeights w;
  w.router = RouterFx().Matrix("W_router");
  for (int e = 0; e < 4; ++e) w.experts.push_back(FixtureExpert(std::to_string(e)));
  w.shared.push_back(FixtureExpert("shared"));
  return w;
}

MoeConfig FixtureConfig() {
  MoeConfig c;
  c.top_k = RouterFx().Int("top_k");
  c.capacity_factor = LayerFx().Scalar("capacity_factor");
  c.alpha = RouterFx().Scalar("alpha");
  return c;
}

// The routing of the worked example as the fixture holds it (gates rounded).
Routing FixtureRouting() {
  return Routing{Indices(RouterFx().Matrix("experts")), RouterFx().Matrix("gates")};
}

// The dispatch of the worked example as the fixture holds it.
DispatchPlan FixturePlan() {
  DispatchPlan plan;
  plan.capacity = LayerFx().Int("capacity");
  plan.expert_tokens = Indices(LayerFx().Matrix("expert_tokens"));
  plan.slots = Indices(LayerFx().Matrix("slots"));
  plan.mask = Indices(LayerFx().Matrix("mask"));
  plan.num_dropped = LayerFx().Int("num_dropped");
  return plan;
}

Expert RandomExpert(Rng& rng, int model_dim, int hidden) {
  return Expert{RandomMatrix(rng, model_dim, hidden, 1.0 / std::sqrt(model_dim)),
                RandomMatrix(rng, hidden, model_dim, 1.0 / std::sqrt(hidden))};
}

MoeWeights RandomWeights(Rng& rng, int model_dim, int hidden, int experts, int shared) {
  MoeWeights w;
  w.router = RandomMatrix(rng, model_dim, experts, 2.0 / std::sqrt(model_dim));
  for (int e = 0; e < experts; ++e) w.experts.push_back(RandomExpert(rng, model_dim, hidden));
  for (int s = 0; s < shared; ++s) w.shared.push_back(RandomExpert(rng, model_dim, hidden));
  return w;
}

reference::moe::MoeResult Reference(const Matrix& x, const MoeWeights& w, const MoeConfig& c) {
  std::vector<MatrixD> w1s, w2s, s1s, s2s;
  for (const Expert& e : w.experts) {
    w1s.push_back(D(e.w1));
    w2s.push_back(D(e.w2));
  }
  for (const Expert& e : w.shared) {
    s1s.push_back(D(e.w1));
    s2s.push_back(D(e.w2));
  }
  return reference::moe::MoeLayer(D(x), D(w.router), w1s, w2s, s1s, s2s, c.top_k,
                                  c.capacity_factor, c.alpha);
}

// T rows of K distinct experts in [0, E), uniformly at random.
IndexMatrix RandomChoices(Rng& rng, int tokens, int experts, int k) {
  IndexMatrix choices(tokens, k);
  std::vector<int> pool(static_cast<size_t>(experts));
  for (int t = 0; t < tokens; ++t) {
    std::iota(pool.begin(), pool.end(), 0);
    for (int j = 0; j < k; ++j) {
      const auto pick = static_cast<size_t>(j) + rng.Below(static_cast<std::uint64_t>(experts - j));
      std::swap(pool[static_cast<size_t>(j)], pool[pick]);
      choices(t, j) = pool[static_cast<size_t>(j)];
    }
  }
  return choices;
}

// Random router probabilities: softmax rows of N(0, scale²) logits, in double.
MatrixD RandomProbs(Rng& rng, int tokens, int experts, double scale) {
  const MatrixD z = D(RandomMatrix(rng, tokens, experts, scale));
  MatrixD p(tokens, experts);
  for (Eigen::Index t = 0; t < tokens; ++t) {
    const double m = z.row(t).maxCoeff();
    p.row(t) = (z.row(t).array() - m).exp().matrix();
    p.row(t) /= p.row(t).sum();
  }
  return p;
}

// ---------------------------------------------------------------------------------
// Step 1: logits = X·W_router, probs = softmax of every row.

TEST(Step1_Router, FixtureLogits) {
  const auto& fx = RouterFx();
  EXPECT_ALLCLOSE(RouterLogits(fx.Matrix("X"), fx.Matrix("W_router")), fx.Matrix("logits"),
                  fx.tolerance());
}

TEST(Step1_Router, FixtureProbs) {
  const auto& fx = RouterFx();
  // The fixture's logits are exact (sums of small binary fractions), so the probabilities
  // carry only their own rounding.
  EXPECT_ALLCLOSE(RouterProbs(fx.Matrix("logits")), fx.Matrix("probs"), fx.tolerance());
}

TEST(Step1_Router, ProbsAreRowsThatSumToOne) {
  Rng rng(101);
  for (int e : {1, 2, 4, 8, 64}) {
    const Matrix p = RouterProbs(RandomMatrix(rng, 7, e, 3.0));
    ASSERT_EQ(p.rows(), 7);
    ASSERT_EQ(p.cols(), e);
    for (Eigen::Index t = 0; t < p.rows(); ++t) {
      EXPECT_NEAR(p.row(t).sum(), 1.0f, 1e-5) << "token " << t << " with E = " << e;
      EXPECT_GE(p.row(t).minCoeff(), 0.0f) << "token " << t;
    }
  }
}

TEST(Step1_Router, StableForLargeLogits) {
  Matrix z(3, 4);
  z << 1000, 1001, 999, 1000,  //
      -1e4, -1e4 + 1, -1e4 - 1, -1e4,  //
      0, 1, -1, 0;
  const Matrix p = RouterProbs(z);
  ASSERT_TRUE(p.allFinite()) << "exp(1000) overflows float; subtract each row's max first";
  // The three rows are the same logits shifted by a constant.
  EXPECT_ALLCLOSE(p.row(0), p.row(2), (Tolerance{1e-6, 1e-5}));
  EXPECT_ALLCLOSE(p.row(1), p.row(2), (Tolerance{1e-6, 1e-5}));
}

TEST(Step1_Router, MatchesReferenceOnRandomInputs) {
  Rng rng(102);
  for (int t : AwkwardSizes(33)) {
    for (int d : {1, 3, 16}) {
      for (int e : {1, 4, 8}) {
        const Matrix x = RandomMatrix(rng, t, d);
        const Matrix w = RandomMatrix(rng, d, e);
        SCOPED_TRACE(::testing::Message() << "T=" << t << " D=" << d << " E=" << e);
        EXPECT_ALLCLOSE(RouterProbs(RouterLogits(x, w)), reference::moe::RouterProbs(D(x), D(w)),
                        kVsReference);
      }
    }
  }
}

TEST(Step1_Router, RejectsMismatchedShapes) {
  EXPECT_INVALID_ARGUMENT(RouterLogits(Matrix::Ones(3, 4), Matrix::Ones(3, 2)),
                          {"w_router", "3x2", "3x4"});
  EXPECT_INVALID_ARGUMENT(RouterLogits(Matrix(0, 4), Matrix::Ones(4, 2)), {"x", "0x4"});
  EXPECT_INVALID_ARGUMENT(RouterLogits(Matrix::Ones(3, 4), Matrix(4, 0)), {"w_router", "4x0"});
  EXPECT_INVALID_ARGUMENT(RouterProbs(Matrix(2, 0)), {"logits", "2x0"});
}

// ---------------------------------------------------------------------------------
// Step 2: the K best experts of every token and their renormalized gates.

TEST(Step2_TopK, FixtureTop2Experts) {
  const auto& fx = RouterFx();
  const Routing r = TopKGates(fx.Matrix("probs"), fx.Int("top_k"));
  EXPECT_ALLCLOSE(r.experts, fx.Matrix("experts"), kExact);
}

TEST(Step2_TopK, FixtureTop2Gates) {
  const auto& fx = RouterFx();
  const Matrix probs = fx.Matrix("probs");
  const Routing r = TopKGates(probs, fx.Int("top_k"));
  // The fixture's probabilities are rounded (error <= 5e-5 each), the gates were computed
  // from unrounded ones. A gate a / (a + b) moves by at most 5e-5 / (a + b) when a and b
  // each move by 5e-5, so widen by that for the token with the smallest kept mass.
  const IndexMatrix experts = Indices(fx.Matrix("experts"));
  double smallest_mass = 1.0;
  for (Eigen::Index t = 0; t < probs.rows(); ++t) {
    smallest_mass = std::min<double>(smallest_mass, probs(t, experts(t, 0)) + probs(t, experts(t, 1)));
  }
  const Tolerance tol{fx.tolerance().atol + kHalfUlp4 / smallest_mass, fx.tolerance().rtol};
  EXPECT_ALLCLOSE(r.gates, fx.Matrix("gates"), tol);
}

TEST(Step2_TopK, FixtureTop1IsSwitchRouting) {
  const auto& fx = RouterFx();
  const Routing r = TopKGates(fx.Matrix("probs"), 1);
  EXPECT_ALLCLOSE(r.experts, fx.Matrix("experts_k1"), kExact);
  // One kept probability divided by itself.
  EXPECT_ALLCLOSE(r.gates, fx.Matrix("gates_k1"), (Tolerance{1e-6, 0}));
}

TEST(Step2_TopK, TiesGoToTheLowerExpertIndex) {
  Matrix p(2, 4);
  p << 0.3f, 0.3f, 0.1f, 0.3f,  //
      0.1f, 0.4f, 0.1f, 0.4f;
  IndexMatrix top1(2, 1);
  top1 << 0, 1;
  IndexMatrix top2(2, 2);
  top2 << 0, 1,  //
      1, 3;
  IndexMatrix top3(2, 3);
  top3 << 0, 1, 3,  //
      1, 3, 0;
  EXPECT_ALLCLOSE(TopKGates(p, 1).experts, top1, kExact);
  EXPECT_ALLCLOSE(TopKGates(p, 2).experts, top2, kExact);
  EXPECT_ALLCLOSE(TopKGates(p, 3).experts, top3, kExact);
}

TEST(Step2_TopK, ExpertsAreTheBestAndBestFirst) {
  Rng rng(201);
  for (int e : {1, 2, 5, 8, 16}) {
    for (int k = 1; k <= e; k = 2 * k + 1) {
      const Matrix p = RandomProbs(rng, 9, e, 2.0).cast<float>();
      const Routing r = TopKGates(p, k);
      ASSERT_EQ(r.experts.rows(), 9);
      ASSERT_EQ(r.experts.cols(), k);
      for (Eigen::Index t = 0; t < p.rows(); ++t) {
        std::vector<bool> chosen(static_cast<size_t>(e), false);
        for (int j = 0; j < k; ++j) {
          const int ex = r.experts(t, j);
          ASSERT_TRUE(ex >= 0 && ex < e) << "token " << t << " choice " << j << " = " << ex;
          EXPECT_FALSE(chosen[static_cast<size_t>(ex)]) << "token " << t << " picks " << ex
                                                       << " twice";
          chosen[static_cast<size_t>(ex)] = true;
          if (j > 0) {
            EXPECT_GE(p(t, r.experts(t, j - 1)), p(t, ex)) << "token " << t;
          }
        }
        const float last = p(t, r.experts(t, k - 1));
        for (int other = 0; other < e; ++other) {
          if (!chosen[static_cast<size_t>(other)]) {
            EXPECT_LE(p(t, other), last) << "token " << t << ": expert " << other
                                         << " is more probable than a chosen one";
          }
        }
      }
    }
  }
}

TEST(Step2_TopK, GatesSumToOnePerToken) {
  Rng rng(202);
  for (int e : {1, 3, 4, 8, 64}) {
    for (int k : {1, 2, e}) {
      if (k > e) continue;
      const Routing r = TopKGates(RandomProbs(rng, 13, e, 3.0).cast<float>(), k);
      for (Eigen::Index t = 0; t < r.gates.rows(); ++t) {
        EXPECT_NEAR(r.gates.row(t).sum(), 1.0f, 1e-6) << "token " << t << " E=" << e << " K=" << k;
        EXPECT_GT(r.gates.row(t).minCoeff(), 0.0f) << "token " << t;
      }
    }
  }
}

// Mixtral writes the gates as softmax(top-k logits): the same numbers, since the
// softmax denominator cancels in the renormalization.
TEST(Step2_TopK, GatesAreTheSoftmaxOfTheSelectedLogits) {
  Rng rng(203);
  const Matrix logits = RandomMatrix(rng, 6, 8, 2.0);
  const Routing r = TopKGates(RouterProbs(logits), 3);
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    double denom = 0.0;
    for (int j = 0; j < 3; ++j) denom += std::exp(static_cast<double>(logits(t, r.experts(t, j))));
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(r.gates(t, j), std::exp(static_cast<double>(logits(t, r.experts(t, j)))) / denom,
                  1e-5)
          << "token " << t << " choice " << j;
    }
  }
}

TEST(Step2_TopK, MatchesReferenceOnRandomInputs) {
  Rng rng(204);
  for (int t : AwkwardSizes(33)) {
    for (auto [e, k] : {std::pair{1, 1}, {4, 1}, {4, 2}, {8, 2}, {8, 8}, {16, 4}}) {
      const Matrix p = RandomProbs(rng, t, e, 2.0).cast<float>();
      const Routing r = TopKGates(p, k);
      const auto choices = reference::moe::TopK(D(p), k);
      SCOPED_TRACE(::testing::Message() << "T=" << t << " E=" << e << " K=" << k);
      ASSERT_EQ(r.experts.rows(), t);
      ASSERT_EQ(r.experts.cols(), k);
      MatrixD gates(t, k);
      for (int i = 0; i < t; ++i) {
        double kept = 0.0;
        for (int j = 0; j < k; ++j) {
          const int ex = choices[static_cast<size_t>(i)][static_cast<size_t>(j)];
          EXPECT_EQ(r.experts(i, j), ex) << "token " << i << " choice " << j;
          kept += p(i, ex);
        }
        for (int j = 0; j < k; ++j) {
          gates(i, j) = p(i, choices[static_cast<size_t>(i)][static_cast<size_t>(j)]) / kept;
        }
      }
      EXPECT_ALLCLOSE(r.gates, gates, kVsReference);
    }
  }
}

TEST(Step2_TopK, RejectsBadTopK) {
  const Matrix p = Matrix::Constant(3, 4, 0.25f);
  EXPECT_INVALID_ARGUMENT(TopKGates(p, 0), {"top_k = 0", "E = 4"});
  EXPECT_INVALID_ARGUMENT(TopKGates(p, 5), {"top_k = 5", "E = 4"});
  EXPECT_INVALID_ARGUMENT(TopKGates(p, -1), {"top_k = -1"});
  EXPECT_INVALID_ARGUMENT(TopKGates(Matrix(0, 4), 1), {"probs", "0x4"});
}

// ---------------------------------------------------------------------------------
// Step 3: C = ⌈capacity_factor · T · K / E⌉.

TEST(Step3_Capacity, Fixture) {
  const auto& fx = LayerFx();
  const double factor = fx.Scalar("capacity_factor");
  EXPECT_EQ(ExpertCapacity(4, 4, 2, factor), fx.Int("capacity"));
  EXPECT_EQ(ExpertCapacity(4, 4, 1, factor), fx.Int("capacity_k1"));
}

TEST(Step3_Capacity, RoundsUpOnlyWhenThereIsAFraction) {
  EXPECT_EQ(ExpertCapacity(4, 4, 2, 1.25), 3) << "1.25·4·2/4 = 2.5";
  EXPECT_EQ(ExpertCapacity(10, 8, 2, 1.0), 3) << "1·10·2/8 = 2.5";
  EXPECT_EQ(ExpertCapacity(8, 4, 1, 1.0), 2) << "1·8·1/4 = 2 exactly: no rounding up";
  EXPECT_EQ(ExpertCapacity(6, 4, 1, 2.0), 3) << "2·6·1/4 = 3 exactly";
  EXPECT_EQ(ExpertCapacity(4096, 8, 2, 1.25), 1280) << "Mixtral-like: 1.25·4096·2/8";
  EXPECT_EQ(ExpertCapacity(7, 3, 2, 0.5), 3) << "0.5·7·2/3 = 2.33…";
}

// The README's binary-fraction example: the formula is evaluated as written in double,
// where 1.1 · 100 = 110.00000000000001 and the ceiling of 55.00000000000001 is 56 (an
// implementation that subtracts an epsilon or rounds to a few digits first gives 55);
// 1.1 · 10 is exactly 11.
TEST(Step3_Capacity, EvaluatesTheFormulaAsWrittenInDouble) {
  EXPECT_EQ(ExpertCapacity(100, 4, 2, 1.1), 56) << "1.1·100 = 110.00000000000001 in double";
  EXPECT_EQ(ExpertCapacity(10, 1, 1, 1.1), 11) << "1.1·10 rounds to exactly 11.0";
}

TEST(Step3_Capacity, IsAtLeastOneSlot) {
  EXPECT_EQ(ExpertCapacity(1, 64, 1, 0.01), 1) << "0.01·1·1/64 rounds up to 1";
  EXPECT_EQ(ExpertCapacity(3, 128, 2, 1.0), 1);
}

TEST(Step3_Capacity, AFactorOfEOverKNeverDrops) {
  for (int t : {1, 2, 7, 64}) {
    for (auto [e, k] : {std::pair{1, 1}, {4, 1}, {4, 2}, {8, 2}, {6, 3}, {16, 16}}) {
      EXPECT_GE(ExpertCapacity(t, e, k, static_cast<double>(e) / k), t)
          << "T=" << t << " E=" << e << " K=" << k << ": every token must fit in one expert";
    }
  }
}

// ceil(factor · T · K / E) must fit an int: with T = E = K = 1 the slots are the factor
// itself, so 2147483647 = INT_MAX is exact and representable, 2147483648 is one past it,
// and 1e30 is far past. A cast of the double to int without the check is undefined and
// on x86 gives INT_MIN, a negative capacity.
TEST(Step3_Capacity, RejectsSlotsAnIntCannotHold) {
  EXPECT_EQ(ExpertCapacity(1, 1, 1, 2147483647.0), INT_MAX);
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(1, 1, 1, 2147483648.0), {"capacity_factor"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 2, 1e30), {"capacity_factor"});
}

TEST(Step3_Capacity, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 2, 0.0), {"capacity_factor = 0"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 2, -1.0), {"capacity_factor = -1"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 2, std::numeric_limits<double>::quiet_NaN()),
                          {"capacity_factor"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 2, std::numeric_limits<double>::infinity()),
                          {"capacity_factor"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 0, 1.0), {"top_k = 0"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 4, 5, 1.0), {"top_k = 5", "E = 4"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(0, 4, 1, 1.0), {"num_tokens = 0"});
  EXPECT_INVALID_ARGUMENT(ExpertCapacity(4, 0, 1, 1.0), {"num_experts = 0"});
}

// ---------------------------------------------------------------------------------
// Step 4: slots by choice rank then token index; the batch of every expert.

TEST(Step4_Dispatch, FixtureSlots) {
  const DispatchPlan plan = PlanDispatch(Indices(RouterFx().Matrix("experts")), 4,
                                         LayerFx().Int("capacity"));
  EXPECT_EQ(plan.capacity, LayerFx().Int("capacity"));
  EXPECT_ALLCLOSE(plan.slots, LayerFx().Matrix("slots"), kExact);
}

TEST(Step4_Dispatch, FixtureExpertTokensAndMask) {
  const DispatchPlan plan = PlanDispatch(Indices(RouterFx().Matrix("experts")), 4,
                                         LayerFx().Int("capacity"));
  EXPECT_ALLCLOSE(plan.expert_tokens, LayerFx().Matrix("expert_tokens"), kExact);
  EXPECT_ALLCLOSE(plan.mask, LayerFx().Matrix("mask"), kExact);
}

TEST(Step4_Dispatch, FixtureNumDropped) {
  const DispatchPlan plan = PlanDispatch(Indices(RouterFx().Matrix("experts")), 4,
                                         LayerFx().Int("capacity"));
  EXPECT_EQ(plan.num_dropped, LayerFx().Int("num_dropped"));
}

TEST(Step4_Dispatch, FixtureTop1) {
  const DispatchPlan plan = PlanDispatch(Indices(RouterFx().Matrix("experts_k1")), 4,
                                         LayerFx().Int("capacity_k1"));
  EXPECT_ALLCLOSE(plan.slots, LayerFx().Matrix("slots_k1"), kExact);
  EXPECT_ALLCLOSE(plan.expert_tokens, LayerFx().Matrix("expert_tokens_k1"), kExact);
  EXPECT_EQ(plan.num_dropped, LayerFx().Int("num_dropped_k1"));
}

TEST(Step4_Dispatch, FixtureBatches) {
  const std::vector<Matrix> batches = GatherTokens(RouterFx().Matrix("X"), FixturePlan());
  ASSERT_EQ(batches.size(), 4u) << "one batch per expert";
  EXPECT_ALLCLOSE(batches[0], LayerFx().Matrix("batch0"), kExact);
  EXPECT_ALLCLOSE(batches[1], LayerFx().Matrix("batch1"), kExact);
  EXPECT_ALLCLOSE(batches[2], LayerFx().Matrix("batch2"), kExact);
  EXPECT_EQ(batches[3].rows(), 0) << "expert 3 received no token";
  EXPECT_EQ(batches[3].cols(), 2) << "an empty batch still has the model width";
}

// Token 0's second choice and token 1's first choice both want expert 0, which has one
// slot. Token order alone would give it to token 0; the rank comes first, so token 1
// keeps its first choice.
TEST(Step4_Dispatch, FirstChoicesOutrankSecondChoices) {
  IndexMatrix experts(2, 2);
  experts << 1, 0,  //
      0, 2;
  const DispatchPlan plan = PlanDispatch(experts, 3, 1);
  IndexMatrix slots(2, 2);
  slots << 0, -1,  //
      0, 0;
  EXPECT_ALLCLOSE(plan.slots, slots, kExact);
  EXPECT_EQ(plan.expert_tokens(0, 0), 1) << "expert 0's only slot goes to token 1";
  EXPECT_EQ(plan.num_dropped, 1);
}

TEST(Step4_Dispatch, EarlierTokensWinWithinARank) {
  IndexMatrix experts(3, 1);
  experts << 2, 2, 2;
  const DispatchPlan plan = PlanDispatch(experts, 3, 2);
  IndexMatrix slots(3, 1);
  slots << 0, 1, -1;
  IndexMatrix table(3, 2);
  table << -1, -1,  //
      -1, -1,  //
      0, 1;
  EXPECT_ALLCLOSE(plan.slots, slots, kExact);
  EXPECT_ALLCLOSE(plan.expert_tokens, table, kExact);
  EXPECT_EQ(plan.num_dropped, 1);
}

TEST(Step4_Dispatch, NoDropsWhenCapacityIsT) {
  Rng rng(401);
  for (auto [t, e, k] : {std::tuple{1, 1, 1}, {5, 4, 2}, {17, 8, 2}, {9, 3, 3}}) {
    const DispatchPlan plan = PlanDispatch(RandomChoices(rng, t, e, k), e, t);
    EXPECT_EQ(plan.num_dropped, 0) << "T=" << t << " E=" << e << " K=" << k;
    EXPECT_GE(plan.slots.minCoeff(), 0) << "T=" << t << " E=" << e << " K=" << k;
  }
}

// What the priority rule means, checked on random choices with drops: every kept choice
// is where the table says, the mask agrees, and a choice is dropped only when its expert
// is full of choices that come before it in (rank, token) order.
TEST(Step4_Dispatch, PlanFollowsThePriorityRule) {
  Rng rng(402);
  for (auto [t, e, k, c] : {std::tuple{12, 4, 2, 3}, {20, 8, 1, 2}, {7, 3, 2, 1}, {33, 5, 3, 9}}) {
    const IndexMatrix experts = RandomChoices(rng, t, e, k);
    const DispatchPlan plan = PlanDispatch(experts, e, c);
    SCOPED_TRACE(::testing::Message() << "T=" << t << " E=" << e << " K=" << k << " C=" << c);
    ASSERT_EQ(plan.expert_tokens.rows(), e);
    ASSERT_EQ(plan.expert_tokens.cols(), c);
    ASSERT_EQ(plan.slots.rows(), t);
    ASSERT_EQ(plan.slots.cols(), k);
    ASSERT_EQ(plan.mask.rows(), t);
    ASSERT_EQ(plan.mask.cols(), e);
    int dropped = 0;
    IndexMatrix mask = IndexMatrix::Zero(t, e);
    for (int i = 0; i < t; ++i) {
      for (int j = 0; j < k; ++j) {
        const int ex = experts(i, j);
        const int slot = plan.slots(i, j);
        if (slot >= 0) {
          ASSERT_LT(slot, c);
          EXPECT_EQ(plan.expert_tokens(ex, slot), i) << "token " << i << " choice " << j;
          mask(i, ex) = 1;
          continue;
        }
        ++dropped;
        for (int s = 0; s < c; ++s) {
          const int holder = plan.expert_tokens(ex, s);
          ASSERT_GE(holder, 0) << "token " << i << " choice " << j << " was dropped but expert "
                               << ex << " has a free slot " << s;
          int holder_rank = 0;
          while (experts(holder, holder_rank) != ex) ++holder_rank;
          EXPECT_TRUE(holder_rank < j || (holder_rank == j && holder < i))
              << "token " << holder << " (choice " << holder_rank << ") holds a slot of expert "
              << ex << " that token " << i << " (choice " << j << ") outranks";
        }
      }
    }
    EXPECT_EQ(plan.num_dropped, dropped);
    EXPECT_ALLCLOSE(plan.mask, mask, kExact);
  }
}

TEST(Step4_Dispatch, GatherTokensCopiesRowsInSlotOrder) {
  Rng rng(403);
  const Matrix x = RandomMatrix(rng, 11, 5);
  const DispatchPlan plan = PlanDispatch(RandomChoices(rng, 11, 4, 2), 4, 4);
  const std::vector<Matrix> batches = GatherTokens(x, plan);
  ASSERT_EQ(batches.size(), 4u);
  for (int e = 0; e < 4; ++e) {
    int filled = 0;
    while (filled < plan.capacity && plan.expert_tokens(e, filled) >= 0) ++filled;
    ASSERT_EQ(batches[static_cast<size_t>(e)].rows(), filled) << "expert " << e;
    for (int s = 0; s < filled; ++s) {
      EXPECT_ALLCLOSE(batches[static_cast<size_t>(e)].row(s), x.row(plan.expert_tokens(e, s)),
                      kExact)
          << "expert " << e << " slot " << s;
    }
  }
}

TEST(Step4_Dispatch, RejectsBadArguments) {
  IndexMatrix experts(2, 2);
  experts << 0, 1,  //
      4, 2;
  EXPECT_INVALID_ARGUMENT(PlanDispatch(experts, 4, 2), {"experts(1, 0) = 4", "E = 4"});
  experts(1, 0) = -1;
  EXPECT_INVALID_ARGUMENT(PlanDispatch(experts, 4, 2), {"experts(1, 0) = -1"});
  experts(1, 0) = 2;
  EXPECT_INVALID_ARGUMENT(PlanDispatch(experts, 4, 2), {"experts", "row 1", "twice"});
  experts(1, 0) = 3;
  EXPECT_INVALID_ARGUMENT(PlanDispatch(experts, 4, 0), {"capacity = 0"});
  EXPECT_INVALID_ARGUMENT(PlanDispatch(experts, 0, 1), {"num_experts = 0"});
  EXPECT_INVALID_ARGUMENT(PlanDispatch(IndexMatrix(0, 2), 4, 1), {"experts", "0x2"});
  const DispatchPlan plan = PlanDispatch(experts, 4, 2);
  EXPECT_INVALID_ARGUMENT(GatherTokens(Matrix::Ones(3, 2), plan), {"x", "3x2"});
}

// ---------------------------------------------------------------------------------
// Step 5: every expert on its batch, then the gate-weighted sum per token.

TEST(Step5_Combine, FixtureExpertOutputs) {
  const auto& fx = LayerFx();
  EXPECT_ALLCLOSE(ExpertFfn(fx.Matrix("batch0"), FixtureExpert("0")), fx.Matrix("out0"),
                  fx.tolerance());
  EXPECT_ALLCLOSE(ExpertFfn(fx.Matrix("batch1"), FixtureExpert("1")), fx.Matrix("out1"),
                  fx.tolerance());
  EXPECT_ALLCLOSE(ExpertFfn(fx.Matrix("batch2"), FixtureExpert("2")), fx.Matrix("out2"),
                  fx.tolerance());
}

TEST(Step5_Combine, FixtureSharedExpert) {
  const auto& fx = LayerFx();
  EXPECT_ALLCLOSE(ExpertFfn(RouterFx().Matrix("X"), FixtureExpert("shared")), fx.Matrix("shared"),
                  fx.tolerance());
}

TEST(Step5_Combine, FixtureRouted) {
  const auto& fx = LayerFx();
  const std::vector<Matrix> outputs = {fx.Matrix("out0"), fx.Matrix("out1"), fx.Matrix("out2"),
                                       Matrix(0, 2)};
  // The fixture's gates are rounded (error <= 5e-5 each) and routed was computed from the
  // unrounded ones: routed(t, c) moves by at most 5e-5 · Σ_j |out_j(c)| <= 5e-5 · 2 · max|out|.
  double largest = 0.0;
  for (const Matrix& m : outputs) {
    if (m.size() > 0) largest = std::max<double>(largest, m.cwiseAbs().maxCoeff());
  }
  const Tolerance tol{fx.tolerance().atol + kHalfUlp4 * 2 * largest, fx.tolerance().rtol};
  EXPECT_ALLCLOSE(Combine(outputs, FixtureRouting(), FixturePlan()), fx.Matrix("routed"), tol);
}

TEST(Step5_Combine, ReluClipsNegativeHiddenUnits) {
  Expert identity{Matrix::Identity(2, 2), Matrix::Identity(2, 2)};
  Matrix x(2, 2);
  x << 1, -2,  //
      -3, 0.5f;
  Matrix expected(2, 2);
  expected << 1, 0,  //
      0, 0.5f;
  EXPECT_ALLCLOSE(ExpertFfn(x, identity), expected, kExact);
}

TEST(Step5_Combine, AnEmptyBatchGivesAnEmptyOutput) {
  Rng rng(501);
  const Matrix out = ExpertFfn(Matrix(0, 3), RandomExpert(rng, 3, 5));
  EXPECT_EQ(out.rows(), 0);
  EXPECT_EQ(out.cols(), 3);
}

TEST(Step5_Combine, ExpertFfnMatchesReference) {
  Rng rng(502);
  for (int n : AwkwardSizes(33)) {
    for (auto [d, f] : {std::pair{1, 1}, {3, 8}, {16, 64}, {7, 5}}) {
      const Matrix x = RandomMatrix(rng, n, d);
      const Expert ex = RandomExpert(rng, d, f);
      SCOPED_TRACE(::testing::Message() << "n=" << n << " D=" << d << " F=" << f);
      EXPECT_ALLCLOSE(ExpertFfn(x, ex), reference::moe::ReluFfn(D(x), D(ex.w1), D(ex.w2)),
                      kVsReference);
    }
  }
}

// Two tokens, two choices each; token 1's second choice was dropped: it gets only
// 0.75 of its first expert's output, and the gates are not renormalized after the drop.
TEST(Step5_Combine, WeighsByGatesAndSkipsDroppedChoices) {
  Matrix out0(2, 2);
  out0 << 1, 2,  //
      10, 20;
  Matrix out1(1, 2);
  out1 << 100, 200;
  Routing r;
  r.experts.resize(2, 2);
  r.experts << 1, 0,  //
      0, 1;
  r.gates.resize(2, 2);
  r.gates << 0.5f, 0.5f,  //
      0.75f, 0.25f;
  DispatchPlan plan;
  plan.capacity = 2;
  plan.expert_tokens.resize(2, 2);
  plan.expert_tokens << 0, 1,  //
      0, -1;
  plan.slots.resize(2, 2);
  plan.slots << 0, 0,  //
      1, -1;
  plan.mask.resize(2, 2);
  plan.mask << 1, 1,  //
      1, 0;
  plan.num_dropped = 1;
  Matrix expected(2, 2);
  expected << 0.5f * 100 + 0.5f * 1, 0.5f * 200 + 0.5f * 2,  //
      0.75f * 10, 0.75f * 20;
  EXPECT_ALLCLOSE(Combine({out0, out1}, r, plan), expected, (Tolerance{0, 1e-6}));
}

TEST(Step5_Combine, RejectsMismatchedShapes) {
  const Matrix x = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(ExpertFfn(x, Expert{Matrix::Ones(3, 4), Matrix::Ones(4, 2)}),
                          {"w1", "3x4"});
  EXPECT_INVALID_ARGUMENT(ExpertFfn(x, Expert{Matrix::Ones(2, 4), Matrix::Ones(4, 3)}),
                          {"w2", "4x3"});
  EXPECT_INVALID_ARGUMENT(ExpertFfn(x, Expert{Matrix::Ones(2, 4), Matrix::Ones(3, 2)}),
                          {"w2", "3x2"});
  const auto& fx = LayerFx();
  const Matrix out0 = fx.Matrix("out0");
  const Matrix out1 = fx.Matrix("out1");
  const Matrix out2 = fx.Matrix("out2");
  EXPECT_INVALID_ARGUMENT(Combine({out0, out1, out2}, FixtureRouting(), FixturePlan()),
                          {"expert_outputs", "3", "E = 4"});
  EXPECT_INVALID_ARGUMENT(
      Combine({out0, out2, out2, Matrix(0, 2)}, FixtureRouting(), FixturePlan()),
      {"expert_outputs[1]", "1x2"});
  Routing bad = FixtureRouting();
  bad.gates = Matrix::Ones(4, 1);
  EXPECT_INVALID_ARGUMENT(Combine({out0, out1, out2, Matrix(0, 2)}, bad, FixturePlan()),
                          {"routing.gates", "4x1"});
}

// ---------------------------------------------------------------------------------
// Step 6: alpha · E · Σ f_i · P_i.

TEST(Step6_BalanceLoss, FixtureFractionsAndMeanProbs) {
  const auto& fx = RouterFx();
  const BalanceLoss b =
      LoadBalancingLoss(fx.Matrix("probs"), Indices(fx.Matrix("experts")), fx.Scalar("alpha"));
  EXPECT_ALLCLOSE(b.fractions, fx.Matrix("fractions"), (Tolerance{1e-7, 0}));
  // Means of rounded probabilities: each is off by at most the same 5e-5.
  const Tolerance tol{fx.tolerance().atol + kHalfUlp4, fx.tolerance().rtol};
  EXPECT_ALLCLOSE(b.mean_probs, fx.Matrix("mean_probs"), tol);
}

TEST(Step6_BalanceLoss, FixtureLoss) {
  const auto& fx = RouterFx();
  const double alpha = fx.Scalar("alpha");
  // Every P_i carries <= 5e-5 from the rounded probabilities; Σ f_i = 1, so the loss
  // carries <= alpha · E · 5e-5 on top of its own rounding.
  const double tol = fx.tolerance().atol + alpha * 4 * kHalfUlp4;
  EXPECT_NEAR(LoadBalancingLoss(fx.Matrix("probs"), Indices(fx.Matrix("experts")), alpha).loss,
              fx.Scalar("loss"), tol);
  const BalanceLoss top1 =
      LoadBalancingLoss(fx.Matrix("probs"), Indices(fx.Matrix("experts_k1")), alpha);
  EXPECT_ALLCLOSE(top1.fractions, fx.Matrix("fractions_k1"), (Tolerance{1e-7, 0}));
  EXPECT_NEAR(top1.loss, fx.Scalar("loss_k1"), tol);
}

TEST(Step6_BalanceLoss, EqualsAlphaAtPerfectBalance) {
  Rng rng(601);
  // Eight tokens over four experts, two each, whatever the probabilities are.
  IndexMatrix top1(8, 1);
  top1 << 0, 1, 2, 3, 3, 2, 1, 0;
  IndexMatrix top2(8, 2);
  top2 << 0, 1, 2, 3, 1, 2, 3, 0, 0, 2, 1, 3, 3, 1, 2, 0;
  for (double alpha : {0.01, 1.0}) {
    const Matrix p = RandomProbs(rng, 8, 4, 2.0).cast<float>();
    EXPECT_NEAR(LoadBalancingLoss(p, top1, alpha).loss, alpha, 1e-6 * alpha);
    EXPECT_NEAR(LoadBalancingLoss(p, top2, alpha).loss, alpha, 1e-6 * alpha);
  }
}

// All tokens prefer expert 0 (and 1) more and more strongly: f is stuck on them and P
// follows the logits, so the loss climbs from alpha towards alpha · E / K.
TEST(Step6_BalanceLoss, GrowsTowardsAlphaTimesEOverKAsRoutingCollapses) {
  for (int k : {1, 2}) {
    double previous = 0.0;
    for (float s : {0.0f, 1.0f, 2.0f, 4.0f, 8.0f, 16.0f}) {
      Matrix logits = Matrix::Zero(6, 4);
      logits.col(0).setConstant(s + 0.001f);  // + 0.001: the collapse is strict, not a tie
      if (k == 2) logits.col(1).setConstant(s);
      const Matrix probs = RouterProbs(logits);
      const Routing r = TopKGates(probs, k);
      const double loss = LoadBalancingLoss(probs, r.experts, 1.0).loss;
      EXPECT_GT(loss, previous) << "K=" << k << " s=" << s;
      EXPECT_LE(loss, 4.0 / k + 1e-6) << "K=" << k << " s=" << s;
      previous = loss;
    }
    EXPECT_NEAR(previous, 4.0 / k, 1e-5) << "K=" << k << ": the limit is alpha · E / K";
  }
}

TEST(Step6_BalanceLoss, NeverExceedsAlphaTimesEOverK) {
  Rng rng(602);
  for (int trial = 0; trial < 50; ++trial) {
    const int e = 2 + static_cast<int>(rng.Below(15));
    const int k = 1 + static_cast<int>(rng.Below(static_cast<std::uint64_t>(e)));
    const Matrix p = RandomProbs(rng, 10, e, 4.0).cast<float>();
    const double loss = LoadBalancingLoss(p, TopKGates(p, k).experts, 0.5).loss;
    EXPECT_LE(loss, 0.5 * e / k + 1e-6) << "E=" << e << " K=" << k;
  }
}

// Balance is not a minimum: with E = 3, token 0 goes to expert 0 at p = 0.34 and token 1
// to expert 1 at p = 0.49; f = (1/2, 1/2, 0), P = (0.18, 0.41, 0.41), and
// 3 · (0.5 · 0.18 + 0.5 · 0.41) = 0.885 < 1.
TEST(Step6_BalanceLoss, CanDipBelowAlpha) {
  Matrix p(2, 3);
  p << 0.34f, 0.33f, 0.33f,  //
      0.02f, 0.49f, 0.49f;
  IndexMatrix experts(2, 1);
  experts << 0, 1;
  EXPECT_NEAR(LoadBalancingLoss(p, experts, 1.0).loss, 0.885, 1e-6);
}

TEST(Step6_BalanceLoss, MatchesReferenceOnRandomInputs) {
  Rng rng(603);
  for (int t : AwkwardSizes(65)) {
    for (auto [e, k] : {std::pair{1, 1}, {4, 1}, {4, 2}, {8, 2}, {16, 4}}) {
      const Matrix p = RandomProbs(rng, t, e, 2.0).cast<float>();
      const auto choices = reference::moe::TopK(D(p), k);
      IndexMatrix experts(t, k);
      for (int i = 0; i < t; ++i) {
        for (int j = 0; j < k; ++j) experts(i, j) = choices[static_cast<size_t>(i)][static_cast<size_t>(j)];
      }
      EXPECT_NEAR(LoadBalancingLoss(p, experts, 0.01).loss,
                  reference::moe::LoadBalancingLoss(D(p), choices, 0.01), 1e-8)
          << "T=" << t << " E=" << e << " K=" << k;
    }
  }
}

TEST(Step6_BalanceLoss, RejectsBadArguments) {
  const Matrix p = Matrix::Constant(4, 4, 0.25f);
  IndexMatrix experts = IndexMatrix::Zero(4, 2);
  experts.col(1).setConstant(1);
  EXPECT_INVALID_ARGUMENT(LoadBalancingLoss(p, experts, -1.0), {"alpha = -1"});
  EXPECT_INVALID_ARGUMENT(LoadBalancingLoss(p, IndexMatrix::Zero(3, 1), 1.0),
                          {"experts", "3x1", "4x4"});
  experts(0, 1) = 4;
  EXPECT_INVALID_ARGUMENT(LoadBalancingLoss(p, experts, 1.0), {"experts(0, 1) = 4", "E = 4"});
  EXPECT_INVALID_ARGUMENT(LoadBalancingLoss(Matrix(0, 4), IndexMatrix(0, 1), 1.0),
                          {"probs", "0x4"});
}

// ---------------------------------------------------------------------------------
// Step 7: the layer, y = x + shared(x) + routed(x).

TEST(Step7_MoeLayer, FixtureRouting) {
  const auto& fx = RouterFx();
  MoeTrace trace;
  MoeLayer(fx.Matrix("X"), FixtureWeights(), FixtureConfig(), &trace);
  EXPECT_ALLCLOSE(trace.logits, fx.Matrix("logits"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.probs, fx.Matrix("probs"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.routing.experts, fx.Matrix("experts"), kExact);
  EXPECT_ALLCLOSE(trace.routing.gates, fx.Matrix("gates"), fx.tolerance());
}

TEST(Step7_MoeLayer, FixtureDispatch) {
  const auto& fx = LayerFx();
  MoeTrace trace;
  MoeLayer(RouterFx().Matrix("X"), FixtureWeights(), FixtureConfig(), &trace);
  EXPECT_EQ(trace.plan.capacity, fx.Int("capacity"));
  EXPECT_ALLCLOSE(trace.plan.expert_tokens, fx.Matrix("expert_tokens"), kExact);
  EXPECT_ALLCLOSE(trace.plan.slots, fx.Matrix("slots"), kExact);
  EXPECT_ALLCLOSE(trace.plan.mask, fx.Matrix("mask"), kExact);
  EXPECT_EQ(trace.plan.num_dropped, fx.Int("num_dropped"));
}

TEST(Step7_MoeLayer, FixtureExpertBatches) {
  const auto& fx = LayerFx();
  MoeTrace trace;
  MoeLayer(RouterFx().Matrix("X"), FixtureWeights(), FixtureConfig(), &trace);
  ASSERT_EQ(trace.expert_inputs.size(), 4u) << "trace.expert_inputs holds one batch per expert";
  ASSERT_EQ(trace.expert_outputs.size(), 4u) << "trace.expert_outputs holds one per expert";
  for (int e = 0; e < 3; ++e) {
    const std::string i = std::to_string(e);
    EXPECT_ALLCLOSE(trace.expert_inputs[static_cast<size_t>(e)], fx.Matrix("batch" + i), kExact)
        << "expert " << e;
    EXPECT_ALLCLOSE(trace.expert_outputs[static_cast<size_t>(e)], fx.Matrix("out" + i),
                    fx.tolerance())
        << "expert " << e;
  }
  EXPECT_EQ(trace.expert_outputs[3].rows(), 0) << "expert 3 is idle";
}

TEST(Step7_MoeLayer, FixtureRoutedSharedAndOutput) {
  const auto& fx = LayerFx();
  MoeTrace trace;
  const Matrix y = MoeLayer(RouterFx().Matrix("X"), FixtureWeights(), FixtureConfig(), &trace);
  EXPECT_ALLCLOSE(trace.routed, fx.Matrix("routed"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.shared, fx.Matrix("shared"), fx.tolerance());
  EXPECT_ALLCLOSE(y, fx.Matrix("output"), fx.tolerance());
}

TEST(Step7_MoeLayer, FixtureBalanceLoss) {
  const auto& fx = RouterFx();
  MoeTrace trace;
  MoeLayer(fx.Matrix("X"), FixtureWeights(), FixtureConfig(), &trace);
  EXPECT_ALLCLOSE(trace.balance.fractions, fx.Matrix("fractions"), (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(trace.balance.mean_probs, fx.Matrix("mean_probs"), fx.tolerance());
  EXPECT_NEAR(trace.balance.loss, fx.Scalar("loss"), fx.tolerance().atol);
}

TEST(Step7_MoeLayer, OneExpertWithTopOneIsADenseFfn) {
  Rng rng(701);
  for (int t : {1, 4, 17}) {
    const MoeWeights w = RandomWeights(rng, 6, 10, 1, 0);
    const Matrix x = RandomMatrix(rng, t, 6);
    MoeConfig c;
    c.top_k = 1;
    c.capacity_factor = 1.0;  // C = T: the one expert takes every token
    const MatrixD dense = D(x) + reference::moe::ReluFfn(D(x), D(w.experts[0].w1),
                                                         D(w.experts[0].w2));
    EXPECT_ALLCLOSE(MoeLayer(x, w, c), dense, kVsReference) << "T=" << t;
  }
}

// A router that sends every token to expert 0 first; with capacity 1 only token 0 gets
// in, and the others come out exactly as they went in.
TEST(Step7_MoeLayer, ADroppedTokenPassesThroughUnchanged) {
  Rng rng(702);
  MoeWeights w = RandomWeights(rng, 3, 4, 4, 0);
  w.router.setZero();
  w.router(0, 0) = 1.0f;  // x(:, 0) > 0 below: expert 0 wins every token
  Matrix x = RandomMatrix(rng, 5, 3);
  x.col(0) = x.col(0).cwiseAbs().array() + 1.0f;
  MoeConfig c;
  c.top_k = 1;
  c.capacity_factor = 0.5;  // ⌈0.5 · 5 · 1 / 4⌉ = 1
  MoeTrace trace;
  const Matrix y = MoeLayer(x, w, c, &trace);
  EXPECT_EQ(trace.plan.capacity, 1);
  EXPECT_EQ(trace.plan.num_dropped, 4);
  EXPECT_ALLCLOSE(y.bottomRows(4), x.bottomRows(4), kExact);
  EXPECT_GT((y.row(0) - x.row(0)).cwiseAbs().maxCoeff(), 0.0f) << "token 0 was processed";
}

TEST(Step7_MoeLayer, ATokensOutputDoesNotDependOnTheOthersWithoutDrops) {
  Rng rng(703);
  for (auto [e, k, s] : {std::tuple{4, 2, 0}, {8, 1, 1}, {3, 3, 2}}) {
    const MoeWeights w = RandomWeights(rng, 5, 7, e, s);
    const Matrix x = RandomMatrix(rng, 9, 5);
    MoeConfig c;
    c.top_k = k;
    c.capacity_factor = static_cast<double>(e) / k;  // C >= T: nothing is dropped
    const Matrix y = MoeLayer(x, w, c);
    for (Eigen::Index t = 0; t < x.rows(); ++t) {
      const Matrix alone = MoeLayer(x.row(t), w, c);
      EXPECT_ALLCLOSE(y.row(t), alone, (Tolerance{1e-6, 1e-5}))
          << "token " << t << " with E=" << e << " K=" << k << " S=" << s;
    }
  }
}

// With drops, the other tokens matter only through which choices are dropped: a token
// that lost none of its choices comes out as if it were alone in the batch.
TEST(Step7_MoeLayer, OtherTokensMatterOnlyThroughDrops) {
  Rng rng(704);
  const MoeWeights w = RandomWeights(rng, 4, 6, 4, 1);
  const Matrix x = RandomMatrix(rng, 16, 4);
  MoeConfig c;
  c.top_k = 2;
  c.capacity_factor = 0.5;
  MoeTrace trace;
  const Matrix y = MoeLayer(x, w, c, &trace);
  ASSERT_GT(trace.plan.num_dropped, 0) << "this test needs drops";
  int intact = 0;
  int changed = 0;
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const Matrix alone = MoeLayer(x.row(t), w, c);  // one token never overflows
    if (trace.plan.slots.row(t).minCoeff() >= 0) {
      ++intact;
      EXPECT_ALLCLOSE(y.row(t), alone, (Tolerance{1e-6, 1e-5})) << "token " << t;
    } else if ((y.row(t) - alone).cwiseAbs().maxCoeff() > 1e-4f) {
      ++changed;
    }
  }
  EXPECT_GT(intact, 0);
  EXPECT_GT(changed, 0) << "a dropped choice must change the token's output";
}

TEST(Step7_MoeLayer, SharedExpertsAreAddedToEveryToken) {
  Rng rng(705);
  MoeWeights w = RandomWeights(rng, 5, 6, 4, 2);
  const Matrix x = RandomMatrix(rng, 7, 5);
  MoeConfig c;
  c.top_k = 2;
  c.capacity_factor = 1.0;
  MoeTrace with;
  const Matrix y = MoeLayer(x, w, c, &with);
  const std::vector<Expert> shared = w.shared;
  w.shared.clear();
  MoeTrace without;
  const Matrix y0 = MoeLayer(x, w, c, &without);
  MatrixD expected = MatrixD::Zero(7, 5);
  for (const Expert& s : shared) expected += reference::moe::ReluFfn(D(x), D(s.w1), D(s.w2));
  EXPECT_ALLCLOSE(with.shared, expected, kVsReference);
  EXPECT_ALLCLOSE(without.shared, MatrixD::Zero(7, 5), kExact);
  EXPECT_ALLCLOSE(y - y0, expected, kVsReference);
}

TEST(Step7_MoeLayer, MatchesReferenceOnRandomInputs) {
  Rng rng(706);
  for (int t : AwkwardSizes(33)) {
    for (auto [e, k] : {std::pair{1, 1}, {4, 1}, {4, 2}, {8, 2}, {3, 3}}) {
      for (double factor : {0.5, 1.25, 8.0}) {
        const int s = t % 2;
        const MoeWeights w = RandomWeights(rng, 6, 8, e, s);
        const Matrix x = RandomMatrix(rng, t, 6);
        MoeConfig c;
        c.top_k = k;
        c.capacity_factor = factor;
        c.alpha = 0.01;
        SCOPED_TRACE(::testing::Message() << "T=" << t << " E=" << e << " K=" << k
                                          << " factor=" << factor << " S=" << s);
        MoeTrace trace;
        const Matrix y = MoeLayer(x, w, c, &trace);
        const reference::moe::MoeResult ref = Reference(x, w, c);
        EXPECT_EQ(trace.plan.capacity, ref.capacity);
        EXPECT_EQ(trace.plan.num_dropped, ref.dropped);
        EXPECT_ALLCLOSE(trace.routed, ref.routed, kVsReference);
        EXPECT_ALLCLOSE(y, ref.output, kVsReference);
        EXPECT_NEAR(trace.balance.loss, ref.loss, 1e-7);
      }
    }
  }
}

TEST(Step7_MoeLayer, RejectsBadConfigurations) {
  const MoeWeights w = FixtureWeights();
  const Matrix x = RouterFx().Matrix("X");
  MoeConfig c = FixtureConfig();
  c.top_k = 0;
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"top_k = 0"});
  c.top_k = 5;
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"top_k = 5", "E = 4"});
  c = FixtureConfig();
  c.capacity_factor = 0.0;
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"capacity_factor = 0"});
  c.capacity_factor = -0.5;
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"capacity_factor = -0.5"});
  c = FixtureConfig();
  c.alpha = -1.0;
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"alpha = -1"});
}

TEST(Step7_MoeLayer, RejectsMismatchedShapes) {
  const Matrix x = RouterFx().Matrix("X");
  const MoeConfig c = FixtureConfig();
  MoeWeights w = FixtureWeights();
  w.router = Matrix::Ones(3, 4);
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"router", "3x4"});
  w = FixtureWeights();
  w.experts.pop_back();
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"router", "2x4", "E = 3"});
  w = FixtureWeights();
  w.experts[2].w1 = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"experts[2].w1", "3x2"});
  w = FixtureWeights();
  w.shared[0].w2 = Matrix::Ones(2, 3);
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"shared[0].w2", "2x3"});
  w = FixtureWeights();
  w.experts.clear();
  EXPECT_INVALID_ARGUMENT(MoeLayer(x, w, c), {"experts"});
  EXPECT_INVALID_ARGUMENT(MoeLayer(Matrix(0, 2), FixtureWeights(), c), {"x", "0x2"});
}

// ---------------------------------------------------------------------------------
// Step 8: FLOPs per token, sparse against dense.

TEST(Step8_Flops, Fixture) {
  const auto& fx = FlopsFx();
  const MatrixD shapes = fx.MatrixD("shapes");
  const MatrixD counts = fx.MatrixD("counts");
  for (Eigen::Index i = 0; i < shapes.rows(); ++i) {
    const auto arg = [&](int j) { return static_cast<int>(shapes(i, j)); };
    const FlopCount f = MoeFlopsPerToken(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5));
    MatrixD got(1, 6);
    got << static_cast<double>(f.router_flops), static_cast<double>(f.expert_flops),
        static_cast<double>(f.sparse_flops), static_cast<double>(f.dense_flops),
        static_cast<double>(f.total_params), static_cast<double>(f.active_params);
    EXPECT_ALLCLOSE(got, counts.row(i), kExact) << "row " << i << " of flops.json#shapes";
  }
}

TEST(Step8_Flops, WithEveryExpertActiveTheExpertsCostTheDenseFfn) {
  for (auto [e, s] : {std::pair{1, 0}, {8, 0}, {4, 2}}) {
    const FlopCount f = MoeFlopsPerToken(64, 256, e, e, s, 3);
    EXPECT_EQ(f.expert_flops, f.dense_flops) << "E=" << e << " S=" << s;
    EXPECT_EQ(f.sparse_flops, f.dense_flops + 2 * 64 * e) << "the router is the overhead";
  }
}

TEST(Step8_Flops, ActiveShareIsKPlusSOverEPlusS) {
  for (auto [e, k, s] : {std::tuple{8, 2, 0}, {64, 6, 2}, {128, 1, 0}, {16, 4, 1}}) {
    const FlopCount f = MoeFlopsPerToken(512, 1024, e, k, s, 2);
    EXPECT_EQ(f.active_params * (e + s), f.total_params * (k + s))
        << "E=" << e << " K=" << k << " S=" << s;
    EXPECT_EQ(f.expert_flops, 2 * f.active_params);
    EXPECT_EQ(f.dense_flops, 2 * f.total_params);
  }
}

TEST(Step8_Flops, ASharedExpertCostsTheSameInBoth) {
  const FlopCount without = MoeFlopsPerToken(256, 512, 8, 2, 0, 3);
  const FlopCount with = MoeFlopsPerToken(256, 512, 8, 2, 1, 3);
  const std::int64_t one_expert = 2LL * 3 * 256 * 512;
  EXPECT_EQ(with.sparse_flops - without.sparse_flops, one_expert);
  EXPECT_EQ(with.dense_flops - without.dense_flops, one_expert);
}

TEST(Step8_Flops, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, 256, 8, 0, 0, 2), {"top_k = 0"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, 256, 8, 9, 0, 2), {"top_k = 9", "E = 8"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(0, 256, 8, 2, 0, 2), {"d_model = 0"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, -1, 8, 2, 0, 2), {"d_ff = -1"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, 256, 0, 1, 0, 2), {"num_experts = 0"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, 256, 8, 2, -1, 2), {"num_shared = -1"});
  EXPECT_INVALID_ARGUMENT(MoeFlopsPerToken(64, 256, 8, 2, 0, 0), {"matrices_per_expert = 0"});
}

}  // namespace
}  // namespace llmk::moe
