// Tests of kata 11, steps 6 and 7 (evaluation metrics): the fixtures of
// fixtures/11_harness/likelihood.json and scoring.json first, then hand-computed cases,
// properties, the lgamma oracle of reference/harness_ref.h, then bad inputs.
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "harness_ref.h"
#include "llmk/testing/testing.h"
#include "metrics.h"

namespace llmk::harness {
namespace {

using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const ::llmk::testing::Fixture& LikelihoodFx() {
  return KataFixture("11_harness/likelihood.json");
}
const ::llmk::testing::Fixture& ScoringFx() { return KataFixture("11_harness/scoring.json"); }

// A float log-softmax against the double oracle: the logits' own rounding (6e-8
// relative) and a float subtraction give errors of a few 1e-7 times the logits' size.
constexpr Tolerance kVsReference{1e-5, 1e-5};

std::vector<int> Ints(const Matrix& m) {
  std::vector<int> out;
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(static_cast<int>(m(0, j)));
  return out;
}

Vector V(std::initializer_list<float> values) {
  Vector v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (float x : values) v(i++) = x;
  return v;
}

// ---------------------------------------------------------------------------------
// Step 6: log-likelihood and perplexity.

TEST(Step6_Likelihood, FixtureLogSoftmax) {
  const auto& fx = LikelihoodFx();
  const Matrix logits = fx.Matrix("logits");
  const Matrix expected = fx.Matrix("log_softmax");
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    SCOPED_TRACE(::testing::Message() << "position " << t);
    EXPECT_ALLCLOSE(LogSoftmax(logits.row(t)), expected.row(t), fx.tolerance());
  }
}

TEST(Step6_Likelihood, FixtureTokenLogLikelihoods) {
  const auto& fx = LikelihoodFx();
  EXPECT_ALLCLOSE(TokenLogLikelihoods(fx.Matrix("logits"), Ints(fx.Matrix("targets"))),
                  fx.Matrix("token_log_likelihoods"), fx.tolerance());
}

TEST(Step6_Likelihood, FixturePerplexity) {
  const auto& fx = LikelihoodFx();
  const Vector ll = TokenLogLikelihoods(fx.Matrix("logits"), Ints(fx.Matrix("targets")));
  EXPECT_NEAR(ll.cast<double>().sum(), fx.Scalar("total_log_likelihood"), fx.tolerance().atol);
  EXPECT_NEAR(ll.cast<double>().mean(), fx.Scalar("mean_log_likelihood"), fx.tolerance().atol);
  EXPECT_NEAR(Perplexity(ll), fx.Scalar("perplexity"), fx.tolerance().atol);
  // From the rounded fixture values: each is off by <= 5e-5, so is their mean, and
  // exp(-mean) moves by at most 5e-5 · perplexity relative to it.
  const Vector rounded = fx.Matrix("token_log_likelihoods");
  const double propagated = 5e-5 * fx.Scalar("perplexity") * 1.01;
  EXPECT_NEAR(Perplexity(rounded), fx.Scalar("perplexity"), fx.tolerance().atol + propagated);
}

TEST(Step6_Likelihood, UniformModelHasPerplexityV) {
  for (int vocab : {1, 2, 10, 50257}) {
    const Matrix logits = Matrix::Zero(3, vocab);
    const Vector ll = TokenLogLikelihoods(logits, {0, vocab - 1, vocab / 2});
    EXPECT_NEAR(Perplexity(ll), vocab, 1e-5 * vocab) << "V = " << vocab;
  }
}

TEST(Step6_Likelihood, CertainAndRightHasPerplexityOne) {
  EXPECT_DOUBLE_EQ(Perplexity(V({0, 0, 0})), 1.0);
  Matrix logits = Matrix::Zero(2, 3);
  logits(0, 1) = 100.0f;
  logits(1, 2) = 100.0f;
  EXPECT_NEAR(Perplexity(TokenLogLikelihoods(logits, {1, 2})), 1.0, 1e-6);
  // Certain and wrong: the target's log-probability is about -100.
  EXPECT_GT(Perplexity(TokenLogLikelihoods(logits, {0, 0})), 1e40);
}

TEST(Step6_Likelihood, PerplexityIsTheExpOfTheMeanNegativeLogLikelihood) {
  // ll = log(1/2), log(1/8): mean -2 log 2, perplexity 4 (the geometric mean of 2 and 8).
  EXPECT_NEAR(Perplexity(V({std::log(0.5f), std::log(0.125f)})), 4.0, 1e-5);
}

TEST(Step6_Likelihood, LogSoftmaxStableForLargeLogits) {
  const Vector z = V({1e4f, 1e4f - 1.0f, -1e4f});
  const Vector out = LogSoftmax(z);
  ASSERT_TRUE(out.allFinite()) << "subtract the max before exp, and take the log of a sum >= 1";
  EXPECT_ALLCLOSE(out, reference::LogSoftmax(z.cast<double>()), kVsReference);
  EXPECT_NEAR(out(2), -2e4f, 1.0f) << "a tiny probability keeps a finite log";
}

TEST(Step6_Likelihood, MatchesReferenceOnRandomLogits) {
  Rng rng(1106);
  for (int vocab : AwkwardSizes(129)) {
    const Matrix logits = RandomMatrix(rng, 4, vocab, 4.0);
    std::vector<int> targets;
    for (int t = 0; t < 4; ++t) targets.push_back(static_cast<int>(rng.Below(vocab)));
    const Vector ll = TokenLogLikelihoods(logits, targets);
    ASSERT_EQ(ll.size(), 4);
    for (int t = 0; t < 4; ++t) {
      const reference::RowVectorD row = logits.row(t).cast<double>();
      const double expected = reference::LogSoftmax(row)(targets[static_cast<size_t>(t)]);
      EXPECT_NEAR(ll(t), expected, 1e-5 + 1e-5 * std::abs(expected)) << "V = " << vocab;
    }
    const Vector one_row = LogSoftmax(logits.row(0));
    EXPECT_NEAR(one_row.array().exp().sum(), 1.0f, 1e-5) << "exp(log softmax) sums to 1";
  }
}

TEST(Step6_Likelihood, RejectsBadArguments) {
  const Matrix logits = Matrix::Zero(3, 4);
  EXPECT_INVALID_ARGUMENT(TokenLogLikelihoods(logits, {0, 4, 1}), {"targets[1]", "4"});
  EXPECT_INVALID_ARGUMENT(TokenLogLikelihoods(logits, {0, -1, 1}), {"targets[1]", "-1"});
  EXPECT_INVALID_ARGUMENT(TokenLogLikelihoods(logits, {0, 1}), {"targets", "2", "3x4"});
  EXPECT_INVALID_ARGUMENT(TokenLogLikelihoods(Matrix(0, 4), {}), {"logits", "0x4"});
  EXPECT_INVALID_ARGUMENT(LogSoftmax(Vector(0)), {"logits"});
  EXPECT_INVALID_ARGUMENT(Perplexity(Vector(0)), {"token_log_likelihoods"});
  EXPECT_INVALID_ARGUMENT(Perplexity(V({-1, 0.5f})), {"token_log_likelihoods[1]", "0.5"});
}

// ---------------------------------------------------------------------------------
// Step 7: exact match, pass@k and the standard error of a mean.

TEST(Step7_Scoring, NormalizeAnswerFollowsTheDocumentedRules) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Paris", "paris"},
      {"  Paris.  ", "paris"},
      {"New \t  York\n", "new york"},
      {"Really?!", "really"},
      {"3.5", "3.5"},
      {"Paris, France", "paris, france"},
      {"ÉCOLE", "École"},  // non-ASCII bytes are left alone
      {"...", ""},
      {"", ""},
      {"done . ", "done"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(NormalizeAnswer(text), expected) << "input \"" << text << "\"";
  }
}

TEST(Step7_Scoring, ExactMatchComparesNormalizedAnswers) {
  EXPECT_TRUE(ExactMatch(" Paris. ", "paris"));
  EXPECT_TRUE(ExactMatch("NEW  YORK", "new york"));
  EXPECT_TRUE(ExactMatch("42\n", "42"));
  EXPECT_FALSE(ExactMatch("Paris, France", "Paris"));
  EXPECT_FALSE(ExactMatch("3.5", "35"));
  EXPECT_FALSE(ExactMatch("the answer is 42", "42")) << "exact match, not containment";
}

TEST(Step7_Scoring, FixturePassAtK) {
  const auto& fx = ScoringFx();
  const Matrix cases = fx.Matrix("pass_at_k");
  for (Eigen::Index r = 0; r < cases.rows(); ++r) {
    const int n = static_cast<int>(cases(r, 0));
    const int c = static_cast<int>(cases(r, 1));
    const int k = static_cast<int>(cases(r, 2));
    EXPECT_NEAR(PassAtK(n, c, k), cases(r, 3), fx.tolerance().atol)
        << "n = " << n << ", c = " << c << ", k = " << k;
  }
}

TEST(Step7_Scoring, PassAtKHandComputed) {
  EXPECT_NEAR(PassAtK(5, 2, 1), 0.4, 1e-12);               // c / n
  EXPECT_NEAR(PassAtK(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);  // 1 - C(3,2)/C(5,2)
  EXPECT_NEAR(PassAtK(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);
  EXPECT_NEAR(PassAtK(200, 1, 100), 0.5, 1e-12);
}

TEST(Step7_Scoring, PassAtKEdgeCases) {
  EXPECT_EQ(PassAtK(5, 0, 3), 0.0) << "no correct sample: 0 exactly";
  EXPECT_EQ(PassAtK(5, 2, 4), 1.0) << "n - c = 3 < k = 4: every 4-subset holds a correct one";
  EXPECT_EQ(PassAtK(5, 5, 1), 1.0);
  EXPECT_EQ(PassAtK(1, 1, 1), 1.0);
  EXPECT_EQ(PassAtK(1, 0, 1), 0.0);
  EXPECT_EQ(PassAtK(200, 1, 200), 1.0);
}

TEST(Step7_Scoring, PassAtKDoesNotOverflowAtN200) {
  // C(200, 100) is about 9e58 and 200! about 8e374: a double holds the first, not the
  // second, and a 64-bit integer neither. The product never leaves [0, 1].
  const double nearly_one = PassAtK(200, 100, 100);
  ASSERT_TRUE(std::isfinite(nearly_one));
  EXPECT_NEAR(nearly_one, 1.0, 1e-12);
  for (int c = 0; c <= 200; c += 7) {
    for (int k = 1; k <= 200; k += 3) {
      const double got = PassAtK(200, c, k);
      ASSERT_TRUE(std::isfinite(got)) << "c = " << c << ", k = " << k;
      EXPECT_NEAR(got, reference::PassAtK(200, c, k), 1e-9) << "c = " << c << ", k = " << k;
    }
  }
}

TEST(Step7_Scoring, PassAtOneIsTheFractionCorrectAndPassAtKGrowsWithK) {
  for (int n = 1; n <= 30; ++n) {
    for (int c = 0; c <= n; ++c) {
      EXPECT_NEAR(PassAtK(n, c, 1), static_cast<double>(c) / n, 1e-12);
      for (int k = 2; k <= n; ++k) {
        EXPECT_GE(PassAtK(n, c, k), PassAtK(n, c, k - 1) - 1e-15)
            << "n = " << n << ", c = " << c << ", k = " << k;
      }
    }
  }
}

TEST(Step7_Scoring, FixtureBenchmarkMeanAndStandardError) {
  const auto& fx = ScoringFx();
  const Matrix bench = fx.Matrix("benchmark");
  const Matrix summary = fx.Matrix("summary");
  std::vector<double> pass1;
  std::vector<double> pass2;
  for (Eigen::Index r = 0; r < bench.rows(); ++r) {
    const int n = static_cast<int>(bench(r, 0));
    const int c = static_cast<int>(bench(r, 1));
    pass1.push_back(PassAtK(n, c, 1));
    pass2.push_back(PassAtK(n, c, 2));
    EXPECT_NEAR(pass1.back(), bench(r, 2), fx.tolerance().atol) << "problem " << r;
    EXPECT_NEAR(pass2.back(), bench(r, 3), fx.tolerance().atol) << "problem " << r;
  }
  const MeanAndError at1 = MeanWithStandardError(pass1);
  const MeanAndError at2 = MeanWithStandardError(pass2);
  EXPECT_NEAR(at1.mean, summary(0, 0), fx.tolerance().atol);
  EXPECT_NEAR(at1.standard_error, summary(0, 1), fx.tolerance().atol);
  EXPECT_NEAR(at2.mean, summary(1, 0), fx.tolerance().atol);
  EXPECT_NEAR(at2.standard_error, summary(1, 1), fx.tolerance().atol);
}

TEST(Step7_Scoring, MeanWithStandardErrorHandComputed) {
  // Mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; s² = 5/3; SE = √(5/12).
  MeanAndError m = MeanWithStandardError({1, 2, 3, 4});
  EXPECT_NEAR(m.mean, 2.5, 1e-12);
  EXPECT_NEAR(m.standard_error, std::sqrt(5.0 / 12.0), 1e-12);
  m = MeanWithStandardError({0.7, 0.7, 0.7});
  EXPECT_NEAR(m.mean, 0.7, 1e-12);
  EXPECT_NEAR(m.standard_error, 0.0, 1e-12);
  // A shift by 1e9 changes the mean only: the variance is taken around the mean.
  m = MeanWithStandardError({1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4});
  EXPECT_NEAR(m.standard_error, std::sqrt(5.0 / 12.0), 1e-6);
}

TEST(Step7_Scoring, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(PassAtK(0, 0, 1), {"n", "0"});
  EXPECT_INVALID_ARGUMENT(PassAtK(5, 6, 1), {"c", "6"});
  EXPECT_INVALID_ARGUMENT(PassAtK(5, -1, 1), {"c", "-1"});
  EXPECT_INVALID_ARGUMENT(PassAtK(5, 2, 0), {"k", "0"});
  EXPECT_INVALID_ARGUMENT(PassAtK(5, 2, 6), {"k", "6"});
  EXPECT_INVALID_ARGUMENT(MeanWithStandardError({0.5}), {"values", "1"});
  EXPECT_INVALID_ARGUMENT(MeanWithStandardError({}), {"values", "0"});
  EXPECT_INVALID_ARGUMENT(MeanWithStandardError({1, std::nan("")}), {"values[1]"});
}

}  // namespace
}  // namespace llmk::harness
