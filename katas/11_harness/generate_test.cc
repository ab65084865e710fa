// Tests of kata 11, step 5 (the generation loop), with scripted language models: a
// bigram table from fixtures/11_harness/generation.json, a model that never stops, one
// that stops at once, and one that breaks its contract.
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "generate.h"
#include "llmk/testing/testing.h"

namespace llmk::harness {
namespace {

using ::llmk::testing::KataFixture;
using ::llmk::testing::Rng;

const ::llmk::testing::Fixture& GenerationFx() {
  return KataFixture("11_harness/generation.json");
}

std::vector<int> Ints(const Matrix& m) {
  std::vector<int> out;
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(static_cast<int>(m(0, j)));
  return out;
}

// A scripted model: the logits are a function of the context. It records every
// context it is given, so that tests can check what the loop sent.
class ScriptedLm : public LanguageModel {
 public:
  ScriptedLm(int vocab, std::function<Vector(const std::vector<int>&)> next)
      : vocab_(vocab), next_(std::move(next)) {}
  int vocab_size() const override { return vocab_; }
  Vector NextLogits(const std::vector<int>& context) override {
    contexts_.push_back(context);
    return next_(context);
  }
  int calls() const { return static_cast<int>(contexts_.size()); }
  const std::vector<std::vector<int>>& contexts() const { return contexts_; }

 private:
  int vocab_;
  std::function<Vector(const std::vector<int>&)> next_;
  std::vector<std::vector<int>> contexts_;
};

// Row `last token` of the fixture's bigram table.
ScriptedLm BigramModel() {
  const Matrix table = GenerationFx().Matrix("bigram_logits");
  return ScriptedLm(static_cast<int>(table.cols()),
                    [table](const std::vector<int>& context) -> Vector {
                      return table.row(context.back());
                    });
}

// Always the same logits, whatever the context.
ScriptedLm ConstantModel(Vector logits) {
  const int vocab = static_cast<int>(logits.size());
  return ScriptedLm(vocab, [logits](const std::vector<int>&) { return logits; });
}

GenerationOptions FixtureOptions() {
  const auto& fx = GenerationFx();
  GenerationOptions options;
  options.max_new_tokens = fx.Int("max_new_tokens");
  options.stop_tokens = {fx.Int("stop_token")};
  return options;  // temperature 1, no truncation, no penalty
}

Vector V(std::initializer_list<float> values) {
  Vector v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (float x : values) v(i++) = x;
  return v;
}

// ---------------------------------------------------------------------------------
// Step 5: the generation loop.

TEST(Step5_Generation, FixtureRunEndsOnTheStopToken) {
  const auto& fx = GenerationFx();
  ScriptedLm model = BigramModel();
  Rng rng(static_cast<std::uint64_t>(fx.Int("seed_a")));
  const Generation g = Generate(model, {fx.Int("prompt_token")}, FixtureOptions(), rng);
  EXPECT_EQ(g.tokens, Ints(fx.Matrix("tokens_a")));
  EXPECT_EQ(g.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(g.stop_token, fx.Int("stop_token"));
  EXPECT_EQ(model.calls(), static_cast<int>(fx.Matrix("uniforms_a").cols()))
      << "one model call per uniform drawn, the stop token's included";
  // The uniforms the README walks through.
  Rng replay(static_cast<std::uint64_t>(fx.Int("seed_a")));
  const Matrix uniforms = fx.Matrix("uniforms_a");
  for (Eigen::Index j = 0; j < uniforms.cols(); ++j) {
    EXPECT_NEAR(replay.Uniform(), uniforms(0, j), fx.tolerance().atol) << "call " << j + 1;
  }
}

TEST(Step5_Generation, FixtureRunEndsOnTheTokenBudget) {
  const auto& fx = GenerationFx();
  ScriptedLm model = BigramModel();
  Rng rng(static_cast<std::uint64_t>(fx.Int("seed_b")));
  const Generation g = Generate(model, {fx.Int("prompt_token")}, FixtureOptions(), rng);
  EXPECT_EQ(g.tokens, Ints(fx.Matrix("tokens_b")));
  EXPECT_EQ(g.stop_reason, StopReason::kTokenBudget);
  EXPECT_EQ(g.stop_token, -1);
  EXPECT_EQ(model.calls(), fx.Int("max_new_tokens"));
  Rng replay(static_cast<std::uint64_t>(fx.Int("seed_b")));
  const Matrix uniforms = fx.Matrix("uniforms_b");
  for (Eigen::Index j = 0; j < uniforms.cols(); ++j) {
    EXPECT_NEAR(replay.Uniform(), uniforms(0, j), fx.tolerance().atol) << "call " << j + 1;
  }
}

TEST(Step5_Generation, GreedyFollowsTheArgmaxOfEachRow) {
  // Row 1 (after "a") peaks at 2, row 2 at 3, row 3 at 0, row 0 at 1 (a three-way tie).
  ScriptedLm model = BigramModel();
  GenerationOptions options;
  options.sampling.temperature = 0.0f;
  options.max_new_tokens = 6;
  Rng rng(1);
  Generation g = Generate(model, {1}, options, rng);
  EXPECT_EQ(g.tokens, (std::vector<int>{2, 3, 0, 1, 2, 3})) << "no stop token: a budget run";
  EXPECT_EQ(g.stop_reason, StopReason::kTokenBudget);
  options.stop_tokens = {0};
  g = Generate(model, {1}, options, rng);
  EXPECT_EQ(g.tokens, (std::vector<int>{2, 3}));
  EXPECT_EQ(g.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(g.stop_token, 0);
}

TEST(Step5_Generation, ContextIsThePromptPlusTheTokensSoFar) {
  ScriptedLm model = BigramModel();
  GenerationOptions options;
  options.max_new_tokens = 5;
  Rng rng(3);
  const std::vector<int> prompt = {3, 0, 1};
  const Generation g = Generate(model, prompt, options, rng);
  ASSERT_EQ(model.calls(), 5);
  for (int i = 0; i < 5; ++i) {
    std::vector<int> expected = prompt;
    expected.insert(expected.end(), g.tokens.begin(), g.tokens.begin() + i);
    EXPECT_EQ(model.contexts()[static_cast<size_t>(i)], expected) << "call " << i;
  }
}

TEST(Step5_Generation, AModelThatNeverStopsIsCutByTheBudget) {
  ScriptedLm model = ConstantModel(V({-10, 5, 5, 5}));  // <eos> is never likely
  GenerationOptions options;
  options.max_new_tokens = 40;
  options.stop_tokens = {0};
  Rng rng(11);
  const Generation g = Generate(model, {1}, options, rng);
  EXPECT_EQ(g.tokens.size(), 40u);
  EXPECT_EQ(g.stop_reason, StopReason::kTokenBudget);
  EXPECT_EQ(model.calls(), 40);
}

TEST(Step5_Generation, ZeroBudgetNeverCallsTheModel) {
  ScriptedLm model = BigramModel();
  GenerationOptions options;
  options.max_new_tokens = 0;
  Rng rng(1);
  const Generation g = Generate(model, {1}, options, rng);
  EXPECT_TRUE(g.tokens.empty());
  EXPECT_EQ(g.stop_reason, StopReason::kTokenBudget);
  EXPECT_EQ(model.calls(), 0);
}

TEST(Step5_Generation, StopTokenFirstGivesAnEmptyGeneration) {
  ScriptedLm model = ConstantModel(V({1, 9, 1}));
  GenerationOptions options;
  options.sampling.temperature = 0.0f;
  options.stop_tokens = {2, 1};
  Rng rng(1);
  const Generation g = Generate(model, {0}, options, rng);
  EXPECT_TRUE(g.tokens.empty()) << "the stop token is not part of the output";
  EXPECT_EQ(g.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(g.stop_token, 1);
  EXPECT_EQ(model.calls(), 1);
}

TEST(Step5_Generation, RepetitionPenaltySeesTheGeneratedTokensOnly) {
  // Greedy with penalty 2 on constant logits [2, 1.9, 0]: token 0 first (the prompt's 0
  // is not penalized), then 0 drops to 1 < 1.9 and 1 wins, then 1 drops to 0.95 and 0
  // wins again, for good.
  ScriptedLm model = ConstantModel(V({2, 1.9f, 0}));
  GenerationOptions options;
  options.sampling.temperature = 0.0f;
  options.sampling.repetition_penalty = 2.0f;
  options.max_new_tokens = 4;
  Rng rng(1);
  const Generation g = Generate(model, {0, 0}, options, rng);
  EXPECT_EQ(g.tokens, (std::vector<int>{0, 1, 0, 0}));
}

TEST(Step5_Generation, SameSeedSameRun) {
  GenerationOptions options;
  options.max_new_tokens = 30;
  options.sampling.temperature = 1.3f;
  ScriptedLm first = BigramModel();
  ScriptedLm second = BigramModel();
  Rng a(77);
  Rng b(77);
  const Generation ga = Generate(first, {1}, options, a);
  const Generation gb = Generate(second, {1}, options, b);
  EXPECT_EQ(ga.tokens, gb.tokens);
  EXPECT_EQ(ga.tokens.size(), 30u);
}

TEST(Step5_Generation, RejectsBadArguments) {
  ScriptedLm model = BigramModel();
  GenerationOptions options;
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(Generate(model, {}, options, rng), {"prompt"});
  EXPECT_INVALID_ARGUMENT(Generate(model, {1, 7}, options, rng), {"prompt[1]", "7"});
  options.max_new_tokens = -1;
  EXPECT_INVALID_ARGUMENT(Generate(model, {1}, options, rng), {"max_new_tokens", "-1"});
  options = GenerationOptions{};
  options.stop_tokens = {0, 4};
  EXPECT_INVALID_ARGUMENT(Generate(model, {1}, options, rng), {"stop_tokens[1]", "4"});
  options = GenerationOptions{};
  options.sampling.temperature = -1.0f;
  EXPECT_INVALID_ARGUMENT(Generate(model, {1}, options, rng), {"temperature"});
  EXPECT_EQ(model.calls(), 0) << "arguments are checked before the model is called";
}

TEST(Step5_Generation, RejectsLogitsOfTheWrongSize) {
  // A model that claims four tokens but returns three logits breaks its contract.
  ScriptedLm liar(4, [](const std::vector<int>&) { return V({1, 2, 3}); });
  GenerationOptions options;
  Rng rng(1);
  EXPECT_INVALID_ARGUMENT(Generate(liar, {1}, options, rng), {"logits", "3", "4"});
}

}  // namespace
}  // namespace llmk::harness
