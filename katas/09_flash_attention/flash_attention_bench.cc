// Benchmarks of kata 09: your FlashForward against the naive double-precision reference
// and against this machine's own AVX2 FMA peak, all measured in one run.
//   ./kata bench 09      (or run build/katas/09_flash_attention/09_flash_attention_bench)
//
// Runs in this order, because the later counters use the earlier measurements:
//   BM_FmaPeak           12 chains of 8-wide FMAs: the single-core AVX2 peak, GFLOP/s
//   BM_Naive/T/d/causal  reference::flash::Attention in double, one head, one thread
//   BM_Flash/T/d/H/causal/workers        FlashForward, Backend::kAuto (H = 1 and 4)
//   BM_FlashScalar/T/d/H/causal/workers  FlashForward, Backend::kScalar
// Counters of the flash benchmarks:
//   GFLOP/s   4·T·N·d per head (2·T·N·d causal, the work left after skipping) per second
//   peak      GFLOP/s over (workers × the BM_FmaPeak figure): the fraction of the FMA peak
//   x_naive   the naive reference's time for the same T, d and causal, times H, over this
//             benchmark's time: the speedup over naive, both measured in this run. The
//             naive is timed at every size; from T = 2048 on one call takes more than
//             Google Benchmark's minimum time (at T = 4096, d = 128 about 8 s), so it
//             runs a single iteration there, which is all the ratio uses.
// Times are wall-clock (UseRealTime), since the kernel may run on several threads.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "flash_attention.h"
#include "flash_ref.h"
#include "llmk/testing/fma_peak.h"
#include "llmk/testing/random.h"

namespace {

using llmk::Matrix;
using llmk::MatrixD;
using llmk::flash::Backend;
using Clock = std::chrono::steady_clock;

using llmk::testing::CpuHasAvx2Fma;
using llmk::testing::kFmaChainFlopsPerStep;

// The last measurement of each yardstick in this run.
double g_peak_gflops = 0.0;
std::map<std::tuple<int, int, bool>, double> g_naive_seconds;  // (T, d, causal) -> s

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The FMA peak, from BM_FmaPeak if it ran, else measured here (best of five).
double PeakGflops() {
  if (g_peak_gflops <= 0.0) g_peak_gflops = llmk::testing::MeasureFmaPeakGflops();
  return g_peak_gflops;
}

double AttentionFlops(int t, int d, int heads, bool causal) {
  const double flops = 4.0 * t * t * d * heads;
  return causal ? flops / 2 : flops;
}

void BM_FmaPeak(benchmark::State& state) {
  if (!CpuHasAvx2Fma()) {
    state.SkipWithError("this CPU has no AVX2 and FMA");
    return;
  }
  constexpr std::int64_t kSteps = std::int64_t{1} << 22;
  const Clock::time_point start = Clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(llmk::testing::FmaChains(kSteps, 1.0f));
  const double seconds = Seconds(start);
  g_peak_gflops =
      kFmaChainFlopsPerStep * kSteps * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.counters["GFLOP/s"] = benchmark::Counter(kFmaChainFlopsPerStep * kSteps * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Naive(benchmark::State& state) {
  const int t = static_cast<int>(state.range(0));
  const int d = static_cast<int>(state.range(1));
  const bool causal = state.range(2) != 0;
  llmk::testing::Rng rng(1);
  const MatrixD q = llmk::testing::RandomMatrix(rng, t, d).cast<double>();
  const MatrixD k = llmk::testing::RandomMatrix(rng, t, d).cast<double>();
  const MatrixD v = llmk::testing::RandomMatrix(rng, t, d).cast<double>();
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    llmk::reference::flash::AttentionResult r =
        llmk::reference::flash::Attention(q, k, v, 1, causal);
    benchmark::DoNotOptimize(r.out.data());
  }
  g_naive_seconds[{t, d, causal}] = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(AttentionFlops(t, d, 1, causal) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Whether FlashForward runs at all: a stub throws llmk::NotImplemented, which would end
// the whole benchmark binary instead of this one benchmark. One token is enough to ask.
bool Implemented(const llmk::flash::FlashOptions& options) {
  try {
    const Matrix one = Matrix::Ones(1, options.num_heads);  // T = N = 1, d = 1
    std::vector<float> workspace(llmk::flash::ForwardWorkspaceSize(1, 1, 1, options));
    benchmark::DoNotOptimize(
        llmk::flash::FlashForward(one, one, one, options, workspace).out.data());
    return true;
  } catch (const llmk::NotImplemented&) {
    return false;
  }
}

void FlashBenchmark(benchmark::State& state, Backend backend) {
  const int t = static_cast<int>(state.range(0));
  const int d = static_cast<int>(state.range(1));
  const int heads = static_cast<int>(state.range(2));
  const bool causal = state.range(3) != 0;
  const int workers = static_cast<int>(state.range(4));
  llmk::flash::FlashOptions options;
  options.causal = causal;
  options.num_heads = heads;
  options.num_threads = workers;
  options.backend = backend;
  if (!Implemented(options)) {
    state.SkipWithError("FlashForward is not implemented yet (kata 09, step 3)");
    return;
  }
  llmk::testing::Rng rng(2);
  const Matrix q = llmk::testing::RandomMatrix(rng, t, heads * d);
  const Matrix k = llmk::testing::RandomMatrix(rng, t, heads * d);
  const Matrix v = llmk::testing::RandomMatrix(rng, t, heads * d);
  std::vector<float> workspace(llmk::flash::ForwardWorkspaceSize(t, t, d, options));
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    llmk::flash::FlashOutput f = llmk::flash::FlashForward(q, k, v, options, workspace);
    benchmark::DoNotOptimize(f.out.data());
  }
  const double seconds = Seconds(start) / static_cast<double>(state.iterations());
  const double flops = AttentionFlops(t, d, heads, causal);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (const double peak = PeakGflops(); peak > 0.0) {
    state.counters["peak"] = flops / seconds * 1e-9 / (peak * workers);
  }
  if (auto it = g_naive_seconds.find({t, d, causal}); it != g_naive_seconds.end()) {
    state.counters["x_naive"] = it->second * heads / seconds;
  }
}

void BM_Flash(benchmark::State& state) { FlashBenchmark(state, Backend::kAuto); }
void BM_FlashScalar(benchmark::State& state) { FlashBenchmark(state, Backend::kScalar); }

const std::vector<int> kLengths = {512, 1024, 2048, 4096};
const std::vector<int> kWidths = {64, 128};

void NaiveSizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "d", "causal"});
  for (int t : kLengths) {
    for (int d : kWidths) {
      for (int causal : {0, 1}) b->Args({t, d, causal});
    }
  }
}

// One head and four heads, causal and not, on one thread; then two threads on the
// largest size, where the scaling is measured.
void FlashSizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "d", "H", "causal", "workers"});
  for (int heads : {1, 4}) {
    for (int t : kLengths) {
      for (int d : kWidths) {
        for (int causal : {0, 1}) b->Args({t, d, heads, causal, 1});
      }
    }
  }
  for (int heads : {1, 4}) {
    for (int causal : {0, 1}) b->Args({4096, 128, heads, causal, 2});
  }
}

// The portable kernel, for comparison (in your build, the same code as BM_Flash).
void ScalarSizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "d", "H", "causal", "workers"});
  for (int t : {512, 1024}) {
    for (int d : kWidths) {
      for (int causal : {0, 1}) b->Args({t, d, 1, causal, 1});
    }
  }
}

BENCHMARK(BM_FmaPeak)->UseRealTime();
BENCHMARK(BM_Naive)->Apply(NaiveSizes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Flash)->Apply(FlashSizes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlashScalar)->Apply(ScalarSizes)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
