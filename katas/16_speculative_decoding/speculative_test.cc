// Tests of kata 16, one suite per step of README.md. The hand-derived fixtures
// (fixtures/16_speculative_decoding/*.json) come first in each suite, then properties on
// random distributions against the double-precision reference (reference/speculative_ref.h)
// and on the provided models (tiny_lm.h), then bad inputs.
//
// The sampling tests are seeded, so they are deterministic; each chi-square bound is the
// 0.999 quantile of its distribution (README, Step 2): a correct implementation passes
// them with any seed 999 times in 1000, the mistakes they hunt fail them by a factor of
// ten or more.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "llmk/testing/testing.h"
#include "speculative.h"
#include "speculative_ref.h"
#include "tiny_lm.h"

namespace llmk::spec {
namespace {

namespace ref = ::llmk::reference::spec;
using ::llmk::testing::KataFixture;
using ::llmk::testing::Tolerance;
using tiny_lm::KvCache;
using tiny_lm::Model;

const ::llmk::testing::Fixture& Greedy() {
  return KataFixture("16_speculative_decoding/greedy.json");
}
const ::llmk::testing::Fixture& Acceptance() {
  return KataFixture("16_speculative_decoding/acceptance.json");
}
const ::llmk::testing::Fixture& Cost() { return KataFixture("16_speculative_decoding/cost.json"); }
const ::llmk::testing::Fixture& Rollback() {
  return KataFixture("16_speculative_decoding/rollback.json");
}

// Exactness of one speculative position: sums of at most V products of doubles, V <= 13.
constexpr double kExact = 1e-12;
// 0.999 quantiles of the chi-square distribution with 3 and 15 degrees of freedom.
constexpr double kChiSquare3 = 16.266;
constexpr double kChiSquare15 = 37.697;
// A cache row computed in one pass of T tokens or in several: the same float products
// summed in another blocking, about 1e-6 of rows of size ~1; a row that should have been
// dropped is of size ~1.
constexpr Tolerance kCacheRow{1e-5, 1e-5};

std::vector<int> Ints(const ::llmk::testing::Fixture& fx, const std::string& key) {
  const MatrixD m = fx.MatrixD(key);
  std::vector<int> out;
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(static_cast<int>(m(0, j)));
  return out;
}

Probs Row(const ::llmk::testing::Fixture& fx, const std::string& key) {
  return fx.MatrixD(key).row(0);
}

ref::Dist ToDist(const ProbsRef& p) { return ref::Dist(p.data(), p.data() + p.size()); }

std::vector<ref::Dist> ToDists(const MatrixD& rows) {
  std::vector<ref::Dist> out;
  for (Eigen::Index i = 0; i < rows.rows(); ++i) out.push_back(ToDist(rows.row(i)));
  return out;
}

// A random distribution over V tokens; with `zeros`, about a third of the entries are 0
// (never all of them).
Probs RandomDist(Rng& rng, int v, bool zeros = false) {
  Probs p(v);
  for (int i = 0; i < v; ++i) p(i) = -std::log(1.0 - rng.Uniform());
  if (zeros) {
    for (int i = 0; i < v; ++i) {
      if (rng.Below(3) == 0) p(i) = 0.0;
    }
    if (p.sum() == 0.0) p(static_cast<int>(rng.Below(v))) = 1.0;
  }
  return p / p.sum();
}

// Σ (observed − expected)² / expected over the cells of positive expectation.
double ChiSquare(const std::vector<int>& counts, const ProbsRef& probs, int draws) {
  double x2 = 0.0;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    const double expected = draws * probs(i);
    if (expected <= 0.0) continue;
    const double d = counts[static_cast<size_t>(i)] - expected;
    x2 += d * d / expected;
  }
  return x2;
}

// The draft and target of the tests: V = 7, one layer of width 8 in the draft, two more in
// the target, whose outputs are scaled by `correction` (large: many rejections).
tiny_lm::Config SmallConfig(int vocab = 7) {
  tiny_lm::Config c;
  c.vocab_size = vocab;
  c.model_dim = 8;
  c.num_heads = 2;
  c.ffn_dim = 16;
  c.num_layers = 1;
  c.max_seq_len = 96;
  c.logit_std = 2.0f;
  return c;
}

Model SmallDraft(std::uint64_t seed, int vocab = 7) {
  return tiny_lm::RandomModel(SmallConfig(vocab), seed);
}

Model SmallTarget(const Model& draft, std::uint64_t seed, float correction = 0.5f) {
  return tiny_lm::ExtendModel(draft, 2, 24, correction, seed);
}

std::vector<int> Prompt(int length, int vocab, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<int> ids;
  for (int i = 0; i < length; ++i) ids.push_back(static_cast<int>(rng.Below(vocab)));
  return ids;
}

// Expects `v` to be the verdict of the given tokens and count.
void ExpectVerdict(const Verdict& v, const std::vector<int>& tokens, int accepted) {
  EXPECT_EQ(v.accepted, accepted);
  EXPECT_EQ(v.tokens, tokens);
}

// ---------------------------------------------------------------------------------------
// Step 1: greedy speculation.

TEST(Step1_GreedySpeculation, FixtureRejectionAtTheThirdDraft) {
  ExpectVerdict(VerifyGreedy(Ints(Greedy(), "drafts_reject"), Greedy().Matrix("logits")),
                Ints(Greedy(), "tokens_reject"), Greedy().Int("accepted_reject"));
}

TEST(Step1_GreedySpeculation, FixtureRejectionOfTheFirstDraft) {
  ExpectVerdict(VerifyGreedy(Ints(Greedy(), "drafts_first"), Greedy().Matrix("logits")),
                Ints(Greedy(), "tokens_first"), Greedy().Int("accepted_first"));
}

TEST(Step1_GreedySpeculation, FixtureArgmaxOfEveryRow) {
  // The verdict of drafts equal to the argmax of rows 0..2 keeps them all; feeding each
  // row's argmax as the draft of the next position is what the fixture lists.
  const std::vector<int> argmax = Ints(Greedy(), "argmax");
  const Matrix logits = Greedy().Matrix("logits");
  for (int g = 1; g <= 3; ++g) {
    const std::vector<int> drafts(argmax.begin(), argmax.begin() + g);
    std::vector<int> expected = drafts;
    expected.push_back(argmax[static_cast<size_t>(g)]);
    ExpectVerdict(VerifyGreedy(drafts, logits.topRows(g + 1)), expected, g);
  }
}

TEST(Step1_GreedySpeculation, TiesGoToTheLowestIndex) {
  Matrix logits = Greedy().Matrix("logits").topRows(2);
  logits.row(0) = Greedy().Matrix("tie_row");
  const int tie = Greedy().Int("tie_argmax");
  ExpectVerdict(VerifyGreedy({4}, logits), {tie}, 0);
  ExpectVerdict(VerifyGreedy({tie}, logits), {tie, 4}, 1);
}

TEST(Step1_GreedySpeculation, KeepsExactlyTheAgreeingPrefixOnRandomLogits) {
  Rng rng(101);
  for (int gamma : {1, 2, 3, 7}) {
    for (int v : {2, 5, 13}) {
      for (int agree = 0; agree <= gamma; ++agree) {
        const Matrix logits = ::llmk::testing::RandomMatrix(rng, gamma + 1, v);
        std::vector<int> drafts;
        std::vector<int> expected;
        for (int i = 0; i < gamma; ++i) {
          const int best = tiny_lm::Argmax(logits.row(i));
          const int other = (best + 1 + static_cast<int>(rng.Below(v - 1))) % v;
          drafts.push_back(i < agree ? best : (i == agree ? other : best));
        }
        expected.assign(drafts.begin(), drafts.begin() + agree);
        expected.push_back(tiny_lm::Argmax(logits.row(agree)));
        ExpectVerdict(VerifyGreedy(drafts, logits), expected, agree);
      }
    }
  }
}

// Greedy speculation without any cache: every step runs both models over the whole
// sequence, so that only VerifyGreedy is under test here.
std::vector<int> GreedySpeculationWithoutCache(const Model& draft, const Model& target,
                                               std::vector<int> sequence, int num_tokens,
                                               int gamma) {
  const size_t end = sequence.size() + static_cast<size_t>(num_tokens);
  while (sequence.size() < end) {
    std::vector<int> extended = sequence;
    std::vector<int> drafts;
    for (int i = 0; i < gamma; ++i) {
      const Matrix q = tiny_lm::ForwardAll(draft, extended);
      drafts.push_back(tiny_lm::Argmax(q.bottomRows(1)));
      extended.push_back(drafts.back());
    }
    // Rows for the positions of sequence.back() and of every draft: γ + 1 of them.
    const Matrix p = tiny_lm::ForwardAll(target, extended);
    const Verdict v = VerifyGreedy(drafts, p.bottomRows(gamma + 1));
    sequence.insert(sequence.end(), v.tokens.begin(), v.tokens.end());
  }
  sequence.resize(end);
  return std::vector<int>(sequence.end() - num_tokens, sequence.end());
}

TEST(Step1_GreedySpeculation, EqualsPlainGreedyDecodingTokenForToken) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const Model draft = SmallDraft(seed);
    const Model target = SmallTarget(draft, seed + 10);
    for (int gamma : {1, 2, 3, 5}) {
      const std::vector<int> prompt = Prompt(static_cast<int>(seed) + 2, 7, seed);
      Rng unused(0);
      EXPECT_EQ(GreedySpeculationWithoutCache(draft, target, prompt, 24, gamma),
                tiny_lm::Generate(target, prompt, 24, /*greedy=*/true, unused))
          << "seed " << seed << ", gamma " << gamma;
    }
  }
}

TEST(Step1_GreedySpeculation, RejectsGammaZero) {
  EXPECT_INVALID_ARGUMENT(VerifyGreedy({}, Greedy().Matrix("logits").topRows(1)),
                          {"drafts", "gamma"});
}

TEST(Step1_GreedySpeculation, RejectsLogitsWithoutOneRowPerDraftPlusOne) {
  EXPECT_INVALID_ARGUMENT(VerifyGreedy({2, 4, 1}, Greedy().Matrix("logits").topRows(3)),
                          {"target_logits", "3x5"});
}

TEST(Step1_GreedySpeculation, RejectsDraftOutsideTheVocabulary) {
  EXPECT_INVALID_ARGUMENT(VerifyGreedy({2, 5, 1}, Greedy().Matrix("logits")),
                          {"drafts[1]", "5"});
}

// ---------------------------------------------------------------------------------------
// Step 2: the acceptance rule for sampling.

TEST(Step2_AcceptanceRule, FixtureAcceptProbabilities) {
  const Probs p = Row(Acceptance(), "p");
  const Probs q = Row(Acceptance(), "q");
  const Probs accept = Row(Acceptance(), "accept");
  for (int x = 0; x < 4; ++x) {
    EXPECT_NEAR(AcceptProbability(p, q, x), accept(x), kExact) << "token " << x;
  }
}

TEST(Step2_AcceptanceRule, AcceptProbabilityIsCappedAtOne) {
  // p/q is 2.5 and 3 for tokens 0 and 2: without the min these are not probabilities.
  const Probs p = Row(Acceptance(), "p");
  const Probs q = Row(Acceptance(), "q");
  EXPECT_EQ(AcceptProbability(p, q, 0), 1.0);
  EXPECT_EQ(AcceptProbability(p, q, 2), 1.0);
}

TEST(Step2_AcceptanceRule, FixtureAcceptanceRate) {
  EXPECT_NEAR(AcceptanceRate(Row(Acceptance(), "p"), Row(Acceptance(), "q")),
              Acceptance().Scalar("alpha"), kExact);
  EXPECT_NEAR(AcceptanceRate(Row(Acceptance(), "p3"), Row(Acceptance(), "q3")),
              Acceptance().Scalar("alpha3"), kExact);
}

TEST(Step2_AcceptanceRule, FixtureResidual) {
  EXPECT_ALLCLOSE(Residual(Row(Acceptance(), "p"), Row(Acceptance(), "q")),
                  Acceptance().MatrixD("residual"), Acceptance().tolerance());
  EXPECT_ALLCLOSE(Residual(Row(Acceptance(), "p3"), Row(Acceptance(), "q3")),
                  Acceptance().MatrixD("residual3"), Acceptance().tolerance());
}

TEST(Step2_AcceptanceRule, ResidualOfEqualDistributionsIsTheDistribution) {
  const Probs p = Row(Acceptance(), "p");
  EXPECT_ALLCLOSE(Residual(p, p), p, (Tolerance{0, 0}));
}

// The distribution of the token one speculative position emits, computed exactly from the
// kata's AcceptProbability and Residual: the draft proposes x with probability q(x), it
// is kept with probability a(x), and the rest of the mass is redrawn from the residual.
Probs ExactOutput(const ProbsRef& p, const ProbsRef& q) {
  Probs out = Probs::Zero(p.size());
  double rejected = 1.0;
  for (int x = 0; x < p.size(); ++x) {
    if (q(x) == 0.0) continue;  // never proposed
    const double kept = q(x) * AcceptProbability(p, q, x);
    out(x) += kept;
    rejected -= kept;
  }
  return out + rejected * Residual(p, q);
}

TEST(Step2_AcceptanceRule, FixtureOutputDistributionIsTheTargets) {
  EXPECT_ALLCLOSE(ExactOutput(Row(Acceptance(), "p"), Row(Acceptance(), "q")),
                  Acceptance().MatrixD("output"), Acceptance().tolerance());
  EXPECT_ALLCLOSE(ExactOutput(Row(Acceptance(), "p3"), Row(Acceptance(), "q3")),
                  Acceptance().MatrixD("output3"), Acceptance().tolerance());
}

TEST(Step2_AcceptanceRule, ExactOutputEqualsTheTargetOnHandChosenCases) {
  struct Case {
    std::vector<double> p, q;
  };
  const std::vector<Case> cases = {
      {{0.2, 0.3, 0.5}, {0.5, 0.3, 0.2}},             // mirror images
      {{1.0, 0.0, 0.0}, {0.1, 0.2, 0.7}},             // the target is certain
      {{0.0, 0.5, 0.5}, {1.0, 0.0, 0.0}},             // the draft is certain and always wrong
      {{0.25, 0.25, 0.25, 0.25}, {0.7, 0.1, 0.1, 0.1}},
      {{0.1, 0.2, 0.3, 0.4}, {0.4, 0.3, 0.2, 0.1}},
      {{0.3, 0.3, 0.0, 0.2, 0.2}, {0.0, 0.2, 0.6, 0.1, 0.1}},  // zeros on both sides
      {{0.05, 0.05, 0.05, 0.05, 0.8}, {0.2, 0.2, 0.2, 0.2, 0.2}},
  };
  for (const Case& c : cases) {
    const Probs p = Eigen::Map<const Probs>(c.p.data(), static_cast<Eigen::Index>(c.p.size()));
    const Probs q = Eigen::Map<const Probs>(c.q.data(), static_cast<Eigen::Index>(c.q.size()));
    EXPECT_ALLCLOSE(ExactOutput(p, q), p, (Tolerance{kExact, 0})) << "q = " << q;
  }
}

TEST(Step2_AcceptanceRule, ExactOutputEqualsTheTargetOnRandomDistributions) {
  Rng rng(202);
  for (int trial = 0; trial < 300; ++trial) {
    const int v = 3 + trial % 3;  // V = 3, 4, 5
    const Probs p = RandomDist(rng, v, trial % 2 == 0);
    const Probs q = RandomDist(rng, v, trial % 3 == 0);
    EXPECT_ALLCLOSE(ExactOutput(p, q), p, (Tolerance{kExact, 0}))
        << "trial " << trial << ", p = " << p << ", q = " << q;
  }
}

TEST(Step2_AcceptanceRule, MatchesTheReferenceOnRandomDistributions) {
  Rng rng(203);
  for (int v : {1, 2, 3, 7, 13}) {
    for (int trial = 0; trial < 40; ++trial) {
      const Probs p = RandomDist(rng, v, trial % 2 == 0);
      const Probs q = RandomDist(rng, v, trial % 3 == 0);
      const ref::Dist pd = ToDist(p);
      const ref::Dist qd = ToDist(q);
      const ref::Dist r = ref::Residual(pd, qd);
      EXPECT_ALLCLOSE(Residual(p, q), Eigen::Map<const Probs>(r.data(), v), (Tolerance{kExact, 0}));
      double alpha = 0.0;
      for (int x = 0; x < v; ++x) {
        if (q(x) == 0.0) continue;
        EXPECT_NEAR(AcceptProbability(p, q, x), ref::AcceptProbability(pd, qd, x), kExact);
        alpha += q(x) * ref::AcceptProbability(pd, qd, x);
      }
      EXPECT_NEAR(AcceptanceRate(p, q), alpha, kExact);
      const ref::Dist out = ref::OutputDistribution(pd, qd);
      EXPECT_ALLCLOSE(Eigen::Map<const Probs>(out.data(), v), p, (Tolerance{kExact, 0}));
    }
  }
}

// γ rows of draft distributions and γ + 1 of target ones, and drafts drawn from the former.
struct Proposal {
  std::vector<int> drafts;
  MatrixD target_probs;
  MatrixD draft_probs;
};

Proposal RandomProposal(Rng& rng, int gamma, int v, bool same = false) {
  Proposal s;
  s.target_probs.resize(gamma + 1, v);
  s.draft_probs.resize(gamma, v);
  for (int i = 0; i <= gamma; ++i) s.target_probs.row(i) = RandomDist(rng, v, i % 2 == 1);
  for (int i = 0; i < gamma; ++i) {
    s.draft_probs.row(i) = same ? Probs(s.target_probs.row(i)) : RandomDist(rng, v, i % 3 == 2);
    s.drafts.push_back(tiny_lm::DrawToken(s.draft_probs.row(i), rng.Uniform()));
  }
  return s;
}

TEST(Step2_AcceptanceRule, VerifySampledFollowsTheReferenceDrawForDraw) {
  Rng rng(204);
  for (int gamma : {1, 2, 3, 6}) {
    for (int v : {2, 3, 5, 11}) {
      for (int trial = 0; trial < 30; ++trial) {
        const Proposal s = RandomProposal(rng, gamma, v);
        const std::uint64_t seed = rng.NextU64();
        Rng mine(seed);
        Rng theirs(seed);
        const Verdict got = VerifySampled(s.drafts, s.target_probs, s.draft_probs, mine);
        const ref::Verdict want =
            ref::VerifySampled(s.drafts, ToDists(s.target_probs), ToDists(s.draft_probs), theirs);
        ExpectVerdict(got, want.tokens, want.accepted);
        EXPECT_EQ(mine.NextU64(), theirs.NextU64())
            << "VerifySampled must draw exactly the uniforms speculative.h lists";
      }
    }
  }
}

// N draws of the first token one speculative position emits: the draft proposes from q
// with one uniform of `rng`, VerifySampled decides with the same rng.
std::vector<int> FirstTokenCounts(const ProbsRef& p, const ProbsRef& q, int draws,
                                  std::uint64_t seed) {
  MatrixD target(2, p.size());
  target.row(0) = p;
  target.row(1) = p;
  const MatrixD draft = q;
  std::vector<int> counts(static_cast<size_t>(p.size()), 0);
  Rng rng(seed);
  for (int i = 0; i < draws; ++i) {
    const int x = tiny_lm::DrawToken(q, rng.Uniform());
    ++counts[static_cast<size_t>(VerifySampled({x}, target, draft, rng).tokens[0])];
  }
  return counts;
}

TEST(Step2_AcceptanceRule, ChiSquareOfSampledTokensAgainstTheTarget) {
  // README, Step 2: N = 100000 draws, seed 16, V = 4, 3 degrees of freedom.
  constexpr int kDraws = 100000;
  const Probs p = Row(Acceptance(), "p");
  const std::vector<int> counts = FirstTokenCounts(p, Row(Acceptance(), "q"), kDraws, 16);
  EXPECT_LT(ChiSquare(counts, p, kDraws), kChiSquare3)
      << "counts " << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3];
  // The test has the power to see the classic mistake: the same counts are far from the
  // distribution that sampling the residual from p would give.
  EXPECT_GT(ChiSquare(counts, Row(Acceptance(), "wrong_from_p"), kDraws), 10 * kChiSquare3);
}

TEST(Step2_AcceptanceRule, ChiSquareWhenTheDraftMissesATargetToken) {
  // p3 gives token 2 probability 0.3 and q3 never proposes it: only the residual reaches it.
  constexpr int kDraws = 60000;
  const Probs p = Row(Acceptance(), "p3");
  const std::vector<int> counts = FirstTokenCounts(p, Row(Acceptance(), "q3"), kDraws, 17);
  // 2 degrees of freedom: the 0.999 quantile is 13.816.
  EXPECT_LT(ChiSquare(counts, p, kDraws), 13.816)
      << "counts " << counts[0] << " " << counts[1] << " " << counts[2];
}

TEST(Step2_AcceptanceRule, RejectsADraftTokenOfProbabilityZero) {
  Rng rng(1);
  const Probs p3 = Row(Acceptance(), "p3");
  const Probs q3 = Row(Acceptance(), "q3");
  EXPECT_INVALID_ARGUMENT(AcceptProbability(p3, q3, 2), {"q[token = 2]", "0"});
  MatrixD target(2, 3);
  target << p3, p3;
  EXPECT_INVALID_ARGUMENT(VerifySampled({2}, target, q3, rng),
                          {"draft_probs(0, drafts[0] = 2)", "0"});
  Rng untouched(1);
  EXPECT_EQ(rng.NextU64(), untouched.NextU64()) << "a rejected call must draw nothing";
}

TEST(Step2_AcceptanceRule, RejectsDistributionsThatDoNotSumToOne) {
  Rng rng(1);
  const Probs p = Row(Acceptance(), "p");
  const Probs q = Row(Acceptance(), "q");
  Probs short_p = p;
  short_p(0) = 0.45;  // sums to 0.95
  EXPECT_INVALID_ARGUMENT(AcceptProbability(short_p, q, 1), {"p", "sum", "0.95"});
  EXPECT_INVALID_ARGUMENT(Residual(p, 2.0 * q), {"q", "sum", "2"});
  EXPECT_INVALID_ARGUMENT(AcceptanceRate(short_p, q), {"p", "sum"});
  Probs slightly = q;
  slightly(3) += 1e-9;  // within kSumTolerance: accepted
  EXPECT_NEAR(AcceptanceRate(p, slightly), 0.5, 1e-8);
  MatrixD target(2, 4);
  target << p, short_p;
  EXPECT_INVALID_ARGUMENT(VerifySampled({1}, target, q, rng),
                          {"target_probs row 1", "sum", "0.95"});
}

TEST(Step2_AcceptanceRule, RejectsNegativeOrNonFiniteProbabilities) {
  const Probs q = Row(Acceptance(), "q");
  Probs negative(4);
  negative << 0.7, -0.1, 0.3, 0.1;
  EXPECT_INVALID_ARGUMENT(AcceptProbability(negative, q, 0), {"p[1]", "-0.1"});
  Probs nan = q;
  nan(2) = std::nan("");
  EXPECT_INVALID_ARGUMENT(Residual(Row(Acceptance(), "p"), nan), {"q[2]", "nan"});
}

TEST(Step2_AcceptanceRule, RejectsMismatchedVocabularies) {
  Rng rng(1);
  const Probs p = Row(Acceptance(), "p");
  const Probs q3 = Row(Acceptance(), "q3");
  EXPECT_INVALID_ARGUMENT(AcceptProbability(p, q3, 0), {"q", "V = 4", "3"});
  EXPECT_INVALID_ARGUMENT(Residual(p, q3), {"q", "V = 4", "3"});
  MatrixD target(2, 4);
  target << p, p;
  EXPECT_INVALID_ARGUMENT(VerifySampled({0}, target, q3, rng),
                          {"draft_probs", "1x4", "1x3"});
}

TEST(Step2_AcceptanceRule, RejectsTokenOutsideTheVocabularyAndGammaZero) {
  Rng rng(1);
  const Probs p = Row(Acceptance(), "p");
  const Probs q = Row(Acceptance(), "q");
  EXPECT_INVALID_ARGUMENT(AcceptProbability(p, q, 4), {"token", "[0, 4)", "4"});
  EXPECT_INVALID_ARGUMENT(AcceptProbability(p, q, -1), {"token", "-1"});
  const MatrixD target = p;
  EXPECT_INVALID_ARGUMENT(VerifySampled({}, target, MatrixD(0, 4), rng),
                          {"drafts", "gamma"});
}

// ---------------------------------------------------------------------------------------
// Step 3: the bonus token.

TEST(Step3_BonusToken, FixtureGreedyFullAcceptanceAddsTheLastRowsToken) {
  ExpectVerdict(VerifyGreedy(Ints(Greedy(), "drafts_all"), Greedy().Matrix("logits")),
                Ints(Greedy(), "tokens_all"), Greedy().Int("accepted_all"));
}

TEST(Step3_BonusToken, GreedyReadsTheLastRowOnlyAfterAFullAcceptance) {
  Matrix logits = Greedy().Matrix("logits");
  logits(3, 4) = 9.0f;  // the bonus row now points at token 4
  ExpectVerdict(VerifyGreedy(Ints(Greedy(), "drafts_all"), logits), {2, 4, 3, 4}, 3);
  ExpectVerdict(VerifyGreedy(Ints(Greedy(), "drafts_reject"), logits),
                Ints(Greedy(), "tokens_reject"), Greedy().Int("accepted_reject"));
}

TEST(Step3_BonusToken, SampledKeepsAllDraftsOfAnIdenticalDraftAndAddsOne) {
  Rng rng(301);
  for (int gamma : {1, 2, 4, 7}) {
    for (int trial = 0; trial < 50; ++trial) {
      const Proposal s = RandomProposal(rng, gamma, 5, /*same=*/true);
      const Verdict v = VerifySampled(s.drafts, s.target_probs, s.draft_probs, rng);
      ASSERT_EQ(v.accepted, gamma) << "p == q: every draft is kept";
      ASSERT_EQ(v.tokens.size(), static_cast<size_t>(gamma) + 1) << "the bonus token is missing";
      EXPECT_TRUE(std::equal(s.drafts.begin(), s.drafts.end(), v.tokens.begin()));
      EXPECT_GT(s.target_probs(gamma, v.tokens.back()), 0.0);
    }
  }
}

TEST(Step3_BonusToken, SampledBonusComesFromTheLastTargetRow) {
  Rng rng(302);
  Proposal s = RandomProposal(rng, 3, 6, /*same=*/true);
  s.target_probs.row(3).setZero();
  s.target_probs(3, 5) = 1.0;  // the last row is certain of token 5
  for (int trial = 0; trial < 20; ++trial) {
    EXPECT_EQ(VerifySampled(s.drafts, s.target_probs, s.draft_probs, rng).tokens.back(), 5);
  }
}

TEST(Step3_BonusToken, ChiSquareOfTheBonusAgainstTheLastTargetRow) {
  constexpr int kDraws = 50000;
  Probs last(4);
  last << 0.1, 0.2, 0.3, 0.4;
  MatrixD target(3, 4);
  target << Row(Acceptance(), "q"), Row(Acceptance(), "p"), last;
  const MatrixD draft = target.topRows(2);
  std::vector<int> counts(4, 0);
  Rng rng(303);
  for (int i = 0; i < kDraws; ++i) {
    const std::vector<int> drafts = {tiny_lm::DrawToken(draft.row(0), rng.Uniform()),
                                     tiny_lm::DrawToken(draft.row(1), rng.Uniform())};
    const Verdict v = VerifySampled(drafts, target, draft, rng);
    ASSERT_EQ(v.accepted, 2);
    ++counts[static_cast<size_t>(v.tokens.back())];
  }
  EXPECT_LT(ChiSquare(counts, last, kDraws), kChiSquare3);
}

TEST(Step3_BonusToken, ConsumesGammaPlusOneUniformsOnAFullAcceptance) {
  Rng rng(304);
  const Proposal s = RandomProposal(rng, 4, 5, /*same=*/true);
  Rng mine(7);
  Rng skipped(7);
  VerifySampled(s.drafts, s.target_probs, s.draft_probs, mine);
  for (int i = 0; i < 5; ++i) skipped.Uniform();
  EXPECT_EQ(mine.NextU64(), skipped.NextU64());
}

// ---------------------------------------------------------------------------------------
// Step 4: tokens per pass, speedup and the best gamma.

void ExpectCostTable(const std::string& table, const std::string& alpha, const std::string& c) {
  const MatrixD t = Cost().MatrixD(table);
  const double a = Cost().Scalar(alpha);
  const double cost = Cost().Scalar(c);
  for (Eigen::Index i = 0; i < t.rows(); ++i) {
    const int gamma = static_cast<int>(t(i, 0));
    EXPECT_NEAR(ExpectedTokensPerPass(a, gamma), t(i, 1), 1e-12) << table << " gamma " << gamma;
    EXPECT_NEAR(SpeedupModel(a, gamma, cost), t(i, 2), 1e-12) << table << " gamma " << gamma;
  }
}

TEST(Step4_CostModel, FixtureTableAlphaPoint8) { ExpectCostTable("table_a", "alpha_a", "c_a"); }

TEST(Step4_CostModel, FixtureTableAlphaPoint6) { ExpectCostTable("table_b", "alpha_b", "c_b"); }

TEST(Step4_CostModel, FixtureBestGamma) {
  EXPECT_EQ(OptimalGamma(Cost().Scalar("alpha_a"), Cost().Scalar("c_a"), 8),
            Cost().Int("best_gamma_a"));
  EXPECT_EQ(OptimalGamma(Cost().Scalar("alpha_b"), Cost().Scalar("c_b"), 4),
            Cost().Int("best_gamma_b"));
  // A smaller range cuts the search off: the best γ of [1, 3] is 3 for α = 0.8, c = 0.1.
  EXPECT_EQ(OptimalGamma(Cost().Scalar("alpha_a"), Cost().Scalar("c_a"), 3), 3);
}

TEST(Step4_CostModel, TheEndsOfTheAlphaRange) {
  for (int gamma : {1, 2, 5, 17}) {
    EXPECT_EQ(ExpectedTokensPerPass(1.0, gamma), gamma + 1.0) << "α = 1 is 0/0 in closed form";
    EXPECT_EQ(ExpectedTokensPerPass(0.0, gamma), 1.0) << "α = 0: the target's token only";
    EXPECT_NEAR(ExpectedTokensPerPass(1.0 - 1e-12, gamma), gamma + 1.0, 1e-3);
  }
  EXPECT_EQ(OptimalGamma(1.0, 0.0, 9), 9);  // free drafts that are always right
  EXPECT_EQ(OptimalGamma(0.0, 0.0, 9), 1);  // every γ gives 1: the smallest wins the tie
  EXPECT_EQ(OptimalGamma(0.0, 0.1, 9), 1);
}

TEST(Step4_CostModel, MatchesTheReferenceSums) {
  Rng rng(401);
  for (int trial = 0; trial < 200; ++trial) {
    const double alpha = rng.Uniform();
    const int gamma = 1 + static_cast<int>(rng.Below(20));
    const double c = 0.5 * rng.Uniform();
    EXPECT_NEAR(ExpectedTokensPerPass(alpha, gamma), ref::ExpectedTokensPerPass(alpha, gamma),
                1e-12 * gamma);
    EXPECT_NEAR(SpeedupModel(alpha, gamma, c), ref::Speedup(alpha, gamma, c), 1e-12 * gamma);
    const int max_gamma = 1 + static_cast<int>(rng.Below(16));
    int best = 1;
    for (int g = 2; g <= max_gamma; ++g) {
      if (ref::Speedup(alpha, g, c) > ref::Speedup(alpha, best, c) + 1e-12) best = g;
    }
    EXPECT_EQ(OptimalGamma(alpha, c, max_gamma), best)
        << "alpha " << alpha << ", c " << c << ", max_gamma " << max_gamma;
  }
}

TEST(Step4_CostModel, RejectsArgumentsOutOfRange) {
  EXPECT_INVALID_ARGUMENT(ExpectedTokensPerPass(1.5, 2), {"alpha", "1.5"});
  EXPECT_INVALID_ARGUMENT(ExpectedTokensPerPass(-0.1, 2), {"alpha", "-0.1"});
  EXPECT_INVALID_ARGUMENT(ExpectedTokensPerPass(std::nan(""), 2), {"alpha", "nan"});
  EXPECT_INVALID_ARGUMENT(ExpectedTokensPerPass(0.5, 0), {"gamma", "0"});
  EXPECT_INVALID_ARGUMENT(SpeedupModel(0.5, 2, -0.1), {"cost_ratio", "-0.1"});
  EXPECT_INVALID_ARGUMENT(SpeedupModel(0.5, 0, 0.1), {"gamma", "0"});
  EXPECT_INVALID_ARGUMENT(OptimalGamma(0.5, 0.1, 0), {"max_gamma", "0"});
  EXPECT_INVALID_ARGUMENT(OptimalGamma(2.0, 0.1, 4), {"alpha", "2"});
}

// ---------------------------------------------------------------------------------------
// Step 5: rolling back both KV caches.

// The one-layer cache of the fixture, filled one position at a time.
KvCache FixtureCache() {
  const Matrix k = Rollback().Matrix("keys_before");
  const Matrix v = Rollback().Matrix("values_before");
  KvCache cache(1, 5, 2);
  for (int t = 0; t < 5; ++t) cache.Append({k.row(t)}, {v.row(t)});
  return cache;
}

TEST(Step5_Rollback, FixtureTruncateKeepsThePrefixAndZeroesTheRest) {
  KvCache cache = FixtureCache();
  const int keep = Rollback().Int("keep");
  cache.Truncate(keep);
  EXPECT_EQ(cache.length(), keep);
  EXPECT_ALLCLOSE(cache.KeyStorage(0), Rollback().Matrix("keys_after"), (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.ValueStorage(0), Rollback().Matrix("values_after"), (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Keys(0), Rollback().Matrix("keys_after").topRows(keep), (Tolerance{0, 0}));
}

TEST(Step5_Rollback, TruncateToTheLengthChangesNothingAndToZeroEmpties) {
  KvCache cache = FixtureCache();
  cache.Truncate(5);
  EXPECT_EQ(cache.length(), 5);
  EXPECT_ALLCLOSE(cache.KeyStorage(0), Rollback().Matrix("keys_before"), (Tolerance{0, 0}));
  cache.Truncate(0);
  EXPECT_EQ(cache.length(), 0);
  EXPECT_TRUE(cache.KeyStorage(0).isZero(0) && cache.ValueStorage(0).isZero(0));
  // An emptied cache is as good as a new one.
  const Matrix k = Rollback().Matrix("keys_before");
  cache.Append({k.topRows(2)}, {k.topRows(2)});
  EXPECT_ALLCLOSE(cache.Keys(0), k.topRows(2), (Tolerance{0, 0}));
}

TEST(Step5_Rollback, TruncateZeroesEveryLayer) {
  const Model model = SmallDraft(5);
  const Model target = SmallTarget(model, 6);  // three layers
  const std::vector<int> prompt = Prompt(9, 7, 5);
  KvCache cache = KvCache::For(target, 12);
  tiny_lm::Forward(target, prompt, cache);
  cache.Truncate(4);
  KvCache fresh = KvCache::For(target, 12);
  tiny_lm::Forward(target, std::vector<int>(prompt.begin(), prompt.begin() + 4), fresh);
  for (int l = 0; l < 3; ++l) {
    EXPECT_ALLCLOSE(cache.KeyStorage(l), fresh.KeyStorage(l), kCacheRow) << "layer " << l;
    EXPECT_ALLCLOSE(cache.ValueStorage(l), fresh.ValueStorage(l), kCacheRow) << "layer " << l;
    EXPECT_TRUE(cache.KeyStorage(l).bottomRows(8).isZero(0)) << "layer " << l;
    EXPECT_TRUE(cache.ValueStorage(l).bottomRows(8).isZero(0)) << "layer " << l;
  }
}

TEST(Step5_Rollback, TruncateRejectsLengthsOutsideTheCacheAndChangesNothing) {
  KvCache cache = FixtureCache();
  cache.Truncate(4);
  EXPECT_INVALID_ARGUMENT(cache.Truncate(5), {"length", "4", "5"});
  EXPECT_INVALID_ARGUMENT(cache.Truncate(-1), {"length", "-1"});
  EXPECT_EQ(cache.length(), 4);
  EXPECT_ALLCLOSE(cache.Keys(0), Rollback().Matrix("keys_before").topRows(4), (Tolerance{0, 0}));
}

// The cache a model would have after seeing sequence[0 .. length) and nothing else.
KvCache FreshCache(const Model& model, const std::vector<int>& sequence, int length,
                   int capacity) {
  KvCache cache = KvCache::For(model, capacity);
  if (length > 0) {
    tiny_lm::Forward(model, std::vector<int>(sequence.begin(), sequence.begin() + length), cache);
  }
  return cache;
}

void ExpectCacheOf(const KvCache& cache, const Model& model, const std::vector<int>& sequence,
                   int length, const std::string& what) {
  ASSERT_EQ(cache.length(), length) << what;
  const KvCache fresh = FreshCache(model, sequence, length, cache.capacity());
  for (int l = 0; l < cache.num_layers(); ++l) {
    EXPECT_ALLCLOSE(cache.KeyStorage(l), fresh.KeyStorage(l), kCacheRow) << what << " layer " << l;
    EXPECT_ALLCLOSE(cache.ValueStorage(l), fresh.ValueStorage(l), kCacheRow)
        << what << " layer " << l;
    EXPECT_TRUE(cache.KeyStorage(l).bottomRows(cache.capacity() - length).isZero(0))
        << what << " layer " << l << ": a row of a dropped position is left behind";
    EXPECT_TRUE(cache.ValueStorage(l).bottomRows(cache.capacity() - length).isZero(0))
        << what << " layer " << l << ": a row of a dropped position is left behind";
  }
}

TEST(Step5_Rollback, FixtureLengthsOfOneStep) {
  const int n = Rollback().Int("n");
  const int gamma = Rollback().Int("gamma");
  const MatrixD lengths = Rollback().MatrixD("lengths");
  std::vector<bool> seen(static_cast<size_t>(gamma) + 1, false);
  // Pairs from unrelated (k mostly small) to identical (k = γ), greedy and sampled.
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    const Model draft = SmallDraft(seed);
    const float correction = seed % 3 == 0 ? 0.0f : 0.2f * static_cast<float>(seed % 4);
    const Model target = SmallTarget(draft, seed + 40, correction);
    for (Mode mode : {Mode::kGreedy, Mode::kSample}) {
      std::vector<int> sequence = Prompt(n, 7, seed);
      KvCache draft_cache = KvCache::For(draft, n + gamma);
      KvCache target_cache = KvCache::For(target, n + gamma);
      Rng rng(seed);
      const Verdict v =
          SpeculativeStep(draft, target, gamma, mode, rng, sequence, draft_cache, target_cache);
      ASSERT_GE(v.accepted, 0);
      ASSERT_LE(v.accepted, gamma);
      const Eigen::RowVectorXd row = lengths.row(v.accepted);
      seen[static_cast<size_t>(v.accepted)] = true;
      EXPECT_EQ(draft_cache.length(), row(3)) << "draft cache after k = " << v.accepted;
      EXPECT_EQ(target_cache.length(), row(4)) << "target cache after k = " << v.accepted;
      EXPECT_EQ(static_cast<int>(sequence.size()), row(5)) << "sequence after k = " << v.accepted;
      EXPECT_EQ(v.tokens.size(), static_cast<size_t>(v.accepted) + 1);
      EXPECT_TRUE(std::equal(v.tokens.begin(), v.tokens.end(), sequence.end() - v.accepted - 1));
    }
  }
  EXPECT_TRUE(seen[0] && seen[static_cast<size_t>(gamma)])
      << "the pairs must show a first-draft rejection and a full acceptance";
}

TEST(Step5_Rollback, NothingOfARejectedTokenIsLeftInEitherCache) {
  for (std::uint64_t seed : {3u, 8u}) {
    const Model draft = SmallDraft(seed);
    const Model target = SmallTarget(draft, seed + 1, 0.6f);
    for (Mode mode : {Mode::kGreedy, Mode::kSample}) {
      for (int gamma : {1, 3, 4}) {
        std::vector<int> sequence = Prompt(4, 7, seed);
        KvCache draft_cache = KvCache::For(draft, 60);
        KvCache target_cache = KvCache::For(target, 60);
        Rng rng(seed * 7 + static_cast<std::uint64_t>(gamma));
        int rejections = 0;
        for (int step = 0; step < 10; ++step) {
          const int n = static_cast<int>(sequence.size());
          const Verdict v = SpeculativeStep(draft, target, gamma, mode, rng, sequence,
                                            draft_cache, target_cache);
          rejections += v.accepted < gamma ? 1 : 0;
          const std::string what = "step " + std::to_string(step) + ", gamma " +
                                   std::to_string(gamma) + ", k " + std::to_string(v.accepted);
          ExpectCacheOf(target_cache, target, sequence, n + v.accepted, what + ", target");
          ExpectCacheOf(draft_cache, draft, sequence,
                        v.accepted == gamma ? n + gamma - 1 : n + v.accepted, what + ", draft");
        }
        EXPECT_GT(rejections, 0) << "the pair must reject now and then";
      }
    }
  }
}

TEST(Step5_Rollback, GreedyStepsContinuePlainGreedyDecoding) {
  const Model draft = SmallDraft(9);
  const Model target = SmallTarget(draft, 19);
  const std::vector<int> prompt = Prompt(3, 7, 9);
  Rng unused(0);
  const std::vector<int> plain = tiny_lm::Generate(target, prompt, 30, true, unused);
  std::vector<int> sequence = prompt;
  KvCache draft_cache = KvCache::For(draft, 40);
  KvCache target_cache = KvCache::For(target, 40);
  while (sequence.size() < 28) {
    SpeculativeStep(draft, target, 3, Mode::kGreedy, unused, sequence, draft_cache, target_cache);
  }
  EXPECT_TRUE(std::equal(sequence.begin() + 3, sequence.end(), plain.begin()));
}

TEST(Step5_Rollback, StepRejectsBadCallsAndChangesNothing) {
  const Model draft = SmallDraft(4);
  const Model target = SmallTarget(draft, 5);
  const Model other = SmallTarget(SmallDraft(4, 8), 5);
  std::vector<int> sequence = Prompt(5, 7, 4);
  const std::vector<int> before = sequence;
  KvCache draft_cache = KvCache::For(draft, 12);
  KvCache target_cache = KvCache::For(target, 12);
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, target, 0, Mode::kSample, rng, sequence,
                                          draft_cache, target_cache),
                          {"gamma", "0"});
  KvCache other_cache = KvCache::For(other, 12);
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, other, 2, Mode::kSample, rng, sequence,
                                          draft_cache, other_cache),
                          {"vocabulary", "7", "8"});
  KvCache small = KvCache::For(target, 6);
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, target, 2, Mode::kSample, rng, sequence,
                                          draft_cache, small),
                          {"target", "7", "6"});
  KvCache full = KvCache::For(target, 12);
  tiny_lm::Forward(target, sequence, full);  // holds n positions, one too many
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, target, 2, Mode::kSample, rng, sequence,
                                          draft_cache, full),
                          {"n - 1", "4", "5"});
  std::vector<int> bad_token = sequence;
  bad_token[2] = 7;
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, target, 2, Mode::kSample, rng, bad_token,
                                          draft_cache, target_cache),
                          {"sequence[2]", "7"});
  EXPECT_EQ(sequence, before);
  EXPECT_EQ(draft_cache.length(), 0);
  EXPECT_EQ(full.length(), 5);
  // 94 tokens and γ = 3 need position 96 of the target, past max_seq_len = 96; the draft's
  // cache must not have been fed before the call fails.
  std::vector<int> long_sequence = Prompt(94, 7, 4);
  KvCache long_draft = KvCache::For(draft, 100);
  KvCache long_target = KvCache::For(target, 100);
  EXPECT_INVALID_ARGUMENT(SpeculativeStep(draft, target, 3, Mode::kSample, rng, long_sequence,
                                          long_draft, long_target),
                          {"max_seq_len", "97", "96"});
  EXPECT_EQ(long_draft.length(), 0);
  EXPECT_EQ(long_sequence.size(), 94u);
}

// ---------------------------------------------------------------------------------------
// Step 6: speculative generation on the provided models.

TEST(Step6_Generation, GreedyEqualsPlainGreedyDecodingTokenForToken) {
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    const Model draft = SmallDraft(seed);
    for (float correction : {0.1f, 0.5f, 2.0f}) {
      const Model target = SmallTarget(draft, seed + 5, correction);
      const std::vector<int> prompt = Prompt(1 + static_cast<int>(seed % 5), 7, seed);
      Rng unused(0);
      const std::vector<int> plain = tiny_lm::Generate(target, prompt, 41, true, unused);
      for (int gamma : {1, 2, 4, 7}) {
        Rng rng(seed);
        const Generation g =
            GenerateSpeculative(draft, target, prompt, 41, gamma, Mode::kGreedy, rng);
        EXPECT_EQ(g.tokens, plain) << "seed " << seed << ", correction " << correction
                                   << ", gamma " << gamma;
      }
    }
  }
}

TEST(Step6_Generation, ProducesExactlyTheTokensAskedFor) {
  const Model draft = SmallDraft(21);
  const Model target = SmallTarget(draft, 22);
  for (int n : {1, 2, 3, 5, 13}) {
    for (int gamma : {1, 4}) {
      Rng rng(static_cast<std::uint64_t>(n));
      const Generation g =
          GenerateSpeculative(draft, target, Prompt(2, 7, 21), n, gamma, Mode::kSample, rng);
      EXPECT_EQ(g.tokens.size(), static_cast<size_t>(n)) << "n " << n << ", gamma " << gamma;
      EXPECT_EQ(g.proposed, gamma * g.target_passes);
      EXPECT_EQ(g.draft_passes, gamma * g.target_passes);
      EXPECT_LE(g.accepted, g.proposed);
      // Each pass yields k + 1 tokens: together at least n, and the last pass was needed.
      EXPECT_GE(g.accepted + g.target_passes, n);
      EXPECT_LT(g.accepted + g.target_passes - (gamma + 1), n);
    }
  }
}

TEST(Step6_Generation, AnIdenticalDraftIsAlwaysAcceptedWithItsBonus) {
  const Model draft = SmallDraft(31);
  for (Mode mode : {Mode::kGreedy, Mode::kSample}) {
    for (int gamma : {1, 3, 4}) {
      Rng rng(31);
      const Generation g = GenerateSpeculative(draft, draft, Prompt(3, 7, 31), 40, gamma, mode, rng);
      EXPECT_EQ(g.acceptance_rate(), 1.0);
      // γ + 1 tokens per pass: ceil(40 / (γ + 1)) passes; without the bonus ceil(40 / γ).
      EXPECT_EQ(g.target_passes, (40 + gamma) / (gamma + 1)) << "gamma " << gamma;
    }
  }
}

TEST(Step6_Generation, SampledTokensHaveTheTargetsDistribution) {
  // V = 4: the exact distribution of the first two generated tokens is
  // P(t1) · P(t2 | t1) from the target alone; 16 cells, 15 degrees of freedom.
  const Model draft = SmallDraft(41, 4);
  const Model target = SmallTarget(draft, 42, 1.5f);
  const std::vector<int> prompt = {1, 3, 0};
  MatrixD exact(1, 16);
  const Probs first = tiny_lm::Softmax(tiny_lm::ForwardAll(target, prompt).bottomRows(1));
  for (int a = 0; a < 4; ++a) {
    std::vector<int> extended = prompt;
    extended.push_back(a);
    const Probs second = tiny_lm::Softmax(tiny_lm::ForwardAll(target, extended).bottomRows(1));
    for (int b = 0; b < 4; ++b) exact(0, 4 * a + b) = first(a) * second(b);
  }
  constexpr int kRuns = 20000;
  std::vector<int> counts(16, 0);
  int accepted = 0;
  int proposed = 0;
  Rng rng(2026);
  for (int r = 0; r < kRuns; ++r) {
    const Generation g = GenerateSpeculative(draft, target, prompt, 2, 2, Mode::kSample, rng);
    ++counts[static_cast<size_t>(4 * g.tokens[0] + g.tokens[1])];
    accepted += g.accepted;
    proposed += g.proposed;
  }
  EXPECT_LT(ChiSquare(counts, exact.row(0), kRuns), kChiSquare15);
  // The test means something only if the draft is wrong often enough.
  EXPECT_LT(static_cast<double>(accepted) / proposed, 0.9);
}

TEST(Step6_Generation, SampledIsReproducibleFromTheSeed) {
  const Model draft = SmallDraft(51);
  const Model target = SmallTarget(draft, 52);
  Rng a(5);
  Rng b(5);
  Rng c(6);
  const Generation ga = GenerateSpeculative(draft, target, {2}, 30, 3, Mode::kSample, a);
  const Generation gb = GenerateSpeculative(draft, target, {2}, 30, 3, Mode::kSample, b);
  const Generation gc = GenerateSpeculative(draft, target, {2}, 30, 3, Mode::kSample, c);
  EXPECT_EQ(ga.tokens, gb.tokens);
  EXPECT_EQ(ga.accepted, gb.accepted);
  EXPECT_NE(ga.tokens, gc.tokens);
}

TEST(Step6_Generation, RejectsBadCalls) {
  const Model draft = SmallDraft(61);
  const Model target = SmallTarget(draft, 62);
  const Model wider = SmallDraft(61, 9);
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(draft, target, {1}, 5, 0, Mode::kSample, rng),
                          {"gamma", "0"});
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(wider, target, {1}, 5, 2, Mode::kSample, rng),
                          {"vocabulary", "9", "7"});
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(draft, target, {}, 5, 2, Mode::kSample, rng),
                          {"prompt"});
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(draft, target, {1}, 0, 2, Mode::kSample, rng),
                          {"num_tokens", "0"});
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(draft, target, {1, 7}, 5, 2, Mode::kSample, rng),
                          {"prompt[1]", "7"});
  // 2 + 92 + 3 - 1 = 96 positions fit max_seq_len 96; one more does not.
  EXPECT_NO_THROW(GenerateSpeculative(draft, target, {1, 2}, 92, 3, Mode::kGreedy, rng));
  EXPECT_INVALID_ARGUMENT(GenerateSpeculative(draft, target, {1, 2}, 93, 3, Mode::kGreedy, rng),
                          {"max_seq_len", "97", "96"});
}

}  // namespace
}  // namespace llmk::spec
