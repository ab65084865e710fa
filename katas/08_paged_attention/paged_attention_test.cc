// Tests of kata 08, one suite per step of README.md. Each step replays as much of the
// hand-worked trace (fixtures/08_paged_attention/trace.json) as its operations allow and
// checks the state after every operation, then checks properties, seeded random
// operations against a simple model, and bad inputs.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "attention_ref.h"
#include "llmk/testing/testing.h"
#include "paged_attention.h"

namespace llmk::paged {
namespace {

using ::llmk::testing::Fixture;
using ::llmk::testing::KataFixture;
using ::llmk::testing::RandomMatrix;
using ::llmk::testing::Rng;
using ::llmk::testing::SizesAroundBlock;
using ::llmk::testing::Tolerance;

const Fixture& Trace() { return KataFixture("08_paged_attention/trace.json"); }
const Fixture& AttentionExample() { return KataFixture("08_paged_attention/attention.json"); }
const Fixture& Accounting() { return KataFixture("08_paged_attention/accounting.json"); }

// Block ids, counts, lengths and token ids are integers: no tolerance.
constexpr Tolerance kExact{0, 0};

// float32 kernel against the double oracle: a dot product of d <= 16 terms and a softmax
// and weighted sum over L <= 40 tokens each err by ~L·6e-8 relative; 1e-4 relative plus
// 1e-5 absolute leaves a wide margin while a stale slot or a wrong head is off by far more.
constexpr Tolerance kVsReference{1e-5, 1e-4};

// The value of a StatusOr, or an exception carrying the status (the test fails with it).
template <typename T>
T ValueOf(absl::StatusOr<T> result) {
  if (!result.ok()) throw std::runtime_error("unexpected status: " + result.status().ToString());
  return *std::move(result);
}

// A key and a value that depend only on the token id and its position, so that two
// sequences with the same token ids hold the same keys and values (as in a real model),
// and every entry is exact in float.
Matrix KeyOf(int token, int position, int width) {
  Matrix k(1, width);
  for (int c = 0; c < width; ++c) k(0, c) = 0.5f * token + 0.25f * position - c;
  return k;
}
Matrix ValueFor(int token, int position, int width) {
  Matrix v(1, width);
  for (int c = 0; c < width; ++c) v(0, c) = -1.0f * token + 0.125f * position + 2.0f * c;
  return v;
}

// Appends `tokens` to `seq` with KeyOf / ValueFor; the first failure is returned.
absl::Status AppendTokens(PagedKvCache& cache, SeqId seq, const std::vector<int>& tokens) {
  for (const int t : tokens) {
    const int position = ValueOf(cache.Length(seq));
    absl::Status s = cache.Append(seq, t, KeyOf(t, position, cache.kv_width()),
                                  ValueFor(t, position, cache.kv_width()));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Checks that `seq` reads back exactly `tokens` with the keys and values of KeyOf/ValueFor.
::testing::AssertionResult ReadsBack(const PagedKvCache& cache, SeqId seq,
                                     const std::vector<int>& tokens) {
  absl::StatusOr<SequenceContents> got = cache.Read(seq);
  if (!got.ok()) {
    return ::testing::AssertionFailure() << "Read(" << seq << "): " << got.status();
  }
  if (got->tokens != tokens) {
    return ::testing::AssertionFailure()
           << "sequence " << seq << " reads tokens [" << fmt::format("{}", fmt::join(got->tokens, " "))
           << "], expected [" << fmt::format("{}", fmt::join(tokens, " ")) << "]";
  }
  const int width = cache.kv_width();
  if (got->keys.rows() != static_cast<Eigen::Index>(tokens.size()) ||
      got->values.rows() != got->keys.rows() || got->keys.cols() != width ||
      got->values.cols() != width) {
    return ::testing::AssertionFailure() << "sequence " << seq << ": keys " << ShapeOf(got->keys)
                                         << ", values " << ShapeOf(got->values) << ", expected "
                                         << tokens.size() << "x" << width;
  }
  for (size_t j = 0; j < tokens.size(); ++j) {
    const int p = static_cast<int>(j);
    const Eigen::Index row = static_cast<Eigen::Index>(j);
    if (got->keys.row(row) != KeyOf(tokens[j], p, width) ||
        got->values.row(row) != ValueFor(tokens[j], p, width)) {
      return ::testing::AssertionFailure()
             << "sequence " << seq << " position " << j << ": the key or value read back is not "
             << "the one written for token " << tokens[j];
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<int> Range(int first, int count) {
  std::vector<int> v(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}

std::vector<int> Concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

int Ceil(int a, int b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------
// The fixture trace: replay operation k and read the state the fixture records.

enum TraceOp { kNewAndAppend = 1, kAppend = 2, kFork = 3, kWrite = 4, kFree = 5 };

void ApplyTraceOp(PagedKvCache& cache, const Matrix& ops, int k) {
  const int op = static_cast<int>(ops(k, 0));
  const SeqId seq = static_cast<int>(ops(k, 1));
  const int arg = static_cast<int>(ops(k, 2));
  std::vector<int> tokens;
  for (Eigen::Index c = 3; c < ops.cols(); ++c) {
    if (ops(k, c) >= 0) tokens.push_back(static_cast<int>(ops(k, c)));
  }
  switch (op) {
    case kNewAndAppend: {
      ASSERT_EQ(cache.NewSequence(), seq) << "ids are handed out 0, 1, 2, ...";
      const absl::Status s = AppendTokens(cache, seq, tokens);
      ASSERT_TRUE(s.ok()) << s;
      break;
    }
    case kAppend: {
      const absl::Status s = AppendTokens(cache, seq, tokens);
      ASSERT_TRUE(s.ok()) << s;
      break;
    }
    case kFork:
      ASSERT_EQ(ValueOf(cache.Fork(seq)), arg) << "a fork gets the next id";
      break;
    case kWrite: {
      const int w = cache.kv_width();
      const absl::Status s = cache.Write(seq, arg, tokens.at(0), KeyOf(tokens[0], arg, w),
                                         ValueFor(tokens[0], arg, w));
      ASSERT_TRUE(s.ok()) << s;
      break;
    }
    case kFree: {
      const absl::Status s = cache.Free(seq);
      ASSERT_TRUE(s.ok()) << s;
      break;
    }
    default:
      FAIL() << "unknown op " << op << " in ops row " << k;
  }
}

Matrix LengthsRow(const PagedKvCache& cache, int num_seqs) {
  Matrix row = Matrix::Constant(1, num_seqs, -1.0f);
  for (int s = 0; s < num_seqs; ++s) {
    absl::StatusOr<int> length = cache.Length(s);
    if (length.ok()) {
      row(0, s) = static_cast<float>(*length);
    } else if (length.status().code() != absl::StatusCode::kNotFound) {
      throw std::runtime_error("Length: " + length.status().ToString());
    }
  }
  return row;
}

Matrix TablesRow(const PagedKvCache& cache, int num_seqs, int per_seq) {
  Matrix row = Matrix::Constant(1, num_seqs * per_seq, -1.0f);
  for (int s = 0; s < num_seqs; ++s) {
    absl::StatusOr<std::vector<int>> table = cache.BlockTable(s);
    if (!table.ok()) {
      if (table.status().code() != absl::StatusCode::kNotFound) {
        throw std::runtime_error("BlockTable: " + table.status().ToString());
      }
      continue;
    }
    for (size_t i = 0; i < table->size() && static_cast<int>(i) < per_seq; ++i) {
      row(0, s * per_seq + static_cast<int>(i)) = static_cast<float>((*table)[i]);
    }
    if (static_cast<int>(table->size()) > per_seq) {
      throw std::runtime_error(fmt::format("sequence {} has {} blocks, the trace at most {}", s,
                                           table->size(), per_seq));
    }
  }
  return row;
}

Matrix RefcountsRow(const PagedKvCache& cache) {
  const int p = cache.num_blocks();
  Matrix row(1, p);
  for (int b = 0; b < p; ++b) row(0, b) = static_cast<float>(cache.allocator().RefCount(b));
  return row;
}

Matrix FreeListRow(const PagedKvCache& cache) {
  const std::vector<int> free = cache.allocator().FreeList();
  Matrix row = Matrix::Constant(1, cache.num_blocks(), -1.0f);
  for (size_t i = 0; i < free.size() && static_cast<int>(i) < cache.num_blocks(); ++i) {
    row(0, static_cast<Eigen::Index>(i)) = static_cast<float>(free[i]);
  }
  return row;
}

Matrix StatsRow(const PagedKvCache& cache) {
  const CacheStats st = cache.Stats();
  Matrix row(1, 4);
  row << static_cast<float>(st.blocks_used), static_cast<float>(st.slots_filled),
      static_cast<float>(st.internal_fragmentation), static_cast<float>(st.logical_tokens);
  return row;
}

// Replays operations 1..last_op of the trace, checking the state after each.
void CheckTrace(int last_op, bool with_stats) {
  const Fixture& fx = Trace();
  const Matrix ops = fx.Matrix("ops");
  const Matrix lengths = fx.Matrix("lengths");
  const Matrix tables = fx.Matrix("tables");
  const Matrix refcounts = fx.Matrix("refcounts");
  const Matrix free_lists = fx.Matrix("free_lists");
  const Matrix stats = fx.Matrix("stats");
  const int num_seqs = static_cast<int>(lengths.cols());
  const int per_seq = static_cast<int>(tables.cols()) / num_seqs;
  PagedKvCache cache(fx.Int("num_blocks"), fx.Int("block_size"), 2);
  for (int k = 0; k < last_op; ++k) {
    SCOPED_TRACE(::testing::Message() << "after operation " << k + 1 << " of the trace");
    ASSERT_NO_FATAL_FAILURE(ApplyTraceOp(cache, ops, k));
    const Matrix want_lengths = lengths.row(k);
    const Matrix want_tables = tables.row(k);
    const Matrix want_refcounts = refcounts.row(k);
    const Matrix want_free = free_lists.row(k);
    EXPECT_ALLCLOSE(LengthsRow(cache, num_seqs), want_lengths, kExact);
    EXPECT_ALLCLOSE(TablesRow(cache, num_seqs, per_seq), want_tables, kExact);
    EXPECT_ALLCLOSE(RefcountsRow(cache), want_refcounts, kExact);
    EXPECT_ALLCLOSE(FreeListRow(cache), want_free, kExact);
    if (with_stats) {
      const Matrix want_stats = stats.row(k);
      EXPECT_ALLCLOSE(StatsRow(cache), want_stats, kExact);
    }
  }
}

// ---------------------------------------------------------------------------------
// The model: every live sequence is a vector of token ids (keys and values follow from
// KeyOf / ValueFor). Random operations go to the cache and to the model.

// What a shared block held before an operation, to prove it was not written in place.
struct BlockSnapshot {
  int block = 0;
  std::vector<int> tokens;
  Matrix keys;
  Matrix values;
};

std::vector<BlockSnapshot> SnapshotSharedBlocks(const PagedKvCache& cache) {
  std::vector<BlockSnapshot> shots;
  for (int b = 0; b < cache.num_blocks(); ++b) {
    if (cache.allocator().RefCount(b) < 2) continue;
    const std::span<const int> tokens = cache.BlockTokens(b);
    shots.push_back({b, std::vector<int>(tokens.begin(), tokens.end()), cache.BlockKeys(b),
                     cache.BlockValues(b)});
  }
  return shots;
}

// Every live sequence equals the model; counts equal the table references; the free list
// holds exactly the blocks nobody references, once each; no shared block changed.
::testing::AssertionResult AgreesWithModel(const PagedKvCache& cache,
                                           const std::map<SeqId, std::vector<int>>& model,
                                           const std::vector<BlockSnapshot>& shared_before) {
  std::vector<SeqId> ids;
  for (const auto& [id, tokens] : model) ids.push_back(id);
  if (cache.Sequences() != ids) {
    return ::testing::AssertionFailure()
           << "live sequences [" << fmt::format("{}", fmt::join(cache.Sequences(), " "))
           << "], the model has [" << fmt::format("{}", fmt::join(ids, " ")) << "]";
  }
  const int p = cache.num_blocks();
  std::vector<int> references(static_cast<size_t>(p), 0);
  for (const auto& [id, tokens] : model) {
    ::testing::AssertionResult read = ReadsBack(cache, id, tokens);
    if (!read) return read;
    const std::vector<int> table = ValueOf(cache.BlockTable(id));
    if (static_cast<int>(table.size()) != Ceil(static_cast<int>(tokens.size()), cache.block_size())) {
      return ::testing::AssertionFailure() << "sequence " << id << " of " << tokens.size()
                                           << " tokens holds " << table.size() << " blocks";
    }
    for (const int b : table) {
      if (b < 0 || b >= p) return ::testing::AssertionFailure() << "block id " << b;
      ++references[static_cast<size_t>(b)];
    }
  }
  const std::vector<int> free = cache.allocator().FreeList();
  std::set<int> free_set(free.begin(), free.end());
  if (free_set.size() != free.size()) {
    return ::testing::AssertionFailure() << "a block is twice on the free list: ["
                                         << fmt::format("{}", fmt::join(free, " ")) << "]";
  }
  if (cache.allocator().NumFree() != static_cast<int>(free.size())) {
    return ::testing::AssertionFailure() << "NumFree() " << cache.allocator().NumFree()
                                         << " but the free list holds " << free.size();
  }
  for (int b = 0; b < p; ++b) {
    const int count = cache.allocator().RefCount(b);
    if (count != references[static_cast<size_t>(b)]) {
      return ::testing::AssertionFailure()
             << "block " << b << " has count " << count << " but "
             << references[static_cast<size_t>(b)] << " table entries point at it"
             << (references[static_cast<size_t>(b)] == 0 ? " (leaked)" : "");
    }
    if ((count == 0) != free_set.contains(b)) {
      return ::testing::AssertionFailure() << "block " << b << " has count " << count
                                           << (count == 0 ? " but is not" : " but is")
                                           << " on the free list";
    }
  }
  for (const BlockSnapshot& shot : shared_before) {
    if (cache.allocator().RefCount(shot.block) == 0) continue;
    const std::span<const int> tokens = cache.BlockTokens(shot.block);
    if (!std::equal(tokens.begin(), tokens.end(), shot.tokens.begin()) ||
        cache.BlockKeys(shot.block) != shot.keys || cache.BlockValues(shot.block) != shot.values) {
      return ::testing::AssertionFailure()
             << "block " << shot.block << " was shared and was written in place "
             << "(copy-on-write must copy it first)";
    }
  }
  return ::testing::AssertionSuccess();
}

struct RandomRun {
  std::uint64_t seed = 1;
  int num_blocks = 12;
  int block_size = 2;
  int num_ops = 1500;
  int alphabet = 1000;  // token ids are drawn from [0, alphabet)
};

struct RunCounts {
  int exhausted = 0;      // operations refused with ResourceExhausted
  int prefix_shares = 0;  // appends that made a sequence point at a block another holds
  int copies = 0;         // writes or appends that moved a sequence to a fresh copy
};

void RunRandomOperations(const RandomRun& run, RunCounts* counts) {
  Rng rng(run.seed);
  PagedKvCache cache(run.num_blocks, run.block_size, 3);
  const int w = cache.kv_width();
  std::map<SeqId, std::vector<int>> model;
  std::vector<SeqId> dead;  // freed ids, to check they stay NotFound
  SeqId next_id = 0;
  for (int op = 0; op < run.num_ops; ++op) {
    SCOPED_TRACE(::testing::Message() << "seed " << run.seed << ", B = " << run.block_size
                                      << ", operation " << op);
    const std::vector<BlockSnapshot> shared = SnapshotSharedBlocks(cache);
    const int free_before = cache.allocator().NumFree();
    std::vector<SeqId> live;
    for (const auto& [id, tokens] : model) live.push_back(id);
    const SeqId seq = live.empty() ? -1 : live[rng.Below(live.size())];
    std::uint64_t r = rng.Below(100);
    // A full pool refuses most operations: free a sequence one time in three.
    if (free_before == 0 && rng.Below(3) == 0) r = 90;
    if (live.empty() || (r < 8 && live.size() < 6)) {
      ASSERT_EQ(cache.NewSequence(), next_id);
      model[next_id++] = {};
    } else if (r < 60) {
      const int token = static_cast<int>(rng.Below(static_cast<std::uint64_t>(run.alphabet)));
      const int position = static_cast<int>(model[seq].size());
      const std::vector<int> before = ValueOf(cache.BlockTable(seq));
      const absl::Status s = cache.Append(seq, token, KeyOf(token, position, w),
                                          ValueFor(token, position, w));
      if (s.ok()) {
        model[seq].push_back(token);
        const std::vector<int> after = ValueOf(cache.BlockTable(seq));
        // A table entry that is new to this sequence and already shared can only come
        // from prefix sharing (a fresh block or a copy has a count of 1).
        if (!after.empty() && std::find(before.begin(), before.end(), after.back()) == before.end() &&
            cache.allocator().RefCount(after.back()) >= 2) {
          ++counts->prefix_shares;
        }
        if (!before.empty() && after.size() == before.size() && after.back() != before.back()) {
          ++counts->copies;
        }
      } else {
        ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
        ASSERT_EQ(free_before, 0) << "ResourceExhausted while blocks were free: " << s;
        ++counts->exhausted;
      }
    } else if (r < 70) {
      const SeqId child = ValueOf(cache.Fork(seq));
      ASSERT_EQ(child, next_id++);
      model[child] = model[seq];
    } else if (r < 82) {
      if (model[seq].empty()) continue;
      const int position = static_cast<int>(rng.Below(model[seq].size()));
      const int token = static_cast<int>(rng.Below(static_cast<std::uint64_t>(run.alphabet)));
      const std::vector<int> before = ValueOf(cache.BlockTable(seq));
      const absl::Status s = cache.Write(seq, position, token, KeyOf(token, position, w),
                                         ValueFor(token, position, w));
      if (s.ok()) {
        model[seq][static_cast<size_t>(position)] = token;
        if (ValueOf(cache.BlockTable(seq)) != before) ++counts->copies;
      } else {
        ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
        ASSERT_EQ(free_before, 0) << "ResourceExhausted while blocks were free: " << s;
        ++counts->exhausted;
      }
    } else if (r < 94) {
      const absl::Status s = cache.Free(seq);
      ASSERT_TRUE(s.ok()) << s;
      model.erase(seq);
      dead.push_back(seq);
    } else {
      // An id that does not exist: freed, or never handed out.
      const SeqId bad = (!dead.empty() && rng.Below(2) == 0)
                            ? dead[rng.Below(dead.size())]
                            : next_id + static_cast<int>(rng.Below(5));
      ASSERT_EQ(cache.Free(bad).code(), absl::StatusCode::kNotFound) << "Free(" << bad << ")";
      ASSERT_EQ(cache.Append(bad, 1, KeyOf(1, 0, w), ValueFor(1, 0, w)).code(),
                absl::StatusCode::kNotFound)
          << "Append(" << bad << ")";
      ASSERT_EQ(cache.Fork(bad).status().code(), absl::StatusCode::kNotFound)
          << "Fork(" << bad << ")";
    }
    ASSERT_TRUE(AgreesWithModel(cache, model, shared));
  }
}

// ---------------------------------------------------------------------------------
// Step 1: a pool of blocks and its free list.

TEST(Step1_FreeList, HandsOutBlocksInIdOrder) {
  BlockAllocator pool(8);
  EXPECT_EQ(pool.num_blocks(), 8);
  EXPECT_EQ(pool.NumFree(), 8);
  EXPECT_EQ(pool.FreeList(), Range(0, 8));
  EXPECT_EQ(ValueOf(pool.Allocate()), 0);
  EXPECT_EQ(ValueOf(pool.Allocate()), 1);
  EXPECT_EQ(ValueOf(pool.Allocate()), 2);
  EXPECT_EQ(pool.NumFree(), 5);
  EXPECT_EQ(pool.FreeList(), Range(3, 5));
}

TEST(Step1_FreeList, AReleasedBlockIsHandedOutNext) {
  BlockAllocator pool(8);
  for (int i = 0; i < 3; ++i) ValueOf(pool.Allocate());
  ASSERT_TRUE(pool.Release(1).ok());
  EXPECT_EQ(pool.FreeList(), (std::vector<int>{1, 3, 4, 5, 6, 7}))
      << "a released block goes to the head of the free list";
  ASSERT_TRUE(pool.Release(0).ok());
  EXPECT_EQ(pool.FreeList(), (std::vector<int>{0, 1, 3, 4, 5, 6, 7}));
  EXPECT_EQ(ValueOf(pool.Allocate()), 0);
  EXPECT_EQ(ValueOf(pool.Allocate()), 1);
  EXPECT_EQ(ValueOf(pool.Allocate()), 3);
}

TEST(Step1_FreeList, OutOfBlocksIsResourceExhausted) {
  BlockAllocator pool(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ValueOf(pool.Allocate()), i);
  const absl::StatusOr<int> none = pool.Allocate();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted) << none.status();
  EXPECT_EQ(pool.NumFree(), 0);
  EXPECT_TRUE(pool.FreeList().empty());
  ASSERT_TRUE(pool.Release(2).ok());
  EXPECT_EQ(ValueOf(pool.Allocate()), 2) << "a failed Allocate must not disturb the pool";
}

TEST(Step1_FreeList, DoubleReleaseIsReported) {
  BlockAllocator pool(4);
  const int b = ValueOf(pool.Allocate());
  ASSERT_TRUE(pool.Release(b).ok());
  const absl::Status again = pool.Release(b);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
  EXPECT_EQ(pool.NumFree(), 4);
  EXPECT_EQ(pool.FreeList(), (std::vector<int>{0, 1, 2, 3})) << "no block twice on the list";
  const absl::Status never = pool.Release(3);
  EXPECT_EQ(never.code(), absl::StatusCode::kFailedPrecondition) << never;
}

// Thousands of seeded allocate/release operations against a set of the blocks in use.
TEST(Step1_FreeList, RandomAllocateAndReleaseNeverLoseABlock) {
  Rng rng(101);
  constexpr int kBlocks = 64;
  BlockAllocator pool(kBlocks);
  std::set<int> in_use;
  for (int op = 0; op < 20000; ++op) {
    if (in_use.empty() || (rng.Below(2) == 0 && static_cast<int>(in_use.size()) < kBlocks)) {
      const int b = ValueOf(pool.Allocate());
      ASSERT_TRUE(b >= 0 && b < kBlocks) << "op " << op << ": block " << b;
      ASSERT_TRUE(in_use.insert(b).second) << "op " << op << ": block " << b << " handed out twice";
    } else {
      auto it = in_use.begin();
      std::advance(it, static_cast<long>(rng.Below(in_use.size())));
      ASSERT_TRUE(pool.Release(*it).ok()) << "op " << op;
      in_use.erase(it);
    }
    ASSERT_EQ(pool.NumFree() + static_cast<int>(in_use.size()), kBlocks) << "op " << op;
  }
  std::vector<int> all = pool.FreeList();
  all.insert(all.end(), in_use.begin(), in_use.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, Range(0, kBlocks)) << "free list and blocks in use must partition the pool";
}

TEST(Step1_FreeList, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(BlockAllocator(0), {"num_blocks", "0"});
  EXPECT_INVALID_ARGUMENT(BlockAllocator(-3), {"num_blocks", "-3"});
  BlockAllocator pool(8);
  EXPECT_INVALID_ARGUMENT(pool.Release(8), {"block", "8"});
  EXPECT_INVALID_ARGUMENT(pool.Release(-1), {"block", "-1"});
}

// ---------------------------------------------------------------------------------
// Step 2: reference counts.

TEST(Step2_ReferenceCounts, CountsEveryReader) {
  BlockAllocator pool(4);
  EXPECT_EQ(pool.RefCount(2), 0) << "a free block has no reader";
  const int b = ValueOf(pool.Allocate());
  EXPECT_EQ(pool.RefCount(b), 1);
  ASSERT_TRUE(pool.AddRef(b).ok());
  ASSERT_TRUE(pool.AddRef(b).ok());
  EXPECT_EQ(pool.RefCount(b), 3);
  EXPECT_EQ(pool.NumFree(), 3) << "sharing a block allocates nothing";
}

TEST(Step2_ReferenceCounts, ReleaseFreesOnlyAtZero) {
  BlockAllocator pool(4);
  const int b = ValueOf(pool.Allocate());
  ASSERT_TRUE(pool.AddRef(b).ok());
  ASSERT_TRUE(pool.Release(b).ok());
  EXPECT_EQ(pool.RefCount(b), 1);
  EXPECT_EQ(pool.NumFree(), 3) << "one reader left: the block stays in use";
  ASSERT_TRUE(pool.Release(b).ok());
  EXPECT_EQ(pool.RefCount(b), 0);
  EXPECT_EQ(pool.FreeList(), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(pool.Release(b).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Step2_ReferenceCounts, SharingAFreeBlockIsFailedPrecondition) {
  BlockAllocator pool(4);
  const absl::Status s = pool.AddRef(3);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(pool.RefCount(3), 0);
  EXPECT_EQ(pool.NumFree(), 4);
}

TEST(Step2_ReferenceCounts, RandomSharingMatchesACountModel) {
  Rng rng(202);
  constexpr int kBlocks = 16;
  BlockAllocator pool(kBlocks);
  std::vector<int> counts(kBlocks, 0);
  for (int op = 0; op < 10000; ++op) {
    std::vector<int> used;
    for (int b = 0; b < kBlocks; ++b) {
      if (counts[static_cast<size_t>(b)] > 0) used.push_back(b);
    }
    const std::uint64_t r = rng.Below(3);
    if (used.empty() || (r == 0 && pool.NumFree() > 0)) {
      ++counts[static_cast<size_t>(ValueOf(pool.Allocate()))];
    } else {
      const int b = used[rng.Below(used.size())];
      if (r == 1) {
        ASSERT_TRUE(pool.AddRef(b).ok()) << "op " << op;
        ++counts[static_cast<size_t>(b)];
      } else {
        ASSERT_TRUE(pool.Release(b).ok()) << "op " << op;
        --counts[static_cast<size_t>(b)];
      }
    }
    int free = 0;
    for (int b = 0; b < kBlocks; ++b) {
      ASSERT_EQ(pool.RefCount(b), counts[static_cast<size_t>(b)]) << "op " << op << " block " << b;
      free += counts[static_cast<size_t>(b)] == 0;
    }
    ASSERT_EQ(pool.NumFree(), free) << "op " << op;
  }
}

TEST(Step2_ReferenceCounts, RejectsBadArguments) {
  BlockAllocator pool(8);
  EXPECT_INVALID_ARGUMENT(pool.RefCount(8), {"block", "8"});
  EXPECT_INVALID_ARGUMENT(pool.AddRef(-1), {"block", "-1"});
  EXPECT_INVALID_ARGUMENT(pool.AddRef(100), {"block", "100"});
}

// ---------------------------------------------------------------------------------
// Step 3: block tables and appends.

TEST(Step3_BlockTables, FixtureTraceOperations1To3) { CheckTrace(3, false); }

TEST(Step3_BlockTables, NewSequencesAreEmptyWithIncreasingIds) {
  PagedKvCache cache(8, 4, 2);
  EXPECT_EQ(cache.num_blocks(), 8);
  EXPECT_EQ(cache.block_size(), 4);
  EXPECT_EQ(cache.kv_width(), 2);
  EXPECT_EQ(cache.NewSequence(), 0);
  EXPECT_EQ(cache.NewSequence(), 1);
  EXPECT_EQ(cache.NewSequence(), 2);
  EXPECT_EQ(cache.Sequences(), (std::vector<SeqId>{0, 1, 2}));
  EXPECT_EQ(ValueOf(cache.Length(1)), 0);
  EXPECT_TRUE(ValueOf(cache.BlockTable(1)).empty());
  EXPECT_EQ(cache.allocator().NumFree(), 8) << "an empty sequence holds no block";
}

TEST(Step3_BlockTables, AllocatesOnlyWhenTheLastBlockIsFull) {
  for (const int block_size : {1, 2, 3, 4, 16}) {
    SCOPED_TRACE(::testing::Message() << "B = " << block_size);
    constexpr int kBlocks = 40;
    PagedKvCache cache(kBlocks, block_size, 2);
    const SeqId s = cache.NewSequence();
    for (int length = 1; length <= 40; ++length) {
      ASSERT_TRUE(AppendTokens(cache, s, {length}).ok());
      EXPECT_EQ(static_cast<int>(ValueOf(cache.BlockTable(s)).size()), Ceil(length, block_size))
          << "L = " << length;
      EXPECT_EQ(cache.allocator().NumFree(), kBlocks - Ceil(length, block_size))
          << "L = " << length;
    }
  }
}

TEST(Step3_BlockTables, ReadsBackWhatWasAppended) {
  Rng rng(303);
  for (const int block_size : {1, 3, 16}) {
    SCOPED_TRACE(::testing::Message() << "B = " << block_size);
    PagedKvCache cache(64, block_size, 5);
    const SeqId a = cache.NewSequence();
    const SeqId b = cache.NewSequence();
    std::vector<int> tokens_a;
    std::vector<int> tokens_b;
    const Matrix keys = RandomMatrix(rng, 40, 5);
    const Matrix values = RandomMatrix(rng, 40, 5);
    // Interleaved, so that the two sequences' blocks alternate in the pool.
    for (int j = 0; j < 40; ++j) {
      const SeqId s = j % 2 == 0 ? a : b;
      ASSERT_TRUE(cache.Append(s, 100 + j, keys.row(j), values.row(j)).ok());
      (s == a ? tokens_a : tokens_b).push_back(100 + j);
    }
    const SequenceContents got = ValueOf(cache.Read(a));
    EXPECT_EQ(got.tokens, tokens_a);
    Matrix want_keys(20, 5);
    Matrix want_values(20, 5);
    for (int j = 0; j < 20; ++j) {
      want_keys.row(j) = keys.row(2 * j);
      want_values.row(j) = values.row(2 * j);
    }
    EXPECT_ALLCLOSE(got.keys, want_keys, kExact);
    EXPECT_ALLCLOSE(got.values, want_values, kExact);
    EXPECT_EQ(ValueOf(cache.Read(b)).tokens, tokens_b);
    EXPECT_EQ(ValueOf(cache.Length(b)), 20);
    const std::vector<int> table_a = ValueOf(cache.BlockTable(a));
    for (const int block : ValueOf(cache.BlockTable(b))) {
      EXPECT_EQ(std::count(table_a.begin(), table_a.end(), block), 0)
          << "block " << block << " is in both tables";
    }
  }
}

TEST(Step3_BlockTables, BlockViewsShowTheSlots) {
  PagedKvCache cache(8, 4, 3);
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, {7, 8, 9, 10, 11, 12}).ok());
  const std::vector<int> table = ValueOf(cache.BlockTable(s));
  ASSERT_EQ(table.size(), 2u);
  // Token 5 (id 12) is slot 1 of logical block 1.
  EXPECT_ALLCLOSE(cache.BlockKeys(table[1]).row(1), KeyOf(12, 5, 3), kExact);
  EXPECT_ALLCLOSE(cache.BlockValues(table[1]).row(1), ValueFor(12, 5, 3), kExact);
  EXPECT_EQ(cache.BlockKeys(table[0]).rows(), 4);
  EXPECT_EQ(cache.BlockKeys(table[0]).cols(), 3);
  const std::span<const int> first = cache.BlockTokens(table[0]);
  EXPECT_EQ(std::vector<int>(first.begin(), first.end()), (std::vector<int>{7, 8, 9, 10}));
}

TEST(Step3_BlockTables, OutOfBlocksIsResourceExhaustedAndNothingChanges) {
  PagedKvCache cache(3, 2, 2);
  const SeqId a = cache.NewSequence();
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, {1, 2, 3}).ok());  // blocks: [1 2] [3 _]
  ASSERT_TRUE(AppendTokens(cache, b, {4, 5}).ok());     // blocks: [4 5]
  const std::vector<int> table_a = ValueOf(cache.BlockTable(a));
  const std::vector<int> table_b = ValueOf(cache.BlockTable(b));
  const absl::Status full = cache.Append(b, 6, KeyOf(6, 2, 2), ValueFor(6, 2, 2));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_TRUE(ReadsBack(cache, a, {1, 2, 3}));
  EXPECT_TRUE(ReadsBack(cache, b, {4, 5}));
  EXPECT_EQ(ValueOf(cache.BlockTable(b)), table_b);
  // a's last block still has a free slot: that append needs no block.
  ASSERT_TRUE(AppendTokens(cache, a, {6}).ok());
  EXPECT_EQ(AppendTokens(cache, a, {7}).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadsBack(cache, a, {1, 2, 3, 6}));
  EXPECT_EQ(ValueOf(cache.BlockTable(a)), table_a);
  EXPECT_EQ(cache.allocator().NumFree(), 0);
}

TEST(Step3_BlockTables, UnknownSequenceIsNotFound) {
  PagedKvCache cache(8, 4, 2);
  cache.NewSequence();
  EXPECT_EQ(cache.Append(7, 1, KeyOf(1, 0, 2), ValueFor(1, 0, 2)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Length(7).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.BlockTable(-1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Read(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.allocator().NumFree(), 8);
}

TEST(Step3_BlockTables, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(PagedKvCache(0, 4, 2), {"num_blocks", "0"});
  EXPECT_INVALID_ARGUMENT(PagedKvCache(8, 0, 2), {"block_size", "0"});
  EXPECT_INVALID_ARGUMENT(PagedKvCache(8, 4, -2), {"kv_width", "-2"});
  PagedKvCache cache(8, 4, 2);
  const SeqId s = cache.NewSequence();
  EXPECT_INVALID_ARGUMENT(cache.Append(s, 1, Matrix::Ones(1, 3), Matrix::Ones(1, 2)),
                          {"key", "1x2", "1x3"});
  EXPECT_INVALID_ARGUMENT(cache.Append(s, 1, Matrix::Ones(1, 2), Matrix::Ones(2, 2)),
                          {"value", "1x2", "2x2"});
  EXPECT_INVALID_ARGUMENT(cache.Append(s, -1, Matrix::Ones(1, 2), Matrix::Ones(1, 2)),
                          {"token", "-1"});
  EXPECT_INVALID_ARGUMENT(cache.BlockKeys(8), {"block", "8"});
  EXPECT_INVALID_ARGUMENT(cache.BlockTokens(-1), {"block", "-1"});
  EXPECT_EQ(ValueOf(cache.Length(s)), 0) << "a rejected append stores nothing";
}

// ---------------------------------------------------------------------------------
// Step 4: freeing a sequence.

TEST(Step4_FreeSequence, FixtureTraceOperations1To4) { CheckTrace(4, false); }

TEST(Step4_FreeSequence, ReturnsEveryBlockLastBlockFirst) {
  PagedKvCache cache(8, 4, 2);
  const SeqId filler = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, filler, {1}).ok());  // takes block 0
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, Range(10, 9)).ok());
  const std::vector<int> table = ValueOf(cache.BlockTable(s));
  ASSERT_EQ(table, (std::vector<int>{1, 2, 3}));
  ASSERT_TRUE(cache.Free(s).ok());
  EXPECT_EQ(cache.allocator().NumFree(), 7);
  EXPECT_EQ(cache.allocator().FreeList(), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}))
      << "released from the last logical block to the first, the blocks come back in "
         "table order";
  for (const int b : table) EXPECT_EQ(cache.allocator().RefCount(b), 0) << "block " << b;
  EXPECT_EQ(cache.Sequences(), (std::vector<SeqId>{filler}));
}

TEST(Step4_FreeSequence, TheOtherSequencesKeepTheirTokens) {
  PagedKvCache cache(16, 2, 2);
  const SeqId a = cache.NewSequence();
  const SeqId b = cache.NewSequence();
  const SeqId c = cache.NewSequence();
  std::map<SeqId, std::vector<int>> tokens;
  for (int j = 0; j < 15; ++j) {
    const SeqId s = j % 3;
    ASSERT_TRUE(AppendTokens(cache, s, {j}).ok());
    tokens[s].push_back(j);
  }
  ASSERT_TRUE(cache.Free(b).ok());
  EXPECT_TRUE(ReadsBack(cache, a, tokens[a]));
  EXPECT_TRUE(ReadsBack(cache, c, tokens[c]));
  // The freed blocks are reused by the next appends, without touching a or c.
  ASSERT_TRUE(AppendTokens(cache, a, Range(50, 6)).ok());
  EXPECT_TRUE(ReadsBack(cache, a, Concat(tokens[a], Range(50, 6))));
  EXPECT_TRUE(ReadsBack(cache, c, tokens[c]));
}

TEST(Step4_FreeSequence, FreeingTwiceIsNotFound) {
  PagedKvCache cache(8, 4, 2);
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, {1, 2, 3, 4, 5}).ok());
  ASSERT_TRUE(cache.Free(s).ok());
  const absl::Status again = cache.Free(s);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
  EXPECT_EQ(cache.allocator().NumFree(), 8);
  EXPECT_EQ(cache.allocator().FreeList(), Range(0, 8)) << "no block twice on the list";
}

TEST(Step4_FreeSequence, UnknownSequenceIsNotFound) {
  PagedKvCache cache(8, 4, 2);
  EXPECT_EQ(cache.Free(0).code(), absl::StatusCode::kNotFound);
  cache.NewSequence();
  EXPECT_EQ(cache.Free(42).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Free(-1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Sequences(), (std::vector<SeqId>{0}));
}

TEST(Step4_FreeSequence, IdsAreNeverReused) {
  PagedKvCache cache(8, 4, 2);
  const SeqId a = cache.NewSequence();
  ASSERT_TRUE(cache.Free(a).ok());
  const SeqId b = cache.NewSequence();
  EXPECT_NE(b, a);
  EXPECT_EQ(cache.Length(a).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Sequences(), (std::vector<SeqId>{b}));
}

// ---------------------------------------------------------------------------------
// Step 5: fork shares every block.

TEST(Step5_Fork, FixtureTraceOperations1To5) { CheckTrace(5, false); }

TEST(Step5_Fork, SharesEveryBlockWithoutAllocating) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, Range(1, 10)).ok());
  const int free_before = cache.allocator().NumFree();
  const SeqId child = ValueOf(cache.Fork(parent));
  EXPECT_EQ(child, 1);
  EXPECT_EQ(cache.allocator().NumFree(), free_before) << "a fork allocates nothing";
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  EXPECT_EQ(ValueOf(cache.BlockTable(child)), table);
  for (const int b : table) EXPECT_EQ(cache.allocator().RefCount(b), 2) << "block " << b;
  EXPECT_EQ(ValueOf(cache.Length(child)), 10);
  EXPECT_TRUE(ReadsBack(cache, child, Range(1, 10)));
}

TEST(Step5_Fork, CountsEveryReaderAndSurvivesTheParent) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, Range(1, 6)).ok());
  const SeqId a = ValueOf(cache.Fork(parent));
  const SeqId b = ValueOf(cache.Fork(a));
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  for (const int block : table) EXPECT_EQ(cache.allocator().RefCount(block), 3);
  ASSERT_TRUE(cache.Free(parent).ok());
  for (const int block : table) EXPECT_EQ(cache.allocator().RefCount(block), 2);
  EXPECT_EQ(cache.allocator().NumFree(), 6) << "blocks still read by a fork stay in use";
  EXPECT_TRUE(ReadsBack(cache, a, Range(1, 6)));
  EXPECT_TRUE(ReadsBack(cache, b, Range(1, 6)));
  ASSERT_TRUE(cache.Free(a).ok());
  ASSERT_TRUE(cache.Free(b).ok());
  EXPECT_EQ(cache.allocator().NumFree(), 8);
}

TEST(Step5_Fork, ForkOfAnEmptySequence) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  const SeqId child = ValueOf(cache.Fork(parent));
  EXPECT_TRUE(ValueOf(cache.BlockTable(child)).empty());
  ASSERT_TRUE(AppendTokens(cache, parent, {1}).ok());
  ASSERT_TRUE(AppendTokens(cache, child, {2}).ok());
  EXPECT_TRUE(ReadsBack(cache, parent, {1}));
  EXPECT_TRUE(ReadsBack(cache, child, {2}));
  EXPECT_EQ(cache.allocator().NumFree(), 6);
}

TEST(Step5_Fork, UnknownParentIsNotFound) {
  PagedKvCache cache(8, 4, 2);
  const absl::StatusOr<SeqId> child = cache.Fork(3);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound) << child.status();
  EXPECT_TRUE(cache.Sequences().empty());
}

// ---------------------------------------------------------------------------------
// Step 6: copy-on-write.

TEST(Step6_CopyOnWrite, FixtureTraceOperations1To8) { CheckTrace(8, false); }

TEST(Step6_CopyOnWrite, AppendToASharedPartialBlockCopiesIt) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, Range(1, 6)).ok());  // [1 2 3 4] [5 6 _ _]
  const SeqId child = ValueOf(cache.Fork(parent));
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  ASSERT_TRUE(AppendTokens(cache, child, {70}).ok());
  const std::vector<int> child_table = ValueOf(cache.BlockTable(child));
  ASSERT_EQ(child_table.size(), 2u);
  EXPECT_EQ(child_table[0], table[0]) << "the full block stays shared";
  EXPECT_NE(child_table[1], table[1]) << "the shared partial block must be copied";
  EXPECT_EQ(ValueOf(cache.BlockTable(parent)), table);
  EXPECT_EQ(cache.allocator().RefCount(table[0]), 2);
  EXPECT_EQ(cache.allocator().RefCount(table[1]), 1);
  EXPECT_EQ(cache.allocator().RefCount(child_table[1]), 1);
  EXPECT_TRUE(ReadsBack(cache, parent, Range(1, 6)));
  EXPECT_TRUE(ReadsBack(cache, child, Concat(Range(1, 6), {70})));
  // The parent is now the only reader of its last block: it appends in place.
  const int free_before = cache.allocator().NumFree();
  ASSERT_TRUE(AppendTokens(cache, parent, {80}).ok());
  EXPECT_EQ(cache.allocator().NumFree(), free_before);
  EXPECT_EQ(ValueOf(cache.BlockTable(parent)), table);
  EXPECT_TRUE(ReadsBack(cache, parent, Concat(Range(1, 6), {80})));
  EXPECT_TRUE(ReadsBack(cache, child, Concat(Range(1, 6), {70})));
}

TEST(Step6_CopyOnWrite, ForkAtABlockBoundaryCopiesNothing) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, Range(1, 8)).ok());
  const SeqId child = ValueOf(cache.Fork(parent));
  const int free_before = cache.allocator().NumFree();
  ASSERT_TRUE(AppendTokens(cache, child, {9}).ok());
  EXPECT_EQ(cache.allocator().NumFree(), free_before - 1) << "one fresh block, no copy";
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  const std::vector<int> child_table = ValueOf(cache.BlockTable(child));
  ASSERT_EQ(child_table.size(), 3u);
  EXPECT_EQ(child_table[0], table[0]);
  EXPECT_EQ(child_table[1], table[1]);
  for (const int b : table) EXPECT_EQ(cache.allocator().RefCount(b), 2);
}

TEST(Step6_CopyOnWrite, WriteIntoASharedBlockCopiesOnlyThatBlock) {
  PagedKvCache cache(8, 4, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, Range(1, 10)).ok());
  const SeqId child = ValueOf(cache.Fork(parent));
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  ASSERT_TRUE(cache.Write(child, 5, 60, KeyOf(60, 5, 2), ValueFor(60, 5, 2)).ok());
  const std::vector<int> child_table = ValueOf(cache.BlockTable(child));
  EXPECT_EQ(child_table[0], table[0]);
  EXPECT_NE(child_table[1], table[1]) << "position 5 is in logical block 1: copy it";
  EXPECT_EQ(child_table[2], table[2]);
  EXPECT_EQ(ValueOf(cache.BlockTable(parent)), table);
  EXPECT_TRUE(ReadsBack(cache, parent, Range(1, 10))) << "the parent sees its old contents";
  std::vector<int> changed = Range(1, 10);
  changed[5] = 60;
  EXPECT_TRUE(ReadsBack(cache, child, changed));
  EXPECT_EQ(cache.allocator().RefCount(table[1]), 1);
  EXPECT_EQ(cache.allocator().RefCount(child_table[1]), 1);
}

TEST(Step6_CopyOnWrite, WriteIntoAPrivateBlockIsInPlace) {
  PagedKvCache cache(8, 4, 2);
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, Range(1, 6)).ok());
  const std::vector<int> table = ValueOf(cache.BlockTable(s));
  const int free_before = cache.allocator().NumFree();
  ASSERT_TRUE(cache.Write(s, 0, 40, KeyOf(40, 0, 2), ValueFor(40, 0, 2)).ok());
  ASSERT_TRUE(cache.Write(s, 5, 45, KeyOf(45, 5, 2), ValueFor(45, 5, 2)).ok());
  EXPECT_EQ(ValueOf(cache.BlockTable(s)), table);
  EXPECT_EQ(cache.allocator().NumFree(), free_before);
  EXPECT_TRUE(ReadsBack(cache, s, {40, 2, 3, 4, 5, 45}));
}

TEST(Step6_CopyOnWrite, NoBlockForTheCopyIsResourceExhaustedAndNothingChanges) {
  PagedKvCache cache(2, 2, 2);
  const SeqId parent = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, parent, {1, 2, 3}).ok());  // both blocks in use
  const SeqId child = ValueOf(cache.Fork(parent));
  const std::vector<int> table = ValueOf(cache.BlockTable(parent));
  const absl::Status append = cache.Append(child, 4, KeyOf(4, 3, 2), ValueFor(4, 3, 2));
  EXPECT_EQ(append.code(), absl::StatusCode::kResourceExhausted) << append;
  const absl::Status write = cache.Write(child, 0, 9, KeyOf(9, 0, 2), ValueFor(9, 0, 2));
  EXPECT_EQ(write.code(), absl::StatusCode::kResourceExhausted) << write;
  EXPECT_EQ(ValueOf(cache.BlockTable(parent)), table);
  EXPECT_EQ(ValueOf(cache.BlockTable(child)), table);
  for (const int b : table) EXPECT_EQ(cache.allocator().RefCount(b), 2);
  EXPECT_TRUE(ReadsBack(cache, parent, {1, 2, 3}));
  EXPECT_TRUE(ReadsBack(cache, child, {1, 2, 3}));
}

TEST(Step6_CopyOnWrite, WriteRejectsBadArgumentsAndUnknownSequences) {
  PagedKvCache cache(8, 4, 2);
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, {1, 2, 3}).ok());
  const Matrix k = KeyOf(5, 0, 2);
  const Matrix v = ValueFor(5, 0, 2);
  EXPECT_INVALID_ARGUMENT(cache.Write(s, 3, 5, k, v), {"position", "3"});
  EXPECT_INVALID_ARGUMENT(cache.Write(s, -1, 5, k, v), {"position", "-1"});
  EXPECT_INVALID_ARGUMENT(cache.Write(s, 0, -7, k, v), {"token", "-7"});
  EXPECT_INVALID_ARGUMENT(cache.Write(s, 0, 5, Matrix::Ones(1, 4), v), {"key", "1x2", "1x4"});
  EXPECT_EQ(cache.Write(9, 0, 5, k, v).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ReadsBack(cache, s, {1, 2, 3}));
}

// Thousands of seeded new/append/fork/write/free operations against the model.
TEST(Step6_CopyOnWrite, RandomOperationsAgreeWithAModel) {
  RunCounts counts;
  for (const RandomRun& run : {RandomRun{61, 10, 1, 1500, 1000}, RandomRun{62, 12, 2, 1500, 1000},
                               RandomRun{63, 12, 3, 1500, 1000}, RandomRun{64, 16, 4, 1500, 1000}}) {
    ASSERT_NO_FATAL_FAILURE(RunRandomOperations(run, &counts));
  }
  // The runs must have exercised the hard cases, not just appends.
  EXPECT_GT(counts.copies, 50);
  EXPECT_GT(counts.exhausted, 20);
}

// ---------------------------------------------------------------------------------
// Step 7: prefix sharing by chained block hashes.

TEST(Step7_PrefixSharing, BlockHashIsDeterministicAndChained) {
  const std::vector<int> block = {11, 12, 13, 14};
  const std::uint64_t h = BlockHash(kRootHash, block);
  EXPECT_EQ(BlockHash(kRootHash, std::vector<int>{11, 12, 13, 14}), h);
  EXPECT_NE(BlockHash(h, block), h) << "the same tokens after another prefix";
  EXPECT_NE(BlockHash(kRootHash, std::vector<int>{12, 11, 13, 14}), h) << "order matters";
  EXPECT_NE(BlockHash(kRootHash, std::vector<int>{11, 12, 13, 15}), h);
  EXPECT_NE(BlockHash(kRootHash, std::vector<int>{11, 12, 13}), h);
  // No collision among many small blocks and parents.
  std::set<std::uint64_t> seen;
  for (int a = 0; a < 40; ++a) {
    for (int b = 0; b < 40; ++b) {
      for (const std::uint64_t parent : {kRootHash, h}) {
        seen.insert(BlockHash(parent, std::vector<int>{a, b}));
      }
    }
  }
  EXPECT_EQ(seen.size(), 3200u);
  EXPECT_INVALID_ARGUMENT(BlockHash(kRootHash, std::vector<int>{}), {"tokens"});
}

TEST(Step7_PrefixSharing, FixtureTraceAllOperations) { CheckTrace(11, false); }

TEST(Step7_PrefixSharing, IdenticalPromptsShareTheirFullBlocks) {
  PagedKvCache cache(8, 4, 2);
  const SeqId a = cache.NewSequence();
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, Range(1, 10)).ok());
  ASSERT_TRUE(AppendTokens(cache, b, Range(1, 10)).ok());
  const std::vector<int> ta = ValueOf(cache.BlockTable(a));
  const std::vector<int> tb = ValueOf(cache.BlockTable(b));
  ASSERT_EQ(tb.size(), 3u);
  EXPECT_EQ(tb[0], ta[0]);
  EXPECT_EQ(tb[1], ta[1]);
  EXPECT_NE(tb[2], ta[2]) << "a partly filled block is never shared";
  EXPECT_EQ(cache.allocator().RefCount(ta[0]), 2);
  EXPECT_EQ(cache.allocator().RefCount(ta[1]), 2);
  EXPECT_EQ(cache.allocator().NumFree(), 4) << "2 shared + 2 partial blocks in use";
  EXPECT_TRUE(ReadsBack(cache, b, Range(1, 10)));
}

TEST(Step7_PrefixSharing, TheSameTokensAfterADifferentPrefixAreNotShared) {
  PagedKvCache cache(8, 4, 2);
  const SeqId a = cache.NewSequence();
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, {1, 2, 3, 4, 5, 6, 7, 8}).ok());
  ASSERT_TRUE(AppendTokens(cache, b, {9, 9, 9, 9, 5, 6, 7, 8}).ok());
  const std::vector<int> ta = ValueOf(cache.BlockTable(a));
  const std::vector<int> tb = ValueOf(cache.BlockTable(b));
  EXPECT_NE(tb[1], ta[1]) << "[5 6 7 8] after [9 9 9 9] is not [5 6 7 8] after [1 2 3 4]";
  EXPECT_EQ(cache.allocator().NumFree(), 4);
}

TEST(Step7_PrefixSharing, ASharedPrefixOutlivesItsFirstOwner) {
  PagedKvCache cache(8, 4, 2);
  const SeqId a = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, Range(1, 9)).ok());
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, b, Range(1, 8)).ok());
  const std::vector<int> shared = ValueOf(cache.BlockTable(b));
  ASSERT_TRUE(cache.Free(a).ok());
  for (const int block : shared) EXPECT_EQ(cache.allocator().RefCount(block), 1);
  EXPECT_TRUE(ReadsBack(cache, b, Range(1, 8)));
  // A third sequence with the same prompt finds b's blocks.
  const SeqId c = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, c, Range(1, 8)).ok());
  EXPECT_EQ(ValueOf(cache.BlockTable(c)), shared);
  EXPECT_EQ(cache.allocator().NumFree(), 6);
}

TEST(Step7_PrefixSharing, AFreedBlockIsNoLongerFound) {
  PagedKvCache cache(4, 2, 2);
  const SeqId a = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, {1, 2}).ok());
  ASSERT_TRUE(cache.Free(a).ok());
  // The freed block is reused by other tokens; [1 2] must not find it any more.
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, b, {7, 8}).ok());
  const SeqId c = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, c, {1, 2}).ok());
  EXPECT_TRUE(ReadsBack(cache, c, {1, 2}));
  EXPECT_TRUE(ReadsBack(cache, b, {7, 8}));
  EXPECT_NE(ValueOf(cache.BlockTable(c)), ValueOf(cache.BlockTable(b)));
}

TEST(Step7_PrefixSharing, AWrittenBlockIsNoLongerFoundByItsOldTokens) {
  PagedKvCache cache(4, 2, 2);
  const SeqId a = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, a, {1, 2}).ok());
  ASSERT_TRUE(cache.Write(a, 0, 5, KeyOf(5, 0, 2), ValueFor(5, 0, 2)).ok());  // now [5 2]
  const SeqId b = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, b, {1, 2}).ok());
  EXPECT_NE(ValueOf(cache.BlockTable(b)), ValueOf(cache.BlockTable(a)));
  EXPECT_TRUE(ReadsBack(cache, a, {5, 2}));
  EXPECT_TRUE(ReadsBack(cache, b, {1, 2}));
}

// A Write changes the tokens of its block, so the chained hash of every later block of the
// sequence changes too: a block that fills after the write is registered under the new
// chain. Looked up by the old prefix it must not be found; by the new prefix it must. With
// a full block between the written one and the one that fills, rehashing only the written
// block is not enough.
TEST(Step7_PrefixSharing, AWriteRechainsTheHashesOfTheBlocksAfterIt) {
  for (const int last : {1, 2}) {
    for (const bool forked : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "the block that fills is logical block " << last << "; "
                   << (forked ? "the write copies a shared block" : "the write is in place"));
      PagedKvCache cache(16, 4, 2);
      const std::vector<int> old_tokens = Range(1, 4 * (last + 1));  // [1 2 3 4] [5 6 7 8] ...
      std::vector<int> new_tokens = old_tokens;
      new_tokens[1] = 99;
      SeqId a = cache.NewSequence();
      ASSERT_TRUE(AppendTokens(cache, a, Range(1, 4 * (last + 1) - 1)).ok());  // last not full
      if (forked) a = ValueOf(cache.Fork(a));  // a's blocks are shared with the parent
      ASSERT_TRUE(cache.Write(a, 1, 99, KeyOf(99, 1, 2), ValueFor(99, 1, 2)).ok());
      ASSERT_TRUE(AppendTokens(cache, a, {old_tokens.back()}).ok());  // fills block `last`
      ASSERT_TRUE(ReadsBack(cache, a, new_tokens));
      const int a_last = ValueOf(cache.BlockTable(a))[static_cast<size_t>(last)];

      // The old prefix: its last block holds a's tokens after other tokens; not a's block.
      const SeqId old_prefix = cache.NewSequence();
      ASSERT_TRUE(AppendTokens(cache, old_prefix, old_tokens).ok());
      EXPECT_NE(ValueOf(cache.BlockTable(old_prefix))[static_cast<size_t>(last)], a_last)
          << "the old prefix found a's last block, which follows a 99 at position 1: the "
             "chain of a's hashes was not recomputed after the write";
      EXPECT_TRUE(ReadsBack(cache, old_prefix, old_tokens));

      // a's tokens as they now are: the last block is a's.
      const SeqId new_prefix = cache.NewSequence();
      ASSERT_TRUE(AppendTokens(cache, new_prefix, new_tokens).ok());
      EXPECT_EQ(ValueOf(cache.BlockTable(new_prefix))[static_cast<size_t>(last)], a_last)
          << "a's tokens must find a's last block, registered under its new chain";
      EXPECT_TRUE(ReadsBack(cache, new_prefix, new_tokens));
      EXPECT_TRUE(ReadsBack(cache, a, new_tokens));
    }
  }
}

// Few token ids and small blocks make identical prefixes common.
TEST(Step7_PrefixSharing, RandomOperationsWithFewTokenIdsShareAndAgree) {
  RunCounts counts;
  for (const RandomRun& run : {RandomRun{71, 8, 1, 1500, 2}, RandomRun{72, 12, 2, 1500, 2},
                               RandomRun{73, 12, 3, 1500, 2}}) {
    ASSERT_NO_FATAL_FAILURE(RunRandomOperations(run, &counts));
  }
  EXPECT_GT(counts.prefix_shares, 50) << "full blocks with equal prefixes must be shared";
}

// ---------------------------------------------------------------------------------
// Step 8: decode attention through the block table.

TEST(Step8_PagedAttention, FixtureReadsThroughAReusedBlock) {
  const Fixture& fx = AttentionExample();
  PagedKvCache cache(fx.Int("num_blocks"), fx.Int("block_size"), 2);
  const Matrix tokens0 = fx.Matrix("seq0_tokens");
  const Matrix keys0 = fx.Matrix("seq0_keys");
  const Matrix values0 = fx.Matrix("seq0_values");
  const Matrix tokens1 = fx.Matrix("seq1_tokens");
  const Matrix keys1 = fx.Matrix("seq1_keys");
  const Matrix values1 = fx.Matrix("seq1_values");
  const SeqId s0 = cache.NewSequence();
  const SeqId s1 = cache.NewSequence();
  auto append = [&](SeqId s, const Matrix& t, const Matrix& k, const Matrix& v, int j) {
    const absl::Status st = cache.Append(s, static_cast<int>(t(0, j)), k.row(j), v.row(j));
    ASSERT_TRUE(st.ok()) << st;
  };
  for (int j = 0; j < 2; ++j) ASSERT_NO_FATAL_FAILURE(append(s0, tokens0, keys0, values0, j));
  for (int j = 0; j < 2; ++j) ASSERT_NO_FATAL_FAILURE(append(s1, tokens1, keys1, values1, j));
  ASSERT_TRUE(cache.Free(s0).ok());
  ASSERT_NO_FATAL_FAILURE(append(s1, tokens1, keys1, values1, 2));

  const std::vector<int> table = ValueOf(cache.BlockTable(s1));
  const Matrix want_table = fx.Matrix("block_table");
  EXPECT_ALLCLOSE(Eigen::Map<const Eigen::RowVectorXi>(table.data(), static_cast<Eigen::Index>(table.size())),
                  want_table, kExact);
  const Matrix out = ValueOf(PagedDecodeAttention(cache, {s1}, fx.Matrix("query"), 1, 1));
  EXPECT_ALLCLOSE(out, fx.Matrix("output"), fx.tolerance())
      << "slot 1 of block 0 still holds the freed sequence's key [9 9]: reading it gives "
         "about [8 8]";
}

// The contiguous oracle: per head, reference::Attention over the keys and values the
// test appended, in double.
MatrixD ReferenceDecode(const std::vector<MatrixD>& keys, const std::vector<MatrixD>& values,
                        const Matrix& queries, int num_heads, int num_kv_heads) {
  const int d = static_cast<int>(keys[0].cols()) / num_kv_heads;
  MatrixD out(queries.rows(), queries.cols());
  for (Eigen::Index s = 0; s < queries.rows(); ++s) {
    for (int h = 0; h < num_heads; ++h) {
      const int g = h / (num_heads / num_kv_heads);
      const MatrixD q = queries.row(s).segment(h * d, d).cast<double>();
      const MatrixD k = keys[static_cast<size_t>(s)].middleCols(g * d, d);
      const MatrixD v = values[static_cast<size_t>(s)].middleCols(g * d, d);
      out.block(s, h * d, 1, d) = reference::Attention(q, k, v);
    }
  }
  return out;
}

TEST(Step8_PagedAttention, MatchesContiguousAttentionForAnyBlockSize) {
  Rng rng(808);
  for (const int block_size : {1, 2, 16, 7}) {
    for (auto [heads, kv_heads] : {std::pair{1, 1}, {4, 2}, {4, 4}}) {
      SCOPED_TRACE(::testing::Message() << "B = " << block_size << ", H = " << heads
                                        << ", Hkv = " << kv_heads);
      constexpr int kD = 8;
      const int width = kv_heads * kD;
      PagedKvCache cache(64, block_size, width);
      // Poison the pool first: every slot a later sequence may reuse holds huge values,
      // so reading past a sequence's length cannot go unnoticed.
      const SeqId poison = cache.NewSequence();
      const Matrix big = Matrix::Constant(1, width, 50.0f);
      for (int j = 0; j < 64 * block_size; ++j) {
        ASSERT_TRUE(cache.Append(poison, 1 + j, big, big).ok());
      }
      ASSERT_EQ(cache.allocator().NumFree(), 0);
      ASSERT_TRUE(cache.Free(poison).ok());

      const std::vector<int> lengths = SizesAroundBlock(block_size);
      const int n = static_cast<int>(lengths.size());
      std::vector<SeqId> seqs;
      std::vector<MatrixD> keys(static_cast<size_t>(n));
      std::vector<MatrixD> values(static_cast<size_t>(n));
      for (int s = 0; s < n; ++s) {
        seqs.push_back(cache.NewSequence());
        keys[static_cast<size_t>(s)].resize(0, width);
        values[static_cast<size_t>(s)].resize(0, width);
      }
      // Round-robin appends scatter every sequence's blocks over the pool.
      for (int j = 0; j < *std::max_element(lengths.begin(), lengths.end()); ++j) {
        for (int s = 0; s < n; ++s) {
          if (j >= lengths[static_cast<size_t>(s)]) continue;
          const Matrix k = RandomMatrix(rng, 1, width);
          const Matrix v = RandomMatrix(rng, 1, width);
          ASSERT_TRUE(cache.Append(seqs[static_cast<size_t>(s)], 1000 * s + j, k, v).ok());
          MatrixD& ks = keys[static_cast<size_t>(s)];
          MatrixD& vs = values[static_cast<size_t>(s)];
          ks.conservativeResize(j + 1, width);
          vs.conservativeResize(j + 1, width);
          ks.row(j) = k.cast<double>();
          vs.row(j) = v.cast<double>();
        }
      }
      // A fork that diverges by one token reads shared blocks and a private copy.
      const SeqId fork = ValueOf(cache.Fork(seqs.back()));
      const Matrix k = RandomMatrix(rng, 1, width);
      const Matrix v = RandomMatrix(rng, 1, width);
      ASSERT_TRUE(cache.Append(fork, 7, k, v).ok());
      MatrixD fork_keys = keys.back();
      MatrixD fork_values = values.back();
      fork_keys.conservativeResize(fork_keys.rows() + 1, width);
      fork_values.conservativeResize(fork_values.rows() + 1, width);
      fork_keys.row(fork_keys.rows() - 1) = k.cast<double>();
      fork_values.row(fork_values.rows() - 1) = v.cast<double>();
      seqs.push_back(fork);
      keys.push_back(fork_keys);
      values.push_back(fork_values);

      const Matrix queries = RandomMatrix(rng, static_cast<Eigen::Index>(seqs.size()), heads * kD);
      const Matrix out = ValueOf(PagedDecodeAttention(cache, seqs, queries, heads, kv_heads));
      EXPECT_ALLCLOSE(out, ReferenceDecode(keys, values, queries, heads, kv_heads), kVsReference);
    }
  }
}

TEST(Step8_PagedAttention, LogitsOfTenThousandStayFiniteAndExact) {
  // d = 4, so 1/√d = 1/2. Every key starts with 1 and every query head with ±2e4, the
  // other entries are small integers: every score is ±1e4 plus a small integer or half,
  // exact in float. exp(1e4) is inf and exp(-1e4) is 0, so a softmax that does not
  // subtract the row max gives inf/inf or 0/0 = NaN; subtracting it leaves exact
  // differences of a few units and weights the double reference agrees with.
  Rng rng(809);
  constexpr int kD = 4;
  auto small = [&rng] { return static_cast<float>(static_cast<int>(rng.Below(5)) - 2); };
  for (const int block_size : {1, 3, 4}) {
    for (auto [heads, kv_heads] : {std::pair{2, 1}, {4, 2}}) {
      SCOPED_TRACE(::testing::Message() << "B = " << block_size << ", H = " << heads
                                        << ", Hkv = " << kv_heads);
      const int width = kv_heads * kD;
      PagedKvCache cache(32, block_size, width);
      std::vector<SeqId> seqs;
      std::vector<MatrixD> keys;
      std::vector<MatrixD> values;
      for (const int length : {1, 5, 11}) {
        seqs.push_back(cache.NewSequence());
        Matrix k(length, width);
        for (int j = 0; j < length; ++j) {
          for (int c = 0; c < width; ++c) k(j, c) = c % kD == 0 ? 1.0f : small();
        }
        const Matrix v = RandomMatrix(rng, length, width);
        for (int j = 0; j < length; ++j) {
          ASSERT_TRUE(cache.Append(seqs.back(), 100 * length + j, k.row(j), v.row(j)).ok());
        }
        keys.push_back(k.cast<double>());
        values.push_back(v.cast<double>());
      }
      Matrix queries(static_cast<Eigen::Index>(seqs.size()), heads * kD);
      for (Eigen::Index s = 0; s < queries.rows(); ++s) {
        for (int c = 0; c < heads * kD; ++c) {
          // Query heads alternate: all scores near +1e4, then all near -1e4.
          queries(s, c) = c % kD == 0 ? ((c / kD) % 2 == 0 ? 2e4f : -2e4f) : small();
        }
      }
      const Matrix out = ValueOf(PagedDecodeAttention(cache, seqs, queries, heads, kv_heads));
      EXPECT_TRUE(out.allFinite()) << out;
      EXPECT_ALLCLOSE(out, ReferenceDecode(keys, values, queries, heads, kv_heads), kVsReference);
    }
  }
}

TEST(Step8_PagedAttention, UnknownOrEmptySequenceIsAStatus) {
  PagedKvCache cache(8, 4, 4);
  const SeqId full = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, full, {1, 2, 3}).ok());
  const SeqId empty = cache.NewSequence();
  const Matrix q = Matrix::Ones(2, 4);
  EXPECT_EQ(PagedDecodeAttention(cache, {full, 9}, q, 1, 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(PagedDecodeAttention(cache, {full, empty}, q, 1, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Step8_PagedAttention, RejectsBadArguments) {
  PagedKvCache cache(8, 4, 4);  // W = 4
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, {1, 2, 3}).ok());
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {s}, Matrix::Ones(2, 4), 1, 1),
                          {"queries", "2x4", "1x4"});
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {s}, Matrix::Ones(1, 4), 2, 1),
                          {"queries", "1x4", "1x8"});
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {s}, Matrix::Ones(1, 4), 2, 3),
                          {"num_kv_heads = 3", "num_heads = 2"});
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {s}, Matrix::Ones(1, 6), 3, 3),
                          {"num_kv_heads = 3", "kv_width = 4"});
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {s}, Matrix::Ones(1, 4), 0, 1),
                          {"num_heads", "0"});
  EXPECT_INVALID_ARGUMENT(PagedDecodeAttention(cache, {}, Matrix(0, 4), 1, 1), {"seqs"});
}

// ---------------------------------------------------------------------------------
// Step 9: memory accounting.

TEST(Step9_Accounting, FixtureTraceStats) { CheckTrace(11, true); }

TEST(Step9_Accounting, StatsAddUp) {
  PagedKvCache cache(8, 4, 2);
  EXPECT_EQ(cache.Stats().wasted_fraction, 0.0) << "an empty pool wastes nothing";
  const SeqId s = cache.NewSequence();
  ASSERT_TRUE(AppendTokens(cache, s, Range(1, 5)).ok());  // [1 2 3 4] [5 _ _ _]
  const CacheStats st = cache.Stats();
  EXPECT_EQ(st.blocks_used, 2);
  EXPECT_EQ(st.blocks_free, 6);
  EXPECT_EQ(st.slots_used, 8);
  EXPECT_EQ(st.slots_filled, 5);
  EXPECT_EQ(st.internal_fragmentation, 3);
  EXPECT_EQ(st.logical_tokens, 5);
  EXPECT_DOUBLE_EQ(st.wasted_fraction, 3.0 / 8.0);
}

TEST(Step9_Accounting, FixtureReservations) {
  const Fixture& fx = Accounting();
  const Matrix per_sequence = fx.Matrix("per_sequence");
  const int block_size = fx.Int("block_size");
  const int max_length = fx.Int("max_length");
  std::vector<int> lengths;
  Matrix got(per_sequence.rows(), 4);
  for (Eigen::Index i = 0; i < per_sequence.rows(); ++i) {
    const int length = static_cast<int>(per_sequence(i, 0));
    lengths.push_back(length);
    const Reservation paged = PagedReservation({length}, block_size);
    const Reservation contiguous = ContiguousReservation({length}, max_length);
    got.row(i) << static_cast<float>(length), static_cast<float>(paged.reserved_slots / block_size),
        static_cast<float>(paged.wasted_slots), static_cast<float>(contiguous.wasted_slots);
  }
  EXPECT_ALLCLOSE(got, per_sequence, fx.tolerance());
  const Reservation paged = PagedReservation(lengths, block_size);
  const Reservation contiguous = ContiguousReservation(lengths, max_length);
  MatrixD totals(2, 4);
  totals << static_cast<double>(paged.reserved_slots), static_cast<double>(paged.used_slots),
      static_cast<double>(paged.wasted_slots), paged.wasted_fraction,
      static_cast<double>(contiguous.reserved_slots), static_cast<double>(contiguous.used_slots),
      static_cast<double>(contiguous.wasted_slots), contiguous.wasted_fraction;
  EXPECT_ALLCLOSE(totals, fx.MatrixD("totals"), fx.tolerance());
}

TEST(Step9_Accounting, StatsOfAWorkloadMatchItsPagedReservation) {
  Rng rng(909);
  for (const int block_size : {1, 4, 16}) {
    SCOPED_TRACE(::testing::Message() << "B = " << block_size);
    std::vector<int> lengths;
    for (int s = 0; s < 30; ++s) lengths.push_back(1 + static_cast<int>(rng.Below(90)));
    PagedKvCache cache(2000, block_size, 1);
    for (size_t s = 0; s < lengths.size(); ++s) {
      const SeqId id = cache.NewSequence();
      // Distinct token ids: nothing is shared, as PagedReservation assumes.
      ASSERT_TRUE(AppendTokens(cache, id, Range(1000 * static_cast<int>(s), lengths[s])).ok());
    }
    const CacheStats st = cache.Stats();
    const Reservation r = PagedReservation(lengths, block_size);
    EXPECT_EQ(st.slots_used, r.reserved_slots);
    EXPECT_EQ(st.slots_filled, r.used_slots);
    EXPECT_EQ(st.logical_tokens, r.used_slots);
    EXPECT_EQ(st.internal_fragmentation, r.wasted_slots);
    EXPECT_DOUBLE_EQ(st.wasted_fraction, r.wasted_fraction);
    // Only last blocks waste slots, at most B - 1 each.
    EXPECT_LE(r.wasted_slots, static_cast<std::int64_t>(lengths.size()) * (block_size - 1));
    const Reservation c = ContiguousReservation(lengths, 90);
    EXPECT_EQ(c.reserved_slots, 90 * 30);
    EXPECT_GT(c.wasted_fraction, r.wasted_fraction);
  }
}

TEST(Step9_Accounting, AnEmptyWorkloadWastesNothing) {
  const Reservation paged = PagedReservation({}, 16);
  EXPECT_EQ(paged.reserved_slots, 0);
  EXPECT_EQ(paged.wasted_fraction, 0.0);
  const Reservation zeros = ContiguousReservation({0, 0}, 8);
  EXPECT_EQ(zeros.reserved_slots, 16);
  EXPECT_EQ(zeros.wasted_fraction, 1.0);
}

TEST(Step9_Accounting, RejectsBadArguments) {
  EXPECT_INVALID_ARGUMENT(PagedReservation({3, 4}, 0), {"block_size", "0"});
  EXPECT_INVALID_ARGUMENT(PagedReservation({3, -4}, 4), {"lengths[1]", "-4"});
  EXPECT_INVALID_ARGUMENT(ContiguousReservation({3, 4, 17}, 16), {"lengths[2]", "17", "16"});
  EXPECT_INVALID_ARGUMENT(ContiguousReservation({3}, 0), {"max_length", "0"});
}

}  // namespace
}  // namespace llmk::paged
