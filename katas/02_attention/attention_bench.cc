// Benchmarks of kata 02: your Attention against the naive double-precision reference,
// measured in the same process. Counters report GFLOP/s; the ratio of the two times
// is the speedup of Eigen's blocked products over triple loops.
//   ./kata bench 02        (or run build/katas/02_attention/02_attention_bench)
#include <benchmark/benchmark.h>

#include "attention.h"
#include "attention_ref.h"
#include "llmk/testing/random.h"

namespace {

using llmk::Matrix;
using llmk::MatrixD;

// 4·T·N·d flops: 2·T·N·d for Q·Kᵀ and 2·T·N·d for P·V.
double AttentionFlops(benchmark::State& state) {
  const double t = static_cast<double>(state.range(0));
  return 4.0 * t * t * static_cast<double>(state.range(1));
}

void BM_Attention(benchmark::State& state) {
  llmk::testing::Rng rng(1);
  const Matrix q = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1));
  const Matrix k = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1));
  const Matrix v = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1));
  for (auto _ : state) {
    Matrix out = llmk::attention::Attention(q, k, v);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(AttentionFlops(state) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReferenceAttention(benchmark::State& state) {
  llmk::testing::Rng rng(1);
  const MatrixD q = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1)).cast<double>();
  const MatrixD k = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1)).cast<double>();
  const MatrixD v = llmk::testing::RandomMatrix(rng, state.range(0), state.range(1)).cast<double>();
  for (auto _ : state) {
    MatrixD out = llmk::reference::Attention(q, k, v);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(AttentionFlops(state) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_Attention)->Args({128, 64})->Args({512, 64});
BENCHMARK(BM_ReferenceAttention)->Args({128, 64})->Args({512, 64});

}  // namespace
