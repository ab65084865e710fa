// Tests of the provided model (tiny_decoder.h). They do not belong to a step: the model is
// the same code for the learner and the solution, so they pass from the start and run as
// one CTest test ("07_kv_cache/model"), not on the board.
#include "tiny_decoder.h"

#include <gtest/gtest.h>

#include <climits>
#include <functional>
#include <string>
#include <vector>

#include "llmk/testing/expect_error.h"

namespace llmk::tiny {
namespace {

struct BrokenRule {
  std::string what;
  std::function<void(DecoderConfig&)> change;
  std::vector<std::string> message;  // what the error must name
};

// Each case breaks exactly one rule of ValidateConfig, starting from a valid config.
std::vector<BrokenRule> BrokenRules() {
  return {
      {"no layers", [](DecoderConfig& c) { c.num_layers = 0; }, {"num_layers", "got 0"}},
      {"negative width", [](DecoderConfig& c) { c.model_dim = -32; }, {"model_dim", "got -32"}},
      {"no heads", [](DecoderConfig& c) { c.num_heads = 0; }, {"num_heads", "got 0"}},
      {"no kv heads", [](DecoderConfig& c) { c.num_kv_heads = 0; }, {"num_kv_heads", "got 0"}},
      {"no ffn width", [](DecoderConfig& c) { c.ffn_dim = 0; }, {"ffn_dim", "got 0"}},
      {"empty vocabulary", [](DecoderConfig& c) { c.vocab_size = 0; }, {"vocab_size", "got 0"}},
      {"no positions", [](DecoderConfig& c) { c.max_seq_len = 0; }, {"max_seq_len", "got 0"}},
      {"a size too large", [](DecoderConfig& c) { c.ffn_dim = INT_MAX; },
       {"ffn_dim", "65536", "2147483647"}},
      {"H does not divide D", [](DecoderConfig& c) { c.num_heads = 3; },
       {"num_heads 3", "model_dim 32"}},
      {"Hkv does not divide H", [](DecoderConfig& c) { c.num_kv_heads = 3; },
       {"num_kv_heads 3", "num_heads 4"}},
      {"embedding table too large",
       [](DecoderConfig& c) {
         c.vocab_size = 60000;
         c.model_dim = 4096;
         c.num_heads = 4;
       },
       {"vocab_size * model_dim", "245760000"}},
      {"position table too large",
       [](DecoderConfig& c) {
         c.max_seq_len = 65536;
         c.model_dim = 512;
       },
       {"max_seq_len * model_dim", "33554432"}},
      {"ffn too large",
       [](DecoderConfig& c) {
         c.model_dim = 8192;
         c.ffn_dim = 8192;
       },
       {"model_dim * ffn_dim", "67108864"}},
  };
}

TEST(TinyDecoder, ValidateConfigRejectsEachBrokenRuleByName) {
  ValidateConfig(DecoderConfig{});  // the default is valid
  for (const BrokenRule& rule : BrokenRules()) {
    SCOPED_TRACE(rule.what);
    DecoderConfig c;
    rule.change(c);
    EXPECT_INVALID_ARGUMENT(ValidateConfig(c), rule.message);
    EXPECT_INVALID_ARGUMENT(RandomDecoder(c, 1), rule.message);
  }
}

TEST(TinyDecoder, ValidateConfigAcceptsEveryLimitExactly) {
  DecoderConfig one{.num_layers = 1, .model_dim = 1, .num_heads = 1, .num_kv_heads = 1,
                    .ffn_dim = 1, .vocab_size = 1, .max_seq_len = 1};
  ValidateConfig(one);
  DecoderConfig large{.num_layers = 1, .model_dim = 256, .num_heads = 256, .num_kv_heads = 256,
                      .ffn_dim = 65536, .vocab_size = 65536, .max_seq_len = 65536};
  ValidateConfig(large);  // every table exactly 2^24 entries
  EXPECT_EQ(std::int64_t{large.vocab_size} * large.model_dim, kMaxWeightEntries);
}

TEST(TinyDecoder, EntryPointsNameTheirBadArgument) {
  DecoderConfig c;
  c.vocab_size = 5;
  c.max_seq_len = 4;
  const Decoder model = RandomDecoder(c, 3);
  EXPECT_INVALID_ARGUMENT(EmbedToken(model, 5, 0), {"token", "[0, 5)", "got 5"});
  EXPECT_INVALID_ARGUMENT(EmbedToken(model, -1, 0), {"token", "got -1"});
  EXPECT_INVALID_ARGUMENT(EmbedToken(model, 0, 4), {"position", "max_seq_len = 4", "got 4"});
  EXPECT_INVALID_ARGUMENT(Forward({}, model), {"ids", "1 to 4", "got 0"});
  EXPECT_INVALID_ARGUMENT(Forward({0, 1, 2, 3, 4}, model), {"ids", "1 to 4", "got 5"});
  EXPECT_INVALID_ARGUMENT(Forward({0, 7}, model), {"token", "got 7"});
  EXPECT_INVALID_ARGUMENT(GreedyToken(Matrix(2, 5)), {"GreedyToken"});
  EXPECT_INVALID_ARGUMENT(RmsNorm(Matrix::Ones(2, 3), Matrix::Ones(1, 4)), {"gamma"});
  EXPECT_EQ(Forward({0, 1, 2, 3}, model).rows(), 4);
}

}  // namespace
}  // namespace llmk::tiny
