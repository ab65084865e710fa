// Benchmarks of kata 08, each measured against its baseline in the same run:
//   - the block allocator's Allocate/Release against std::malloc/std::free of a block of
//     the same size (2·B·W floats: keys and values of B tokens), in ns per operation;
//   - the KV memory a paged cache wastes on a long-tailed workload, next to what a
//     contiguous cache that reserves the maximum length per sequence wastes;
//   - decode attention through block tables against the same attention on contiguous
//     keys and values.
//   ./kata bench 08        (or run build/katas/08_paged_attention/08_paged_attention_bench)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "llmk/testing/random.h"
#include "paged_attention.h"

namespace {

using llmk::Matrix;
using llmk::paged::BlockAllocator;
using llmk::paged::PagedKvCache;
using llmk::paged::SeqId;

constexpr int kBlockTokens = 16;  // B, vLLM's default block size
constexpr int kKvWidth = 512;     // W = Hkv·d, e.g. 8 kv heads of 64
constexpr std::size_t kBlockBytes = 2u * kBlockTokens * kKvWidth * sizeof(float);  // 64 KiB
constexpr int kBlocksPerRound = 1024;

// The order in which a round releases the blocks it allocated: a seeded shuffle, so that
// neither side only ever sees last-in-first-out traffic.
std::vector<int> ReleaseOrder() {
  llmk::Rng rng(8);
  std::vector<int> order(kBlocksPerRound);
  for (int i = 0; i < kBlocksPerRound; ++i) order[static_cast<size_t>(i)] = i;
  for (int i = kBlocksPerRound - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)],
              order[rng.Below(static_cast<std::uint64_t>(i) + 1)]);
  }
  return order;
}

void ReportPerOperation(benchmark::State& state) {
  // Each round is kBlocksPerRound allocations and as many releases.
  state.SetItemsProcessed(state.iterations() * 2 * kBlocksPerRound);
  // Seconds per operation, printed with an SI prefix ("12.3n" is 12.3 ns).
  state.counters["time_per_op"] = benchmark::Counter(
      2.0 * kBlocksPerRound,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["block_bytes"] = static_cast<double>(kBlockBytes);
}

// Allocate 1024 blocks of a 4096-block pool, then release them in shuffled order.
void BM_BlockAllocatorAllocateRelease(benchmark::State& state) {
  BlockAllocator pool(4 * kBlocksPerRound);
  const std::vector<int> order = ReleaseOrder();
  std::vector<int> blocks(kBlocksPerRound);
  for (auto _ : state) {
    for (int i = 0; i < kBlocksPerRound; ++i) blocks[static_cast<size_t>(i)] = *pool.Allocate();
    benchmark::DoNotOptimize(blocks.data());
    for (const int i : order) {
      const absl::Status s = pool.Release(blocks[static_cast<size_t>(i)]);
      benchmark::DoNotOptimize(s.ok());
    }
  }
  ReportPerOperation(state);
}

// The same traffic through the general-purpose heap.
void BM_MallocFree(benchmark::State& state) {
  const std::vector<int> order = ReleaseOrder();
  std::vector<void*> blocks(kBlocksPerRound);
  for (auto _ : state) {
    for (int i = 0; i < kBlocksPerRound; ++i) {
      blocks[static_cast<size_t>(i)] = std::malloc(kBlockBytes);
    }
    benchmark::DoNotOptimize(blocks.data());
    for (const int i : order) std::free(blocks[static_cast<size_t>(i)]);
  }
  ReportPerOperation(state);
}

// A long-tailed workload: lognormal lengths with median 200 tokens and σ = 1 (a mean of
// about 330, one sequence in a hundred above 2000), capped at the context length 2048.
constexpr int kSequences = 2000;
constexpr int kMaxLength = 2048;

std::vector<int> LongTailedLengths() {
  llmk::Rng rng(2023);
  std::vector<int> lengths(kSequences);
  for (int& length : lengths) {
    const double x = std::exp(std::log(200.0) + 1.0 * rng.Normal());
    length = std::clamp(static_cast<int>(std::lround(x)), 1, kMaxLength);
  }
  return lengths;
}

// Builds the whole workload in a paged cache, token by token, and reports the wasted
// fraction of the used pool (internal fragmentation) beside the waste of reserving
// kMaxLength slots per sequence for the same lengths.
void BM_KvWaste(benchmark::State& state) {
  const int block_size = static_cast<int>(state.range(0));
  const std::vector<int> lengths = LongTailedLengths();
  const llmk::paged::Reservation paged = llmk::paged::PagedReservation(lengths, block_size);
  const Matrix kv = Matrix::Ones(1, 4);  // the width does not change the fractions
  llmk::paged::CacheStats stats;
  for (auto _ : state) {
    PagedKvCache cache(static_cast<int>(paged.reserved_slots / block_size), block_size, 4);
    for (size_t s = 0; s < lengths.size(); ++s) {
      const SeqId id = cache.NewSequence();
      for (int j = 0; j < lengths[s]; ++j) {
        // Token ids unique per sequence: no prefix is shared, the worst case for waste.
        const absl::Status ok = cache.Append(id, static_cast<int>(s) * kMaxLength + j, kv, kv);
        if (!ok.ok()) state.SkipWithError(std::string(ok.message()).c_str());
      }
    }
    stats = cache.Stats();
    benchmark::DoNotOptimize(stats);
  }
  const llmk::paged::Reservation contiguous =
      llmk::paged::ContiguousReservation(lengths, kMaxLength);
  state.counters["B"] = block_size;
  state.counters["sequences"] = kSequences;
  state.counters["tokens"] = static_cast<double>(stats.logical_tokens);
  state.counters["paged_slots"] = static_cast<double>(stats.slots_used);
  state.counters["paged_waste_pct"] = 100.0 * stats.wasted_fraction;
  state.counters["contiguous_slots"] = static_cast<double>(contiguous.reserved_slots);
  state.counters["contiguous_waste_pct"] = 100.0 * contiguous.wasted_fraction;
  state.counters["appends_per_s"] = benchmark::Counter(
      static_cast<double>(stats.logical_tokens), benchmark::Counter::kIsIterationInvariantRate);
}

// Decode attention for a batch of 32 sequences of 512 tokens, H = 32, Hkv = 8, d = 64:
// through block tables (blocks interleaved over the pool) and on contiguous matrices.
constexpr int kBatch = 32;
constexpr int kContext = 512;
constexpr int kHeads = 32;
constexpr int kKvHeads = 8;
constexpr int kHeadDim = 64;

void BM_PagedDecodeAttention(benchmark::State& state) {
  const int block_size = static_cast<int>(state.range(0));
  llmk::Rng rng(3);
  const int width = kKvHeads * kHeadDim;
  PagedKvCache cache(kBatch * kContext / block_size, block_size, width);
  std::vector<SeqId> seqs;
  for (int s = 0; s < kBatch; ++s) seqs.push_back(cache.NewSequence());
  const Matrix k = llmk::testing::RandomMatrix(rng, 1, width);
  for (int j = 0; j < kContext; ++j) {
    for (int s = 0; s < kBatch; ++s) {
      const absl::Status ok = cache.Append(seqs[static_cast<size_t>(s)], s * kContext + j, k, k);
      if (!ok.ok()) state.SkipWithError(std::string(ok.message()).c_str());
    }
  }
  const Matrix queries = llmk::testing::RandomMatrix(rng, kBatch, kHeads * kHeadDim);
  for (auto _ : state) {
    absl::StatusOr<Matrix> out =
        llmk::paged::PagedDecodeAttention(cache, seqs, queries, kHeads, kKvHeads);
    benchmark::DoNotOptimize(out->data());
  }
  // Bytes of keys and values read per batch.
  state.SetBytesProcessed(state.iterations() * int64_t{2} * kBatch * kContext * width *
                          static_cast<int64_t>(sizeof(float)));
}

// The same computation on contiguous [L, W] keys and values per sequence.
void BM_ContiguousDecodeAttention(benchmark::State& state) {
  llmk::Rng rng(3);
  const int width = kKvHeads * kHeadDim;
  const Matrix k = llmk::testing::RandomMatrix(rng, 1, width);
  const std::vector<Matrix> keys(kBatch, k.replicate(kContext, 1));
  const Matrix queries = llmk::testing::RandomMatrix(rng, kBatch, kHeads * kHeadDim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  Matrix out(kBatch, kHeads * kHeadDim);
  for (auto _ : state) {
    for (int s = 0; s < kBatch; ++s) {
      const Matrix& ks = keys[static_cast<size_t>(s)];
      for (int h = 0; h < kHeads; ++h) {
        const int g = h / (kHeads / kKvHeads);
        const Eigen::RowVectorXf q = queries.row(s).segment(h * kHeadDim, kHeadDim);
        Eigen::VectorXf scores =
            (ks.middleCols(g * kHeadDim, kHeadDim) * q.transpose()) * scale;
        scores = (scores.array() - scores.maxCoeff()).exp();
        scores /= scores.sum();
        out.row(s).segment(h * kHeadDim, kHeadDim) =
            scores.transpose() * ks.middleCols(g * kHeadDim, kHeadDim);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * int64_t{2} * kBatch * kContext * width *
                          static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(BM_BlockAllocatorAllocateRelease);
BENCHMARK(BM_MallocFree);
BENCHMARK(BM_KvWaste)->Arg(8)->Arg(16)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PagedDecodeAttention)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ContiguousDecodeAttention)->Unit(benchmark::kMillisecond);

}  // namespace
