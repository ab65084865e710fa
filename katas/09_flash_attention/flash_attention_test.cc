// Tests of kata 09, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/09_flash_attention/*.json), then properties and random inputs
// against the double-precision naive oracle in reference/flash_ref.h, then bad inputs.
//
// Every forward and backward test runs each kernel the implementation offers: the scalar
// one always, and the AVX2 one as well when this CPU has AVX2 and FMA (a learner's
// implementation is scalar and treats both requests alike). Workspaces handed to the
// kernels are filled with NaN, so a kernel that reads scratch it never wrote fails.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "flash_attention.h"
#include "flash_ref.h"
#include "llmk/testing/testing.h"

// ---------------------------------------------------------------------------------
// Step 7 counts the heap. CMakeLists.txt links this binary with --wrap=malloc (and
// free, calloc, realloc, aligned_alloc, posix_memalign), so every allocation made by
// the program's own code, Eigen's matrices included, passes through the functions
// below; operator new is replaced to allocate with malloc. While counting is on, they
// track the bytes alive and the peak.
namespace heap {

std::atomic<bool> counting{false};
std::atomic<std::int64_t> live{0};
std::atomic<std::int64_t> peak{0};

void Allocated(void* p) {
  if (p == nullptr || !counting.load(std::memory_order_relaxed)) return;
  const auto bytes = static_cast<std::int64_t>(malloc_usable_size(p));
  const std::int64_t now = live.fetch_add(bytes) + bytes;
  std::int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

void Freed(void* p) {
  if (p == nullptr || !counting.load(std::memory_order_relaxed)) return;
  live.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)));
}

// Peak heap bytes alive (above the level at the start) while fn runs.
template <typename Fn>
std::int64_t PeakDuring(const Fn& fn) {
  live = 0;
  peak = 0;
  counting = true;
  fn();
  counting = false;
  return peak.load();
}

}  // namespace heap

extern "C" {
void* __real_malloc(std::size_t size);
void __real_free(void* p);
void* __real_calloc(std::size_t count, std::size_t size);
void* __real_realloc(void* p, std::size_t size);
void* __real_aligned_alloc(std::size_t alignment, std::size_t size);
int __real_posix_memalign(void** out, std::size_t alignment, std::size_t size);

void* __wrap_malloc(std::size_t size) {
  void* p = __real_malloc(size);
  heap::Allocated(p);
  return p;
}
void __wrap_free(void* p) {
  heap::Freed(p);
  __real_free(p);
}
void* __wrap_calloc(std::size_t count, std::size_t size) {
  void* p = __real_calloc(count, size);
  heap::Allocated(p);
  return p;
}
void* __wrap_realloc(void* p, std::size_t size) {
  heap::Freed(p);
  void* moved = __real_realloc(p, size);
  heap::Allocated(moved != nullptr || size == 0 ? moved : p);
  return moved;
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t size) {
  void* p = __real_aligned_alloc(alignment, size);
  heap::Allocated(p);
  return p;
}
int __wrap_posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  const int result = __real_posix_memalign(out, alignment, size);
  if (result == 0) heap::Allocated(*out);
  return result;
}
}  // extern "C"

// The replaced operators call the counting wrappers by name (not malloc and free, which
// the compiler would pair with new and delete and warn about).
void* operator new(std::size_t size) {
  if (void* p = __wrap_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, std::align_val_t alignment) {
  void* p = nullptr;
  const std::size_t a = std::max(sizeof(void*), static_cast<std::size_t>(alignment));
  if (__wrap_posix_memalign(&p, a, size == 0 ? 1 : size) == 0) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return ::operator new(size, alignment);
}
void operator delete(void* p) noexcept { __wrap_free(p); }
void operator delete[](void* p) noexcept { __wrap_free(p); }
void operator delete(void* p, std::size_t) noexcept { __wrap_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __wrap_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __wrap_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __wrap_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __wrap_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __wrap_free(p); }

namespace llmk::flash {
namespace {

namespace ref = ::llmk::reference::flash;
using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::SizesAroundBlock;
using ::llmk::testing::Tolerance;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const Fixture& StreamFx() { return KataFixture("09_flash_attention/online_softmax.json"); }
const Fixture& FourFx() { return KataFixture("09_flash_attention/four_tokens.json"); }

// float32 against the double oracle. Unit roundoff is 6e-8; a score is a dot product
// of d <= 128 terms, off by at most d·6e-8 of Σ|q_c·k_c|/√d, which for unit-variance
// inputs is about 5e-5 in the worst case and 1e-6 typically; the softmax turns a score
// error into the same relative error of a weight, and the weighted sum keeps it. A
// polynomial exp adds 1.3e-7 per term. 1e-4 relative plus 1e-5 absolute covers the
// worst case, while any real slip (a missing rescale, a wrong max, a lost tail tile, a
// mask off by one) is off by far more.
constexpr Tolerance kVsReference{1e-5, 1e-4};
// Scores near 1e3 to 1e4 carry absolute float errors near 1e-3 (6e-8 of Σ|q_c·k_c|),
// which move the weights by as much relative; compare loosely in absolute terms.
constexpr Tolerance kLargeLogits{2e-3, 2e-3};
// Gradients are sums of up to N = 129 products of weights and score-gradients, each with
// the forward's relative error (~1e-6), and dS = P·(dP - D) subtracts two numbers of
// similar size; entries can cancel to near zero, so the absolute part is scaled by the
// largest entry (GradientTolerance). The solution stays under 3% of this tolerance.
constexpr double kGradientRtol = 3e-4;
constexpr Tolerance kExact{0, 0};

MatrixD D(const Matrix& m) { return m.cast<double>(); }
Matrix F(const MatrixD& m) { return m.cast<float>(); }

Tolerance GradientTolerance(const MatrixD& expected) {
  return Tolerance{3e-5 * std::max(1.0, expected.cwiseAbs().maxCoeff()), kGradientRtol};
}

// The kernels to run: the scalar one, and AVX2 too where this CPU has it.
std::vector<Backend> Backends() {
  std::vector<Backend> backends = {Backend::kScalar};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    backends.push_back(Backend::kAvx2);
  }
  return backends;
}

const char* NameOf(Backend b) {
  switch (b) {
    case Backend::kScalar: return "kScalar";
    case Backend::kAvx2: return "kAvx2";
    default: return "kAuto";
  }
}

FlashOptions Options(Backend backend, int block_q, int block_k, bool causal = false,
                     int heads = 1, int threads = 1) {
  FlashOptions o;
  o.backend = backend;
  o.block_q = block_q;
  o.block_k = block_k;
  o.causal = causal;
  o.num_heads = heads;
  o.num_threads = threads;
  return o;
}

// FlashForward with a workspace of exactly the size it asks for, filled with `fill`.
FlashOutput Forward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                    const FlashOptions& o, float fill = kNaN) {
  std::vector<float> ws(ForwardWorkspaceSize(static_cast<int>(q.rows()),
                                             static_cast<int>(k.rows()),
                                             static_cast<int>(q.cols()) / o.num_heads, o),
                        fill);
  return FlashForward(q, k, v, o, ws);
}

FlashGradients Backward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                        const MatrixRef& out, const MatrixRef& lse, const MatrixRef& dout,
                        const FlashOptions& o, float fill = kNaN) {
  std::vector<float> ws(BackwardWorkspaceSize(static_cast<int>(q.rows()),
                                              static_cast<int>(k.rows()),
                                              static_cast<int>(q.cols()) / o.num_heads, o),
                        fill);
  return FlashBackward(q, k, v, out, lse, dout, o, ws);
}

struct Qkv {
  Matrix q, k, v;
};

Qkv RandomQkv(Rng& rng, int t, int n, int width, double scale = 1.0) {
  return Qkv{RandomMatrix(rng, t, width, scale), RandomMatrix(rng, n, width, scale),
             RandomMatrix(rng, n, width)};
}

// A SoftmaxState from its three parts.
SoftmaxState State(float max, float sum, const Matrix& acc) {
  SoftmaxState s;
  s.max = max;
  s.sum = sum;
  s.acc = acc;
  return s;
}

// The state of a whole stream in closed form, in double: m = max s, l = Σ exp(s - m),
// õ = Σ exp(s - m)·v. Independent of the recurrence the kata builds.
SoftmaxState ClosedFormState(const Matrix& scores, const Matrix& values) {
  const double m = scores.cast<double>().maxCoeff();
  double l = 0.0;
  MatrixD acc = MatrixD::Zero(1, values.cols());
  for (Eigen::Index j = 0; j < scores.cols(); ++j) {
    const double p = std::exp(static_cast<double>(scores(0, j)) - m);
    l += p;
    acc += p * values.row(j).cast<double>();
  }
  return State(static_cast<float>(m), static_cast<float>(l), F(acc));
}

// Folds scores [1, B] and values [B, d_v] in consecutive blocks of the given lengths.
SoftmaxState Fold(const Matrix& scores, const Matrix& values, const std::vector<int>& lengths,
                  std::vector<SoftmaxState>* trace = nullptr) {
  SoftmaxState s;
  int at = 0;
  for (int len : lengths) {
    s = OnlineSoftmaxUpdate(s, scores.middleCols(at, len), values.middleRows(at, len));
    if (trace != nullptr) trace->push_back(s);
    at += len;
  }
  return s;
}

std::vector<int> Blocks(int total, int block) {
  std::vector<int> lengths;
  for (int at = 0; at < total; at += block) lengths.push_back(std::min(block, total - at));
  return lengths;
}

// One row [1, 4]: m, l, õ(0), õ(1) of a state (d_v = 2).
Matrix AsRow(const SoftmaxState& s) {
  Matrix row(1, 4);
  row << s.max, s.sum, s.acc(0, 0), s.acc(0, 1);
  return row;
}

// Tiles a forward pass computes and masks, counted by looking at every tile.
TileCounts ExpectedTiles(int t, int n, int br, int bc, bool causal, int heads) {
  TileCounts c;
  for (int i0 = 0; i0 < t; i0 += br) {
    for (int j0 = 0; j0 < n; j0 += bc) {
      int visible = 0;
      int total = 0;
      for (int i = i0; i < std::min(t, i0 + br); ++i) {
        for (int j = j0; j < std::min(n, j0 + bc); ++j) {
          ++total;
          if (!causal || j <= i + n - t) ++visible;
        }
      }
      if (visible > 0) ++c.computed;
      if (visible > 0 && visible < total) ++c.masked;
    }
  }
  c.computed *= heads;
  c.masked *= heads;
  return c;
}

// =================================================================================
// Step 1: online softmax over a stream.

TEST(Step1_OnlineSoftmax, FixtureTraceBlockByBlock) {
  const Fixture& fx = StreamFx();
  std::vector<SoftmaxState> trace;
  Fold(fx.Matrix("s"), fx.Matrix("V"), Blocks(6, fx.Int("block_size")), &trace);
  const Matrix expected = fx.Matrix("trace");
  ASSERT_EQ(trace.size(), 3u);
  float previous_max = -kInf;
  for (int b = 0; b < 3; ++b) {
    SCOPED_TRACE(::testing::Message() << "after block " << b + 1);
    const SoftmaxState& s = trace[static_cast<size_t>(b)];
    ASSERT_EQ(s.acc.rows(), 1);
    ASSERT_EQ(s.acc.cols(), 2);
    EXPECT_ALLCLOSE(AsRow(s), expected.block(b, 1, 1, 4), fx.tolerance());
    // The rescale factor the block applied to what came before: exp(m_old - m).
    Matrix alpha(1, 1);
    alpha(0, 0) = b == 0 ? 0.0f : std::exp(previous_max - s.max);
    EXPECT_ALLCLOSE(alpha, expected.block(b, 0, 1, 1), fx.tolerance());
    previous_max = s.max;
  }
}

TEST(Step1_OnlineSoftmax, FixtureOutputAfterEveryBlock) {
  const Fixture& fx = StreamFx();
  std::vector<SoftmaxState> trace;
  Fold(fx.Matrix("s"), fx.Matrix("V"), Blocks(6, fx.Int("block_size")), &trace);
  const Matrix expected = fx.Matrix("outputs");
  ASSERT_EQ(trace.size(), 3u);
  for (int b = 0; b < 3; ++b) {
    SCOPED_TRACE(::testing::Message() << "after block " << b + 1);
    EXPECT_ALLCLOSE(OnlineSoftmaxOutput(trace[static_cast<size_t>(b)]), expected.row(b),
                    fx.tolerance());
  }
}

// With v_j the j-th unit vector, Σ_j p_j·v_j is the vector of weights p itself.
TEST(Step1_OnlineSoftmax, IdentityValuesGiveTheSoftmaxWeights) {
  const Fixture& fx = StreamFx();
  const Matrix identity = Matrix::Identity(6, 6);
  for (int block : {1, 2, 4, 6}) {
    SCOPED_TRACE(::testing::Message() << "blocks of " << block);
    const SoftmaxState s = Fold(fx.Matrix("s"), identity, Blocks(6, block));
    EXPECT_ALLCLOSE(OnlineSoftmaxOutput(s), fx.Matrix("weights"), fx.tolerance());
  }
}

TEST(Step1_OnlineSoftmax, BlockSizeDoesNotChangeTheResult) {
  Rng rng(101);
  const Matrix scores = RandomMatrix(rng, 1, 37, 3.0);
  const Matrix values = RandomMatrix(rng, 37, 5);
  const MatrixD expected = ref::SoftmaxAverage(D(scores), D(values));
  for (int block : {1, 2, 5, 16, 36, 37}) {
    SCOPED_TRACE(::testing::Message() << "blocks of " << block);
    EXPECT_ALLCLOSE(OnlineSoftmaxOutput(Fold(scores, values, Blocks(37, block))), expected,
                    kVsReference);
  }
  // Uneven blocks.
  EXPECT_ALLCLOSE(OnlineSoftmaxOutput(Fold(scores, values, {3, 1, 20, 2, 11})), expected,
                  kVsReference);
}

TEST(Step1_OnlineSoftmax, StableForLargeScoresAndDuplicateMaxima) {
  Matrix scores(1, 6);
  // exp(1e4) overflows float by far; the running max must be subtracted. Two blocks
  // share the largest score, so the max does not change when the second one arrives.
  scores << 1e4f, 1e4f - 1, 1e4f + 3, 1e4f - 50, 1e4f + 3, 1e4f;
  Rng rng(102);
  const Matrix values = RandomMatrix(rng, 6, 3);
  const MatrixD expected = ref::SoftmaxAverage(D(scores), D(values));
  for (int block : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << "blocks of " << block);
    const SoftmaxState s = Fold(scores, values, Blocks(6, block));
    ASSERT_TRUE(std::isfinite(s.sum)) << "l overflowed: subtract the running max before exp";
    EXPECT_EQ(s.max, 1e4f + 3);
    EXPECT_ALLCLOSE(OnlineSoftmaxOutput(s), expected, kVsReference);
  }
}

// Masked scores are -inf: exp(-inf) = 0. A state that has seen only -inf must not be
// rescaled by exp(-inf - (-inf)) = NaN.
TEST(Step1_OnlineSoftmax, MaskedScoresAddNothing) {
  Rng rng(103);
  const Matrix values = RandomMatrix(rng, 5, 2);
  Matrix masked(1, 2);
  masked << -kInf, -kInf;
  const SoftmaxState empty = OnlineSoftmaxUpdate(SoftmaxState{}, masked, values.topRows(2));
  EXPECT_EQ(empty.max, -kInf);
  EXPECT_EQ(empty.sum, 0.0f);
  ASSERT_EQ(empty.acc.cols(), 2);
  EXPECT_ALLCLOSE(empty.acc, Matrix::Zero(1, 2), kExact);
  EXPECT_ALLCLOSE(OnlineSoftmaxOutput(empty), Matrix::Zero(1, 2), kExact)
      << "a row that saw only masked scores has the output 0 (kata 04's convention)";

  Matrix rest(1, 3);
  rest << 0.5f, -kInf, 2.0f;
  const SoftmaxState s = OnlineSoftmaxUpdate(empty, rest, values.bottomRows(3));
  Matrix visible(1, 2);
  visible << 0.5f, 2.0f;
  MatrixD visible_values(2, 2);
  visible_values << D(values.row(2)), D(values.row(4));
  ASSERT_TRUE(s.acc.allFinite());
  EXPECT_ALLCLOSE(OnlineSoftmaxOutput(s), ref::SoftmaxAverage(D(visible), visible_values),
                  kVsReference);
}

TEST(Step1_OnlineSoftmax, RejectsBadBlocks) {
  const Matrix values = Matrix::Ones(3, 2);
  EXPECT_INVALID_ARGUMENT(OnlineSoftmaxUpdate(SoftmaxState{}, Matrix::Ones(2, 3), values),
                          {"scores", "2x3"});
  EXPECT_INVALID_ARGUMENT(OnlineSoftmaxUpdate(SoftmaxState{}, Matrix::Ones(1, 4), values),
                          {"values", "3x2", "1x4"});
  EXPECT_INVALID_ARGUMENT(OnlineSoftmaxUpdate(SoftmaxState{}, Matrix(1, 0), Matrix(0, 2)),
                          {"scores", "1x0"});
  const SoftmaxState three_wide = State(1.0f, 1.0f, Matrix::Ones(1, 3));
  EXPECT_INVALID_ARGUMENT(OnlineSoftmaxUpdate(three_wide, Matrix::Ones(1, 3), values),
                          {"state.acc", "1x3"});
  EXPECT_INVALID_ARGUMENT(OnlineSoftmaxOutput(SoftmaxState{}), {"state"});
}

// =================================================================================
// Step 2: merging two partial states.

TEST(Step2_MergeStates, FixtureBlockOneWithBlocksTwoAndThree) {
  const Fixture& fx = StreamFx();
  const Matrix s = fx.Matrix("s");
  const Matrix v = fx.Matrix("V");
  // The two partial states, exact (closed form), then merged.
  const SoftmaxState a = ClosedFormState(s.leftCols(2), v.topRows(2));
  const SoftmaxState b = ClosedFormState(s.rightCols(4), v.bottomRows(4));
  EXPECT_ALLCLOSE(AsRow(a), fx.Matrix("state_a"), fx.tolerance());
  EXPECT_ALLCLOSE(AsRow(b), fx.Matrix("state_b"), fx.tolerance());
  const SoftmaxState merged = MergeSoftmaxStates(a, b);
  ASSERT_EQ(merged.acc.cols(), 2);
  EXPECT_ALLCLOSE(AsRow(merged), fx.Matrix("merged"), fx.tolerance());
  // ... which is the state after the last block of step 1.
  EXPECT_ALLCLOSE(fx.Matrix("merged"), fx.Matrix("trace").block(2, 1, 1, 4), kExact);
}

TEST(Step2_MergeStates, MergedPiecesEqualTheWholeStream) {
  Rng rng(201);
  const Matrix scores = RandomMatrix(rng, 1, 40, 4.0);
  const Matrix values = RandomMatrix(rng, 40, 3);
  const MatrixD expected = ref::SoftmaxAverage(D(scores), D(values));
  for (const std::vector<int>& cuts : std::vector<std::vector<int>>{
           {0, 20, 40}, {0, 1, 40}, {0, 39, 40}, {0, 7, 8, 30, 40}, {0, 5, 10, 15, 20, 25, 40}}) {
    SoftmaxState total;
    for (size_t p = 0; p + 1 < cuts.size(); ++p) {
      const int len = cuts[p + 1] - cuts[p];
      total = MergeSoftmaxStates(
          total, ClosedFormState(scores.middleCols(cuts[p], len), values.middleRows(cuts[p], len)));
    }
    SCOPED_TRACE(::testing::Message() << cuts.size() - 1 << " pieces");
    ASSERT_EQ(total.acc.cols(), 3);
    EXPECT_ALLCLOSE(total.acc / total.sum, expected, kVsReference);
  }
}

TEST(Step2_MergeStates, AssociativeAndCommutative) {
  Rng rng(202);
  std::vector<SoftmaxState> parts;
  for (double scale : {1.0, 5.0, 0.5}) {
    parts.push_back(ClosedFormState(RandomMatrix(rng, 1, 9, scale), RandomMatrix(rng, 9, 4)));
  }
  const SoftmaxState left = MergeSoftmaxStates(MergeSoftmaxStates(parts[0], parts[1]), parts[2]);
  const SoftmaxState right = MergeSoftmaxStates(parts[0], MergeSoftmaxStates(parts[1], parts[2]));
  const SoftmaxState reversed =
      MergeSoftmaxStates(parts[2], MergeSoftmaxStates(parts[1], parts[0]));
  for (const SoftmaxState* s : {&right, &reversed}) {
    EXPECT_EQ(s->max, left.max);
    EXPECT_NEAR(s->sum, left.sum, 1e-5 * left.sum);
    EXPECT_ALLCLOSE(s->acc, left.acc, (Tolerance{1e-6, 1e-5}));
  }
}

TEST(Step2_MergeStates, EmptyStateIsTheIdentity) {
  Rng rng(203);
  const SoftmaxState a = ClosedFormState(RandomMatrix(rng, 1, 5), RandomMatrix(rng, 5, 3));
  // The default state, and a state that saw only masked scores.
  const SoftmaxState all_masked = State(-kInf, 0.0f, Matrix::Zero(1, 3));
  for (const SoftmaxState& e : {SoftmaxState{}, all_masked}) {
    for (const SoftmaxState& m : {MergeSoftmaxStates(e, a), MergeSoftmaxStates(a, e)}) {
      EXPECT_EQ(m.max, a.max);
      EXPECT_EQ(m.sum, a.sum);
      EXPECT_ALLCLOSE(m.acc, a.acc, kExact);
    }
  }
  const SoftmaxState both = MergeSoftmaxStates(all_masked, all_masked);
  EXPECT_EQ(both.max, -kInf);
  EXPECT_EQ(both.sum, 0.0f);
  EXPECT_TRUE(both.acc.allFinite()) << "exp(-inf - (-inf)) is NaN; rescale by 0 instead";
}

TEST(Step2_MergeStates, RejectsStatesOfDifferentWidths) {
  const SoftmaxState a = State(1.0f, 1.0f, Matrix::Ones(1, 3));
  const SoftmaxState b = State(2.0f, 1.0f, Matrix::Ones(1, 2));
  EXPECT_INVALID_ARGUMENT(MergeSoftmaxStates(a, b), {"acc", "1x2", "1x3"});
}

// =================================================================================
// Step 3: the tiled forward pass.

TEST(Step3_TiledForward, FixtureFourTokens) {
  const Fixture& fx = FourFx();
  const int block = fx.Int("block_size");
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"),
                                  Options(b, block, block));
    EXPECT_ALLCLOSE(f.out, fx.Matrix("output"), fx.tolerance());
  }
}

// After key block 1 each row holds the attention over keys 0 and 1 alone: the state
// (m, l, õ) of the fixture, normalized. FlashForward on those two keys must give it.
TEST(Step3_TiledForward, FixtureAfterTheFirstKeyBlock) {
  const Fixture& fx = FourFx();
  const Matrix after = fx.Matrix("after_block1");
  // õ / l from 4-decimal values: each off by <= 5e-5, l >= 1, |õ| <= 2.
  const Tolerance from_rounded{fx.tolerance().atol + 5e-5 * 3, 0};
  Matrix expected(4, 2);
  for (int i = 0; i < 4; ++i) expected.row(i) = after.block(i, 2, 1, 2) / after(i, 1);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(fx.Matrix("Q"), fx.Matrix("K").topRows(2),
                                  fx.Matrix("V").topRows(2), Options(b, 2, 2));
    EXPECT_ALLCLOSE(f.out, expected, from_rounded);
  }
}

TEST(Step3_TiledForward, MatchesNaiveOnAwkwardSizes) {
  Rng rng(301);
  for (int t : SizesAroundBlock(16)) {
    for (int n : SizesAroundBlock(16)) {
      for (int d : {1, 64, 80, 128}) {
        const Qkv x = RandomQkv(rng, t, n, d);
        const MatrixD expected = ref::Attention(D(x.q), D(x.k), D(x.v), 1, false).out;
        for (Backend b : Backends()) {
          SCOPED_TRACE(::testing::Message() << NameOf(b) << " T=" << t << " N=" << n
                                            << " d=" << d);
          const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 16, 16));
          ASSERT_EQ(f.out.rows(), t);
          ASSERT_EQ(f.out.cols(), d);
          EXPECT_ALLCLOSE(f.out, expected, kVsReference);
        }
      }
    }
  }
}

TEST(Step3_TiledForward, BlockSizesDoNotChangeTheResult) {
  Rng rng(302);
  const Qkv x = RandomQkv(rng, 50, 70, 24);
  const MatrixD expected = ref::Attention(D(x.q), D(x.k), D(x.v), 1, false).out;
  for (Backend b : Backends()) {
    for (auto [br, bc] : {std::pair{1, 1}, {3, 7}, {64, 64}, {7, 100}, {50, 70}, {0, 0}}) {
      SCOPED_TRACE(::testing::Message() << NameOf(b) << " Br=" << br << " Bc=" << bc);
      EXPECT_ALLCLOSE(Forward(x.q, x.k, x.v, Options(b, br, bc)).out, expected, kVsReference);
    }
  }
}

TEST(Step3_TiledForward, LargeLogitsAndDuplicateMaxima) {
  Rng rng(303);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    // Scores of several thousand: exp overflows unless every tile subtracts its max.
    const Qkv big = RandomQkv(rng, 21, 45, 16, 30.0);
    const FlashOutput f = Forward(big.q, big.k, big.v, Options(b, 8, 16));
    ASSERT_TRUE(f.out.allFinite());
    EXPECT_ALLCLOSE(f.out, ref::Attention(D(big.q), D(big.k), D(big.v), 1, false).out,
                    kLargeLogits);
    // Every key repeated in two tiles: each row's max shows up twice, with no change.
    Qkv dup = RandomQkv(rng, 9, 32, 8, 4.0);
    dup.k.bottomRows(16) = dup.k.topRows(16);
    dup.v.bottomRows(16) = dup.v.topRows(16);
    EXPECT_ALLCLOSE(Forward(dup.q, dup.k, dup.v, Options(b, 4, 16)).out,
                    ref::Attention(D(dup.q), D(dup.k), D(dup.v), 1, false).out, kVsReference);
    // All scores equal (q = 0): uniform weights, the mean of v.
    const Matrix zero_q = Matrix::Zero(5, 8);
    const Matrix mean = dup.v.colwise().mean().replicate(5, 1);
    EXPECT_ALLCLOSE(Forward(zero_q, dup.k, dup.v, Options(b, 2, 16)).out, mean,
                    (Tolerance{1e-6, 1e-5}));
  }
}

TEST(Step3_TiledForward, HeadsAndThreads) {
  Rng rng(304);
  const int heads = 3;
  const Qkv x = RandomQkv(rng, 45, 61, heads * 16);
  const MatrixD expected = ref::Attention(D(x.q), D(x.k), D(x.v), heads, false).out;
  for (Backend b : Backends()) {
    for (int threads : {1, 2, 3, 8}) {
      SCOPED_TRACE(::testing::Message() << NameOf(b) << " threads=" << threads);
      const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 16, 16, false, heads, threads));
      EXPECT_ALLCLOSE(f.out, expected, kVsReference);
    }
  }
}

// q, k and v may be blocks of larger matrices: rows are then further apart than their
// width (use the stride, not the width, to find row i).
TEST(Step3_TiledForward, AcceptsBlocksOfLargerMatrices) {
  Rng rng(305);
  const Matrix wide_q = RandomMatrix(rng, 20, 40);
  const Matrix wide_k = RandomMatrix(rng, 30, 40);
  const Matrix wide_v = RandomMatrix(rng, 30, 40);
  const Matrix q = wide_q.block(2, 5, 17, 24);
  const Matrix k = wide_k.block(1, 10, 29, 24);
  const Matrix v = wide_v.block(0, 16, 29, 24);
  const MatrixD expected = ref::Attention(D(q), D(k), D(v), 2, false).out;
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(wide_q.block(2, 5, 17, 24), wide_k.block(1, 10, 29, 24),
                                  wide_v.block(0, 16, 29, 24), Options(b, 8, 16, false, 2));
    EXPECT_ALLCLOSE(f.out, expected, kVsReference);
  }
}

// The weights come out of the kernel's exp. With one query (1, 0, ..., 0), keys
// (8·x_j, 0, ..., 0) and d = 64 (scale 1/8), the scores are exactly x_j; with values
// the identity, the output is the weights exp(x_j) / l themselves. x_0 = 0 is the max,
// the others lie in [-85, -5], so l < 1.5 and every weight is a normal float.
TEST(Step3_TiledForward, ExpIsAccurateOverTheWholeRange) {
  Rng rng(306);
  const int d = 64;
  Matrix q = Matrix::Zero(1, d);
  q(0, 0) = 1.0f;
  const Matrix identity = Matrix::Identity(d, d);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    double worst = 0.0;
    for (int call = 0; call < 40; ++call) {
      Matrix k = Matrix::Zero(d, d);
      for (int j = 1; j < d; ++j) k(j, 0) = 8.0f * static_cast<float>(rng.Uniform(-85.0, -5.0));
      const FlashOutput f = Forward(q, k, identity, Options(b, 1, 64));
      double l = 0.0;
      for (int j = 0; j < d; ++j) l += std::exp(static_cast<double>(k(j, 0)) / 8.0);
      for (int j = 0; j < d; ++j) {
        const double expected = std::exp(static_cast<double>(k(j, 0)) / 8.0) / l;
        worst = std::max(worst, std::abs(f.out(0, j) - expected) / expected);
      }
    }
    // Float rounding of the weight and of l (2 units of 6e-8) plus the exp's own error
    // (the solution's polynomial: 1.3e-7 for each term and for l): under 5e-7.
    EXPECT_LE(worst, 1e-6) << "largest relative error of a weight exp(x)/l";
  }
}

TEST(Step3_TiledForward, RejectsBadInputs) {
  const Matrix q = Matrix::Ones(3, 4);
  const Matrix kv = Matrix::Ones(5, 4);
  const FlashOptions o;
  std::vector<float> ws(1 << 16);
  EXPECT_INVALID_ARGUMENT(FlashForward(q, Matrix::Ones(5, 3), kv, o, ws), {"k", "5x3", "3x4"});
  EXPECT_INVALID_ARGUMENT(FlashForward(q, kv, Matrix::Ones(6, 4), o, ws), {"v", "6x4", "5x4"});
  EXPECT_INVALID_ARGUMENT(FlashForward(q, kv, Matrix::Ones(5, 2), o, ws), {"v", "5x2"});
  EXPECT_INVALID_ARGUMENT(FlashForward(Matrix(0, 4), kv, kv, o, ws), {"q", "0x4"});
  EXPECT_INVALID_ARGUMENT(FlashForward(q, Matrix(0, 4), Matrix(0, 4), o, ws), {"k", "0x4"});
  FlashOptions bad = o;
  bad.num_heads = 3;
  EXPECT_INVALID_ARGUMENT(FlashForward(q, kv, kv, bad, ws), {"num_heads = 3", "3x4"});
  bad = o;
  bad.block_k = -2;
  EXPECT_INVALID_ARGUMENT(FlashForward(q, kv, kv, bad, ws), {"block_k", "-2"});
  bad = o;
  bad.num_threads = 0;
  EXPECT_INVALID_ARGUMENT(FlashForward(q, kv, kv, bad, ws), {"num_threads", "0"});
  EXPECT_INVALID_ARGUMENT(ForwardWorkspaceSize(0, 5, 4, o), {"T", "0"});
  EXPECT_INVALID_ARGUMENT(ForwardWorkspaceSize(3, 5, 0, o), {"d", "0"});
}

// =================================================================================
// Step 4: the logsumexp.

TEST(Step4_LogSumExp, FixtureFourTokens) {
  const Fixture& fx = FourFx();
  const int block = fx.Int("block_size");
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"),
                                  Options(b, block, block));
    EXPECT_ALLCLOSE(f.lse, fx.Matrix("lse"), fx.tolerance());
  }
}

// L = m + log l of the state after the last key block (fixture, step 3).
TEST(Step4_LogSumExp, IsTheMaxPlusTheLogOfTheSum) {
  const Fixture& fx = FourFx();
  const Matrix after = fx.Matrix("after_block2");
  Matrix expected(4, 1);
  for (int i = 0; i < 4; ++i) expected(i, 0) = after(i, 0) + std::log(after(i, 1));
  const Tolerance from_rounded{fx.tolerance().atol + 5e-5 + 5e-5, 0};  // m and log l
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    EXPECT_ALLCLOSE(Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"), Options(b, 2, 2)).lse,
                    expected, from_rounded);
  }
}

TEST(Step4_LogSumExp, MatchesReferenceOnAwkwardSizes) {
  Rng rng(401);
  for (int t : {1, 15, 17, 37}) {
    for (int n : SizesAroundBlock(16)) {
      for (int d : {1, 64, 80, 128}) {
        const int heads = d == 64 ? 2 : 1;
        const Qkv x = RandomQkv(rng, t, n, heads * d);
        const MatrixD expected = ref::Attention(D(x.q), D(x.k), D(x.v), heads, false).lse;
        for (Backend b : Backends()) {
          SCOPED_TRACE(::testing::Message() << NameOf(b) << " T=" << t << " N=" << n
                                            << " d=" << d << " H=" << heads);
          const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 16, 16, false, heads));
          ASSERT_EQ(f.lse.rows(), t);
          ASSERT_EQ(f.lse.cols(), heads);
          EXPECT_ALLCLOSE(f.lse, expected, kVsReference);
        }
      }
    }
  }
}

TEST(Step4_LogSumExp, FiniteForLargeLogits) {
  Rng rng(402);
  const Qkv x = RandomQkv(rng, 13, 40, 16, 30.0);
  const MatrixD expected = ref::Attention(D(x.q), D(x.k), D(x.v), 1, false).lse;
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 4, 16));
    ASSERT_TRUE(f.lse.allFinite()) << "log Σ exp(s) overflows unless written m + log l";
    // The float scores themselves are off by ~1e-3 at this size.
    EXPECT_ALLCLOSE(f.lse, expected, (Tolerance{2e-3, 1e-6}));
  }
}

// exp(s_ij - L_i) are the weights: they sum to 1 and average v into out. This is how
// the backward pass recovers P without storing it.
TEST(Step4_LogSumExp, RecoversTheWeights) {
  Rng rng(403);
  const Qkv x = RandomQkv(rng, 19, 33, 8, 2.0);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 8, 16));
    const MatrixD s = D(x.q) * D(x.k).transpose() / std::sqrt(8.0);
    MatrixD p(19, 33);
    for (int i = 0; i < 19; ++i) {
      for (int j = 0; j < 33; ++j) p(i, j) = std::exp(s(i, j) - f.lse(i, 0));
      EXPECT_NEAR(p.row(i).sum(), 1.0, 1e-5) << "row " << i;
    }
    EXPECT_ALLCLOSE(f.out, p * D(x.v), kVsReference);
  }
}

// =================================================================================
// Step 5: causal flash attention.

TEST(Step5_Causal, FixtureFourTokensMatchesKata04) {
  const Fixture& fx = FourFx();
  const int block = fx.Int("block_size");
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOutput f = Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"),
                                  Options(b, block, block, true));
    EXPECT_ALLCLOSE(f.out, fx.Matrix("causal_output"), fx.tolerance());
    EXPECT_ALLCLOSE(f.lse, fx.Matrix("causal_lse"), fx.tolerance());
    // The same four tokens, attended causally by kata 04 without tiles.
    EXPECT_ALLCLOSE(f.out, KataFixture("04_causal_mask/causal.json").Matrix("output"),
                    fx.tolerance());
  }
}

// Rows 2 and 3 visit both key blocks; their state after the second is the fixture's.
// Rows 0 and 1 stop after the first (the tile of keys 2 and 3 lies above the diagonal).
TEST(Step5_Causal, FixtureStatesOfTheLastQueryBlock) {
  const Fixture& fx = FourFx();
  const Matrix after1 = fx.Matrix("causal_after_block1");
  const Matrix after2 = fx.Matrix("causal_after_block2");
  Matrix expected(4, 2);
  expected.topRows(2) = after1.block(0, 2, 2, 2).array().colwise() / after1.block(0, 1, 2, 1).col(0).array();
  expected.bottomRows(2) = after2.block(0, 2, 2, 2).array().colwise() / after2.col(1).array();
  const Tolerance from_rounded{fx.tolerance().atol + 5e-5 * 3, 0};
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    EXPECT_ALLCLOSE(
        Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"), Options(b, 2, 2, true)).out,
        expected, from_rounded);
  }
}

// Blocks of 2 (the AVX2 kernel would round Bc up to 16, so this one is the scalar count).
TEST(Step5_Causal, FixtureTileCounts) {
  const Fixture& fx = FourFx();
  for (bool causal : {false, true}) {
    const FlashOutput f = Forward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"),
                                  Options(Backend::kScalar, 2, 2, causal));
    const Matrix expected = fx.Matrix(causal ? "causal_tiles" : "tiles");
    EXPECT_EQ(f.tiles.computed, static_cast<std::int64_t>(expected(0, 0))) << "causal=" << causal;
    EXPECT_EQ(f.tiles.masked, static_cast<std::int64_t>(expected(0, 1))) << "causal=" << causal;
  }
}

TEST(Step5_Causal, SkipsTilesAboveTheDiagonalAndMasksOnlyTheDiagonal) {
  Rng rng(501);
  struct Case {
    int t, n, br, bc, heads;
  };
  for (Backend b : Backends()) {
    for (const Case& c : {Case{256, 256, 32, 32, 1}, Case{256, 256, 32, 64, 2},
                          Case{200, 200, 48, 16, 1}, Case{64, 256, 32, 32, 1}}) {
      const Qkv x = RandomQkv(rng, c.t, c.n, 8 * c.heads);
      for (bool causal : {false, true}) {
        SCOPED_TRACE(::testing::Message() << NameOf(b) << " T=" << c.t << " N=" << c.n
                                          << " Br=" << c.br << " Bc=" << c.bc
                                          << " H=" << c.heads << " causal=" << causal);
        const FlashOutput f =
            Forward(x.q, x.k, x.v, Options(b, c.br, c.bc, causal, c.heads));
        const TileCounts expected = ExpectedTiles(c.t, c.n, c.br, c.bc, causal, c.heads);
        EXPECT_EQ(f.tiles.computed, expected.computed);
        EXPECT_EQ(f.tiles.masked, expected.masked);
      }
    }
  }
}

TEST(Step5_Causal, MatchesReferenceOnAwkwardSizes) {
  Rng rng(502);
  for (int t : SizesAroundBlock(16)) {
    for (int n : SizesAroundBlock(16)) {
      if (t > n) continue;
      for (int d : {1, 64, 80, 128}) {
        const int heads = d == 1 ? 3 : 1;
        const Qkv x = RandomQkv(rng, t, n, heads * d);
        const ref::AttentionResult r = ref::Attention(D(x.q), D(x.k), D(x.v), heads, true);
        for (Backend b : Backends()) {
          SCOPED_TRACE(::testing::Message() << NameOf(b) << " T=" << t << " N=" << n
                                            << " d=" << d << " H=" << heads);
          const FlashOutput f = Forward(x.q, x.k, x.v, Options(b, 16, 16, true, heads, 2));
          EXPECT_ALLCLOSE(f.out, r.out, kVsReference);
          EXPECT_ALLCLOSE(f.lse, r.lse, kVsReference);
        }
      }
    }
  }
}

// Changing the keys and values after position t never changes rows 0..t. Masked
// entries contribute exact zeros, so the rows are equal to the last bit.
TEST(Step5_Causal, NoFutureLeakage) {
  Rng rng(503);
  const Qkv x = RandomQkv(rng, 40, 40, 16);
  Qkv changed = x;
  changed.k.bottomRows(22) = RandomMatrix(rng, 22, 16, 10.0);
  changed.v.bottomRows(22) = RandomMatrix(rng, 22, 16, 10.0);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOptions o = Options(b, 16, 16, true);
    const FlashOutput before = Forward(x.q, x.k, x.v, o);
    const FlashOutput after = Forward(changed.q, changed.k, changed.v, o);
    EXPECT_ALLCLOSE(after.out.topRows(18), before.out.topRows(18), kExact);
    EXPECT_ALLCLOSE(after.lse.topRows(18), before.lse.topRows(18), kExact);
  }
}

// T < N: the queries are the last T tokens, as when a chunk of new tokens attends to a
// cache. They get the last T rows of causal attention over all N tokens.
TEST(Step5_Causal, QueriesAgainstACacheAreTheLastRows) {
  Rng rng(504);
  const Qkv x = RandomQkv(rng, 53, 53, 24);
  for (Backend b : Backends()) {
    SCOPED_TRACE(NameOf(b));
    const FlashOptions o = Options(b, 16, 16, true);
    const FlashOutput all = Forward(x.q, x.k, x.v, o);
    const FlashOutput chunk = Forward(x.q.bottomRows(20), x.k, x.v, o);
    EXPECT_ALLCLOSE(chunk.out, all.out.bottomRows(20), kVsReference);
    EXPECT_ALLCLOSE(chunk.lse, all.lse.bottomRows(20), kVsReference);
  }
}

TEST(Step5_Causal, RejectsMoreQueriesThanKeys) {
  std::vector<float> ws(1 << 16);
  FlashOptions o;
  o.causal = true;
  EXPECT_INVALID_ARGUMENT(FlashForward(Matrix::Ones(5, 2), Matrix::Ones(3, 2),
                                       Matrix::Ones(3, 2), o, ws),
                          {"causal", "T = 5", "N = 3"});
  EXPECT_INVALID_ARGUMENT(ForwardWorkspaceSize(5, 3, 2, o), {"causal", "T = 5", "N = 3"});
}

// =================================================================================
// Step 6: the backward pass.

// The forward in double, as float: the exact O and L the backward gets in practice.
struct Saved {
  Matrix out;
  Matrix lse;
};
Saved SavedForward(const Matrix& q, const Matrix& k, const Matrix& v, int heads, bool causal) {
  const ref::AttentionResult r = ref::Attention(D(q), D(k), D(v), heads, causal);
  return Saved{F(r.out), F(r.lse)};
}

TEST(Step6_Backward, FixtureRowSums) {
  const Fixture& fx = FourFx();
  const Saved saved = SavedForward(fx.Matrix("Q"), fx.Matrix("K"), fx.Matrix("V"), 1, false);
  EXPECT_ALLCLOSE(BackwardRowSums(saved.out, fx.Matrix("dO"), 1), fx.Matrix("D"),
                  fx.tolerance());
}

TEST(Step6_Backward, FixtureGradients) {
  const Fixture& fx = FourFx();
  const Matrix q = fx.Matrix("Q");
  const Matrix k = fx.Matrix("K");
  const Matrix v = fx.Matrix("V");
  const Saved saved = SavedForward(q, k, v, 1, false);
  const int block = fx.Int("block_size");
  const FlashGradients g = Backward(q, k, v, saved.out, saved.lse, fx.Matrix("dO"),
                                    Options(Backend::kAuto, block, block));
  EXPECT_ALLCLOSE(g.dv, fx.Matrix("dV"), fx.tolerance());
  EXPECT_ALLCLOSE(g.dq, fx.Matrix("dQ"), fx.tolerance());
  EXPECT_ALLCLOSE(g.dk, fx.Matrix("dK"), fx.tolerance());
}

TEST(Step6_Backward, RowSumsPerHead) {
  Rng rng(601);
  const Matrix out = RandomMatrix(rng, 7, 12);
  const Matrix dout = RandomMatrix(rng, 7, 12);
  MatrixD expected(7, 3);
  for (int i = 0; i < 7; ++i) {
    for (int h = 0; h < 3; ++h) {
      expected(i, h) = D(out).row(i).segment(4 * h, 4).dot(D(dout).row(i).segment(4 * h, 4));
    }
  }
  EXPECT_ALLCLOSE(BackwardRowSums(out, dout, 3), expected, kVsReference);
}

TEST(Step6_Backward, MatchesReferenceOnAwkwardSizes) {
  Rng rng(602);
  for (bool causal : {false, true}) {
    for (int t : {1, 15, 17, 33}) {
      for (int n : {1, 15, 16, 17, 37}) {
        if (causal && t > n) continue;
        for (int d : {1, 64, 80, 128}) {
          const Qkv x = RandomQkv(rng, t, n, d);
          const Matrix dout = RandomMatrix(rng, t, d);
          SCOPED_TRACE(::testing::Message() << "T=" << t << " N=" << n << " d=" << d
                                            << " causal=" << causal);
          const Saved saved = SavedForward(x.q, x.k, x.v, 1, causal);
          const FlashGradients g = Backward(x.q, x.k, x.v, saved.out, saved.lse, dout,
                                            Options(Backend::kAuto, 16, 16, causal));
          const ref::Gradients r =
              ref::AttentionBackward(D(x.q), D(x.k), D(x.v), D(dout), 1, causal);
          EXPECT_ALLCLOSE(g.dq, r.dq, GradientTolerance(r.dq));
          EXPECT_ALLCLOSE(g.dk, r.dk, GradientTolerance(r.dk));
          EXPECT_ALLCLOSE(g.dv, r.dv, GradientTolerance(r.dv));
        }
      }
    }
  }
}

TEST(Step6_Backward, HeadsThreadsAndBlockSizes) {
  Rng rng(603);
  const int heads = 3;
  const Qkv x = RandomQkv(rng, 41, 58, heads * 16);
  const Matrix dout = RandomMatrix(rng, 41, heads * 16);
  for (bool causal : {false, true}) {
    const Saved saved = SavedForward(x.q, x.k, x.v, heads, causal);
    const ref::Gradients r = ref::AttentionBackward(D(x.q), D(x.k), D(x.v), D(dout), heads, causal);
    for (auto [br, bc, threads] : {std::tuple{16, 16, 1}, {5, 9, 2}, {64, 64, 3}, {1, 58, 4}}) {
      SCOPED_TRACE(::testing::Message() << "causal=" << causal << " Br=" << br << " Bc=" << bc
                                        << " threads=" << threads);
      const FlashGradients g = Backward(x.q, x.k, x.v, saved.out, saved.lse, dout,
                                        Options(Backend::kAuto, br, bc, causal, heads, threads));
      EXPECT_ALLCLOSE(g.dq, r.dq, GradientTolerance(r.dq));
      EXPECT_ALLCLOSE(g.dk, r.dk, GradientTolerance(r.dk));
      EXPECT_ALLCLOSE(g.dv, r.dv, GradientTolerance(r.dv));
    }
  }
}

// The gradient of loss = Σ dout ∘ out, by central differences of the double forward.
TEST(Step6_Backward, MatchesCentralDifferences) {
  Rng rng(604);
  const Qkv x = RandomQkv(rng, 3, 5, 4);
  const Matrix dout = RandomMatrix(rng, 3, 4);
  const Saved saved = SavedForward(x.q, x.k, x.v, 1, false);
  const FlashGradients g =
      Backward(x.q, x.k, x.v, saved.out, saved.lse, dout, Options(Backend::kAuto, 2, 2));
  auto loss = [&](const MatrixD& q, const MatrixD& k, const MatrixD& v) {
    return ref::Attention(q, k, v, 1, false).out.cwiseProduct(D(dout)).sum();
  };
  const double h = 1e-6;
  const MatrixD q = D(x.q), k = D(x.k), v = D(x.v);
  auto numeric = [&](int which) {
    const MatrixD& base = which == 0 ? q : which == 1 ? k : v;
    MatrixD grad(base.rows(), base.cols());
    for (Eigen::Index i = 0; i < base.rows(); ++i) {
      for (Eigen::Index c = 0; c < base.cols(); ++c) {
        MatrixD plus = base, minus = base;
        plus(i, c) += h;
        minus(i, c) -= h;
        const double up = which == 0 ? loss(plus, k, v) : which == 1 ? loss(q, plus, v) : loss(q, k, plus);
        const double down =
            which == 0 ? loss(minus, k, v) : which == 1 ? loss(q, minus, v) : loss(q, k, minus);
        grad(i, c) = (up - down) / (2 * h);
      }
    }
    return grad;
  };
  EXPECT_ALLCLOSE(g.dq, numeric(0), (Tolerance{1e-4, 1e-3}));
  EXPECT_ALLCLOSE(g.dk, numeric(1), (Tolerance{1e-4, 1e-3}));
  EXPECT_ALLCLOSE(g.dv, numeric(2), (Tolerance{1e-4, 1e-3}));
}

TEST(Step6_Backward, FiniteForLargeLogits) {
  Rng rng(605);
  const Qkv x = RandomQkv(rng, 12, 30, 16, 30.0);
  const Matrix dout = RandomMatrix(rng, 12, 16);
  const Saved saved = SavedForward(x.q, x.k, x.v, 1, false);
  const FlashGradients g =
      Backward(x.q, x.k, x.v, saved.out, saved.lse, dout, Options(Backend::kAuto, 4, 8));
  ASSERT_TRUE(g.dq.allFinite() && g.dk.allFinite() && g.dv.allFinite())
      << "P = exp(S - L) is at most 1; exp(S) alone overflows";
  const ref::Gradients r = ref::AttentionBackward(D(x.q), D(x.k), D(x.v), D(dout), 1, false);
  // dV needs only P (no score derivative): as accurate as the weights.
  EXPECT_ALLCLOSE(g.dv, r.dv, kLargeLogits);
}

TEST(Step6_Backward, RejectsBadShapes) {
  const Matrix q = Matrix::Ones(3, 4);
  const Matrix kv = Matrix::Ones(5, 4);
  const Matrix lse = Matrix::Zero(3, 1);
  const FlashOptions o;
  std::vector<float> ws(1 << 16);
  EXPECT_INVALID_ARGUMENT(FlashBackward(q, kv, kv, q, lse, Matrix::Ones(3, 5), o, ws),
                          {"dout", "3x5", "3x4"});
  EXPECT_INVALID_ARGUMENT(FlashBackward(q, kv, kv, Matrix::Ones(2, 4), lse, q, o, ws),
                          {"out", "2x4"});
  EXPECT_INVALID_ARGUMENT(FlashBackward(q, kv, kv, q, Matrix::Zero(3, 2), q, o, ws),
                          {"lse", "3x2"});
  EXPECT_INVALID_ARGUMENT(FlashBackward(q, Matrix::Ones(5, 2), kv, q, lse, q, o, ws),
                          {"k", "5x2"});
  EXPECT_INVALID_ARGUMENT(BackwardRowSums(q, Matrix::Ones(3, 2), 1), {"dout", "3x2", "3x4"});
  EXPECT_INVALID_ARGUMENT(BackwardRowSums(q, q, 3), {"num_heads = 3"});
}

// =================================================================================
// Step 7: the memory argument.

// O((T + N)·H·d + P·(Br·Bc + (Br + Bc)·d)) with P threads, for d a multiple of 16
// (the AVX2 kernel pads rows to 16 floats), with a constant of 4.
std::size_t ForwardBound(std::size_t t, std::size_t n, std::size_t d, std::size_t heads,
                         std::size_t threads, std::size_t br, std::size_t bc) {
  return 4 * ((t + n) * heads * d + threads * (br * bc + (br + bc) * d)) + 1024;
}

TEST(Step7_Memory, ForwardWorkspaceIsLinearInTheLength) {
  const int d = 64;
  for (Backend b : Backends()) {
    for (auto [heads, threads, causal] : {std::tuple{1, 1, false}, {8, 2, false}, {4, 1, true}}) {
      const FlashOptions o = Options(b, 64, 64, causal, heads, threads);
      const std::size_t t = std::size_t{1} << 20;  // a million tokens
      const std::size_t size = ForwardWorkspaceSize(1 << 20, 1 << 20, d, o);
      SCOPED_TRACE(::testing::Message() << NameOf(b) << " H=" << heads << " threads=" << threads);
      // T×N floats would be 2^40, four TiB per head.
      EXPECT_LE(size, ForwardBound(t, t, d, heads, threads, 64, 64));
      EXPECT_LT(size, t * t / 1000);
      // Doubling the length at most doubles the workspace.
      EXPECT_LE(ForwardWorkspaceSize(1 << 21, 1 << 21, d, o), 2 * size + 1024);
    }
  }
}

TEST(Step7_Memory, BackwardWorkspaceIsLinearInTheLength) {
  const int d = 64;
  for (auto [heads, threads] : {std::pair{1, 1}, {8, 2}}) {
    const FlashOptions o = Options(Backend::kAuto, 64, 64, false, heads, threads);
    const std::size_t t = std::size_t{1} << 20;
    const std::size_t size = BackwardWorkspaceSize(1 << 20, 1 << 20, d, o);
    SCOPED_TRACE(::testing::Message() << "H=" << heads << " threads=" << threads);
    // Each thread may keep its own dQ: O(threads·T·H·d) on top of the forward's bound.
    EXPECT_LE(size, ForwardBound(t, t, d, heads, threads, 64, 64) + 4 * threads * t * heads * d);
    EXPECT_LT(size, t * t / 1000);
    EXPECT_LE(BackwardWorkspaceSize(1 << 21, 1 << 21, d, o), 2 * size + 1024);
  }
}

// The instrument first: a T×N matrix allocated here must show in the count.
void ExpectTheCounterSees(std::int64_t rows, std::int64_t cols) {
  const std::int64_t peak = heap::PeakDuring([&] {
    Matrix big = Matrix::Zero(rows, cols);
    EXPECT_EQ(big(rows - 1, cols - 1), 0.0f);
  });
  ASSERT_GE(peak, rows * cols * 4) << "the heap counter does not see Eigen's allocations";
}

// Small allocations a pass may make besides its results: a tile or two as Eigen
// matrices (64·64 floats are 16 KiB), a few threads.
constexpr std::int64_t kSmallBytes = 256 << 10;

// The heap during a forward pass at T = 256, N = 16384: a T×N float buffer would be
// 16 MiB. Besides the workspace (allocated before counting) the pass may allocate its
// results (out and lse) and small things, never T·N floats.
TEST(Step7_Memory, ForwardHeapStaysFarBelowTxN) {
  Rng rng(701);
  const int t = 256, n = 16384, d = 8;
  const Qkv x = RandomQkv(rng, t, n, d);
  const std::int64_t txn_bytes = std::int64_t{t} * n * 4;
  const std::int64_t results = std::int64_t{t} * (d + 1) * 4;
  ExpectTheCounterSees(t, n);
  for (Backend b : Backends()) {
    for (int threads : {1, 2}) {
      const FlashOptions o = Options(b, 64, 64, false, 1, threads);
      std::vector<float> ws(ForwardWorkspaceSize(t, n, d, o), kNaN);
      FlashOutput f;
      const std::int64_t peak = heap::PeakDuring([&] { f = FlashForward(x.q, x.k, x.v, o, ws); });
      SCOPED_TRACE(::testing::Message() << NameOf(b) << " threads=" << threads);
      EXPECT_TRUE(f.out.allFinite());
      EXPECT_LE(peak, results + kSmallBytes)
          << "peak heap " << peak << " bytes during FlashForward; T×N floats are " << txn_bytes;
      EXPECT_LE(ws.size() * 4, static_cast<std::size_t>(txn_bytes / 8))
          << "the workspace itself must not be T×N either";
    }
  }
}

// The same for the backward at T = 128, N = 8192: T×N floats would be 4 MiB. Its
// results are dq, dk and dv.
TEST(Step7_Memory, BackwardHeapStaysFarBelowTxN) {
  Rng rng(702);
  const int t = 128, n = 8192, d = 8;
  const Qkv x = RandomQkv(rng, t, n, d);
  const Matrix dout = RandomMatrix(rng, t, d);
  const Saved saved = SavedForward(x.q, x.k, x.v, 1, false);
  const std::int64_t txn_bytes = std::int64_t{t} * n * 4;
  const std::int64_t results = (std::int64_t{t} + 2 * n) * d * 4;
  ExpectTheCounterSees(t, n);
  for (int threads : {1, 2}) {
    const FlashOptions o = Options(Backend::kAuto, 64, 64, false, 1, threads);
    std::vector<float> ws(BackwardWorkspaceSize(t, n, d, o), kNaN);
    FlashGradients g;
    const std::int64_t peak = heap::PeakDuring(
        [&] { g = FlashBackward(x.q, x.k, x.v, saved.out, saved.lse, dout, o, ws); });
    SCOPED_TRACE(::testing::Message() << "threads=" << threads);
    EXPECT_TRUE(g.dq.allFinite() && g.dk.allFinite() && g.dv.allFinite());
    EXPECT_LE(peak, results + kSmallBytes)
        << "peak heap " << peak << " bytes during FlashBackward; T×N floats are " << txn_bytes;
    EXPECT_LE(ws.size() * 4, static_cast<std::size_t>(txn_bytes / 8));
  }
}

// "Any contents": the kernels write every scratch value before reading it.
TEST(Step7_Memory, ResultsDoNotDependOnWhatTheWorkspaceHeld) {
  Rng rng(703);
  const Qkv x = RandomQkv(rng, 37, 45, 32);
  const Matrix dout = RandomMatrix(rng, 37, 32);
  for (Backend b : Backends()) {
    for (bool causal : {false, true}) {
      SCOPED_TRACE(::testing::Message() << NameOf(b) << " causal=" << causal);
      const FlashOptions o = Options(b, 16, 16, causal, 2, 2);
      const FlashOutput zeros = Forward(x.q, x.k, x.v, o, 0.0f);
      const FlashOutput nans = Forward(x.q, x.k, x.v, o, kNaN);
      const FlashOutput huge = Forward(x.q, x.k, x.v, o, 3e38f);
      EXPECT_ALLCLOSE(nans.out, zeros.out, kExact);
      EXPECT_ALLCLOSE(huge.lse, zeros.lse, kExact);
      const FlashGradients g0 = Backward(x.q, x.k, x.v, zeros.out, zeros.lse, dout, o, 0.0f);
      const FlashGradients g1 = Backward(x.q, x.k, x.v, zeros.out, zeros.lse, dout, o, kNaN);
      EXPECT_ALLCLOSE(g1.dq, g0.dq, kExact);
      EXPECT_ALLCLOSE(g1.dk, g0.dk, kExact);
    }
  }
}

// Runs fn on a workspace of exactly `size` floats that starts `offset` floats into a
// buffer framed by canaries, and fails if fn wrote any float outside the workspace. The
// offset moves the start across every 4-byte position of a 64-byte line, so a kernel
// that aligns its slices inside the workspace must have counted the slack it skips.
template <typename Fn>
::testing::AssertionResult StaysInsideTheWorkspace(std::size_t size, std::size_t offset,
                                                   const Fn& fn) {
  constexpr std::size_t kGuard = 64;
  constexpr float kCanary = -1.2345678e-33f;
  const std::size_t start = kGuard + offset;
  std::vector<float> buffer(start + size + kGuard, kCanary);
  const std::span<float> ws(buffer.data() + start, size);
  std::fill(ws.begin(), ws.end(), kNaN);
  fn(ws);
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    if (i >= start && i < start + size) continue;
    if (std::bit_cast<std::uint32_t>(buffer[i]) != std::bit_cast<std::uint32_t>(kCanary)) {
      const auto line = reinterpret_cast<std::uintptr_t>(ws.data()) % 64 / sizeof(float);
      auto failure = ::testing::AssertionFailure();
      failure << "a workspace of " << size << " floats (starting " << line
              << " floats past a 64-byte boundary) was written ";
      if (i < start) return failure << start - i << " float(s) before its start";
      return failure << "at index " << i - start << ", " << i - start - size + 1
                     << " float(s) past its end";
    }
  }
  return ::testing::AssertionSuccess();
}

// Both passes, with every kernel, on the sizes around their tiles, handed exactly the
// workspace they ask for: no write may land outside it.
TEST(Step7_Memory, KernelsWriteOnlyInsideTheWorkspace) {
  Rng rng(705);
  std::size_t offset = 0;
  for (Backend b : Backends()) {
    for (const int block : {0, 1, 8, 16}) {
      const std::vector<int> sizes =
          block == 0 ? std::vector<int>{1, 15, 17, 63, 65, 97} : SizesAroundBlock(block);
      for (auto [heads, threads] : {std::pair{1, 1}, {2, 3}}) {
        for (const int d : {1, 5, 16}) {
          for (const bool causal : {false, true}) {
            const FlashOptions o = Options(b, block, block, causal, heads, threads);
            for (const int t : sizes) {
              for (const int n : sizes) {
                if (causal && t > n) continue;
                SCOPED_TRACE(::testing::Message()
                             << NameOf(b) << " blocks " << block << " H=" << heads
                             << " threads=" << threads << " d=" << d << " causal=" << causal
                             << " T=" << t << " N=" << n);
                const Qkv x = RandomQkv(rng, t, n, heads * d);
                FlashOutput f;
                ASSERT_TRUE(StaysInsideTheWorkspace(
                    ForwardWorkspaceSize(t, n, d, o), offset++ % 16,
                    [&](std::span<float> ws) { f = FlashForward(x.q, x.k, x.v, o, ws); }));
                ASSERT_TRUE(f.out.allFinite());
                const Matrix dout = RandomMatrix(rng, t, heads * d);
                FlashGradients g;
                ASSERT_TRUE(StaysInsideTheWorkspace(
                    BackwardWorkspaceSize(t, n, d, o), offset++ % 16, [&](std::span<float> ws) {
                      g = FlashBackward(x.q, x.k, x.v, f.out, f.lse, dout, o, ws);
                    }));
                ASSERT_TRUE(g.dq.allFinite() && g.dk.allFinite() && g.dv.allFinite());
              }
            }
          }
        }
      }
    }
  }
}

TEST(Step7_Memory, RejectsAWorkspaceThatIsTooSmall) {
  Rng rng(704);
  const Qkv x = RandomQkv(rng, 20, 30, 8);
  const FlashOptions o = Options(Backend::kAuto, 8, 8);
  const std::size_t need = ForwardWorkspaceSize(20, 30, 8, o);
  std::vector<float> small(need - 1);
  EXPECT_INVALID_ARGUMENT(FlashForward(x.q, x.k, x.v, o, small),
                          {"workspace", std::to_string(need - 1), std::to_string(need)});
  EXPECT_INVALID_ARGUMENT(FlashForward(x.q, x.k, x.v, o, {}), {"workspace", "0"});
  const Saved saved = SavedForward(x.q, x.k, x.v, 1, false);
  const std::size_t need_back = BackwardWorkspaceSize(20, 30, 8, o);
  std::vector<float> small_back(need_back - 1);
  EXPECT_INVALID_ARGUMENT(
      FlashBackward(x.q, x.k, x.v, saved.out, saved.lse, x.q, o, small_back),
      {"workspace", std::to_string(need_back - 1), std::to_string(need_back)});
}

}  // namespace
}  // namespace llmk::flash
