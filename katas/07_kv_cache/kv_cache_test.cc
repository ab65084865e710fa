// Tests of kata 07, one suite per step of README.md. The hand-derived fixtures
// (fixtures/07_kv_cache/*.json) come first, then the provided full-sequence model
// (tiny::Forward) and the double-precision reference in reference/, then bad inputs.
#include <cstdint>
#include <utility>
#include <vector>

#include "kv_cache.h"
#include "kv_cache_ref.h"
#include "llmk/testing/testing.h"
#include "tiny_decoder.h"

namespace llmk::kv_cache {
namespace {

using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const ::llmk::testing::Fixture& Attend() { return KataFixture("07_kv_cache/attend.json"); }
const ::llmk::testing::Fixture& Memory() { return KataFixture("07_kv_cache/memory.json"); }
const ::llmk::testing::Fixture& Forwards() {
  return KataFixture("07_kv_cache/token_forwards.json");
}

// Incremental and full-sequence decoding compute the same sums in another order (a
// [1, D] row times a matrix instead of a [T, D] block), so they differ by float32
// rounding only. Unit roundoff is 6e-8; a dot product of n <= 64 terms errs by at most
// n·6e-8 ~ 4e-6 of the sum of |terms|; two layers of four products, a norm, a softmax and
// the output head keep that relative size, ~3e-5 at worst, and logits are at most ~10.
// 1e-4 absolute plus 1e-4 relative leaves a margin of three on the worst case,
// while attending to one key too few or too many, a
// position off by one or a wrong key/value head moves logits by 1e-2 and more.
constexpr Tolerance kDecode{1e-4, 1e-4};

tiny::DecoderConfig TestConfig(int num_kv_heads = 2) {
  tiny::DecoderConfig c;  // L = 2, D = 32, H = 4, d = 8, F = 64, V = 40, max_seq_len = 64
  c.num_kv_heads = num_kv_heads;
  return c;
}

const tiny::Decoder& TestModel() {
  static const tiny::Decoder model = tiny::RandomDecoder(TestConfig(), 7);
  return model;
}

KvCache CacheFor(const tiny::Decoder& model, int capacity) {
  return KvCache(model.config.num_layers, capacity, model.config.kv_width());
}

std::vector<int> Prompt(int length, int vocab, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<int> ids;
  for (int i = 0; i < length; ++i) ids.push_back(static_cast<int>(rng.Below(vocab)));
  return ids;
}

reference::DecoderD ToDouble(const tiny::Decoder& m) {
  reference::DecoderD r;
  r.num_heads = m.config.num_heads;
  r.num_kv_heads = m.config.num_kv_heads;
  r.embed = m.embed.cast<double>();
  r.pos_embed = m.pos_embed.cast<double>();
  r.final_norm = m.final_norm.cast<double>();
  for (const tiny::LayerWeights& w : m.layers) {
    r.layers.push_back({w.norm1.cast<double>(), w.wq.cast<double>(), w.wk.cast<double>(),
                        w.wv.cast<double>(), w.wo.cast<double>(), w.norm2.cast<double>(),
                        w.w_up.cast<double>(), w.w_down.cast<double>()});
  }
  return r;
}

// A cache of one layer filled with the fixture's K and V rows 0..n-1.
KvCache FixtureCache(int n) {
  const Matrix k = Attend().Matrix("K");
  const Matrix v = Attend().Matrix("V");
  KvCache cache(1, 3, 2);
  for (int t = 0; t < n; ++t) cache.Append(0, k.row(t), v.row(t));
  return cache;
}

// ---------------------------------------------------------------------------------
// Step 1: a cache that appends one token at a time.

TEST(Step1_Cache, StartsEmpty) {
  const KvCache cache(3, 5, 4);
  EXPECT_EQ(cache.num_layers(), 3);
  EXPECT_EQ(cache.capacity(), 5);
  EXPECT_EQ(cache.kv_width(), 4);
  EXPECT_EQ(cache.length(), 0);
  for (int l = 0; l < 3; ++l) EXPECT_EQ(cache.length(l), 0);
  EXPECT_EQ(cache.Keys(1, 0).rows(), 0);
}

TEST(Step1_Cache, FixtureRowsAfterEachStep) {
  const auto& fx = Attend();
  const Matrix k = fx.Matrix("K");
  const Matrix v = fx.Matrix("V");
  KvCache cache(1, 3, 2);
  for (int t = 0; t < 3; ++t) {
    cache.Append(0, k.row(t), v.row(t));
    SCOPED_TRACE(::testing::Message() << "after step " << t);
    EXPECT_EQ(cache.length(), t + 1);
    EXPECT_ALLCLOSE(cache.Keys(0, t + 1), k.topRows(t + 1), fx.tolerance());
    EXPECT_ALLCLOSE(cache.Values(0, t + 1), v.topRows(t + 1), fx.tolerance());
  }
}

TEST(Step1_Cache, LayersFillIndependently) {
  Rng rng(11);
  KvCache cache(2, 4, 3);
  const Matrix k0 = RandomMatrix(rng, 1, 3), v0 = RandomMatrix(rng, 1, 3);
  const Matrix k1 = RandomMatrix(rng, 1, 3), v1 = RandomMatrix(rng, 1, 3);
  cache.Append(0, k0, v0);
  EXPECT_EQ(cache.length(0), 1);
  EXPECT_EQ(cache.length(1), 0);
  EXPECT_EQ(cache.length(), 0);  // not every layer holds the token yet
  cache.Append(1, k1, v1);
  EXPECT_EQ(cache.length(), 1);
  EXPECT_ALLCLOSE(cache.Keys(0, 1), k0, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Values(0, 1), v0, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Keys(1, 1), k1, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Values(1, 1), v1, (Tolerance{0, 0}));
}

TEST(Step1_Cache, ViewsAreThePrefixWithoutACopy) {
  KvCache cache = FixtureCache(3);
  const Matrix k = Attend().Matrix("K");
  EXPECT_ALLCLOSE(cache.Keys(0, 2), k.topRows(2), (Tolerance{0, 0}));
  // Two views of the same layer start at the same memory: the cache's own rows.
  EXPECT_EQ(cache.Keys(0, 1).data(), cache.Keys(0, 3).data());
  EXPECT_EQ(cache.Values(0, 1).data(), cache.Values(0, 2).data());
}

TEST(Step1_Cache, FillsToCapacity) {
  Rng rng(12);
  KvCache cache(1, 7, 5);
  const Matrix k = RandomMatrix(rng, 7, 5);
  const Matrix v = RandomMatrix(rng, 7, 5);
  for (int t = 0; t < 7; ++t) cache.Append(0, k.row(t), v.row(t));
  EXPECT_EQ(cache.length(), cache.capacity());
  EXPECT_ALLCLOSE(cache.Keys(0, 7), k, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Values(0, 7), v, (Tolerance{0, 0}));
}

TEST(Step1_Cache, ResetEmptiesAndKeepsCapacity) {
  KvCache cache = FixtureCache(3);
  cache.Reset();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.length(0), 0);
  EXPECT_EQ(cache.capacity(), 3);
  const Matrix v = Attend().Matrix("V");
  cache.Append(0, v.row(2), v.row(1));  // the first row again
  EXPECT_ALLCLOSE(cache.Keys(0, 1), v.row(2), (Tolerance{0, 0}));
}

// ---------------------------------------------------------------------------------
// Step 2: capacity and shapes are the caller's contract.

TEST(Step2_Contract, AppendPastCapacityThrowsAndChangesNothing) {
  KvCache cache = FixtureCache(3);
  const Matrix before_k = cache.Keys(0, 3);
  const Matrix before_v = cache.Values(0, 3);
  EXPECT_INVALID_ARGUMENT(cache.Append(0, Matrix::Ones(1, 2), Matrix::Ones(1, 2)),
                          {"full", "capacity", "3"});
  EXPECT_EQ(cache.length(), 3);
  EXPECT_ALLCLOSE(cache.Keys(0, 3), before_k, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(cache.Values(0, 3), before_v, (Tolerance{0, 0}));
}

TEST(Step2_Contract, RejectsKeyOfAnotherWidthAndChangesNothing) {
  KvCache cache(2, 4, 4);
  EXPECT_INVALID_ARGUMENT(cache.Append(0, Matrix::Ones(1, 3), Matrix::Ones(1, 4)),
                          {"k", "1x4", "1x3"});
  EXPECT_EQ(cache.length(0), 0);
}

TEST(Step2_Contract, RejectsValueOfAnotherWidthAndChangesNothing) {
  KvCache cache(2, 4, 4);
  EXPECT_INVALID_ARGUMENT(cache.Append(1, Matrix::Ones(1, 4), Matrix::Ones(1, 8)),
                          {"v", "1x4", "1x8"});
  EXPECT_EQ(cache.length(1), 0);
}

TEST(Step2_Contract, RejectsMoreThanOneTokenPerAppend) {
  KvCache cache(1, 4, 2);
  EXPECT_INVALID_ARGUMENT(cache.Append(0, Matrix::Ones(2, 2), Matrix::Ones(2, 2)),
                          {"k", "1x2", "2x2"});
}

TEST(Step2_Contract, RejectsLayerOutOfRange) {
  KvCache cache(2, 4, 2);
  EXPECT_INVALID_ARGUMENT(cache.Append(2, Matrix::Ones(1, 2), Matrix::Ones(1, 2)),
                          {"layer", "2"});
  EXPECT_INVALID_ARGUMENT(cache.length(-1), {"layer", "-1"});
}

TEST(Step2_Contract, RejectsViewLongerThanTheCache) {
  const KvCache cache = FixtureCache(2);
  EXPECT_INVALID_ARGUMENT(cache.Keys(0, 3), {"n", "3", "2"});
  EXPECT_INVALID_ARGUMENT(cache.Values(0, 3), {"n", "3", "2"});
}

TEST(Step2_Contract, RejectsNonPositiveSizes) {
  EXPECT_INVALID_ARGUMENT(KvCache(0, 4, 2), {"num_layers", "0"});
  EXPECT_INVALID_ARGUMENT(KvCache(1, 0, 2), {"capacity", "0"});
  EXPECT_INVALID_ARGUMENT(KvCache(1, 4, -2), {"kv_width", "-2"});
}

// ---------------------------------------------------------------------------------
// Step 3: attend the new query to every cached key.

TEST(Step3_AttendToCache, FixtureOneStepAtATime) {
  const auto& fx = Attend();
  const Matrix q = fx.Matrix("Q");
  const Matrix out = fx.Matrix("output");
  for (int t = 0; t < 3; ++t) {
    const KvCache cache = FixtureCache(t + 1);
    SCOPED_TRACE(::testing::Message() << "step " << t);
    EXPECT_ALLCLOSE(AttendToCache(q.row(t), cache, 0, fx.Int("num_heads"),
                                  fx.Int("num_kv_heads")),
                    out.row(t), fx.tolerance());
  }
}

TEST(Step3_AttendToCache, OneCachedTokenGivesItsValue) {
  // One key: softmax of one score is 1, whatever the score.
  const KvCache cache = FixtureCache(1);
  const Matrix q = (Matrix(1, 4) << 100.0f, -3.0f, 0.5f, 7.0f).finished();
  const Matrix expected = (Matrix(1, 4) << 2.0f, 0.0f, 2.0f, 0.0f).finished();
  EXPECT_ALLCLOSE(AttendToCache(q, cache, 0, 2, 1), expected, (Tolerance{1e-6, 0}));
}

// Appends the rows of k and v one step at a time to `layer` of a 2-layer cache and checks
// each step's AttendToCache against the reference's causal attention (finite, and within
// kDecode).
void ExpectStepsMatchTheReference(const Matrix& q, const Matrix& k, const Matrix& v, int h,
                                  int hkv, int layer) {
  const MatrixD expected = reference::CausalGroupedAttention(
      q.cast<double>(), k.cast<double>(), v.cast<double>(), h, hkv);
  KvCache cache(2, static_cast<int>(k.rows()), static_cast<int>(k.cols()));
  for (int t = 0; t < k.rows(); ++t) {
    cache.Append(layer, k.row(t), v.row(t));
    SCOPED_TRACE(::testing::Message() << "H=" << h << " Hkv=" << hkv << " step " << t);
    const Matrix out = AttendToCache(q.row(t), cache, layer, h, hkv);
    EXPECT_TRUE(out.allFinite()) << out;
    EXPECT_ALLCLOSE(out, expected.row(t), kDecode);
  }
}

TEST(Step3_AttendToCache, StepsEqualCausalAttentionOfTheReference) {
  Rng rng(31);
  constexpr int kTokens = 7;
  constexpr int kD = 3;
  for (auto [h, hkv] : {std::pair{4, 4}, {4, 2}, {4, 1}, {6, 3}, {1, 1}}) {
    const Matrix q = RandomMatrix(rng, kTokens, h * kD);
    const Matrix k = RandomMatrix(rng, kTokens, hkv * kD);
    const Matrix v = RandomMatrix(rng, kTokens, hkv * kD);
    ExpectStepsMatchTheReference(q, k, v, h, hkv, /*layer=*/1);
  }
}

TEST(Step3_AttendToCache, LogitsOfTenThousandStayFiniteAndExact) {
  // d = 4, so 1/√d = 1/2. Every key starts with 1 and every query head with ±2e4, the
  // other entries are small integers: every score is ±1e4 plus a small integer or half,
  // exact in float. exp(1e4) is inf and exp(-1e4) is 0, so a softmax that does not
  // subtract the row max gives inf/inf or 0/0 = NaN; subtracting it leaves exact
  // differences of a few units and weights a double reference agrees with.
  Rng rng(33);
  constexpr int kTokens = 9;
  constexpr int kD = 4;
  auto small = [&rng] { return static_cast<float>(static_cast<int>(rng.Below(5)) - 2); };
  for (auto [h, hkv] : {std::pair{2, 1}, {4, 2}}) {
    Matrix q(kTokens, h * kD);
    Matrix k(kTokens, hkv * kD);
    for (int t = 0; t < kTokens; ++t) {
      for (int c = 0; c < h * kD; ++c) {
        // Query heads alternate: all scores near +1e4, then all near -1e4.
        q(t, c) = c % kD == 0 ? ((c / kD) % 2 == 0 ? 2e4f : -2e4f) : small();
      }
      for (int c = 0; c < hkv * kD; ++c) k(t, c) = c % kD == 0 ? 1.0f : small();
    }
    const Matrix v = RandomMatrix(rng, kTokens, hkv * kD);
    ExpectStepsMatchTheReference(q, k, v, h, hkv, /*layer=*/0);
  }
}

TEST(Step3_AttendToCache, RejectsCacheWidthThatDoesNotFitTheHeads) {
  // q is 2 heads of d = 2; Hkv = 1 needs kv_width 2, the cache has 4.
  KvCache cache(1, 2, 4);
  cache.Append(0, Matrix::Ones(1, 4), Matrix::Ones(1, 4));
  EXPECT_INVALID_ARGUMENT(AttendToCache(Matrix::Ones(1, 4), cache, 0, 2, 1),
                          {"kv_width", "num_kv_heads", "4", "2"});
}

TEST(Step3_AttendToCache, RejectsHeadCountsThatDoNotDivide) {
  const KvCache cache = FixtureCache(2);
  EXPECT_INVALID_ARGUMENT(AttendToCache(Matrix::Ones(1, 6), cache, 0, 3, 2),
                          {"num_kv_heads", "2", "num_heads", "3"});
  EXPECT_INVALID_ARGUMENT(AttendToCache(Matrix::Ones(1, 5), cache, 0, 2, 1),
                          {"q", "num_heads", "1x5"});
}

TEST(Step3_AttendToCache, RejectsEmptyLayer) {
  const KvCache cache(1, 2, 2);
  EXPECT_INVALID_ARGUMENT(AttendToCache(Matrix::Ones(1, 4), cache, 0, 2, 1), {"empty"});
}

// ---------------------------------------------------------------------------------
// Step 4: decode one token through the model.

TEST(Step4_DecodeStep, FirstTokenEqualsForward) {
  const tiny::Decoder& model = TestModel();
  KvCache cache = CacheFor(model, 4);
  EXPECT_ALLCLOSE(DecodeStep(model, 5, cache), tiny::Forward({5}, model), kDecode);
}

TEST(Step4_DecodeStep, EveryStepEqualsTheRowOfForward) {
  const tiny::Decoder& model = TestModel();
  const std::vector<int> ids = Prompt(9, model.config.vocab_size, 41);
  const Matrix full = tiny::Forward(ids, model);
  KvCache cache = CacheFor(model, 9);
  for (int t = 0; t < 9; ++t) {
    SCOPED_TRACE(::testing::Message() << "position " << t);
    EXPECT_ALLCLOSE(DecodeStep(model, ids[static_cast<size_t>(t)], cache), full.row(t),
                    kDecode);
  }
}

TEST(Step4_DecodeStep, GroupedQueryModelsMatchTheDoubleReference) {
  for (int hkv : {4, 2, 1}) {
    const tiny::Decoder model = tiny::RandomDecoder(TestConfig(hkv), 100 + hkv);
    const std::vector<int> ids = Prompt(6, model.config.vocab_size, 43);
    const MatrixD expected = reference::DecoderLogits(ids, ToDouble(model));
    KvCache cache = CacheFor(model, 6);
    EXPECT_EQ(cache.kv_width(), hkv * 8);
    for (int t = 0; t < 6; ++t) {
      SCOPED_TRACE(::testing::Message() << "Hkv=" << hkv << " position " << t);
      EXPECT_ALLCLOSE(DecodeStep(model, ids[static_cast<size_t>(t)], cache), expected.row(t),
                      kDecode);
    }
  }
}

TEST(Step4_DecodeStep, AppendsOneRowPerLayerPerToken) {
  const tiny::Decoder& model = TestModel();
  KvCache cache = CacheFor(model, 8);
  for (int t = 0; t < 5; ++t) {
    DecodeStep(model, t, cache);
    for (int l = 0; l < model.config.num_layers; ++l) EXPECT_EQ(cache.length(l), t + 1);
  }
  // Layer 0's first key is the first token's normed input times Wk.
  const tiny::LayerWeights& w = model.layers[0];
  const Matrix k0 = tiny::RmsNorm(tiny::EmbedToken(model, 0, 0), w.norm1) * w.wk;
  EXPECT_ALLCLOSE(cache.Keys(0, 1), k0, kDecode);
}

TEST(Step4_DecodeStep, RejectsCacheOfAnotherModel) {
  const tiny::Decoder& model = TestModel();  // L = 2, Hkv·d = 2·8 = 16
  KvCache narrow(2, 4, 8);
  EXPECT_INVALID_ARGUMENT(DecodeStep(model, 1, narrow), {"kv_width", "8", "16", "num_kv_heads"});
  KvCache shallow(1, 4, 16);
  EXPECT_INVALID_ARGUMENT(DecodeStep(model, 1, shallow), {"num_layers", "1", "2"});
}

TEST(Step4_DecodeStep, FullCacheThrowsAndChangesNothing) {
  const tiny::Decoder& model = TestModel();
  KvCache cache = CacheFor(model, 2);
  DecodeStep(model, 1, cache);
  DecodeStep(model, 2, cache);
  const Matrix keys = cache.Keys(1, 2);
  EXPECT_INVALID_ARGUMENT(DecodeStep(model, 3, cache), {"full", "capacity", "2"});
  for (int l = 0; l < 2; ++l) EXPECT_EQ(cache.length(l), 2);
  EXPECT_ALLCLOSE(cache.Keys(1, 2), keys, (Tolerance{0, 0}));
}

TEST(Step4_DecodeStep, RejectsTokenOutOfRangeAndChangesNothing) {
  const tiny::Decoder& model = TestModel();
  KvCache cache = CacheFor(model, 2);
  EXPECT_INVALID_ARGUMENT(DecodeStep(model, 40, cache), {"token", "40"});
  EXPECT_EQ(cache.length(0), 0);
}

// ---------------------------------------------------------------------------------
// Step 5: the memory of the cache.

TEST(Step5_Memory, FixtureTable) {
  const Matrix m = Memory().Matrix("memory");  // L, H, Hkv, d, bytes, bytes/token, KiB
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    SCOPED_TRACE(::testing::Message() << "row " << i);
    const std::int64_t bytes = KvBytesPerToken(static_cast<int>(m(i, 0)), static_cast<int>(m(i, 2)),
                                               static_cast<int>(m(i, 3)), static_cast<int>(m(i, 4)));
    EXPECT_EQ(bytes, static_cast<std::int64_t>(m(i, 5)));
    EXPECT_DOUBLE_EQ(static_cast<double>(bytes) / 1024.0, m(i, 6));
  }
}

TEST(Step5_Memory, PublishedConfigurations) {
  // A 7B model: 32 layers, 32 heads of 128, fp16: 512 KiB per token, 2 GiB for 4096 tokens.
  EXPECT_EQ(KvBytesPerToken(32, 32, 128, 2), 512 * 1024);
  EXPECT_EQ(KvBytesPerToken(32, 32, 128, 2) * 4096, std::int64_t{2} << 30);
  // The same with 8 key/value heads (grouped-query): four times less.
  EXPECT_EQ(KvBytesPerToken(32, 8, 128, 2), 128 * 1024);
}

TEST(Step5_Memory, CacheGrowsLinearlyWithTokens) {
  const tiny::Decoder& model = TestModel();
  const tiny::DecoderConfig& c = model.config;
  const std::int64_t per_token = KvBytesPerToken(c.num_layers, c.num_kv_heads, c.head_dim(), 4);
  EXPECT_EQ(per_token, 256);
  KvCache cache = CacheFor(model, 12);
  EXPECT_EQ(cache.BytesInUse(), 0);
  for (int t = 1; t <= 12; ++t) {
    DecodeStep(model, t % c.vocab_size, cache);
    EXPECT_EQ(cache.BytesInUse(), t * per_token) << "after " << t << " tokens";
  }
  cache.Reset();
  EXPECT_EQ(cache.BytesInUse(), 0);
}

TEST(Step5_Memory, RejectsNonPositiveArguments) {
  EXPECT_INVALID_ARGUMENT(KvBytesPerToken(0, 8, 128, 2), {"num_layers", "0"});
  EXPECT_INVALID_ARGUMENT(KvBytesPerToken(32, 8, 128, -1), {"bytes_per_element", "-1"});
}

// ---------------------------------------------------------------------------------
// Step 6: greedy generation with and without the cache.

TEST(Step6_Generation, SameTokensAndLogitsForPromptsOfSeveralLengths) {
  const tiny::Decoder& model = TestModel();
  for (int p : {1, 2, 5, 9}) {
    const std::vector<int> prompt = Prompt(p, model.config.vocab_size, 60 + p);
    const Generation uncached = GenerateUncached(model, prompt, 12);
    const Generation cached = GenerateCached(model, prompt, 12);
    SCOPED_TRACE(::testing::Message() << "prompt of " << p);
    ASSERT_EQ(uncached.tokens.size(), 12u);
    EXPECT_EQ(cached.tokens, uncached.tokens);
    EXPECT_ALLCLOSE(cached.logits, uncached.logits, kDecode);
  }
}

TEST(Step6_Generation, UncachedIsGreedyOverForward) {
  const tiny::Decoder& model = TestModel();
  const std::vector<int> prompt = {3, 1, 4};
  const Generation g = GenerateUncached(model, prompt, 3);
  std::vector<int> ids = prompt;
  for (int i = 0; i < 3; ++i) {
    const Matrix logits = tiny::Forward(ids, model);
    ids.push_back(tiny::GreedyToken(logits.row(logits.rows() - 1)));
    EXPECT_EQ(g.tokens[static_cast<size_t>(i)], ids.back()) << "token " << i;
  }
}

TEST(Step6_Generation, GroupedAndMultiQueryModelsGiveTheSameTokens) {
  for (int hkv : {1, 4}) {
    const tiny::Decoder model = tiny::RandomDecoder(TestConfig(hkv), 200 + hkv);
    const std::vector<int> prompt = Prompt(4, model.config.vocab_size, 71);
    SCOPED_TRACE(::testing::Message() << "Hkv=" << hkv);
    EXPECT_EQ(GenerateCached(model, prompt, 10).tokens, GenerateUncached(model, prompt, 10).tokens);
  }
}

TEST(Step6_Generation, TokenForwardsMatchTheFixture) {
  const tiny::Decoder& model = TestModel();
  const Matrix f = Forwards().Matrix("token_forwards");  // p, n, uncached, cached, ratio
  int checked = 0;
  for (Eigen::Index i = 0; i < f.rows(); ++i) {
    const int p = static_cast<int>(f(i, 0));
    const int n = static_cast<int>(f(i, 1));
    if (p + n - 1 > model.config.max_seq_len) continue;  // the benchmark's rows
    const std::vector<int> prompt = Prompt(p, model.config.vocab_size, 80);
    SCOPED_TRACE(::testing::Message() << "p=" << p << " n=" << n);
    EXPECT_EQ(GenerateUncached(model, prompt, n).token_forwards,
              static_cast<std::int64_t>(f(i, 2)));
    EXPECT_EQ(GenerateCached(model, prompt, n).token_forwards, static_cast<std::int64_t>(f(i, 3)));
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST(Step6_Generation, RejectsEmptyPromptAndTooLongGenerations) {
  const tiny::Decoder& model = TestModel();  // max_seq_len = 64
  EXPECT_INVALID_ARGUMENT(GenerateCached(model, {}, 4), {"prompt", "0"});
  EXPECT_INVALID_ARGUMENT(GenerateUncached(model, {}, 4), {"prompt", "0"});
  EXPECT_INVALID_ARGUMENT(GenerateCached(model, {1, 2}, 64), {"max_seq_len", "64"});
  EXPECT_INVALID_ARGUMENT(GenerateCached(model, {1, 2}, 0), {"num_tokens", "0"});
}

}  // namespace
}  // namespace llmk::kv_cache
