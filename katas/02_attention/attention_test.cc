// Tests of kata 02, one suite per step of README.md. Each step checks the hand-derived
// fixture first (fixtures/02_attention/*.json), then properties and random inputs
// against the double-precision oracle in reference/, then bad inputs.
#include <cmath>
#include <utility>
#include <vector>

#include "attention.h"
#include "attention_ref.h"
#include "llmk/testing/testing.h"

namespace llmk::attention {
namespace {

using ::llmk::testing::AwkwardSizes;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::Tolerance;

const ::llmk::testing::Fixture& SingleHead() {
  return KataFixture("02_attention/single_head.json");
}
const ::llmk::testing::Fixture& MultiHead() { return KataFixture("02_attention/multi_head.json"); }
const ::llmk::testing::Fixture& GroupedQuery() {
  return KataFixture("02_attention/grouped_query.json");
}

// float32 against the double oracle: unit roundoff is 6e-8; a dot product of n <= 129
// terms errs by at most about n * 6e-8 ~ 8e-6 of the sum of |terms|, and softmax and the
// weighted sum keep that relative size. 1e-4 relative plus 1e-5 absolute leaves a
// margin of ten while any real slip (a wrong scale, a missing max, a transposed
// product) is off by far more.
constexpr Tolerance kVsReference{1e-5, 1e-4};

MatrixD D(const Matrix& m) { return m.cast<double>(); }

MultiHeadWeights WeightsFrom(const ::llmk::testing::Fixture& fx) {
  MultiHeadWeights w;
  w.wq = fx.Matrix("Wq");
  w.wk = fx.Matrix("Wk");
  w.wv = fx.Matrix("Wv");
  w.wo = fx.Matrix("Wo");
  w.num_heads = fx.Int("num_heads");
  w.num_kv_heads = fx.Int("num_kv_heads");
  return w;
}

MultiHeadWeights RandomWeights(Rng& rng, int model_dim, int heads, int kv_heads) {
  const int d = model_dim / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(model_dim));
  MultiHeadWeights w;
  w.wq = RandomMatrix(rng, model_dim, model_dim, scale);
  w.wk = RandomMatrix(rng, model_dim, kv_heads * d, scale);
  w.wv = RandomMatrix(rng, model_dim, kv_heads * d, scale);
  w.wo = RandomMatrix(rng, model_dim, model_dim, scale);
  w.num_heads = heads;
  w.num_kv_heads = kv_heads;
  return w;
}

MatrixD ReferenceMha(const Matrix& x, const MultiHeadWeights& w) {
  return reference::MultiHeadAttention(D(x), D(w.wq), D(w.wk), D(w.wv), D(w.wo), w.num_heads,
                                       w.num_kv_heads);
}

// ---------------------------------------------------------------------------------
// Step 1: Q = X·Wq, K = X·Wk, V = X·Wv.

TEST(Step1_Projection, FixtureQ) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Project(fx.Matrix("X"), fx.Matrix("Wq")), fx.Matrix("Q"), fx.tolerance());
}

TEST(Step1_Projection, FixtureK) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Project(fx.Matrix("X"), fx.Matrix("Wk")), fx.Matrix("K"), fx.tolerance());
}

TEST(Step1_Projection, FixtureV) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Project(fx.Matrix("X"), fx.Matrix("Wv")), fx.Matrix("V"), fx.tolerance());
}

TEST(Step1_Projection, MatchesReferenceOnAwkwardSizes) {
  Rng rng(101);
  for (int t : AwkwardSizes(33)) {
    for (auto [model_dim, d] : {std::pair{1, 1}, {4, 3}, {7, 16}}) {
      const Matrix x = RandomMatrix(rng, t, model_dim);
      const Matrix w = RandomMatrix(rng, model_dim, d);
      SCOPED_TRACE(::testing::Message() << "T=" << t << " D=" << model_dim << " d=" << d);
      EXPECT_ALLCLOSE(Project(x, w), reference::MatMul(D(x), D(w)), kVsReference);
    }
  }
}

TEST(Step1_Projection, RejectsWeightsWithWrongRowCount) {
  const Matrix x = Matrix::Ones(3, 4);
  const Matrix w = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(Project(x, w), {"w", "3x2", "3x4"});
}

TEST(Step1_Projection, RejectsEmptySequence) {
  const Matrix x(0, 4);
  const Matrix w = Matrix::Ones(4, 2);
  EXPECT_INVALID_ARGUMENT(Project(x, w), {"x", "0x4"});
}

// ---------------------------------------------------------------------------------
// Step 2: scores = Q·Kᵀ.

TEST(Step2_Scores, Fixture) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Scores(fx.Matrix("Q"), fx.Matrix("K")), fx.Matrix("scores"), fx.tolerance());
}

TEST(Step2_Scores, HasOneRowPerQueryAndOneColumnPerKey) {
  Rng rng(202);
  const Matrix q = RandomMatrix(rng, 2, 3);
  const Matrix k = RandomMatrix(rng, 5, 3);
  const Matrix s = Scores(q, k);
  EXPECT_EQ(s.rows(), 2);
  EXPECT_EQ(s.cols(), 5);
  // Entry (i, j) is the dot product of query i and key j.
  EXPECT_NEAR(s(1, 4), q.row(1).dot(k.row(4)), 1e-5);
}

TEST(Step2_Scores, MatchesReferenceOnAwkwardSizes) {
  Rng rng(203);
  for (int t : AwkwardSizes(65)) {
    for (int n : {1, 3, 17}) {
      for (int d : {1, 5, 64}) {
        const Matrix q = RandomMatrix(rng, t, d);
        const Matrix k = RandomMatrix(rng, n, d);
        SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n << " d=" << d);
        EXPECT_ALLCLOSE(Scores(q, k), reference::MatMul(D(q), D(k).transpose()), kVsReference);
      }
    }
  }
}

TEST(Step2_Scores, RejectsKeysOfAnotherWidth) {
  const Matrix q = Matrix::Ones(3, 2);
  const Matrix k = Matrix::Ones(3, 3);
  EXPECT_INVALID_ARGUMENT(Scores(q, k), {"k", "3x3", "3x2"});
}

TEST(Step2_Scores, RejectsEmptyKeys) {
  const Matrix q = Matrix::Ones(3, 2);
  const Matrix k(0, 2);
  EXPECT_INVALID_ARGUMENT(Scores(q, k), {"k", "0x2"});
}

// ---------------------------------------------------------------------------------
// Step 3: scaled = scores / √d_k.

TEST(Step3_Scaling, Fixture) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(ScaleScores(fx.Matrix("scores"), fx.Int("d_k")), fx.Matrix("scaled"),
                  fx.tolerance());
}

TEST(Step3_Scaling, DividesBySquareRootOfDk) {
  Matrix s(1, 3);
  s << 8.0f, -16.0f, 0.5f;
  Matrix expected(1, 3);
  expected << 1.0f, -2.0f, 0.0625f;  // √64 = 8
  EXPECT_ALLCLOSE(ScaleScores(s, 64), expected, (Tolerance{0, 1e-6}));
  EXPECT_ALLCLOSE(ScaleScores(s, 1), s, (Tolerance{0, 0}));
}

TEST(Step3_Scaling, RejectsNonPositiveDk) {
  const Matrix s = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(ScaleScores(s, 0), {"d_k", "0"});
  EXPECT_INVALID_ARGUMENT(ScaleScores(s, -4), {"d_k", "-4"});
}

// ---------------------------------------------------------------------------------
// Step 4: row softmax.

TEST(Step4_Softmax, Fixture) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Softmax(fx.Matrix("scaled")), fx.Matrix("weights"), fx.tolerance());
}

TEST(Step4_Softmax, RowsSumToOne) {
  Rng rng(404);
  for (int t : {1, 2, 7}) {
    for (int n : AwkwardSizes(65)) {
      const Matrix p = Softmax(RandomMatrix(rng, t, n, 3.0));
      ASSERT_EQ(p.rows(), t);
      ASSERT_EQ(p.cols(), n);
      for (Eigen::Index i = 0; i < p.rows(); ++i) {
        EXPECT_NEAR(p.row(i).sum(), 1.0f, 1e-5) << "row " << i << " of a " << t << "x" << n;
        EXPECT_GE(p.row(i).minCoeff(), 0.0f) << "row " << i;
      }
    }
  }
}

TEST(Step4_Softmax, NormalizesRowsNotColumns) {
  Matrix z(2, 3);
  z << 0, 0, 0,  //
      10, 0, 0;
  const Matrix p = Softmax(z);
  // Row 0 is uniform over its three entries; a column-wise softmax would give 1/2 and 1.
  EXPECT_NEAR(p(0, 0), 1.0f / 3.0f, 1e-6);
  EXPECT_NEAR(p(0, 1), 1.0f / 3.0f, 1e-6);
  EXPECT_GT(p(1, 0), 0.99f);
}

TEST(Step4_Softmax, InvariantToAddingAConstantToARow) {
  Rng rng(405);
  const Matrix z = RandomMatrix(rng, 4, 9, 2.0);
  Matrix shifted = z;
  const float shifts[] = {-50.0f, 0.25f, 7.0f, 300.0f};
  for (Eigen::Index i = 0; i < 4; ++i) shifted.row(i).array() += shifts[i];
  EXPECT_ALLCLOSE(Softmax(shifted), Softmax(z), (Tolerance{1e-6, 1e-4}));
}

TEST(Step4_Softmax, StableForLargeLogits) {
  Matrix z(3, 3);
  z << 1000, 1001, 1002,  //
      -1e4, -1e4 + 1, -1e4 + 2, //
      0, 1, 2;
  const Matrix p = Softmax(z);
  ASSERT_TRUE(p.allFinite()) << "exp(1000) overflows float; subtract each row's max first";
  // All three rows are the same logits shifted by a constant.
  const MatrixD expected = reference::SoftmaxRows(D(z.row(2)).replicate(3, 1));
  EXPECT_ALLCLOSE(p, expected, kVsReference);
}

TEST(Step4_Softmax, SplitsEvenlyBetweenDuplicateMaxima) {
  Matrix z(1, 4);
  z << 5, 5, 1, 5;
  const Matrix p = Softmax(z);
  EXPECT_NEAR(p(0, 0), p(0, 1), 1e-7);
  EXPECT_NEAR(p(0, 0), p(0, 3), 1e-7);
  EXPECT_NEAR(p(0, 0) * 3 + p(0, 2), 1.0f, 1e-6);
}

TEST(Step4_Softmax, MatchesReferenceOnAwkwardSizes) {
  Rng rng(406);
  for (int n : AwkwardSizes(129)) {
    for (double scale : {0.1, 1.0, 30.0}) {
      const Matrix z = RandomMatrix(rng, 3, n, scale);
      SCOPED_TRACE(::testing::Message() << "N=" << n << " logit scale " << scale);
      EXPECT_ALLCLOSE(Softmax(z), reference::SoftmaxRows(D(z)), kVsReference);
    }
  }
}

TEST(Step4_Softmax, RejectsEmptyRows) {
  const Matrix z(2, 0);
  EXPECT_INVALID_ARGUMENT(Softmax(z), {"scores", "2x0"});
}

// ---------------------------------------------------------------------------------
// Step 5: output = weights · V.

TEST(Step5_WeightedSum, Fixture) {
  const auto& fx = SingleHead();
  // The fixture's weights are rounded to 4 decimals (error <= 5e-5 each), and output
  // was computed from the unrounded weights. Starting from the rounded ones moves
  // output(i, k) by at most 5e-5 * sum_j |V(j, k)|, on top of output's own rounding.
  const Matrix v = fx.Matrix("V");
  const double propagated = 5e-5 * v.cwiseAbs().colwise().sum().maxCoeff();
  const Tolerance tol{fx.tolerance().atol + propagated, fx.tolerance().rtol};
  EXPECT_ALLCLOSE(WeightedSum(fx.Matrix("weights"), v), fx.Matrix("output"), tol);
}

TEST(Step5_WeightedSum, OneHotWeightsPickRowsOfV) {
  Rng rng(505);
  const Matrix v = RandomMatrix(rng, 3, 4);
  Matrix w = Matrix::Zero(2, 3);
  w(0, 2) = 1.0f;
  w(1, 0) = 1.0f;
  const Matrix out = WeightedSum(w, v);
  EXPECT_ALLCLOSE(out.row(0), v.row(2), (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(out.row(1), v.row(0), (Tolerance{0, 0}));
}

TEST(Step5_WeightedSum, MatchesReferenceOnAwkwardSizes) {
  Rng rng(506);
  for (int t : {1, 4, 13}) {
    for (int n : AwkwardSizes(65)) {
      for (int dv : {1, 3, 16}) {
        const Matrix w = RandomMatrix(rng, t, n);
        const Matrix v = RandomMatrix(rng, n, dv);
        SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n << " d_v=" << dv);
        EXPECT_ALLCLOSE(WeightedSum(w, v), reference::MatMul(D(w), D(v)), kVsReference);
      }
    }
  }
}

TEST(Step5_WeightedSum, RejectsValuesWithWrongRowCount) {
  const Matrix w = Matrix::Ones(3, 3);
  const Matrix v = Matrix::Ones(2, 2);
  EXPECT_INVALID_ARGUMENT(WeightedSum(w, v), {"v", "2x2", "3x3"});
}

// ---------------------------------------------------------------------------------
// Step 6: one head end to end.

TEST(Step6_SingleHead, FixtureFromQKV) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(Attention(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V")),
                  fx.Matrix("output"), fx.tolerance());
}

TEST(Step6_SingleHead, FixtureFromX) {
  const auto& fx = SingleHead();
  EXPECT_ALLCLOSE(SelfAttentionHead(fx.Matrix("X"), fx.Matrix("Wq"), fx.Matrix("Wk"),
                                    fx.Matrix("Wv")),
                  fx.Matrix("output"), fx.tolerance());
}

TEST(Step6_SingleHead, MatchesReferenceOnAwkwardSizes) {
  Rng rng(606);
  for (int t : AwkwardSizes(65)) {
    for (int n : {1, 2, 31}) {
      for (auto [d, dv] : {std::pair{1, 1}, {3, 5}, {64, 8}}) {
        const Matrix q = RandomMatrix(rng, t, d);
        const Matrix k = RandomMatrix(rng, n, d);
        const Matrix v = RandomMatrix(rng, n, dv);
        SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n << " d=" << d
                                          << " d_v=" << dv);
        EXPECT_ALLCLOSE(Attention(q, k, v), reference::Attention(D(q), D(k), D(v)),
                        kVsReference);
      }
    }
  }
}

TEST(Step6_SingleHead, PermutingKeysAndValuesTogetherChangesNothing) {
  Rng rng(607);
  const Matrix q = RandomMatrix(rng, 4, 8);
  const Matrix k = RandomMatrix(rng, 6, 8);
  const Matrix v = RandomMatrix(rng, 6, 3);
  const std::vector<int> order = {3, 0, 5, 1, 4, 2};
  Matrix k2(6, 8);
  Matrix v2(6, 3);
  for (int j = 0; j < 6; ++j) {
    k2.row(j) = k.row(order[static_cast<size_t>(j)]);
    v2.row(j) = v.row(order[static_cast<size_t>(j)]);
  }
  EXPECT_ALLCLOSE(Attention(q, k2, v2), Attention(q, k, v), (Tolerance{1e-6, 1e-5}));
}

TEST(Step6_SingleHead, StableForLargeScores) {
  Rng rng(608);
  const Matrix q = RandomMatrix(rng, 5, 16, 40.0);
  const Matrix k = RandomMatrix(rng, 7, 16, 40.0);
  const Matrix v = RandomMatrix(rng, 7, 4);
  const Matrix out = Attention(q, k, v);
  ASSERT_TRUE(out.allFinite()) << "scores near 1e4 must not overflow";
  // Scores this large make the weights nearly one-hot; compare loosely in absolute
  // terms because the float scores themselves carry an error of ~1e-3.
  EXPECT_ALLCLOSE(out, reference::Attention(D(q), D(k), D(v)), (Tolerance{2e-3, 2e-3}));
}

TEST(Step6_SingleHead, RejectsMismatchedShapes) {
  const Matrix q = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(Attention(q, Matrix::Ones(4, 3), Matrix::Ones(4, 2)),
                          {"k", "4x3", "3x2"});
  EXPECT_INVALID_ARGUMENT(Attention(q, Matrix::Ones(4, 2), Matrix::Ones(5, 2)),
                          {"v", "5x2", "4x2"});
  EXPECT_INVALID_ARGUMENT(Attention(Matrix(0, 2), Matrix::Ones(4, 2), Matrix::Ones(4, 2)),
                          {"q", "0x2"});
  EXPECT_INVALID_ARGUMENT(
      SelfAttentionHead(Matrix::Ones(3, 4), Matrix::Ones(4, 2), Matrix::Ones(5, 2),
                        Matrix::Ones(4, 2)),
      {"wk", "5x2", "3x4"});
}

// ---------------------------------------------------------------------------------
// Step 7: multi-head attention.

TEST(Step7_MultiHead, HeadSelectsItsColumns) {
  Matrix m(2, 6);
  m << 0, 1, 2, 3, 4, 5,  //
      10, 11, 12, 13, 14, 15;
  Matrix expected(2, 2);
  expected << 2, 3,  //
      12, 13;
  EXPECT_ALLCLOSE(Head(m, 1, 2), expected, (Tolerance{0, 0}));
  EXPECT_ALLCLOSE(Head(m, 0, 6), m, (Tolerance{0, 0}));
}

TEST(Step7_MultiHead, ConcatHeadsUndoesHead) {
  Rng rng(707);
  const Matrix m = RandomMatrix(rng, 5, 12);
  std::vector<Matrix> heads;
  for (int h = 0; h < 4; ++h) heads.push_back(Head(m, h, 3));
  EXPECT_ALLCLOSE(ConcatHeads(heads), m, (Tolerance{0, 0}));
}

TEST(Step7_MultiHead, RejectsBadHeadArguments) {
  const Matrix m = Matrix::Ones(2, 6);
  EXPECT_INVALID_ARGUMENT(Head(m, 3, 2), {"h = 3", "2x6"});
  EXPECT_INVALID_ARGUMENT(Head(m, -1, 2), {"h = -1"});
  EXPECT_INVALID_ARGUMENT(Head(m, 0, 4), {"2x6", "4"});
  EXPECT_INVALID_ARGUMENT(ConcatHeads({}), {"heads"});
  EXPECT_INVALID_ARGUMENT(ConcatHeads({Matrix::Ones(2, 2), Matrix::Ones(3, 2)}),
                          {"heads[1]", "3x2", "2x2"});
}

TEST(Step7_MultiHead, FixturePerHeadWeights) {
  const auto& fx = MultiHead();
  MultiHeadTrace trace;
  MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  ASSERT_EQ(trace.weights.size(), 2u) << "trace.weights holds one matrix per query head";
  EXPECT_ALLCLOSE(trace.weights[0], fx.Matrix("head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.weights[1], fx.Matrix("head1_weights"), fx.tolerance());
}

TEST(Step7_MultiHead, FixturePerHeadOutputs) {
  const auto& fx = MultiHead();
  MultiHeadTrace trace;
  MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  ASSERT_EQ(trace.head_outputs.size(), 2u) << "trace.head_outputs holds one matrix per head";
  EXPECT_ALLCLOSE(trace.head_outputs[0], fx.Matrix("head0_output"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.head_outputs[1], fx.Matrix("head1_output"), fx.tolerance());
}

TEST(Step7_MultiHead, FixtureConcatAndOutput) {
  const auto& fx = MultiHead();
  MultiHeadTrace trace;
  const Matrix out = MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  EXPECT_ALLCLOSE(trace.concat, fx.Matrix("concat"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("output"), fx.tolerance());
}

TEST(Step7_MultiHead, OneHeadIsSingleHeadAttentionThenWo) {
  Rng rng(708);
  const Matrix x = RandomMatrix(rng, 5, 6);
  const MultiHeadWeights w = RandomWeights(rng, 6, 1, 1);
  const Matrix single = SelfAttentionHead(x, w.wq, w.wk, w.wv);
  EXPECT_ALLCLOSE(MultiHeadAttention(x, w), D(single) * D(w.wo), kVsReference);
}

TEST(Step7_MultiHead, MatchesReferenceOnAwkwardSizes) {
  Rng rng(709);
  for (int t : AwkwardSizes(33)) {
    for (int heads : {1, 2, 3, 4, 6, 12}) {
      const Matrix x = RandomMatrix(rng, t, 12);
      const MultiHeadWeights w = RandomWeights(rng, 12, heads, heads);
      SCOPED_TRACE(::testing::Message() << "T=" << t << " D=12 H=" << heads);
      EXPECT_ALLCLOSE(MultiHeadAttention(x, w), ReferenceMha(x, w), kVsReference);
    }
  }
}

TEST(Step7_MultiHead, RejectsBadConfigurations) {
  Rng rng(710);
  const Matrix x = RandomMatrix(rng, 3, 4);
  MultiHeadWeights w = RandomWeights(rng, 4, 2, 2);
  w.num_heads = 3;
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"D = 4", "num_heads = 3"});
  w = RandomWeights(rng, 4, 2, 2);
  w.wq = Matrix::Ones(4, 6);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"wq", "4x6"});
  w = RandomWeights(rng, 4, 2, 2);
  w.wo = Matrix::Ones(2, 4);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"wo", "2x4"});
  w = RandomWeights(rng, 4, 2, 2);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(Matrix(0, 4), w), {"x", "0x4"});
  w.num_heads = 0;
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"num_heads"});
}

// ---------------------------------------------------------------------------------
// Step 8: grouped-query and multi-query attention.

TEST(Step8_GroupedQuery, KvHeadForSplitsHeadsIntoConsecutiveGroups) {
  const std::vector<int> eight_over_two = {0, 0, 0, 0, 1, 1, 1, 1};
  for (int h = 0; h < 8; ++h) {
    EXPECT_EQ(KvHeadFor(h, 8, 2), eight_over_two[static_cast<size_t>(h)]) << "h=" << h;
    EXPECT_EQ(KvHeadFor(h, 8, 1), 0) << "multi-query: h=" << h;
    EXPECT_EQ(KvHeadFor(h, 8, 8), h) << "multi-head: h=" << h;
  }
  EXPECT_EQ(KvHeadFor(5, 6, 3), 2);
}

TEST(Step8_GroupedQuery, KvHeadForRejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(KvHeadFor(0, 6, 4), {"num_kv_heads = 4", "num_heads = 6"});
  EXPECT_INVALID_ARGUMENT(KvHeadFor(0, 6, 0), {"num_kv_heads = 0"});
  EXPECT_INVALID_ARGUMENT(KvHeadFor(6, 6, 3), {"h = 6"});
}

TEST(Step8_GroupedQuery, FixturePerHeadWeights) {
  const auto& fx = GroupedQuery();
  MultiHeadTrace trace;
  MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  ASSERT_EQ(trace.weights.size(), 2u) << "one weights matrix per query head";
  EXPECT_ALLCLOSE(trace.weights[0], fx.Matrix("head0_weights"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.weights[1], fx.Matrix("head1_weights"), fx.tolerance());
}

TEST(Step8_GroupedQuery, FixturePerHeadOutputs) {
  const auto& fx = GroupedQuery();
  MultiHeadTrace trace;
  MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  ASSERT_EQ(trace.head_outputs.size(), 2u) << "one output per query head";
  EXPECT_ALLCLOSE(trace.head_outputs[0], fx.Matrix("head0_output"), fx.tolerance());
  EXPECT_ALLCLOSE(trace.head_outputs[1], fx.Matrix("head1_output"), fx.tolerance());
}

TEST(Step8_GroupedQuery, FixtureConcatAndOutput) {
  const auto& fx = GroupedQuery();
  MultiHeadTrace trace;
  const Matrix out = MultiHeadAttention(fx.Matrix("X"), WeightsFrom(fx), &trace);
  EXPECT_ALLCLOSE(trace.concat, fx.Matrix("concat"), fx.tolerance());
  EXPECT_ALLCLOSE(out, fx.Matrix("output"), fx.tolerance());
}

// GQA is MHA whose key/value heads are copies within each group.
TEST(Step8_GroupedQuery, EqualsMultiHeadWithReplicatedKeyValueHeads) {
  Rng rng(808);
  for (auto [heads, kv_heads] : {std::pair{4, 2}, {6, 3}, {8, 1}, {4, 1}}) {
    const int model_dim = 24;
    const int d = model_dim / heads;
    const Matrix x = RandomMatrix(rng, 7, model_dim);
    const MultiHeadWeights gqa = RandomWeights(rng, model_dim, heads, kv_heads);
    MultiHeadWeights mha = gqa;
    mha.num_kv_heads = heads;
    mha.wk.resize(model_dim, model_dim);
    mha.wv.resize(model_dim, model_dim);
    const int group = heads / kv_heads;
    for (int h = 0; h < heads; ++h) {
      mha.wk.middleCols(h * d, d) = gqa.wk.middleCols((h / group) * d, d);
      mha.wv.middleCols(h * d, d) = gqa.wv.middleCols((h / group) * d, d);
    }
    SCOPED_TRACE(::testing::Message() << "H=" << heads << " Hkv=" << kv_heads);
    EXPECT_ALLCLOSE(MultiHeadAttention(x, gqa), MultiHeadAttention(x, mha),
                    (Tolerance{1e-6, 1e-5}));
  }
}

TEST(Step8_GroupedQuery, MatchesReferenceOnAwkwardSizes) {
  Rng rng(809);
  for (int t : AwkwardSizes(33)) {
    for (auto [heads, kv_heads] : {std::pair{4, 2}, {6, 3}, {6, 1}, {12, 4}, {3, 3}}) {
      const Matrix x = RandomMatrix(rng, t, 12);
      const MultiHeadWeights w = RandomWeights(rng, 12, heads, kv_heads);
      SCOPED_TRACE(::testing::Message() << "T=" << t << " H=" << heads << " Hkv=" << kv_heads);
      EXPECT_ALLCLOSE(MultiHeadAttention(x, w), ReferenceMha(x, w), kVsReference);
    }
  }
}

TEST(Step8_GroupedQuery, RejectsBadConfigurations) {
  Rng rng(810);
  const Matrix x = RandomMatrix(rng, 3, 12);
  MultiHeadWeights w = RandomWeights(rng, 12, 4, 2);
  w.num_kv_heads = 3;
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"num_heads = 4", "num_kv_heads = 3"});
  w = RandomWeights(rng, 12, 4, 2);
  w.wk = Matrix::Ones(12, 12);  // a full-width wk with Hkv = 2
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"wk", "12x12", "12x6"});
  w = RandomWeights(rng, 12, 4, 2);
  w.wv = Matrix::Ones(12, 3);
  EXPECT_INVALID_ARGUMENT(MultiHeadAttention(x, w), {"wv", "12x3"});
}

}  // namespace
}  // namespace llmk::attention
