// Tests of kata 06, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/06_transformer/*.json), then properties and random inputs
// against the double-precision oracle in reference/transformer_ref.h, then bad inputs.
//
// The tiny model of the README is checked sub-layer by sub-layer. A step's input is never
// a rounded fixture value: it is recomputed exactly (in double, by the reference) from the
// fixture's exact inputs, so every check can use the fixture's own tolerance.
#include "transformer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "llmk/testing/testing.h"
#include "safetensors.h"
#include "transformer_ref.h"

namespace llmk::transformer {
namespace {

namespace ref = ::llmk::reference::transformer;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const Fixture& TinyFx() { return KataFixture("06_transformer/tiny_model.json"); }
const Fixture& PositionsFx() { return KataFixture("06_transformer/positions.json"); }
const Fixture& ActivationsFx() { return KataFixture("06_transformer/activations.json"); }
const Fixture& CountsFx() { return KataFixture("06_transformer/parameter_counts.json"); }

// float32 against the double oracle. A dot product of n <= 64 terms errs by about
// n * 6e-8 of the sum of |terms|; a block chains about six such products, two norms
// (dividing by a standard deviation of order 1 for these random weights) and a softmax,
// which keeps the error of a block near 1e-6 of its outputs of order 1 (the largest
// seen on these tests is below 1e-6). 1e-5 absolute plus 1e-4 relative leaves a margin
// of ten; a real slip (a missing bias, a norm in the wrong place, a mask off by one)
// moves such outputs by 1e-2 or more.
constexpr Tolerance kVsReference{1e-5, 1e-4};
// Whole models of up to three blocks per stack and logits that sum D terms of the final
// hidden state: the block error compounds once per block (the largest seen is 3e-6).
constexpr Tolerance kModelVsReference{5e-5, 1e-4};
// Copies, and computations whose inputs did not change: no difference at all.
constexpr Tolerance kExact{0, 0};

MatrixD Dbl(const Matrix& m) { return m.cast<double>(); }
Matrix Flt(const MatrixD& m) { return m.cast<float>(); }

std::vector<int> Ids(const Matrix& row) {
  std::vector<int> ids;
  for (Eigen::Index j = 0; j < row.cols(); ++j) ids.push_back(static_cast<int>(row(0, j)));
  return ids;
}

// ---------------------------------------------------------------------------------
// The tiny model of the README, from the fixture.

LinearWeights Lin(const Matrix& w, const Matrix& b) { return {w, b}; }

NormWeights NormFrom(const Matrix& two_rows) { return {two_rows.row(0), two_rows.row(1)}; }

AttentionWeights TinyAttention(const Fixture& fx) {
  const Matrix b = fx.Matrix("attn_bias");
  return {Lin(fx.Matrix("Wq"), b.row(0)), Lin(fx.Matrix("Wk"), b.row(1)),
          Lin(fx.Matrix("Wv"), b.row(2)), Lin(fx.Matrix("Wo"), b.row(3))};
}

FfnWeights TinyFfn(const Fixture& fx) {
  FfnWeights f;
  f.up = Lin(fx.Matrix("W_up"), fx.Matrix("b_up"));
  f.down = Lin(fx.Matrix("W_down"), fx.Matrix("b_down"));
  return f;
}

BlockWeights TinyBlock(const Fixture& fx) {
  BlockWeights b;
  b.self_attn = TinyAttention(fx);
  b.ffn = TinyFfn(fx);
  b.norm1 = NormFrom(fx.Matrix("norm1"));
  b.norm2 = NormFrom(fx.Matrix("norm2"));
  return b;
}

Config TinyConfig(NormPlacement placement = NormPlacement::kPreNorm) {
  const Fixture& fx = TinyFx();
  Config c;
  c.architecture = Architecture::kDecoderOnly;
  c.vocab_size = fx.Int("vocab_size");
  c.max_seq_len = fx.Int("max_seq_len");
  c.model_dim = fx.Int("model_dim");
  c.num_heads = fx.Int("num_heads");
  c.ffn_dim = fx.Int("ffn_dim");
  c.num_layers = 1;
  c.norm = NormKind::kLayerNorm;
  c.placement = placement;
  c.activation = Activation::kGelu;
  c.positions = Positions::kSinusoidal;
  c.bias = true;
  c.tied_embeddings = true;
  c.norm_eps = static_cast<float>(fx.Scalar("norm_eps"));
  return c;
}

Model TinyModel() {
  const Fixture& fx = TinyFx();
  Model m;
  m.config = TinyConfig();
  m.embed = fx.Matrix("embed");
  m.decoder.layers = {TinyBlock(fx)};
  m.decoder.final_norm = NormFrom(fx.Matrix("final_norm"));
  return m;
}

// The reference's view of kata weights.
ref::Linear R(const LinearWeights& w) { return {Dbl(w.weight), Dbl(w.bias)}; }
ref::Norm R(const NormWeights& n) { return {Dbl(n.weight), Dbl(n.bias)}; }
ref::Attention R(const AttentionWeights& a) { return {R(a.q), R(a.k), R(a.v), R(a.o)}; }
ref::Block R(const BlockWeights& b) {
  return {R(b.self_attn), R(b.cross_attn), R(b.ffn.up), R(b.ffn.gate),
          R(b.ffn.down),  R(b.norm1),      R(b.norm2),  R(b.norm3)};
}
ref::Settings R(const Config& c) {
  ref::Settings s;
  s.heads = c.num_heads;
  s.rms_norm = c.norm == NormKind::kRmsNorm;
  s.pre_norm = c.placement == NormPlacement::kPreNorm;
  s.act = c.activation == Activation::kRelu   ? ref::Act::kRelu
          : c.activation == Activation::kGelu ? ref::Act::kGelu
                                              : ref::Act::kSwiGlu;
  s.pos = c.positions == Positions::kNone         ? ref::Pos::kNone
          : c.positions == Positions::kSinusoidal ? ref::Pos::kSinusoidal
          : c.positions == Positions::kLearned    ? ref::Pos::kLearned
                                                  : ref::Pos::kRope;
  s.eps = c.norm_eps;
  s.rope_base = c.rope_base;
  return s;
}
ref::Model R(const Model& m) {
  ref::Model r;
  r.s = R(m.config);
  r.embed = Dbl(m.embed);
  r.pos_embed = Dbl(m.pos_embed);
  for (const BlockWeights& b : m.encoder.layers) r.encoder.push_back(R(b));
  for (const BlockWeights& b : m.decoder.layers) r.decoder.push_back(R(b));
  r.encoder_final = R(m.encoder.final_norm);
  r.decoder_final = R(m.decoder.final_norm);
  r.lm_head = m.config.tied_embeddings ? MatrixD() : Dbl(m.lm_head);
  return r;
}

// Every intermediate of the tiny model, exact (double) from the fixture's inputs.
struct TinyExact {
  MatrixD x0, h1, attn, x1, h2, ffn, x2;  // the pre-norm decoder of Steps 4-10
  MatrixD enc_attn, enc_x1;               // the post-norm encoder of Steps 7-8
};

const TinyExact& Exact() {
  static const TinyExact e = [] {
    const Fixture& fx = TinyFx();
    const ref::Block b = R(TinyBlock(fx));
    const double eps = fx.Scalar("norm_eps");
    TinyExact t;
    t.x0 = ref::Embed(Ids(fx.Matrix("ids")), fx.MatrixD("embed")) + ref::Sinusoidal(3, 4);
    t.h1 = ref::LayerNorm(t.x0, b.norm1.gamma, b.norm1.beta, eps);
    t.attn = ref::MultiHeadAttention(t.h1, t.h1, b.self_attn, 2, true, false, 1e4);
    t.x1 = t.x0 + t.attn;
    t.h2 = ref::LayerNorm(t.x1, b.norm2.gamma, b.norm2.beta, eps);
    t.ffn = ref::FeedForward(t.h2, b.up, b.gate, b.down, ref::Act::kGelu);
    t.x2 = t.x1 + t.ffn;
    t.enc_attn = ref::MultiHeadAttention(t.x0, t.x0, b.self_attn, 2, false, false, 1e4);
    t.enc_x1 = ref::LayerNorm(t.x0 + t.enc_attn, b.norm1.gamma, b.norm1.beta, eps);
    return t;
  }();
  return e;
}

// ---------------------------------------------------------------------------------
// Random weights and configurations.

LinearWeights RandomLinear(Rng& rng, int in, int out, bool bias) {
  LinearWeights w;
  w.weight = RandomMatrix(rng, in, out, 1.0 / std::sqrt(static_cast<double>(in)));
  if (bias) w.bias = RandomMatrix(rng, 1, out, 0.1);
  return w;
}

NormWeights RandomNorm(Rng& rng, const Config& c) {
  NormWeights n;
  n.weight = (RandomMatrix(rng, 1, c.model_dim, 0.1).array() + 1.0f).matrix();
  if (c.norm == NormKind::kLayerNorm) n.bias = RandomMatrix(rng, 1, c.model_dim, 0.1);
  return n;
}

AttentionWeights RandomAttention(Rng& rng, const Config& c) {
  const int d = c.model_dim;
  return {RandomLinear(rng, d, d, c.bias), RandomLinear(rng, d, d, c.bias),
          RandomLinear(rng, d, d, c.bias), RandomLinear(rng, d, d, c.bias)};
}

BlockWeights RandomBlock(Rng& rng, const Config& c, bool cross) {
  BlockWeights b;
  b.self_attn = RandomAttention(rng, c);
  if (cross) b.cross_attn = RandomAttention(rng, c);
  b.ffn.up = RandomLinear(rng, c.model_dim, c.ffn_dim, c.bias);
  if (c.activation == Activation::kSwiGlu) {
    b.ffn.gate = RandomLinear(rng, c.model_dim, c.ffn_dim, c.bias);
  }
  b.ffn.down = RandomLinear(rng, c.ffn_dim, c.model_dim, c.bias);
  b.norm1 = RandomNorm(rng, c);
  b.norm2 = RandomNorm(rng, c);
  if (cross) b.norm3 = RandomNorm(rng, c);
  return b;
}

StackWeights RandomStack(Rng& rng, const Config& c, bool cross) {
  StackWeights s;
  for (int l = 0; l < c.num_layers; ++l) s.layers.push_back(RandomBlock(rng, c, cross));
  if (c.placement == NormPlacement::kPreNorm) s.final_norm = RandomNorm(rng, c);
  return s;
}

Model RandomModel(Rng& rng, const Config& c) {
  Model m;
  m.config = c;
  m.embed = RandomMatrix(rng, c.vocab_size, c.model_dim);
  if (c.positions == Positions::kLearned) {
    m.pos_embed = RandomMatrix(rng, c.max_seq_len, c.model_dim, 0.5);
  }
  if (c.architecture != Architecture::kDecoderOnly) m.encoder = RandomStack(rng, c, false);
  if (c.architecture != Architecture::kEncoderOnly) {
    m.decoder = RandomStack(rng, c, c.architecture == Architecture::kEncoderDecoder);
    if (!c.tied_embeddings) m.lm_head = RandomMatrix(rng, c.vocab_size, c.model_dim, 0.5);
  }
  return m;
}

Config SmallConfig(Architecture a) {
  Config c;
  c.architecture = a;
  c.vocab_size = 11;
  c.max_seq_len = 16;
  c.model_dim = 8;
  c.num_heads = 2;
  c.ffn_dim = 32;
  c.num_layers = 2;
  return c;
}

// A spread of configurations: every architecture, norm, placement, activation and
// position scheme appears, with and without biases and tied embeddings.
std::vector<Config> RandomConfigs() {
  std::vector<Config> configs;
  int i = 0;
  for (Architecture a :
       {Architecture::kEncoderOnly, Architecture::kDecoderOnly, Architecture::kEncoderDecoder}) {
    for (Positions p :
         {Positions::kNone, Positions::kSinusoidal, Positions::kLearned, Positions::kRope}) {
      for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSwiGlu}) {
        Config c = SmallConfig(a);
        c.positions = p;
        c.activation = act;
        c.norm = i % 2 == 0 ? NormKind::kLayerNorm : NormKind::kRmsNorm;
        c.placement = (i / 2) % 2 == 0 ? NormPlacement::kPreNorm : NormPlacement::kPostNorm;
        c.bias = (i / 3) % 2 == 0;
        c.tied_embeddings = (i / 5) % 2 == 0;
        c.model_dim = i % 3 == 0 ? 12 : 8;
        c.num_heads = i % 3 == 0 ? 3 : 2;
        c.ffn_dim = act == Activation::kSwiGlu ? 20 : 4 * c.model_dim;
        c.num_layers = 1 + i % 3;
        configs.push_back(c);
        ++i;
      }
    }
  }
  return configs;
}

std::vector<int> RandomIds(Rng& rng, int n, int vocab) {
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int>(rng.Below(vocab)));
  return ids;
}

std::string Describe(const Config& c) {
  return ::testing::PrintToString(
             std::vector<int>{static_cast<int>(c.architecture), static_cast<int>(c.norm),
                              static_cast<int>(c.placement), static_cast<int>(c.activation),
                              static_cast<int>(c.positions), c.bias ? 1 : 0,
                              c.tied_embeddings ? 1 : 0, c.model_dim, c.num_heads, c.num_layers}) +
         " (architecture, norm, placement, activation, positions, bias, tied, D, H, L)";
}

// Rows of m in the order of `order`.
Matrix Permuted(const Matrix& m, const std::vector<int>& order) {
  Matrix out(m.rows(), m.cols());
  for (size_t i = 0; i < order.size(); ++i) {
    out.row(static_cast<Eigen::Index>(i)) = m.row(order[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Step 1: token embedding.

TEST(Step1_Embedding, FixtureTokens) {
  const Fixture& fx = TinyFx();
  EXPECT_ALLCLOSE(EmbedTokens(Ids(fx.Matrix("ids")), fx.Matrix("embed")), fx.Matrix("tokens"),
                  fx.tolerance());
}

TEST(Step1_Embedding, PicksRowsInOrderWithRepeats) {
  Rng rng(101);
  const Matrix table = RandomMatrix(rng, 7, 5);
  const Matrix e = EmbedTokens({6, 0, 6, 3}, table);
  ASSERT_EQ(e.rows(), 4);
  ASSERT_EQ(e.cols(), 5);
  EXPECT_ALLCLOSE(e.row(0), table.row(6), kExact);
  EXPECT_ALLCLOSE(e.row(1), table.row(0), kExact);
  EXPECT_ALLCLOSE(e.row(2), table.row(6), kExact);
  EXPECT_ALLCLOSE(e.row(3), table.row(3), kExact);
}

TEST(Step1_Embedding, MatchesReference) {
  Rng rng(102);
  for (int vocab : {1, 5, 50}) {
    for (int t : {1, 7, 33}) {
      const Matrix table = RandomMatrix(rng, vocab, 6);
      const std::vector<int> ids = RandomIds(rng, t, vocab);
      EXPECT_ALLCLOSE(EmbedTokens(ids, table), ref::Embed(ids, Dbl(table)), kExact);
    }
  }
}

TEST(Step1_Embedding, RejectsIdsOutOfRange) {
  const Matrix table = Matrix::Ones(6, 4);
  EXPECT_INVALID_ARGUMENT(EmbedTokens({1, 6, 2}, table), {"ids[1] = 6", "[0, 6)"});
  EXPECT_INVALID_ARGUMENT(EmbedTokens({-1}, table), {"ids[0] = -1", "[0, 6)"});
}

TEST(Step1_Embedding, RejectsEmptyInput) {
  EXPECT_INVALID_ARGUMENT(EmbedTokens({}, Matrix::Ones(6, 4)), {"ids"});
  EXPECT_INVALID_ARGUMENT(EmbedTokens({0}, Matrix(0, 4)), {"table", "0x4"});
}

// ---------------------------------------------------------------------------------
// Step 2: sinusoidal positional encoding.

TEST(Step2_Sinusoidal, FixtureFourPositionsWidthSix) {
  const Fixture& fx = PositionsFx();
  EXPECT_ALLCLOSE(SinusoidalPositions(4, 6), fx.Matrix("sinusoidal"), fx.tolerance());
}

TEST(Step2_Sinusoidal, FixtureTinyModel) {
  const Fixture& fx = TinyFx();
  EXPECT_ALLCLOSE(SinusoidalPositions(3, 4), fx.Matrix("positions"), fx.tolerance());
}

// sin² + cos² = 1 for each of the D/2 pairs.
TEST(Step2_Sinusoidal, EveryRowHasNormRootHalfD) {
  const Matrix pe = SinusoidalPositions(50, 16);
  for (Eigen::Index p = 0; p < pe.rows(); ++p) {
    EXPECT_NEAR(pe.row(p).squaredNorm(), 8.0f, 1e-4) << "position " << p;
  }
}

// PE(p + k) is PE(p) with each pair rotated by the angle k·ω_i: a fixed linear map for
// each offset k, which is what lets attention read relative positions from it.
TEST(Step2_Sinusoidal, AnOffsetIsARotationOfEachPair) {
  const int dim = 16;
  const Matrix pe = SinusoidalPositions(60, dim);
  for (int k : {1, 7}) {
    for (int p : {0, 13, 50}) {
      for (int i = 0; i < dim / 2; ++i) {
        const double w = std::pow(10000.0, -2.0 * i / dim);
        const double c = std::cos(k * w);
        const double s = std::sin(k * w);
        const double a = pe(p, 2 * i);
        const double b = pe(p, 2 * i + 1);
        EXPECT_NEAR(pe(p + k, 2 * i), a * c + b * s, 2e-6) << "p=" << p << " k=" << k;
        EXPECT_NEAR(pe(p + k, 2 * i + 1), b * c - a * s, 2e-6) << "p=" << p << " k=" << k;
      }
    }
  }
}

TEST(Step2_Sinusoidal, MatchesReference) {
  for (int t : {1, 2, 17, 128}) {
    for (int dim : {2, 6, 64}) {
      SCOPED_TRACE(::testing::Message() << "T=" << t << " D=" << dim);
      EXPECT_ALLCLOSE(SinusoidalPositions(t, dim), ref::Sinusoidal(t, dim), (Tolerance{1e-6, 0}));
    }
  }
}

TEST(Step2_Sinusoidal, RejectsBadSizes) {
  EXPECT_INVALID_ARGUMENT(SinusoidalPositions(3, 5), {"D = 5", "even"});
  EXPECT_INVALID_ARGUMENT(SinusoidalPositions(0, 4), {"num_positions", "0"});
}

// ---------------------------------------------------------------------------------
// Step 3: rotary position embedding.

TEST(Step3_Rope, FixtureRotatedQueryAndKey) {
  const Fixture& fx = PositionsFx();
  EXPECT_ALLCLOSE(ApplyRope(fx.Matrix("rope_q_in"), 4), fx.Matrix("rope_q"), fx.tolerance());
  EXPECT_ALLCLOSE(ApplyRope(fx.Matrix("rope_k_in"), 4), fx.Matrix("rope_k"), fx.tolerance());
}

TEST(Step3_Rope, FixtureScoresDependOnTheDistanceOnly) {
  const Fixture& fx = PositionsFx();
  const Matrix q = ApplyRope(fx.Matrix("rope_q_in"), 4);
  const Matrix k = ApplyRope(fx.Matrix("rope_k_in"), 4);
  const Matrix scores = q * k.transpose();
  EXPECT_ALLCLOSE(scores, fx.Matrix("rope_scores"), fx.tolerance());
  // Constant along every diagonal: score(m, n) is a function of m - n.
  for (Eigen::Index m = 1; m < 4; ++m) {
    for (Eigen::Index n = 1; n < 4; ++n) {
      EXPECT_NEAR(scores(m, n), scores(m - 1, n - 1), 1e-5) << "m=" << m << " n=" << n;
    }
  }
}

// The property RoPE exists for: rotate a query to position m and a key to position n,
// and their dot product depends on m - n only, for any q, k and any shift.
TEST(Step3_Rope, ScoreOfRotatedQueryAndKeyDependsOnlyOnTheirDistance) {
  Rng rng(301);
  const int d = 8;
  for (int trial = 0; trial < 20; ++trial) {
    const Matrix q = RandomMatrix(rng, 1, d);
    const Matrix k = RandomMatrix(rng, 1, d);
    const int m = static_cast<int>(rng.Below(200));
    const int n = static_cast<int>(rng.Below(200));
    const float base_score =
        ApplyRope(q, d, 10000.0f, m).row(0).dot(ApplyRope(k, d, 10000.0f, n).row(0));
    for (int shift : {1, 17, 300}) {
      const float shifted = ApplyRope(q, d, 10000.0f, m + shift)
                                .row(0)
                                .dot(ApplyRope(k, d, 10000.0f, n + shift).row(0));
      // Angles up to 500 radians lose about 500 * 6e-8 in float; scores are O(3).
      EXPECT_NEAR(shifted, base_score, 1e-4) << "m=" << m << " n=" << n << " shift=" << shift;
    }
  }
}

TEST(Step3_Rope, PositionZeroIsTheIdentityAndNormsArePreserved) {
  Rng rng(302);
  const Matrix x = RandomMatrix(rng, 9, 12);
  const Matrix y = ApplyRope(x, 4);
  EXPECT_ALLCLOSE(y.row(0), x.row(0), kExact);
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (Eigen::Index j = 0; j < x.cols(); j += 2) {
      const float before = std::hypot(x(t, j), x(t, j + 1));
      const float after = std::hypot(y(t, j), y(t, j + 1));
      EXPECT_NEAR(after, before, 1e-5) << "row " << t << " pair " << j / 2;
    }
  }
}

TEST(Step3_Rope, FirstPositionShiftsEveryRow) {
  Rng rng(303);
  const Matrix x = RandomMatrix(rng, 10, 8);
  const Matrix all = ApplyRope(x, 4, 500.0f);
  const Matrix tail = ApplyRope(x.bottomRows(3), 4, 500.0f, 7);
  EXPECT_ALLCLOSE(tail, all.bottomRows(3), (Tolerance{1e-6, 1e-6}));
}

TEST(Step3_Rope, MatchesReference) {
  Rng rng(304);
  for (int t : {1, 3, 33}) {
    for (auto [heads, d] : {std::pair{1, 2}, {2, 4}, {3, 8}, {4, 16}}) {
      for (float base : {10000.0f, 500.0f}) {
        const Matrix x = RandomMatrix(rng, t, heads * d);
        SCOPED_TRACE(::testing::Message() << "T=" << t << " H=" << heads << " d=" << d);
        EXPECT_ALLCLOSE(ApplyRope(x, d, base, 2), ref::Rope(Dbl(x), d, base, 2), kVsReference);
      }
    }
  }
}

TEST(Step3_Rope, RejectsBadArguments) {
  const Matrix x = Matrix::Ones(2, 6);
  EXPECT_INVALID_ARGUMENT(ApplyRope(x, 3), {"head_dim", "3"});
  EXPECT_INVALID_ARGUMENT(ApplyRope(x, 4), {"2x6", "4"});
  EXPECT_INVALID_ARGUMENT(ApplyRope(x, 2, 10000.0f, -1), {"first_position", "-1"});
  EXPECT_INVALID_ARGUMENT(ApplyRope(x, 2, 0.0f), {"base"});
}

// ---------------------------------------------------------------------------------
// Step 4: layer norm and RMSNorm.

TEST(Step4_Norms, FixtureLayerNormOfTheInput) {
  const Fixture& fx = TinyFx();
  const NormWeights n = NormFrom(fx.Matrix("norm1"));
  EXPECT_ALLCLOSE(LayerNorm(Flt(Exact().x0), n.weight, n.bias), fx.Matrix("norm1_out"),
                  fx.tolerance());
}

TEST(Step4_Norms, FixtureLayerNormWithGainAndShift) {
  const Fixture& fx = TinyFx();
  const NormWeights n = NormFrom(fx.Matrix("norm2"));
  EXPECT_ALLCLOSE(LayerNorm(Flt(Exact().x1), n.weight, n.bias), fx.Matrix("norm2_out"),
                  fx.tolerance());
}

TEST(Step4_Norms, FixtureFinalNorm) {
  const Fixture& fx = TinyFx();
  const NormWeights n = NormFrom(fx.Matrix("final_norm"));
  EXPECT_ALLCLOSE(ApplyNorm(Flt(Exact().x2), n, NormKind::kLayerNorm, 1e-5f),
                  fx.Matrix("final_out"), fx.tolerance());
}

TEST(Step4_Norms, LayerNormRowsHaveMeanZeroAndVarianceOne) {
  Rng rng(401);
  const Matrix x = (RandomMatrix(rng, 6, 32, 3.0).array() + 5.0f).matrix();
  const Matrix y = LayerNorm(x, Matrix::Ones(1, 32), Matrix::Zero(1, 32));
  for (Eigen::Index t = 0; t < y.rows(); ++t) {
    EXPECT_NEAR(y.row(t).mean(), 0.0f, 1e-5) << "row " << t;
    EXPECT_NEAR(y.row(t).squaredNorm() / 32.0f, 1.0f, 1e-4) << "row " << t;
  }
}

TEST(Step4_Norms, RmsNormRowsHaveUnitRootMeanSquare) {
  Rng rng(402);
  const Matrix x = RandomMatrix(rng, 6, 32, 4.0);
  const Matrix y = RmsNorm(x, Matrix::Ones(1, 32));
  for (Eigen::Index t = 0; t < y.rows(); ++t) {
    EXPECT_NEAR(y.row(t).squaredNorm() / 32.0f, 1.0f, 1e-4) << "row " << t;
  }
}

// On rows whose mean is already 0, centring does nothing: the two norms agree.
TEST(Step4_Norms, RmsNormEqualsLayerNormOnCentredRows) {
  Rng rng(403);
  Matrix x = RandomMatrix(rng, 5, 16);
  for (Eigen::Index t = 0; t < x.rows(); ++t) x.row(t).array() -= x.row(t).mean();
  const Matrix gamma = RandomMatrix(rng, 1, 16);
  EXPECT_ALLCLOSE(RmsNorm(x, gamma), LayerNorm(x, gamma, Matrix::Zero(1, 16)),
                  (Tolerance{1e-5, 1e-5}));
}

TEST(Step4_Norms, ScalingARowChangesNothing) {
  Rng rng(404);
  const Matrix x = RandomMatrix(rng, 4, 8);
  const Matrix gamma = RandomMatrix(rng, 1, 8);
  const Matrix beta = RandomMatrix(rng, 1, 8);
  EXPECT_ALLCLOSE(LayerNorm(x * 7.0f, gamma, beta), LayerNorm(x, gamma, beta),
                  (Tolerance{1e-4, 1e-4}));
  EXPECT_ALLCLOSE(RmsNorm(x * 7.0f, gamma), RmsNorm(x, gamma), (Tolerance{1e-4, 1e-4}));
}

TEST(Step4_Norms, MatchesReference) {
  Rng rng(405);
  for (int t : {1, 2, 17}) {
    for (int dim : {1, 4, 33, 128}) {
      const Matrix x = RandomMatrix(rng, t, dim, 2.0);
      NormWeights n{RandomMatrix(rng, 1, dim), RandomMatrix(rng, 1, dim)};
      SCOPED_TRACE(::testing::Message() << "T=" << t << " D=" << dim);
      EXPECT_ALLCLOSE(ApplyNorm(x, n, NormKind::kLayerNorm, 1e-5f),
                      ref::LayerNorm(Dbl(x), Dbl(n.weight), Dbl(n.bias), 1e-5), kVsReference);
      n.bias = Matrix();
      EXPECT_ALLCLOSE(ApplyNorm(x, n, NormKind::kRmsNorm, 1e-6f),
                      ref::RmsNorm(Dbl(x), Dbl(n.weight), 1e-6), kVsReference);
    }
  }
}

TEST(Step4_Norms, RejectsBadShapes) {
  const Matrix x = Matrix::Ones(2, 4);
  EXPECT_INVALID_ARGUMENT(LayerNorm(x, Matrix::Ones(1, 3), Matrix::Zero(1, 4)),
                          {"gamma", "1x3", "1x4"});
  EXPECT_INVALID_ARGUMENT(LayerNorm(x, Matrix::Ones(1, 4), Matrix::Zero(4, 1)),
                          {"beta", "4x1", "1x4"});
  EXPECT_INVALID_ARGUMENT(RmsNorm(x, Matrix::Ones(4, 1)), {"gamma", "4x1", "1x4"});
  EXPECT_INVALID_ARGUMENT(RmsNorm(x, Matrix::Ones(1, 4), 0.0f), {"eps"});
  EXPECT_INVALID_ARGUMENT(
      ApplyNorm(x, NormWeights{Matrix::Ones(1, 4), Matrix::Zero(1, 4)}, NormKind::kRmsNorm, 1e-5f),
      {"bias", "1x4"});
}

// ---------------------------------------------------------------------------------
// Step 5: feed-forward networks.

TEST(Step5_FeedForward, FixtureActivations) {
  const Fixture& fx = ActivationsFx();
  const Matrix x = fx.Matrix("act_x");
  EXPECT_ALLCLOSE(Relu(x), fx.Matrix("relu"), fx.tolerance());
  EXPECT_ALLCLOSE(Gelu(x), fx.Matrix("gelu"), fx.tolerance());
  EXPECT_ALLCLOSE(Silu(x), fx.Matrix("silu"), fx.tolerance());
}

TEST(Step5_FeedForward, FixtureSwiGlu) {
  const Fixture& fx = ActivationsFx();
  FfnWeights w;
  w.gate.weight = fx.Matrix("swiglu_W_gate");
  w.up.weight = fx.Matrix("swiglu_W_up");
  w.down.weight = fx.Matrix("swiglu_W_down");
  FfnTrace trace;
  const Matrix out = FeedForward(fx.Matrix("swiglu_x"), w, Activation::kSwiGlu, &trace);
  EXPECT_ALLCLOSE(trace.gate, fx.Matrix("swiglu_gate"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.up, fx.Matrix("swiglu_up"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.hidden, fx.Matrix("swiglu_hidden"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("swiglu_out"), fx.tolerance());
}

TEST(Step5_FeedForward, FixtureTinyModelGelu) {
  const Fixture& fx = TinyFx();
  FfnTrace trace;
  const Matrix out = FeedForward(Flt(Exact().h2), TinyFfn(fx), Activation::kGelu, &trace);
  EXPECT_ALLCLOSE(trace.up, fx.Matrix("ffn_up"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.hidden, fx.Matrix("ffn_hidden"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("ffn_out"), fx.tolerance());
}

TEST(Step5_FeedForward, LinearAddsTheBiasToEveryRow) {
  Rng rng(501);
  const Matrix x = RandomMatrix(rng, 5, 3);
  const LinearWeights w{RandomMatrix(rng, 3, 4), RandomMatrix(rng, 1, 4)};
  MatrixD expected = Dbl(x) * Dbl(w.weight);
  expected.rowwise() += Dbl(w.bias).row(0);
  EXPECT_ALLCLOSE(Linear(x, w), expected, kVsReference);
  EXPECT_ALLCLOSE(Linear(x, LinearWeights{w.weight, Matrix()}), Dbl(x) * Dbl(w.weight),
                  kVsReference);
}

// The tanh form, not the erf form: the two differ by up to 4.7e-4 (at |x| = 2.7) and by
// 1.5e-4 at x = ±1, far more than the float rounding of either.
TEST(Step5_FeedForward, ActivationsMatchReference) {
  Matrix x(1, 9);
  x << -6, -2.7f, -1, -0.1f, 0, 0.3f, 1.7f, 2.3f, 8;
  const Matrix relu = Relu(x);
  const Matrix gelu = Gelu(x);
  const Matrix silu = Silu(x);
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    EXPECT_NEAR(relu(0, j), ref::Relu(x(0, j)), 1e-7) << "x = " << x(0, j);
    EXPECT_NEAR(gelu(0, j), ref::Gelu(x(0, j)), 2e-6) << "x = " << x(0, j);
    EXPECT_NEAR(silu(0, j), ref::Silu(x(0, j)), 2e-6) << "x = " << x(0, j);
  }
}

TEST(Step5_FeedForward, ExpandsToFThenContractsToD) {
  Rng rng(502);
  const int dim = 6;
  const int f = 4 * dim;
  FfnWeights w;
  w.up = RandomLinear(rng, dim, f, true);
  w.down = RandomLinear(rng, f, dim, true);
  FfnTrace trace;
  const Matrix out = FeedForward(RandomMatrix(rng, 3, dim), w, Activation::kRelu, &trace);
  EXPECT_EQ(trace.up.rows(), 3);
  EXPECT_EQ(trace.up.cols(), f);
  EXPECT_EQ(trace.hidden.cols(), f);
  EXPECT_EQ(out.cols(), dim);
}

TEST(Step5_FeedForward, ActsOnEveryTokenSeparately) {
  Rng rng(503);
  FfnWeights w;
  w.up = RandomLinear(rng, 8, 20, true);
  w.gate = RandomLinear(rng, 8, 20, true);
  w.down = RandomLinear(rng, 20, 8, true);
  const Matrix x = RandomMatrix(rng, 5, 8);
  const Matrix all = FeedForward(x, w, Activation::kSwiGlu);
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    EXPECT_ALLCLOSE(FeedForward(x.row(t), w, Activation::kSwiGlu), all.row(t),
                    (Tolerance{1e-6, 1e-5}));
  }
}

TEST(Step5_FeedForward, MatchesReference) {
  Rng rng(504);
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSwiGlu}) {
    for (bool bias : {true, false}) {
      for (auto [dim, f] : {std::pair{1, 1}, {4, 16}, {12, 32}}) {
        FfnWeights w;
        w.up = RandomLinear(rng, dim, f, bias);
        if (act == Activation::kSwiGlu) w.gate = RandomLinear(rng, dim, f, bias);
        w.down = RandomLinear(rng, f, dim, bias);
        const Matrix x = RandomMatrix(rng, 7, dim);
        const ref::Act ra = act == Activation::kRelu   ? ref::Act::kRelu
                            : act == Activation::kGelu ? ref::Act::kGelu
                                                       : ref::Act::kSwiGlu;
        SCOPED_TRACE(::testing::Message() << "activation " << static_cast<int>(act) << " D=" << dim
                                          << " F=" << f << " bias=" << bias);
        EXPECT_ALLCLOSE(FeedForward(x, w, act),
                        ref::FeedForward(Dbl(x), R(w.up), R(w.gate), R(w.down), ra), kVsReference);
      }
    }
  }
}

TEST(Step5_FeedForward, RejectsWrongWidths) {
  Rng rng(505);
  const Matrix x = RandomMatrix(rng, 3, 4);
  FfnWeights w;
  w.up = RandomLinear(rng, 4, 8, true);
  w.down = RandomLinear(rng, 6, 4, true);
  EXPECT_INVALID_ARGUMENT(FeedForward(x, w, Activation::kGelu), {"w.down.weight", "6x4", "8x4"});
  w.down = RandomLinear(rng, 8, 4, true);
  EXPECT_INVALID_ARGUMENT(FeedForward(x, w, Activation::kSwiGlu), {"w.gate.weight", "0x0"});
  w.gate = RandomLinear(rng, 4, 8, true);
  EXPECT_INVALID_ARGUMENT(FeedForward(x, w, Activation::kRelu), {"w.gate.weight", "4x8"});
  w.gate = LinearWeights();
  w.up.bias = Matrix::Zero(1, 7);
  EXPECT_INVALID_ARGUMENT(FeedForward(x, w, Activation::kRelu), {"w.up.bias", "1x7"});
  EXPECT_INVALID_ARGUMENT(FeedForward(Matrix::Ones(3, 5), w, Activation::kRelu),
                          {"w.up.weight", "4x8", "3x5"});
  EXPECT_INVALID_ARGUMENT(Linear(x, LinearWeights{Matrix::Ones(5, 2), Matrix()}),
                          {"w.weight", "5x2", "3x4"});
}

// ---------------------------------------------------------------------------------
// Step 6: multi-head attention, causal and cross.

AttentionTrace TinyAttentionTrace(Matrix* out) {
  AttentionTrace trace;
  const Matrix h1 = Flt(Exact().h1);
  *out = MultiHeadAttention(h1, h1, TinyAttention(TinyFx()), 2, {.causal = true}, &trace);
  return trace;
}

TEST(Step6_Attention, FixtureProjections) {
  const Fixture& fx = TinyFx();
  Matrix out;
  const AttentionTrace trace = TinyAttentionTrace(&out);
  EXPECT_ALLCLOSE(trace.q, fx.Matrix("q"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.k, fx.Matrix("k"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.v, fx.Matrix("v"), fx.tolerance());
}

TEST(Step6_Attention, FixtureCausalWeightsPerHead) {
  const Fixture& fx = TinyFx();
  Matrix out;
  const AttentionTrace trace = TinyAttentionTrace(&out);
  ASSERT_EQ(trace.weights.size(), 2u) << "trace.weights holds one matrix per head";
  EXPECT_ALLCLOSE(trace.weights[0], fx.Matrix("head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.weights[1], fx.Matrix("head1_weights"), fx.tolerance());
  for (const Matrix& p : trace.weights) {
    EXPECT_EQ(p(0, 1), 0.0f);
    EXPECT_EQ(p(0, 2), 0.0f);
    EXPECT_EQ(p(1, 2), 0.0f) << "weights above the diagonal must be exactly 0";
  }
}

TEST(Step6_Attention, FixtureConcatAndOutput) {
  const Fixture& fx = TinyFx();
  Matrix out;
  const AttentionTrace trace = TinyAttentionTrace(&out);
  EXPECT_ALLCLOSE(trace.concat, fx.Matrix("concat"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("attn_out"), fx.tolerance());
}

TEST(Step6_Attention, FixtureCrossAttention) {
  const Fixture& fx = TinyFx();
  AttentionTrace trace;
  const Matrix out = MultiHeadAttention(fx.Matrix("cross_x"), fx.Matrix("cross_memory"),
                                        TinyAttention(fx), 2, {}, &trace);
  ASSERT_EQ(trace.weights.size(), 2u);
  EXPECT_ALLCLOSE(trace.weights[0], fx.Matrix("cross_head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.weights[1], fx.Matrix("cross_head1_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("cross_out"), fx.tolerance());
}

// Changing token j > i must not change output i at all: with the same shapes, every
// number that reaches row i is computed the same way, and the masked weights are 0.
TEST(Step6_Attention, CausalOutputIgnoresLaterTokensExactly) {
  Rng rng(601);
  Config c = SmallConfig(Architecture::kDecoderOnly);
  const AttentionWeights w = RandomAttention(rng, c);
  Matrix x = RandomMatrix(rng, 6, c.model_dim);
  const Matrix before = MultiHeadAttention(x, x, w, 2, {.causal = true});
  x.bottomRows(2) = RandomMatrix(rng, 2, c.model_dim, 5.0);
  const Matrix after = MultiHeadAttention(x, x, w, 2, {.causal = true});
  EXPECT_ALLCLOSE(after.topRows(4), before.topRows(4), kExact);
  EXPECT_FALSE(after.row(5).isApprox(before.row(5))) << "the changed rows must change";
}

TEST(Step6_Attention, CrossAttentionHasOneRowPerQueryAndOneColumnPerKey) {
  Rng rng(602);
  const Config c = SmallConfig(Architecture::kEncoderDecoder);
  AttentionTrace trace;
  const Matrix out = MultiHeadAttention(RandomMatrix(rng, 2, 8), RandomMatrix(rng, 5, 8),
                                        RandomAttention(rng, c), 4, {}, &trace);
  EXPECT_EQ(out.rows(), 2);
  EXPECT_EQ(out.cols(), 8);
  ASSERT_EQ(trace.weights.size(), 4u);
  EXPECT_EQ(trace.weights[3].rows(), 2);
  EXPECT_EQ(trace.weights[3].cols(), 5);
}

// A key bias adds q·b_k to every score of a row: the softmax does not see it.
TEST(Step6_Attention, AKeyBiasChangesNothing) {
  Rng rng(603);
  const Config c = SmallConfig(Architecture::kDecoderOnly);
  AttentionWeights w = RandomAttention(rng, c);
  const Matrix x = RandomMatrix(rng, 5, 8);
  const Matrix before = MultiHeadAttention(x, x, w, 2, {.causal = true});
  w.k.bias = RandomMatrix(rng, 1, 8, 3.0);
  EXPECT_ALLCLOSE(MultiHeadAttention(x, x, w, 2, {.causal = true}), before,
                  (Tolerance{1e-5, 1e-4}));
}

TEST(Step6_Attention, MatchesReference) {
  Rng rng(604);
  for (int t : {1, 2, 9, 33}) {
    for (int heads : {1, 2, 4}) {
      for (bool causal : {false, true}) {
        for (bool rope : {false, true}) {
          Config c = SmallConfig(Architecture::kDecoderOnly);
          c.bias = (t + heads) % 2 == 0;
          const AttentionWeights w = RandomAttention(rng, c);
          const Matrix x = RandomMatrix(rng, t, 8);
          const Matrix memory = causal ? x : RandomMatrix(rng, t + 2, 8);
          SCOPED_TRACE(::testing::Message()
                       << "T=" << t << " H=" << heads << " causal=" << causal << " rope=" << rope);
          const AttentionOptions options{.causal = causal, .rope = rope, .rope_base = 100.0f};
          EXPECT_ALLCLOSE(
              MultiHeadAttention(x, memory, w, heads, options),
              ref::MultiHeadAttention(Dbl(x), Dbl(memory), R(w), heads, causal, rope, 100.0),
              kVsReference);
        }
      }
    }
  }
}

TEST(Step6_Attention, RejectsBadConfigurations) {
  Rng rng(605);
  Config c = SmallConfig(Architecture::kDecoderOnly);
  c.model_dim = 6;
  const AttentionWeights w = RandomAttention(rng, c);
  const Matrix x = RandomMatrix(rng, 3, 6);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, x, w, 4), {"D = 6", "H = 4"});
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, RandomMatrix(rng, 3, 5), w, 2), {"memory", "3x5"});
  AttentionWeights narrow = w;
  narrow.k.weight = Matrix::Ones(6, 2);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, x, narrow, 2), {"w.k.weight", "6x2", "6x6"});
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, RandomMatrix(rng, 4, 6), w, 2, {.causal = true}),
                          {"causal", "3x6", "4x6"});
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(Matrix(0, 6), x, w, 2), {"x", "0x6"});
}

// ---------------------------------------------------------------------------------
// Step 7: residual connections, pre-norm and post-norm.

// The tiny model's attention as a sub-layer, computed by the reference (so Step 7 does
// not depend on Step 6).
Sublayer ReferenceAttention(bool causal) {
  return [causal](const MatrixRef& in) {
    const MatrixD x = in.cast<double>();
    return Flt(ref::MultiHeadAttention(x, x, R(TinyAttention(TinyFx())), 2, causal, false, 1e4));
  };
}

TEST(Step7_Residual, FixturePreNormAroundAttention) {
  const Fixture& fx = TinyFx();
  EXPECT_ALLCLOSE(Residual(Flt(Exact().x0), NormFrom(fx.Matrix("norm1")), TinyConfig(),
                           ReferenceAttention(true)),
                  fx.Matrix("x1"), fx.tolerance());
}

TEST(Step7_Residual, FixturePostNormAroundAttention) {
  const Fixture& fx = TinyFx();
  EXPECT_ALLCLOSE(Residual(Flt(Exact().x0), NormFrom(fx.Matrix("norm1")),
                           TinyConfig(NormPlacement::kPostNorm), ReferenceAttention(false)),
                  fx.Matrix("enc_x1"), fx.tolerance());
}

TEST(Step7_Residual, PreNormIsXPlusTheSublayerOfTheNorm) {
  Rng rng(701);
  for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
    Config c = SmallConfig(Architecture::kEncoderOnly);
    c.norm = kind;
    const NormWeights n = RandomNorm(rng, c);
    const Matrix x = RandomMatrix(rng, 4, 8, 2.0);
    const Matrix a = RandomMatrix(rng, 8, 8);
    Matrix seen;
    const Matrix y = Residual(x, n, c, [&](const MatrixRef& in) {
      seen = in;
      return Matrix(in * a);
    });
    const MatrixD normed = kind == NormKind::kLayerNorm
                               ? ref::LayerNorm(Dbl(x), Dbl(n.weight), Dbl(n.bias), 1e-5)
                               : ref::RmsNorm(Dbl(x), Dbl(n.weight), 1e-5);
    EXPECT_ALLCLOSE(seen, normed, kVsReference) << "the sub-layer must read norm(x)";
    EXPECT_ALLCLOSE(y, Dbl(x) + normed * Dbl(a), kVsReference);
  }
}

TEST(Step7_Residual, PostNormIsTheNormOfXPlusTheSublayer) {
  Rng rng(702);
  for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
    Config c = SmallConfig(Architecture::kEncoderOnly);
    c.norm = kind;
    c.placement = NormPlacement::kPostNorm;
    const NormWeights n = RandomNorm(rng, c);
    const Matrix x = RandomMatrix(rng, 4, 8, 2.0);
    const Matrix a = RandomMatrix(rng, 8, 8);
    Matrix seen;
    const Matrix y = Residual(x, n, c, [&](const MatrixRef& in) {
      seen = in;
      return Matrix(in * a);
    });
    EXPECT_ALLCLOSE(seen, x, kExact) << "the sub-layer must read x itself";
    const MatrixD sum = Dbl(x) + Dbl(x) * Dbl(a);
    const MatrixD expected = kind == NormKind::kLayerNorm
                                 ? ref::LayerNorm(sum, Dbl(n.weight), Dbl(n.bias), 1e-5)
                                 : ref::RmsNorm(sum, Dbl(n.weight), 1e-5);
    EXPECT_ALLCLOSE(y, expected, kVsReference);
  }
}

// A sub-layer that contributes nothing leaves the pre-norm stream untouched: the
// residual path is an identity, which is why deep pre-norm stacks train easily.
TEST(Step7_Residual, AZeroSublayerIsTheIdentityInPreNorm) {
  Rng rng(703);
  const Config c = SmallConfig(Architecture::kEncoderOnly);
  const NormWeights n = RandomNorm(rng, c);
  const Matrix x = RandomMatrix(rng, 3, 8, 4.0);
  const Sublayer zero = [](const MatrixRef& in) {
    return Matrix(Matrix::Zero(in.rows(), in.cols()));
  };
  EXPECT_ALLCLOSE(Residual(x, n, c, zero), x, kExact);
  Config post = c;
  post.placement = NormPlacement::kPostNorm;
  EXPECT_ALLCLOSE(Residual(x, n, post, zero),
                  ref::LayerNorm(Dbl(x), Dbl(n.weight), Dbl(n.bias), 1e-5), kVsReference);
}

TEST(Step7_Residual, RejectsASublayerOfTheWrongShape) {
  Rng rng(704);
  const Config c = SmallConfig(Architecture::kEncoderOnly);
  const NormWeights n = RandomNorm(rng, c);
  const Sublayer wide = [](const MatrixRef& in) { return Matrix(Matrix::Zero(in.rows(), 9)); };
  EXPECT_INVALID_ARGUMENT(Residual(RandomMatrix(rng, 3, 8), n, c, wide),
                          {"sublayer", "3x9", "3x8"});
  EXPECT_INVALID_ARGUMENT(Residual(RandomMatrix(rng, 3, 5), n, c, wide), {"1x8", "1x5"});
}

// ---------------------------------------------------------------------------------
// Step 8: the encoder block.

TEST(Step8_EncoderBlock, ValidateConfigAcceptsWorkingConfigurations) {
  EXPECT_NO_THROW(ValidateConfig(TinyConfig()));
  for (const Config& c : RandomConfigs()) EXPECT_NO_THROW(ValidateConfig(c)) << Describe(c);
}

TEST(Step8_EncoderBlock, ValidateConfigRejectsNumbersThatDoNotFit) {
  Config c = TinyConfig();
  c.model_dim = 6;
  c.num_heads = 4;
  EXPECT_INVALID_ARGUMENT(ValidateConfig(c), {"D = 6", "H = 4"});
  c = TinyConfig();
  c.ffn_dim = 0;
  EXPECT_INVALID_ARGUMENT(ValidateConfig(c), {"ffn_dim", "0"});
  c = TinyConfig();
  c.vocab_size = 0;
  EXPECT_INVALID_ARGUMENT(ValidateConfig(c), {"vocab_size", "0"});
  c = TinyConfig();
  c.model_dim = 3;
  c.num_heads = 1;
  EXPECT_INVALID_ARGUMENT(ValidateConfig(c), {"sinusoidal", "D = 3"});
  c = TinyConfig();
  c.model_dim = 6;
  c.num_heads = 2;
  c.positions = Positions::kRope;
  EXPECT_INVALID_ARGUMENT(ValidateConfig(c), {"RoPE", "d = ", "3"});
}

// Each rule of ValidateConfig broken alone, from the valid tiny configuration: a
// validation that skips one of them (norm_eps <= 0 or NaN makes a norm divide by 0)
// fails exactly that line.
TEST(Step8_EncoderBlock, ValidateConfigRejectsEachRuleBrokenAlone) {
  ASSERT_NO_THROW(ValidateConfig(TinyConfig()));
  const auto broken = [](auto&& change) {
    Config c = TinyConfig();
    change(c);
    return c;
  };
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.vocab_size = 0; })),
                          {"vocab_size", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.max_seq_len = 0; })),
                          {"max_seq_len", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.model_dim = 0; })),
                          {"model_dim", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.num_heads = 0; })),
                          {"num_heads", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.ffn_dim = -1; })),
                          {"ffn_dim", "-1"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.num_layers = 0; })),
                          {"num_layers", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.norm_eps = 0.0f; })),
                          {"norm_eps", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.norm_eps = -1.0f; })),
                          {"norm_eps", "-1"});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([&](Config& c) { c.norm_eps = nan; })),
                          {"norm_eps", "nan"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.rope_base = 0.0f; })),
                          {"rope_base", "0"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([](Config& c) { c.rope_base = -2.0f; })),
                          {"rope_base", "-2"});
  // An infinite eps turns every normalized row into zeros; an infinite base freezes RoPE.
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([&](Config& c) { c.norm_eps = inf; })),
                          {"norm_eps", "inf"});
  EXPECT_INVALID_ARGUMENT(ValidateConfig(broken([&](Config& c) { c.rope_base = inf; })),
                          {"rope_base", "inf"});
}

BlockTrace TinyEncoderTrace() {
  BlockTrace trace;
  EncoderBlock(Flt(Exact().x0), TinyBlock(TinyFx()), TinyConfig(NormPlacement::kPostNorm), &trace);
  return trace;
}

TEST(Step8_EncoderBlock, FixturePostNormAttentionWeights) {
  const Fixture& fx = TinyFx();
  const BlockTrace trace = TinyEncoderTrace();
  EXPECT_ALLCLOSE(trace.self_attn_in, fx.Matrix("x0"), fx.tolerance())
      << "post-norm: attention reads x itself";
  ASSERT_EQ(trace.self_attn.weights.size(), 2u);
  EXPECT_ALLCLOSE(trace.self_attn.weights[0], fx.Matrix("enc_head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.weights[1], fx.Matrix("enc_head1_weights"), fx.tolerance());
}

TEST(Step8_EncoderBlock, FixturePostNormSubLayers) {
  const Fixture& fx = TinyFx();
  const BlockTrace trace = TinyEncoderTrace();
  EXPECT_ALLCLOSE(trace.self_attn_out, fx.Matrix("enc_attn_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.after_self_attn, fx.Matrix("enc_x1"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.ffn_in, fx.Matrix("enc_x1"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.ffn_out, fx.Matrix("enc_ffn_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.out, fx.Matrix("enc_out"), fx.tolerance());
}

TEST(Step8_EncoderBlock, EveryTokenSeesEveryOtherToken) {
  Rng rng(801);
  const Config c = SmallConfig(Architecture::kEncoderOnly);
  const BlockWeights b = RandomBlock(rng, c, false);
  Matrix x = RandomMatrix(rng, 5, 8);
  const Matrix before = EncoderBlock(x, b, c);
  x.row(4) = RandomMatrix(rng, 1, 8);
  const Matrix after = EncoderBlock(x, b, c);
  for (Eigen::Index t = 0; t < 5; ++t) {
    EXPECT_FALSE(after.row(t).isApprox(before.row(t), 1e-4f))
        << "row " << t << " did not change when the last token did: is the encoder masked?";
  }
}

// Attention and the FFN treat tokens as a set: permuting the rows of x permutes the
// rows of the output, nothing else.
TEST(Step8_EncoderBlock, IsPermutationEquivariant) {
  Rng rng(802);
  Config c = SmallConfig(Architecture::kEncoderOnly);
  const BlockWeights b = RandomBlock(rng, c, false);
  const Matrix x = RandomMatrix(rng, 6, 8);
  const std::vector<int> order = {3, 0, 5, 1, 4, 2};
  EXPECT_ALLCLOSE(EncoderBlock(Permuted(x, order), b, c), Permuted(EncoderBlock(x, b, c), order),
                  (Tolerance{1e-5, 1e-4}));
}

TEST(Step8_EncoderBlock, MatchesReference) {
  Rng rng(803);
  for (const Config& config : RandomConfigs()) {
    if (config.architecture != Architecture::kEncoderOnly) continue;
    const BlockWeights b = RandomBlock(rng, config, false);
    const Matrix x = RandomMatrix(rng, 7, config.model_dim);
    SCOPED_TRACE(Describe(config));
    EXPECT_ALLCLOSE(EncoderBlock(x, b, config),
                    ref::BlockForward(Dbl(x), nullptr, R(b), R(config), false), kVsReference);
  }
}

TEST(Step8_EncoderBlock, RejectsWeightsThatDoNotFitTheConfiguration) {
  Rng rng(804);
  const Config c = TinyConfig();
  const Matrix x = RandomMatrix(rng, 3, 4);
  BlockWeights b = TinyBlock(TinyFx());
  b.ffn.up.weight = Matrix::Ones(4, 6);
  EXPECT_INVALID_ARGUMENT(EncoderBlock(x, b, c), {"w.ffn.up.weight", "4x6", "4x8"});
  b = TinyBlock(TinyFx());
  b.self_attn.q.bias = Matrix();
  EXPECT_INVALID_ARGUMENT(EncoderBlock(x, b, c), {"w.self_attn.q.bias", "0x0", "1x4"});
  b = TinyBlock(TinyFx());
  Config swiglu = c;
  swiglu.activation = Activation::kSwiGlu;
  EXPECT_INVALID_ARGUMENT(EncoderBlock(x, b, swiglu), {"w.ffn.gate.weight", "0x0", "4x8"});
  b.cross_attn = TinyAttention(TinyFx());
  EXPECT_INVALID_ARGUMENT(EncoderBlock(x, b, c), {"w.cross_attn.q.weight", "4x4"});
  EXPECT_INVALID_ARGUMENT(EncoderBlock(RandomMatrix(rng, 3, 5), TinyBlock(TinyFx()), c),
                          {"x", "3x5"});
}

// ---------------------------------------------------------------------------------
// Step 9: the decoder block.

BlockTrace TinyDecoderTrace() {
  BlockTrace trace;
  DecoderBlock(Flt(Exact().x0), TinyBlock(TinyFx()), TinyConfig(), &trace);
  return trace;
}

TEST(Step9_DecoderBlock, FixtureNormAndProjections) {
  const Fixture& fx = TinyFx();
  const BlockTrace trace = TinyDecoderTrace();
  EXPECT_ALLCLOSE(trace.self_attn_in, fx.Matrix("norm1_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.q, fx.Matrix("q"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.k, fx.Matrix("k"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.v, fx.Matrix("v"), fx.tolerance());
}

TEST(Step9_DecoderBlock, FixtureMaskedSelfAttention) {
  const Fixture& fx = TinyFx();
  const BlockTrace trace = TinyDecoderTrace();
  ASSERT_EQ(trace.self_attn.weights.size(), 2u);
  EXPECT_ALLCLOSE(trace.self_attn.weights[0], fx.Matrix("head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.weights[1], fx.Matrix("head1_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn.concat, fx.Matrix("concat"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.self_attn_out, fx.Matrix("attn_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.after_self_attn, fx.Matrix("x1"), fx.tolerance());
}

TEST(Step9_DecoderBlock, FixtureFeedForwardAndOutput) {
  const Fixture& fx = TinyFx();
  const BlockTrace trace = TinyDecoderTrace();
  EXPECT_ALLCLOSE(trace.ffn_in, fx.Matrix("norm2_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.ffn.up, fx.Matrix("ffn_up"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.ffn.hidden, fx.Matrix("ffn_hidden"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.ffn_out, fx.Matrix("ffn_out"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.out, fx.Matrix("x2"), fx.tolerance());
}

TEST(Step9_DecoderBlock, IsCausal) {
  Rng rng(901);
  for (bool cross : {false, true}) {
    const Config c = SmallConfig(Architecture::kEncoderDecoder);
    const BlockWeights b = RandomBlock(rng, c, cross);
    const Matrix memory = RandomMatrix(rng, 4, 8);
    Matrix x = RandomMatrix(rng, 6, 8);
    const Matrix before = cross ? DecoderBlock(x, memory, b, c) : DecoderBlock(x, b, c);
    x.bottomRows(3) = RandomMatrix(rng, 3, 8, 3.0);
    const Matrix after = cross ? DecoderBlock(x, memory, b, c) : DecoderBlock(x, b, c);
    EXPECT_ALLCLOSE(after.topRows(3), before.topRows(3), kExact) << "cross-attention: " << cross;
  }
}

// Cross-attention is not masked: every target position reads all of the memory.
TEST(Step9_DecoderBlock, EveryPositionReadsAllOfTheMemory) {
  Rng rng(902);
  const Config c = SmallConfig(Architecture::kEncoderDecoder);
  const BlockWeights b = RandomBlock(rng, c, true);
  const Matrix x = RandomMatrix(rng, 3, 8);
  Matrix memory = RandomMatrix(rng, 5, 8);
  const Matrix before = DecoderBlock(x, memory, b, c);
  memory.row(4) = RandomMatrix(rng, 1, 8);
  const Matrix after = DecoderBlock(x, memory, b, c);
  for (Eigen::Index t = 0; t < 3; ++t) {
    EXPECT_FALSE(after.row(t).isApprox(before.row(t), 1e-4f)) << "row " << t;
  }
}

TEST(Step9_DecoderBlock, MatchesReference) {
  Rng rng(903);
  for (const Config& config : RandomConfigs()) {
    if (config.architecture == Architecture::kEncoderOnly) continue;
    const bool cross = config.architecture == Architecture::kEncoderDecoder;
    const BlockWeights b = RandomBlock(rng, config, cross);
    const Matrix x = RandomMatrix(rng, 6, config.model_dim);
    const Matrix memory = RandomMatrix(rng, 4, config.model_dim);
    const MatrixD dm = Dbl(memory);
    SCOPED_TRACE(Describe(config));
    const Matrix actual = cross ? DecoderBlock(x, memory, b, config) : DecoderBlock(x, b, config);
    EXPECT_ALLCLOSE(actual, ref::BlockForward(Dbl(x), cross ? &dm : nullptr, R(b), R(config), true),
                    kVsReference);
  }
}

TEST(Step9_DecoderBlock, RejectsMissingCrossWeightsAndBadMemory) {
  Rng rng(904);
  const Config c = SmallConfig(Architecture::kEncoderDecoder);
  const Matrix x = RandomMatrix(rng, 3, 8);
  const BlockWeights self_only = RandomBlock(rng, c, false);
  EXPECT_INVALID_ARGUMENT(DecoderBlock(x, RandomMatrix(rng, 4, 8), self_only, c),
                          {"w.cross_attn.q.weight", "0x0", "8x8"});
  const BlockWeights with_cross = RandomBlock(rng, c, true);
  EXPECT_INVALID_ARGUMENT(DecoderBlock(x, RandomMatrix(rng, 4, 6), with_cross, c),
                          {"memory", "4x6"});
  EXPECT_INVALID_ARGUMENT(DecoderBlock(x, with_cross, c), {"w.cross_attn.q.weight", "8x8"});
}

// ---------------------------------------------------------------------------------
// Step 10: encoder-only, decoder-only, encoder-decoder.

TEST(Step10_Variants, FixtureInputEmbeddings) {
  const Fixture& fx = TinyFx();
  StackTrace trace;
  const Matrix x = InputEmbeddings(Ids(fx.Matrix("ids")), TinyModel(), &trace);
  EXPECT_ALLCLOSE(trace.tokens, fx.Matrix("tokens"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.positions, fx.Matrix("positions"), fx.tolerance());
  EXPECT_ALLCLOSE(x, fx.Matrix("x0"), fx.tolerance());
}

TEST(Step10_Variants, FixtureDecoderOnlyLogits) {
  const Fixture& fx = TinyFx();
  ModelTrace trace;
  const Matrix logits = DecoderOnlyForward(Ids(fx.Matrix("ids")), TinyModel(), &trace);
  ASSERT_EQ(trace.decoder.layers.size(), 1u);
  EXPECT_ALLCLOSE(trace.decoder.input, fx.Matrix("x0"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.decoder.layers[0].after_self_attn, fx.Matrix("x1"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.decoder.layers[0].out, fx.Matrix("x2"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.decoder.out, fx.Matrix("final_out"), fx.tolerance());
  EXPECT_ALLCLOSE(logits, fx.Matrix("logits"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.logits, fx.Matrix("logits"), fx.tolerance());
}

TEST(Step10_Variants, OutputLogitsUseTheEmbeddingOrTheHead) {
  Rng rng(1001);
  Config c = SmallConfig(Architecture::kDecoderOnly);
  Model m = RandomModel(rng, c);
  const Matrix h = RandomMatrix(rng, 3, 8);
  EXPECT_ALLCLOSE(OutputLogits(h, m), Dbl(h) * Dbl(m.embed).transpose(), kVsReference);
  m.config.tied_embeddings = false;
  m.lm_head = RandomMatrix(rng, c.vocab_size, 8);
  EXPECT_ALLCLOSE(OutputLogits(h, m), Dbl(h) * Dbl(m.lm_head).transpose(), kVsReference);
}

// Changing the tokens after position t must leave the logits at 0..t exactly as they
// were: no tolerance, because a small leak is still a leak.
TEST(Step10_Variants, DecoderOnlyIsCausalEndToEnd) {
  Rng rng(1002);
  for (const Config& c : RandomConfigs()) {
    if (c.architecture != Architecture::kDecoderOnly) continue;
    const Model m = RandomModel(rng, c);
    std::vector<int> ids = RandomIds(rng, 9, c.vocab_size);
    const Matrix before = DecoderOnlyForward(ids, m);
    for (size_t t = 5; t < ids.size(); ++t)
      ids[t] = (ids[t] + 1 + static_cast<int>(t)) % c.vocab_size;
    const Matrix after = DecoderOnlyForward(ids, m);
    SCOPED_TRACE(Describe(c));
    EXPECT_ALLCLOSE(after.topRows(5), before.topRows(5), kExact);
    EXPECT_FALSE(after.row(8).isApprox(before.row(8), 1e-4f));
  }
}

// A prefix of the sequence gives the logits of the prefix (up to float rounding: the
// matrices have other sizes, so the products may be summed in another order).
TEST(Step10_Variants, DecoderOnlyPrefixGivesThePrefixLogits) {
  Rng rng(1003);
  Config c = SmallConfig(Architecture::kDecoderOnly);
  c.positions = Positions::kRope;
  const Model m = RandomModel(rng, c);
  const std::vector<int> ids = RandomIds(rng, 10, c.vocab_size);
  const Matrix full = DecoderOnlyForward(ids, m);
  const Matrix prefix = DecoderOnlyForward(std::vector<int>(ids.begin(), ids.begin() + 4), m);
  EXPECT_ALLCLOSE(prefix, full.topRows(4), (Tolerance{1e-5, 1e-4}));
}

// Without positions, an encoder sees a set: swapping two tokens swaps two output rows.
TEST(Step10_Variants, EncoderWithoutPositionsIsPermutationEquivariant) {
  Rng rng(1004);
  Config c = SmallConfig(Architecture::kEncoderOnly);
  c.positions = Positions::kNone;
  const Model m = RandomModel(rng, c);
  const std::vector<int> ids = {3, 7, 1, 9, 4};
  const std::vector<int> swapped = {3, 9, 1, 7, 4};
  const std::vector<int> order = {0, 3, 2, 1, 4};
  EXPECT_ALLCLOSE(EncoderOnlyForward(swapped, m), Permuted(EncoderOnlyForward(ids, m), order),
                  (Tolerance{1e-5, 1e-4}));
}

// With sinusoidal positions the swap changes the outputs, and only through the position
// rows: swapping the tokens together with their position rows just permutes the output.
TEST(Step10_Variants, EncoderSeesOrderOnlyThroughPositions) {
  Rng rng(1005);
  Config c = SmallConfig(Architecture::kEncoderOnly);
  c.positions = Positions::kSinusoidal;
  const Model m = RandomModel(rng, c);
  const std::vector<int> ids = {3, 7, 1, 9, 4};
  const std::vector<int> swapped = {3, 9, 1, 7, 4};
  const std::vector<int> order = {0, 3, 2, 1, 4};
  const Matrix out = EncoderOnlyForward(ids, m);
  const Matrix out_swapped = EncoderOnlyForward(swapped, m);
  EXPECT_FALSE(out_swapped.isApprox(Permuted(out, order), 1e-3f))
      << "with positions, a swap must be more than a permutation of the outputs";
  const Matrix pe = SinusoidalPositions(5, c.model_dim);
  const Matrix moved = EmbedTokens(swapped, m.embed) + Permuted(pe, order);
  EXPECT_ALLCLOSE(EncoderStack(moved, m.encoder, c), Permuted(out, order), (Tolerance{1e-5, 1e-4}));
}

// The target side is causal, the source side is not.
TEST(Step10_Variants, EncoderDecoderMasksTheTargetOnly) {
  Rng rng(1006);
  const Config c = SmallConfig(Architecture::kEncoderDecoder);
  const Model m = RandomModel(rng, c);
  std::vector<int> source = {1, 2, 3, 4, 5, 6};
  std::vector<int> target = {0, 7, 8, 9};
  const Matrix before = EncoderDecoderForward(source, target, m);
  target[3] = 10;
  const Matrix target_changed = EncoderDecoderForward(source, target, m);
  EXPECT_ALLCLOSE(target_changed.topRows(3), before.topRows(3), kExact);
  source[5] = 0;
  const Matrix source_changed = EncoderDecoderForward(source, target, m);
  EXPECT_FALSE(source_changed.row(0).isApprox(target_changed.row(0), 1e-4f))
      << "the first target position must read the whole source, including its last token";
}

TEST(Step10_Variants, ThreeVariantsMatchReference) {
  Rng rng(1007);
  for (const Config& c : RandomConfigs()) {
    const Model m = RandomModel(rng, c);
    const std::vector<int> source = RandomIds(rng, 7, c.vocab_size);
    const std::vector<int> target = RandomIds(rng, 5, c.vocab_size);
    const ref::Model r = R(m);
    SCOPED_TRACE(Describe(c));
    switch (c.architecture) {
      case Architecture::kEncoderOnly:
        EXPECT_ALLCLOSE(EncoderOnlyForward(source, m), ref::EncoderOnly(r, source),
                        kModelVsReference);
        break;
      case Architecture::kDecoderOnly:
        EXPECT_ALLCLOSE(DecoderOnlyForward(target, m), ref::DecoderOnly(r, target),
                        kModelVsReference);
        break;
      case Architecture::kEncoderDecoder:
        EXPECT_ALLCLOSE(EncoderDecoderForward(source, target, m),
                        ref::EncoderDecoder(r, source, target), kModelVsReference);
        break;
    }
  }
}

TEST(Step10_Variants, RejectsMismatchedConfigurations) {
  Model m = TinyModel();
  m.config.num_heads = 3;
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2}, m), {"D = 4", "H = 3"});
  m = TinyModel();
  m.decoder.layers[0].ffn.up.weight = Matrix::Ones(4, 6);
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2}, m), {"ffn.up.weight", "4x6", "4x8"});
  m = TinyModel();
  m.config.ffn_dim = 16;
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2}, m), {"ffn.up.weight", "4x8", "4x16"});
  m = TinyModel();
  m.embed = Matrix::Ones(5, 4);
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2}, m), {"embed", "5x4", "6x4"});
  m = TinyModel();
  m.decoder.layers.push_back(m.decoder.layers[0]);
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2}, m), {"layers", "2", "L = 1"});
  EXPECT_INVALID_ARGUMENT(EncoderOnlyForward({1, 2}, TinyModel()), {"architecture"});
}

TEST(Step10_Variants, RejectsTokenIdsOutOfRange) {
  const Model m = TinyModel();
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({1, 2, 6}, m), {"ids[2] = 6", "[0, 6)"});
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({-3}, m), {"ids[0] = -3"});
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward({}, m), {"ids"});
  EXPECT_INVALID_ARGUMENT(DecoderOnlyForward(std::vector<int>(9, 1), m),
                          {"T = 9", "max_seq_len = 8"});
}

// ---------------------------------------------------------------------------------
// Step 11: counting parameters.

void ExpectCounts(const ParameterCount& n, const Matrix& expected) {
  ASSERT_EQ(expected.rows(), 7);
  const int64_t got[] = {n.embedding, n.positions, n.attention, n.ffn, n.norms, n.lm_head, n.total};
  const char* names[] = {"embedding", "positions", "attention", "ffn", "norms", "lm_head", "total"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(got[i], static_cast<int64_t>(expected(i, 0))) << names[i];
  }
}

Config Gpt2Small() {
  Config c;
  c.architecture = Architecture::kDecoderOnly;
  c.vocab_size = 50257;
  c.max_seq_len = 1024;
  c.model_dim = 768;
  c.num_heads = 12;
  c.ffn_dim = 3072;
  c.num_layers = 12;
  c.norm = NormKind::kLayerNorm;
  c.placement = NormPlacement::kPreNorm;
  c.activation = Activation::kGelu;
  c.positions = Positions::kLearned;
  c.bias = true;
  c.tied_embeddings = true;
  return c;
}

TEST(Step11_Parameters, FixtureTinyModel) {
  ExpectCounts(CountParameters(TinyConfig()), CountsFx().Matrix("tiny_counts"));
}

TEST(Step11_Parameters, FixtureGpt2SmallHas124439808Parameters) {
  const ParameterCount n = CountParameters(Gpt2Small());
  ExpectCounts(n, CountsFx().Matrix("gpt2_counts"));
  EXPECT_EQ(n.total, 124'439'808) << "GPT-2 small's published count, with tied embeddings";
}

int64_t CountEntries(const Model& m) {
  int64_t n = m.embed.size() + m.pos_embed.size() + m.lm_head.size();
  auto lin = [](const LinearWeights& w) { return w.weight.size() + w.bias.size(); };
  auto norm = [](const NormWeights& w) { return w.weight.size() + w.bias.size(); };
  for (const StackWeights* s : {&m.encoder, &m.decoder}) {
    n += norm(s->final_norm);
    for (const BlockWeights& b : s->layers) {
      for (const AttentionWeights* a : {&b.self_attn, &b.cross_attn}) {
        n += lin(a->q) + lin(a->k) + lin(a->v) + lin(a->o);
      }
      n += lin(b.ffn.up) + lin(b.ffn.gate) + lin(b.ffn.down);
      n += norm(b.norm1) + norm(b.norm2) + norm(b.norm3);
    }
  }
  return n;
}

TEST(Step11_Parameters, EqualsTheNumberOfEntriesOfAModel) {
  Rng rng(1101);
  for (const Config& c : RandomConfigs()) {
    SCOPED_TRACE(Describe(c));
    EXPECT_EQ(CountParameters(c).total, CountEntries(RandomModel(rng, c)));
  }
}

TEST(Step11_Parameters, HowEachChoiceChangesTheCount) {
  const Config base = TinyConfig();
  const int64_t total = CountParameters(base).total;
  Config c = base;
  c.activation = Activation::kSwiGlu;  // a third D x F matrix and its bias
  EXPECT_EQ(CountParameters(c).total, total + 4 * 8 + 8);
  c = base;
  c.tied_embeddings = false;  // a separate V x D head
  EXPECT_EQ(CountParameters(c).total, total + 6 * 4);
  c = base;
  c.norm = NormKind::kRmsNorm;  // no shift in the three norms
  EXPECT_EQ(CountParameters(c).total, total - 3 * 4);
  c = base;
  c.positions = Positions::kLearned;  // max_seq_len x D
  EXPECT_EQ(CountParameters(c).total, total + 8 * 4);
  c = base;
  c.architecture = Architecture::kEncoderDecoder;  // + cross-attention and norm3, + encoder
  EXPECT_EQ(CountParameters(c).total, 472);
}

TEST(Step11_Parameters, RejectsAnInvalidConfiguration) {
  Config c = TinyConfig();
  c.num_heads = 3;
  EXPECT_INVALID_ARGUMENT(CountParameters(c), {"D = 4", "H = 3"});
}

// ---------------------------------------------------------------------------------
// Step 12: weights from a safetensors file.
//
// A tiny writer, written here from the format's description, builds the files.

using OrderedJson = nlohmann::ordered_json;

struct NamedTensor {
  std::string name;
  Matrix* value;
  bool vector;  // stored with shape [cols]
};

// The parameters of a model under the README's naming convention, in that order.
std::vector<NamedTensor> NamesOf(Model& m) {
  std::vector<NamedTensor> out;
  const Config& c = m.config;
  auto lin = [&](const std::string& name, LinearWeights& w) {
    out.push_back({name + ".weight", &w.weight, false});
    if (c.bias) out.push_back({name + ".bias", &w.bias, true});
  };
  auto norm = [&](const std::string& name, NormWeights& w) {
    out.push_back({name + ".weight", &w.weight, true});
    if (c.norm == NormKind::kLayerNorm) out.push_back({name + ".bias", &w.bias, true});
  };
  auto stack = [&](const std::string& prefix, StackWeights& s, bool cross) {
    for (size_t i = 0; i < s.layers.size(); ++i) {
      BlockWeights& b = s.layers[i];
      const std::string p = prefix + "layers." + std::to_string(i) + ".";
      for (auto [part, attn] : {std::pair<std::string, AttentionWeights*>{"attn", &b.self_attn},
                                {"cross_attn", cross ? &b.cross_attn : nullptr}}) {
        if (attn == nullptr) continue;
        lin(p + part + ".q", attn->q);
        lin(p + part + ".k", attn->k);
        lin(p + part + ".v", attn->v);
        lin(p + part + ".o", attn->o);
      }
      lin(p + "ffn.up", b.ffn.up);
      if (c.activation == Activation::kSwiGlu) lin(p + "ffn.gate", b.ffn.gate);
      lin(p + "ffn.down", b.ffn.down);
      norm(p + "norm1", b.norm1);
      norm(p + "norm2", b.norm2);
      if (cross) norm(p + "norm3", b.norm3);
    }
    if (c.placement == NormPlacement::kPreNorm) norm(prefix + "final_norm", s.final_norm);
  };
  out.push_back({"embed.weight", &m.embed, false});
  if (c.positions == Positions::kLearned) out.push_back({"pos_embed.weight", &m.pos_embed, false});
  switch (c.architecture) {
    case Architecture::kEncoderOnly:
      stack("", m.encoder, false);
      break;
    case Architecture::kDecoderOnly:
      stack("", m.decoder, false);
      break;
    case Architecture::kEncoderDecoder:
      stack("encoder.", m.encoder, false);
      stack("decoder.", m.decoder, true);
      break;
  }
  if (c.architecture != Architecture::kEncoderOnly && !c.tied_embeddings) {
    out.push_back({"lm_head.weight", &m.lm_head, false});
  }
  return out;
}

void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string EncodeF32(const Matrix& m) {
  std::string out;
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      uint32_t bits = 0;
      const float v = m(i, j);
      std::memcpy(&bits, &v, 4);
      PutLittleEndian(out, bits, 4);
    }
  }
  return out;
}

// Half precision of a float that has an exact half representation (normal or zero).
uint16_t ExactHalf(float v) {
  if (v == 0.0f) return std::signbit(v) ? 0x8000 : 0;
  int exponent = 0;
  const float mantissa = std::frexp(std::fabs(v), &exponent);  // v = m·2^e, m in [0.5, 1)
  const auto fraction = static_cast<uint32_t>(std::ldexp(mantissa, 11)) - 1024;
  EXPECT_EQ(std::ldexp(static_cast<float>(fraction + 1024), exponent - 11), std::fabs(v))
      << v << " has no exact half representation";
  const auto bits = static_cast<uint32_t>(((exponent + 14) << 10) | fraction);
  return static_cast<uint16_t>(bits | (v < 0 ? 0x8000u : 0u));
}

std::string EncodeF16(const Matrix& m) {
  std::string out;
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) PutLittleEndian(out, ExactHalf(m(i, j)), 2);
  }
  return out;
}

std::string EncodeBF16(const Matrix& m) {
  std::string out;
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      uint32_t bits = 0;
      const float v = m(i, j);
      std::memcpy(&bits, &v, 4);
      EXPECT_EQ(bits & 0xffff, 0u) << v << " has no exact bfloat16 representation";
      PutLittleEndian(out, bits >> 16, 2);
    }
  }
  return out;
}

// 8-byte length, header, data.
std::string Assemble(const OrderedJson& header, const std::string& data, int padding = 0) {
  const std::string text = header.dump() + std::string(static_cast<size_t>(padding), ' ');
  std::string out;
  PutLittleEndian(out, text.size(), 8);
  return out + text + data;
}

struct FileParts {
  OrderedJson header;
  std::string data;
};

// The tensors of `m` one after the other, in the dtype given ("F32", "F16", "BF16").
FileParts PartsOf(Model& m, const std::string& dtype) {
  FileParts f;
  f.header["__metadata__"] = {{"format", "llmk"}};
  for (const NamedTensor& t : NamesOf(m)) {
    const std::string bytes = dtype == "F16"    ? EncodeF16(*t.value)
                              : dtype == "BF16" ? EncodeBF16(*t.value)
                                                : EncodeF32(*t.value);
    const OrderedJson shape = t.vector ? OrderedJson::array({t.value->cols()})
                                       : OrderedJson::array({t.value->rows(), t.value->cols()});
    f.header[t.name] = {{"dtype", dtype},
                        {"shape", shape},
                        {"data_offsets", {f.data.size(), f.data.size() + bytes.size()}}};
    f.data += bytes;
  }
  return f;
}

std::string FileOf(Model m, const std::string& dtype = "F32") {
  const FileParts f = PartsOf(m, dtype);
  return Assemble(f.header, f.data);
}

// Rounds every weight to a multiple of 1/64 with |w| < 4, exact in F16 and BF16.
Model Quantized(Model m) {
  for (const NamedTensor& t : NamesOf(m)) {
    *t.value =
        (*t.value * 64.0f).array().round().cwiseMax(-255.0f).cwiseMin(255.0f).matrix() / 64.0f;
  }
  return m;
}

void ExpectSameWeights(Model expected, Model actual) {
  const std::vector<NamedTensor> a = NamesOf(expected);
  const std::vector<NamedTensor> b = NamesOf(actual);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].name);
    EXPECT_ALLCLOSE(*b[i].value, *a[i].value, kExact);
  }
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// The status of loading `bytes` as the tiny model.
absl::Status LoadTiny(const std::string& bytes) {
  absl::StatusOr<TensorMap> tensors = ParseSafetensors(bytes);
  if (!tensors.ok()) return tensors.status();
  return ModelFromTensors(*tensors, TinyConfig()).status();
}

// The status has the code, and its message mentions every word.
::testing::AssertionResult StatusIs(const absl::Status& status, absl::StatusCode code,
                                    const std::vector<std::string>& words) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got " << status;
  }
  for (const std::string& word : words) {
    if (std::string(status.message()).find(word) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "the message \"" << status.message() << "\" does not mention \"" << word
             << "\" (an error about a tensor must name it)";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Step12_Safetensors, HalfToFloatKnownValues) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);               // the largest half
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // the smallest normal
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // the smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
}

TEST(Step12_Safetensors, BFloat16ToFloatKnownValues) {
  EXPECT_EQ(BFloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xC040), -3.0f);
  EXPECT_EQ(BFloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(BFloat16ToFloat(0x0001), std::ldexp(1.0f, -133));
  EXPECT_EQ(BFloat16ToFloat(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(0x7FC0)));
}

TEST(Step12_Safetensors, ParsesEachDtypeAndShape) {
  OrderedJson header;
  std::string data;
  Matrix a(2, 3);
  a << 1.5f, -2, 0.25f, 3, 0, -0.125f;
  Matrix b(1, 3);
  b << 0.5f, -1, 1024;
  Matrix s(1, 1);
  s << -7;
  for (auto [name, dtype, bytes, shape] :
       {std::tuple{"a", "F32", EncodeF32(a), OrderedJson::array({2, 3})},
        std::tuple{"b", "F16", EncodeF16(b), OrderedJson::array({3})},
        std::tuple{"s", "BF16", EncodeBF16(s), OrderedJson::array()}}) {
    header[name] = {{"dtype", dtype},
                    {"shape", shape},
                    {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  const absl::StatusOr<TensorMap> t = ParseSafetensors(Assemble(header, data));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ(t->at("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->at("a").data, (std::vector<float>{1.5f, -2, 0.25f, 3, 0, -0.125f}));
  EXPECT_EQ(t->at("a").dtype, DType::kF32);
  EXPECT_EQ(t->at("b").shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(t->at("b").data, (std::vector<float>{0.5f, -1, 1024}));
  EXPECT_EQ(t->at("b").dtype, DType::kF16);
  EXPECT_TRUE(t->at("s").shape.empty());
  EXPECT_EQ(t->at("s").data, (std::vector<float>{-7}));
  EXPECT_EQ(t->at("s").dtype, DType::kBF16);
}

TEST(Step12_Safetensors, SkipsMetadataAndAcceptsHeaderPadding) {
  OrderedJson header;
  header["__metadata__"] = {{"format", "pt"}, {"note", "padded"}};
  header["x"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}};
  Matrix x(1, 1);
  x << 2.5f;
  const absl::StatusOr<TensorMap> t = ParseSafetensors(Assemble(header, EncodeF32(x), 5));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ(t->at("x").data, (std::vector<float>{2.5f}));
}

TEST(Step12_Safetensors, LoadsTheTinyModelByItsNames) {
  const absl::StatusOr<TensorMap> t = ParseSafetensors(FileOf(TinyModel()));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->contains("layers.0.attn.q.weight"));
  EXPECT_TRUE(t->contains("layers.0.ffn.down.bias"));
  EXPECT_TRUE(t->contains("final_norm.bias"));
  const absl::StatusOr<Model> m = ModelFromTensors(*t, TinyConfig());
  ASSERT_TRUE(m.ok()) << m.status();
  ExpectSameWeights(TinyModel(), *m);
}

TEST(Step12_Safetensors, RoundTripsEveryConfigurationInEachDtype) {
  Rng rng(1201);
  for (const Config& c : RandomConfigs()) {
    const Model model = Quantized(RandomModel(rng, c));
    for (const char* dtype : {"F32", "F16", "BF16"}) {
      SCOPED_TRACE(Describe(c) + " " + dtype);
      const absl::StatusOr<TensorMap> t = ParseSafetensors(FileOf(model, dtype));
      ASSERT_TRUE(t.ok()) << t.status();
      const absl::StatusOr<Model> loaded = ModelFromTensors(*t, c);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      ExpectSameWeights(model, *loaded);
    }
  }
}

TEST(Step12_Safetensors, LoadsAFileFromDisk) {
  const std::string path = TempPath("tiny_model.safetensors");
  WriteFile(path, FileOf(TinyModel()));
  const absl::StatusOr<Model> m = LoadSafetensorsModel(path, TinyConfig());
  ASSERT_TRUE(m.ok()) << m.status();
  ExpectSameWeights(TinyModel(), *m);
  EXPECT_TRUE(
      StatusIs(LoadSafetensorsModel(TempPath("no_such_file.safetensors"), TinyConfig()).status(),
               absl::StatusCode::kNotFound, {"no_such_file.safetensors"}));
}

TEST(Step12_Safetensors, RejectsAFileShorterThanTheLength) {
  EXPECT_TRUE(StatusIs(ParseSafetensors(std::string("\x10\x00\x00", 3)).status(),
                       absl::StatusCode::kInvalidArgument, {"8"}));
}

TEST(Step12_Safetensors, RejectsAHeaderLengthPastTheEnd) {
  std::string bytes = FileOf(TinyModel());
  bytes[5] = 0x01;  // a header length beyond 2^40
  EXPECT_TRUE(
      StatusIs(ParseSafetensors(bytes).status(), absl::StatusCode::kInvalidArgument, {"header"}));
  std::string short_header;
  PutLittleEndian(short_header, 100, 8);
  short_header += "{}";
  EXPECT_TRUE(StatusIs(ParseSafetensors(short_header).status(), absl::StatusCode::kInvalidArgument,
                       {"header", "100"}));
}

TEST(Step12_Safetensors, RejectsATruncatedFileNamingTheTensor) {
  Model m = TinyModel();
  const std::string last = NamesOf(m).back().name;  // the tensor at the end of the data
  const std::string bytes = FileOf(TinyModel());
  EXPECT_TRUE(StatusIs(ParseSafetensors(bytes.substr(0, bytes.size() - 10)).status(),
                       absl::StatusCode::kInvalidArgument, {last}));
}

TEST(Step12_Safetensors, RejectsAHeaderThatIsNotJson) {
  std::string bytes;
  PutLittleEndian(bytes, 9, 8);
  bytes += "{\"a\": [1,";
  EXPECT_TRUE(
      StatusIs(ParseSafetensors(bytes).status(), absl::StatusCode::kInvalidArgument, {"JSON"}));
}

TEST(Step12_Safetensors, RejectsOffsetsOutOfRange) {
  Model m = TinyModel();
  FileParts f = PartsOf(m, "F32");
  f.header["layers.0.attn.k.weight"]["data_offsets"] = {f.data.size(), f.data.size() + 64};
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data)).status(),
                       absl::StatusCode::kInvalidArgument, {"layers.0.attn.k.weight"}));
  f = PartsOf(m, "F32");
  f.header["layers.0.attn.k.weight"]["data_offsets"] = {64, 0};
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data)).status(),
                       absl::StatusCode::kInvalidArgument, {"layers.0.attn.k.weight"}));
  f = PartsOf(m, "F32");
  f.header["layers.0.attn.k.weight"]["data_offsets"] = {-4, 60};
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data)).status(),
                       absl::StatusCode::kInvalidArgument, {"layers.0.attn.k.weight"}));
}

TEST(Step12_Safetensors, RejectsOverlappingOffsets) {
  Model m = TinyModel();
  FileParts f = PartsOf(m, "F32");
  // Point v at q's bytes: same size, so only the overlap is wrong.
  f.header["layers.0.attn.v.weight"]["data_offsets"] =
      f.header["layers.0.attn.q.weight"]["data_offsets"];
  const absl::Status s = ParseSafetensors(Assemble(f.header, f.data)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  const std::string message(s.message());
  EXPECT_TRUE(message.find("layers.0.attn.v.weight") != std::string::npos ||
              message.find("layers.0.attn.q.weight") != std::string::npos)
      << message;
}

TEST(Step12_Safetensors, RejectsBytesThatBelongToNoTensor) {
  Model m = TinyModel();
  FileParts f = PartsOf(m, "F32");
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data + "junk")).status(),
                       absl::StatusCode::kInvalidArgument, {}));
}

TEST(Step12_Safetensors, RejectsAnUnknownDtypeNamingTheTensor) {
  for (const char* dtype : {"F65", "I64", "f32"}) {
    Model m = TinyModel();
    FileParts f = PartsOf(m, "F32");
    f.header["layers.0.norm2.weight"]["dtype"] = dtype;
    EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data)).status(),
                         absl::StatusCode::kInvalidArgument, {"layers.0.norm2.weight", dtype}));
  }
}

TEST(Step12_Safetensors, RejectsABytesCountThatDoesNotMatchTheShape) {
  Model m = TinyModel();
  FileParts f = PartsOf(m, "F32");
  f.header["embed.weight"]["shape"] = {6, 5};
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(f.header, f.data)).status(),
                       absl::StatusCode::kInvalidArgument, {"embed.weight"}));
}

TEST(Step12_Safetensors, RejectsADimensionThatIsNoInt64EvenInAnEmptyTensor) {
  // [0, 2^64 - 1] holds no element, but 2^64 - 1 is not a shape entry an int64_t holds.
  OrderedJson header;
  header["empty"] = {
      {"dtype", "F32"}, {"shape", {0u, 18446744073709551615ull}}, {"data_offsets", {0u, 0u}}};
  EXPECT_TRUE(StatusIs(ParseSafetensors(Assemble(header, "")).status(),
                       absl::StatusCode::kInvalidArgument, {"empty"}));
}

TEST(Step12_Safetensors, ReportsAMissingTensorByName) {
  Model m = TinyModel();
  FileParts f = PartsOf(m, "F32");
  // Drop the last tensor (and its bytes), so that the file itself stays valid.
  const std::string last = NamesOf(m).back().name;
  const auto range = f.header[last]["data_offsets"];
  f.data.resize(range[0].get<size_t>());
  f.header.erase(last);
  EXPECT_TRUE(StatusIs(LoadTiny(Assemble(f.header, f.data)), absl::StatusCode::kNotFound, {last}));
}

TEST(Step12_Safetensors, ReportsAMisShapedTensorByName) {
  Model m = TinyModel();
  m.decoder.layers[0].self_attn.o.weight = Matrix::Ones(2, 8);  // 16 entries, as 4x4 has
  EXPECT_TRUE(StatusIs(LoadTiny(FileOf(m)), absl::StatusCode::kInvalidArgument,
                       {"layers.0.attn.o.weight", "[2, 8]", "[4, 4]"}));
  m = TinyModel();
  m.decoder.final_norm.weight = Matrix::Ones(1, 5);
  EXPECT_TRUE(StatusIs(LoadTiny(FileOf(m)), absl::StatusCode::kInvalidArgument,
                       {"final_norm.weight", "[5]", "[4]"}));
}

TEST(Step12_Safetensors, RejectsATensorTheConfigurationDoesNotHave) {
  Model m = TinyModel();
  m.config.tied_embeddings = false;  // writes an lm_head.weight the tied model lacks
  m.lm_head = Matrix::Ones(6, 4);
  EXPECT_TRUE(
      StatusIs(LoadTiny(FileOf(m)), absl::StatusCode::kInvalidArgument, {"lm_head.weight"}));
}

// Whatever the bytes, the parser returns a status: cut the file at every length and
// flip every byte of the header, and nothing may crash.
TEST(Step12_Safetensors, NeverCrashesOnDamagedFiles) {
  const std::string bytes = FileOf(TinyModel());
  int rejected = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    if (!ParseSafetensors(bytes.substr(0, n)).ok()) ++rejected;
  }
  EXPECT_EQ(rejected, static_cast<int>(bytes.size())) << "every truncation must be rejected";
  const size_t header_end =
      8 + (static_cast<unsigned char>(bytes[0]) | (static_cast<unsigned char>(bytes[1]) << 8));
  for (size_t i = 0; i < header_end; ++i) {
    for (unsigned char x : {0x01, 0x20, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ x);
      const absl::StatusOr<TensorMap> t = ParseSafetensors(damaged);
      if (t.ok()) static_cast<void>(ModelFromTensors(*t, TinyConfig()));
    }
  }
}

}  // namespace
}  // namespace llmk::transformer
