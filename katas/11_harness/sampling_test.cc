// Tests of kata 11, steps 1 to 4 (sampling). Each step checks the hand-derived fixture
// first (fixtures/11_harness/sampling.json), then properties and random inputs against
// the double-precision oracle in reference/harness_ref.h, then bad inputs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "harness_ref.h"
#include "llmk/testing/testing.h"
#include "sampling.h"

namespace llmk::harness {
namespace {

using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::KataFixture;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const ::llmk::testing::Fixture& SamplingFx() { return KataFixture("11_harness/sampling.json"); }

// float32 against the double oracle: a softmax over V <= 129 entries in float errs by a
// few units of 6e-8 relative per entry, and renormalizing keeps that size. 1e-5
// relative plus 1e-6 absolute is a margin of ten over it, far below any real slip.
constexpr Tolerance kVsReference{1e-6, 1e-5};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Vector Row(const Matrix& m, Eigen::Index r) { return m.row(r); }

Vector V(std::initializer_list<float> values) {
  Vector v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (float x : values) v(i++) = x;
  return v;
}

std::vector<int> Ints(const Matrix& m) {
  std::vector<int> out;
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(static_cast<int>(m(0, j)));
  return out;
}

// A random distribution over `size` tokens with every entry positive.
Vector RandomProbs(Rng& rng, int size, double scale) {
  Vector p(size);
  for (int i = 0; i < size; ++i) p(i) = static_cast<float>(std::exp(scale * rng.Normal()));
  return p / p.sum();
}

// The fixture's probabilities are rounded to 4 decimals (error <= 5e-5 each). Keeping
// `kept` of them and dividing by their sum S moves each result by at most
// (5e-5 + 1·kept·5e-5) / S, on top of the fixture's own rounding.
Tolerance Renormalized(const ::llmk::testing::Fixture& fx, const Vector& expected) {
  int kept = 0;
  for (Eigen::Index i = 0; i < expected.size(); ++i) kept += expected(i) > 0 ? 1 : 0;
  const Vector probs = Row(fx.Matrix("temperature_probs"), 2);
  Vector sorted = probs;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const double kept_sum = sorted.head(kept).sum();
  const double propagated = (1.0 + kept) * 5e-5 / kept_sum;
  return {fx.tolerance().atol + propagated, fx.tolerance().rtol};
}

SamplingConfig PipelineConfig(const ::llmk::testing::Fixture& fx) {
  SamplingConfig config;
  config.repetition_penalty = static_cast<float>(fx.Scalar("penalty"));
  config.temperature = static_cast<float>(fx.Scalar("pipeline_temperature"));
  config.top_k = fx.Int("pipeline_top_k");
  config.top_p = static_cast<float>(fx.Scalar("pipeline_top_p"));
  return config;
}

// ---------------------------------------------------------------------------------
// Step 1: temperature and greedy decoding.

TEST(Step1_Temperature, FixtureProbabilitiesAtEachTemperature) {
  const auto& fx = SamplingFx();
  const Vector logits = Row(fx.Matrix("logits"), 0);
  const Matrix temperatures = fx.Matrix("temperatures");
  const Matrix expected = fx.Matrix("temperature_probs");
  for (Eigen::Index r = 0; r < expected.rows(); ++r) {
    SCOPED_TRACE(::testing::Message() << "T = " << temperatures(0, r));
    EXPECT_ALLCLOSE(SoftmaxWithTemperature(logits, temperatures(0, r)), expected.row(r),
                    fx.tolerance());
  }
}

TEST(Step1_Temperature, GreedyPicksTheLargestLogitAndTheLowestIndexOnTies) {
  EXPECT_EQ(Greedy(Row(SamplingFx().Matrix("logits"), 0)), 0);
  EXPECT_EQ(Greedy(V({1, 3, 3, 2})), 1);
  EXPECT_EQ(Greedy(V({-5, -2, -9})), 1);
  EXPECT_EQ(Greedy(V({7, 7, 7})), 0);
  EXPECT_EQ(Greedy(V({4})), 0);
}

TEST(Step1_Temperature, ZeroTemperatureIsOneHotAtTheGreedyToken) {
  EXPECT_ALLCLOSE(SoftmaxWithTemperature(V({1, 3, 3, 2}), 0.0f), V({0, 1, 0, 0}),
                  (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(SoftmaxWithTemperature(V({-1, -3}), 0.0f), V({1, 0}), (Tolerance{0, 0}));
}

TEST(Step1_Temperature, LowerTemperatureSharpensHigherFlattens) {
  const Vector logits = Row(SamplingFx().Matrix("logits"), 0);
  float previous_top = 0.0f;
  for (float t : {100.0f, 2.0f, 1.0f, 0.5f, 0.1f, 0.01f}) {
    const Vector p = SoftmaxWithTemperature(logits, t);
    EXPECT_GT(p(0), previous_top) << "the top token must gain mass as T falls, T = " << t;
    previous_top = p(0);
  }
  EXPECT_GT(SoftmaxWithTemperature(logits, 1e-3f)(0), 0.999f);
  const Vector flat = SoftmaxWithTemperature(logits, 1e4f);
  EXPECT_ALLCLOSE(flat, Vector::Constant(6, 1.0f / 6.0f), (Tolerance{1e-3, 0}));
}

TEST(Step1_Temperature, MatchesReferenceOnRandomLogits) {
  Rng rng(1101);
  for (int size : AwkwardSizes(129)) {
    for (float t : {0.05f, 0.7f, 1.0f, 3.0f}) {
      Vector z(size);
      for (int i = 0; i < size; ++i) z(i) = static_cast<float>(3.0 * rng.Normal());
      SCOPED_TRACE(::testing::Message() << "V = " << size << ", T = " << t);
      EXPECT_ALLCLOSE(SoftmaxWithTemperature(z, t),
                      reference::SoftmaxWithTemperature(z.cast<double>(), t), kVsReference);
    }
  }
}

TEST(Step1_Temperature, StableForLargeLogits) {
  const Vector z = V({1e4f, 1e4f - 1, -1e4f, 3e4f - 2.0f, 3e4f});
  const Vector p = SoftmaxWithTemperature(z, 0.5f);
  ASSERT_TRUE(p.allFinite()) << "subtract the max before dividing by T and exponentiating";
  EXPECT_NEAR(p.sum(), 1.0f, 1e-6);
  EXPECT_ALLCLOSE(p, reference::SoftmaxWithTemperature(z.cast<double>(), 0.5), kVsReference);
}

TEST(Step1_Temperature, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(SoftmaxWithTemperature(V({1, 2}), -1.0f), {"temperature", "-1"});
  EXPECT_INVALID_ARGUMENT(SoftmaxWithTemperature(V({1, 2}), kNaN), {"temperature"});
  EXPECT_INVALID_ARGUMENT(SoftmaxWithTemperature(Vector(0), 1.0f), {"logits"});
  EXPECT_INVALID_ARGUMENT(SoftmaxWithTemperature(V({1, kNaN}), 1.0f), {"logits[1]"});
  EXPECT_INVALID_ARGUMENT(Greedy(Vector(0)), {"logits"});
}

// ---------------------------------------------------------------------------------
// Step 2: top-k and top-p.

TEST(Step2_Truncation, FixtureTopK) {
  const auto& fx = SamplingFx();
  const Vector probs = Row(fx.Matrix("temperature_probs"), 2);  // T = 1
  const Vector expected = Row(fx.Matrix("top_k"), 0);
  EXPECT_ALLCLOSE(TopK(probs, fx.Int("k")), expected, Renormalized(fx, expected));
}

TEST(Step2_Truncation, FixtureTopP) {
  const auto& fx = SamplingFx();
  const Vector probs = Row(fx.Matrix("temperature_probs"), 2);  // T = 1
  const Vector expected = Row(fx.Matrix("top_p"), 0);
  EXPECT_ALLCLOSE(TopP(probs, static_cast<float>(fx.Scalar("p"))), expected,
                  Renormalized(fx, expected));
}

TEST(Step2_Truncation, FixtureRankingAndCumulativeSums) {
  // Just below the j-th cumulative sum of the ranking, top-p keeps exactly the j + 1
  // first tokens of the ranking (the sums are at least 0.02 apart; 1e-3 is far from
  // their 5e-5 rounding).
  const auto& fx = SamplingFx();
  const Vector probs = Row(fx.Matrix("temperature_probs"), 2);  // T = 1
  const std::vector<int> ranked = Ints(fx.Matrix("ranked_tokens"));
  const Matrix cumulative = fx.Matrix("ranked_cumulative");
  for (size_t j = 0; j < ranked.size(); ++j) {
    const Vector out = TopP(probs, cumulative(0, static_cast<Eigen::Index>(j)) - 1e-3f);
    std::vector<int> kept;
    for (int i = 0; i < out.size(); ++i) {
      if (out(i) > 0) kept.push_back(i);
    }
    std::vector<int> expected(ranked.begin(), ranked.begin() + static_cast<long>(j) + 1);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(kept, expected) << "p just below the cumulative sum of rank " << j;
  }
}

TEST(Step2_Truncation, TopKBreaksTiesByIndex) {
  EXPECT_ALLCLOSE(TopK(V({0.1f, 0.3f, 0.3f, 0.3f}), 2), V({0, 0.5f, 0.5f, 0}),
                  (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopK(V({0.25f, 0.25f, 0.25f, 0.25f}), 1), V({1, 0, 0, 0}),
                  (Tolerance{0, 0}));
}

TEST(Step2_Truncation, TopKOfOneIsGreedyAndTopKOfVKeepsAll) {
  const Vector p = V({0.2f, 0.5f, 0.3f});
  EXPECT_ALLCLOSE(TopK(p, 1), V({0, 1, 0}), (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(TopK(p, 3), p, (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopK(p, 50), p, (Tolerance{1e-7, 0}));
}

TEST(Step2_Truncation, TopPKeepsTheTokenThatReachesP) {
  const Vector p = V({0.5f, 0.25f, 0.25f});
  // Cumulative 0.5, 0.75, 1: p = 0.5 is reached by the first token alone, p = 0.51 is
  // not, so the second one is kept too; p = 0.75 is reached exactly by two tokens.
  EXPECT_ALLCLOSE(TopP(p, 0.5f), V({1, 0, 0}), (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopP(p, 0.51f), V({2.0f / 3, 1.0f / 3, 0}), (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopP(p, 0.75f), V({2.0f / 3, 1.0f / 3, 0}), (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopP(p, 0.76f), p, (Tolerance{1e-7, 0}));
}

TEST(Step2_Truncation, TopPBreaksTiesByIndex) {
  // Exact binary fractions, so that the cumulative sums are exact.
  const Vector p = V({0.25f, 0.375f, 0.375f});
  EXPECT_ALLCLOSE(TopP(p, 0.375f), V({0, 1, 0}), (Tolerance{1e-7, 0}));
  EXPECT_ALLCLOSE(TopP(p, 0.5f), V({0, 0.5f, 0.5f}), (Tolerance{1e-7, 0}));
}

TEST(Step2_Truncation, TopPOfOneKeepsEveryToken) {
  const Vector p = V({0.7f, 0.2999f, 1e-4f});
  const Vector out = TopP(p, 1.0f);
  EXPECT_GT(out(2), 0.0f) << "p = 1 keeps every token, however unlikely";
  EXPECT_ALLCLOSE(out, p / p.sum(), (Tolerance{1e-7, 0}));
}

TEST(Step2_Truncation, AcceptsUnnormalizedWeights) {
  EXPECT_ALLCLOSE(TopK(V({2, 1, 1}), 2), V({2.0f / 3, 1.0f / 3, 0}), (Tolerance{1e-7, 0}));
  // Cumulative 2/4, 3/4: p = 0.7 needs the second token.
  EXPECT_ALLCLOSE(TopP(V({2, 1, 1}), 0.7f), V({2.0f / 3, 1.0f / 3, 0}),
                  (Tolerance{1e-7, 0}));
}

TEST(Step2_Truncation, MatchesReferenceOnRandomDistributions) {
  Rng rng(1102);
  for (int size : AwkwardSizes(65)) {
    for (double scale : {0.3, 2.0}) {
      const Vector p = RandomProbs(rng, size, scale);
      const reference::RowVectorD pd = p.cast<double>();
      for (int k : {1, 2, 5, size}) {
        SCOPED_TRACE(::testing::Message() << "V = " << size << ", k = " << k);
        const Vector out = TopK(p, k);
        const reference::RowVectorD expected = reference::TopK(pd, k);
        EXPECT_ALLCLOSE(out, expected, kVsReference);
        for (int i = 0; i < size; ++i) {
          EXPECT_EQ(out(i) > 0, expected(i) > 0) << "token " << i << " kept or not";
        }
      }
      for (float top_p : {0.1f, 0.5f, 0.9f, 0.99f, 1.0f}) {
        SCOPED_TRACE(::testing::Message() << "V = " << size << ", p = " << top_p);
        const Vector out = TopP(p, top_p);
        const reference::RowVectorD expected = reference::TopP(pd, top_p);
        EXPECT_ALLCLOSE(out, expected, kVsReference);
        for (int i = 0; i < size; ++i) {
          EXPECT_EQ(out(i) > 0, expected(i) > 0) << "token " << i << " kept or not";
        }
      }
    }
  }
}

TEST(Step2_Truncation, RejectsBadArguments) {
  const Vector p = V({0.5f, 0.5f});
  EXPECT_INVALID_ARGUMENT(TopK(p, 0), {"k", "0"});
  EXPECT_INVALID_ARGUMENT(TopK(p, -2), {"k", "-2"});
  EXPECT_INVALID_ARGUMENT(TopP(p, 0.0f), {"p", "0"});
  EXPECT_INVALID_ARGUMENT(TopP(p, 1.5f), {"p", "1.5"});
  EXPECT_INVALID_ARGUMENT(TopK(V({0.5f, -0.1f}), 1), {"probs[1]", "-0.1"});
  EXPECT_INVALID_ARGUMENT(TopP(V({0, 0}), 0.5f), {"probs", "0"});
  EXPECT_INVALID_ARGUMENT(TopK(Vector(0), 1), {"probs"});
}

// ---------------------------------------------------------------------------------
// Step 3: the repetition penalty.

TEST(Step3_RepetitionPenalty, FixturePenalizedLogits) {
  const auto& fx = SamplingFx();
  EXPECT_ALLCLOSE(RepetitionPenalty(Row(fx.Matrix("logits"), 0), Ints(fx.Matrix("history")),
                                    static_cast<float>(fx.Scalar("penalty"))),
                  fx.Matrix("penalized_logits"), fx.tolerance());
}

TEST(Step3_RepetitionPenalty, FixtureProbabilitiesAfterThePenalty) {
  const auto& fx = SamplingFx();
  const Vector z = RepetitionPenalty(Row(fx.Matrix("logits"), 0), Ints(fx.Matrix("history")),
                                     static_cast<float>(fx.Scalar("penalty")));
  EXPECT_ALLCLOSE(SoftmaxWithTemperature(z, 1.0f), fx.Matrix("penalized_probs"),
                  fx.tolerance());
}

TEST(Step3_RepetitionPenalty, DividesPositiveAndMultipliesNegativeLogits) {
  // Tokens 0, 1, 2 were generated; 3 was not.
  EXPECT_ALLCLOSE(RepetitionPenalty(V({4, -4, 0, 1}), {2, 0, 1}, 4.0f), V({1, -16, 0, 1}),
                  (Tolerance{0, 0}));
}

TEST(Step3_RepetitionPenalty, AppliesOncePerDistinctToken) {
  const Vector z = V({3, -1, 2});
  EXPECT_ALLCLOSE(RepetitionPenalty(z, {0, 0, 0, 1, 1}, 1.5f),
                  RepetitionPenalty(z, {0, 1}, 1.5f), (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(RepetitionPenalty(z, {0, 0, 0}, 1.5f), V({2, -1, 2}), (Tolerance{0, 0}));
}

TEST(Step3_RepetitionPenalty, NeutralCasesChangeNothing) {
  const Vector z = V({3, -1, 0, 2});
  EXPECT_ALLCLOSE(RepetitionPenalty(z, {0, 1, 2, 3}, 1.0f), z, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(RepetitionPenalty(z, {}, 3.0f), z, (Tolerance{0, 0}));
}

TEST(Step3_RepetitionPenalty, NeverRaisesAPenalizedLogit) {
  Rng rng(1103);
  for (int trial = 0; trial < 200; ++trial) {
    Vector z(8);
    for (int i = 0; i < 8; ++i) z(i) = static_cast<float>(2.0 * rng.Normal());
    const int t = static_cast<int>(rng.Below(8));
    const Vector out = RepetitionPenalty(z, {t}, 1.3f);
    EXPECT_LT(out(t), z(t)) << "logit " << z(t) << " of a generated token must drop";
    for (int i = 0; i < 8; ++i) {
      if (i != t) {
        EXPECT_EQ(out(i), z(i)) << "token " << i << " was not generated";
      }
    }
  }
}

TEST(Step3_RepetitionPenalty, PenaltyBelowOneRewardsRepetition) {
  EXPECT_ALLCLOSE(RepetitionPenalty(V({2, -2, 1}), {0, 1}, 0.5f), V({4, -1, 1}),
                  (Tolerance{0, 0}));
}

TEST(Step3_RepetitionPenalty, RejectsBadArguments) {
  const Vector z = V({1, 2, 3});
  EXPECT_INVALID_ARGUMENT(RepetitionPenalty(z, {0}, 0.0f), {"penalty", "0"});
  EXPECT_INVALID_ARGUMENT(RepetitionPenalty(z, {0}, -2.0f), {"penalty", "-2"});
  EXPECT_INVALID_ARGUMENT(RepetitionPenalty(z, {0}, kNaN), {"penalty"});
  EXPECT_INVALID_ARGUMENT(RepetitionPenalty(z, {0, 3}, 1.5f), {"generated[1]", "3"});
  EXPECT_INVALID_ARGUMENT(RepetitionPenalty(z, {-1}, 1.5f), {"generated[0]", "-1"});
}

// ---------------------------------------------------------------------------------
// Step 4: seeded sampling.

TEST(Step4_SeededSampling, FixtureDrawsForGivenU) {
  // The rounded probabilities move the interval bounds 0.4223 and 0.8446 by at most
  // 1e-4; the nearest u (0.5 and 0.9) are more than 0.05 away, so the tokens are exact.
  const auto& fx = SamplingFx();
  const Vector probs = Row(fx.Matrix("pipeline_probs"), 0);
  const Matrix draws = fx.Matrix("draws");
  for (Eigen::Index r = 0; r < draws.rows(); ++r) {
    EXPECT_EQ(DrawToken(probs, draws(r, 0)), static_cast<int>(draws(r, 1)))
        << "u = " << draws(r, 0);
  }
}

TEST(Step4_SeededSampling, FixturePipelineStages) {
  const auto& fx = SamplingFx();
  const SamplingConfig config = PipelineConfig(fx);
  const Vector logits = Row(fx.Matrix("logits"), 0);
  const std::vector<int> history = Ints(fx.Matrix("history"));
  const Vector after_temperature = SoftmaxWithTemperature(
      RepetitionPenalty(logits, history, config.repetition_penalty), config.temperature);
  EXPECT_ALLCLOSE(after_temperature, fx.Matrix("pipeline_softmax"), fx.tolerance());
  EXPECT_ALLCLOSE(TopK(after_temperature, config.top_k), fx.Matrix("pipeline_top_k_probs"),
                  fx.tolerance());
  EXPECT_ALLCLOSE(SamplingDistribution(logits, history, config), fx.Matrix("pipeline_probs"),
                  fx.tolerance());
}

// Top-k runs before top-p, and the order matters. Logits ln(0.4, 0.3, 0.2, 0.1) at
// T = 1 give p = (0.4, 0.3, 0.2, 0.1); top_k = 2, top_p = 0.5:
//   top-k first:  (0.4, 0.3) renormalized = (4/7, 3/7, 0, 0); 4/7 = 0.571 >= 0.5, so
//                 top-p keeps token 0 alone: (1, 0, 0, 0).
//   top-p first:  0.4 < 0.5 <= 0.4 + 0.3 keeps two tokens, top-k keeps the same two:
//                 (4/7, 3/7, 0, 0).
TEST(Step4_SeededSampling, TopKRunsBeforeTopP) {
  const Vector logits = V({std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)});
  SamplingConfig config;
  config.top_k = 2;
  config.top_p = 0.5f;
  EXPECT_ALLCLOSE(SamplingDistribution(logits, {}, config), V({1, 0, 0, 0}),
                  (Tolerance{1e-6, 0}));
}

TEST(Step4_SeededSampling, FixtureSeededDraws) {
  const auto& fx = SamplingFx();
  const SamplingConfig config = PipelineConfig(fx);
  const Vector logits = Row(fx.Matrix("logits"), 0);
  const std::vector<int> history = Ints(fx.Matrix("history"));
  const Matrix expected = fx.Matrix("seeded_draws");
  Rng rng(static_cast<std::uint64_t>(fx.Int("seed")));
  for (Eigen::Index r = 0; r < expected.rows(); ++r) {
    EXPECT_EQ(Sample(logits, history, config, rng), static_cast<int>(expected(r, 1)))
        << "draw " << r;
  }
  // The uniforms behind those draws, as the README shows them.
  Rng uniforms(static_cast<std::uint64_t>(fx.Int("seed")));
  for (Eigen::Index r = 0; r < expected.rows(); ++r) {
    EXPECT_NEAR(uniforms.Uniform(), expected(r, 0), fx.tolerance().atol) << "u of draw " << r;
  }
}

TEST(Step4_SeededSampling, DrawTokenUsesStrictCumulativeBounds) {
  const Vector p = V({0.25f, 0.25f, 0.5f});
  EXPECT_EQ(DrawToken(p, 0.0), 0);
  EXPECT_EQ(DrawToken(p, 0.2499), 0);
  EXPECT_EQ(DrawToken(p, 0.25), 1) << "u equal to a cumulative sum belongs to the next token";
  EXPECT_EQ(DrawToken(p, 0.5), 2);
  EXPECT_EQ(DrawToken(p, 0.999999), 2);
  EXPECT_EQ(DrawToken(V({2, 6}), 0.3), 1) << "weights are scaled by their sum";
}

TEST(Step4_SeededSampling, DrawTokenNeverReturnsAZeroProbabilityToken) {
  const Vector p = V({0, 0.5f, 0, 0.5f, 0});
  EXPECT_EQ(DrawToken(p, 0.0), 1);
  EXPECT_EQ(DrawToken(p, 0.4999), 1);
  EXPECT_EQ(DrawToken(p, 0.5), 3);
  EXPECT_EQ(DrawToken(p, std::nextafter(1.0, 0.0)), 3);
  // Probabilities that sum to slightly less than 1 in float.
  const Vector q = V({0.1f, 0.2f, 0.7f, 0});
  for (double u : {0.0, 0.5, 0.9999999, std::nextafter(1.0, 0.0)}) {
    EXPECT_NE(DrawToken(q, u), 3) << "u = " << u;
  }
}

TEST(Step4_SeededSampling, SameSeedSameTokensOtherSeedOtherTokens) {
  const Vector logits = Row(SamplingFx().Matrix("logits"), 0);
  SamplingConfig config;
  config.temperature = 1.5f;
  Rng a(7);
  Rng b(7);
  Rng c(8);
  std::vector<int> from_a;
  std::vector<int> from_b;
  std::vector<int> from_c;
  for (int i = 0; i < 100; ++i) {
    from_a.push_back(Sample(logits, {}, config, a));
    from_b.push_back(Sample(logits, {}, config, b));
    from_c.push_back(Sample(logits, {}, config, c));
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

TEST(Step4_SeededSampling, ConsumesExactlyOneUniformPerCall) {
  const Vector logits = Row(SamplingFx().Matrix("logits"), 0);
  for (float t : {0.0f, 1.0f}) {
    SamplingConfig config;
    config.temperature = t;
    config.top_k = 2;
    Rng sampled(99);
    Rng counted(99);
    for (int i = 0; i < 5; ++i) {
      Sample(logits, {}, config, sampled);
      counted.Uniform();
    }
    EXPECT_EQ(sampled.NextU64(), counted.NextU64()) << "T = " << t;
  }
}

TEST(Step4_SeededSampling, GreedyConfigAlwaysPicksTheArgmax) {
  SamplingConfig config;
  config.temperature = 0.0f;
  Rng rng(5);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Sample(V({0.1f, 2, 2, -1}), {}, config, rng), 1);
}

TEST(Step4_SeededSampling, FrequenciesFollowTheDistribution) {
  const auto& fx = SamplingFx();
  const SamplingConfig config = PipelineConfig(fx);
  const Vector logits = Row(fx.Matrix("logits"), 0);
  const std::vector<int> history = Ints(fx.Matrix("history"));
  const Vector p = SamplingDistribution(logits, history, config);
  // 20000 seeded draws: the standard deviation of a frequency is at most
  // √(0.25 / 20000) = 0.0035; 0.015 is over four of them, and the seed is fixed.
  constexpr int kDraws = 20000;
  Rng rng(2024);
  Vector counts = Vector::Zero(6);
  for (int i = 0; i < kDraws; ++i) counts(Sample(logits, history, config, rng)) += 1.0f;
  EXPECT_ALLCLOSE(counts / kDraws, p, (Tolerance{0.015, 0}));
  EXPECT_EQ(counts(3) + counts(4) + counts(5), 0.0f) << "truncated tokens are never drawn";
}

TEST(Step4_SeededSampling, RejectsBadArguments) {
  const Vector z = V({1, 2, 3});
  EXPECT_INVALID_ARGUMENT(DrawToken(V({0.5f, 0.5f}), 1.0), {"u", "1"});
  EXPECT_INVALID_ARGUMENT(DrawToken(V({0.5f, 0.5f}), -0.25), {"u", "-0.25"});
  EXPECT_INVALID_ARGUMENT(DrawToken(V({0, 0}), 0.5), {"probs"});
  SamplingConfig config;
  config.temperature = -1.0f;
  EXPECT_INVALID_ARGUMENT(SamplingDistribution(z, {}, config), {"config.temperature", "-1"});
  config = SamplingConfig{};
  config.top_k = -3;
  EXPECT_INVALID_ARGUMENT(SamplingDistribution(z, {}, config), {"config.top_k", "-3"});
  config = SamplingConfig{};
  config.top_p = 0.0f;
  EXPECT_INVALID_ARGUMENT(SamplingDistribution(z, {}, config), {"config.top_p", "0"});
  config = SamplingConfig{};
  config.repetition_penalty = 0.0f;
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(Sample(z, {}, config, rng), {"config.repetition_penalty", "0"});
}

}  // namespace
}  // namespace llmk::harness
