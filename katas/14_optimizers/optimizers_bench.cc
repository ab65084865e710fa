// Benchmarks of kata 14: your NewtonSchulz (Step 7, the heart of Muon) against the naive
// double-precision reference and against this machine's own AVX2 FMA peak, all measured
// in one run.
//   ./kata bench 14      (or run build/katas/14_optimizers/14_optimizers_bench)
//
// Runs in this order, because the later counters use the earlier measurements:
//   BM_FmaPeak               12 chains of 8-wide FMAs: the single-core AVX2 peak, GFLOP/s
//   BM_NaiveNewtonSchulz/n   reference::optim::NewtonSchulz in double (triple loops), five
//                            iterations on an n x n matrix, n = 256 and 1024. At n = 1024 one
//                            call takes seconds (8 s on a 2.1 GHz core), more than Google
//                            Benchmark's minimum time, so it runs a single iteration there,
//                            which is all the ratio below needs (an explicit Iterations(1)
//                            would add "/iterations:1" to the name the kata's threshold uses)
//   BM_NewtonSchulz/n        your float NewtonSchulz(g, 5) on the same matrix, rounded to float
// Counters:
//   GFLOP/s   five iterations on an m x n input (m <= n after the transpose of a tall one)
//             cost 5·(4·m²·n + 2·m³) flops: A = X·Xᵀ (2·m²·n), A·A (2·m³) and
//             (b·A + c·A²)·X (2·m²·n) per iteration; 30·n³ for the square inputs here
//   peak      (BM_NewtonSchulz) GFLOP/s over the BM_FmaPeak figure: the fraction of one
//             core's FMA peak
//   x_naive   (BM_NewtonSchulz) the naive reference's time for the same n over this
//             benchmark's time: the speedup over the triple loops, both measured in this run
// Times are wall-clock (UseRealTime).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <map>

#include "llmk/testing/fma_peak.h"
#include "llmk/testing/random.h"
#include "optimizers.h"
#include "optimizers_ref.h"

namespace {

using llmk::Matrix;
using llmk::MatrixD;
using Clock = std::chrono::steady_clock;

constexpr int kSteps = 5;

// The last measurement of each yardstick in this run.
double g_peak_gflops = 0.0;
std::map<int, double> g_naive_seconds;  // n -> seconds per call

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The FMA peak, from BM_FmaPeak if it ran, else measured here (best of five).
double PeakGflops() {
  if (g_peak_gflops <= 0.0) g_peak_gflops = llmk::testing::MeasureFmaPeakGflops();
  return g_peak_gflops;
}

// 5·(4·m²·n + 2·m³) with m <= n.
double NewtonSchulzFlops(double rows, double cols) {
  const double m = rows < cols ? rows : cols;
  const double n = rows < cols ? cols : rows;
  return kSteps * (4.0 * m * m * n + 2.0 * m * m * m);
}

Matrix Input(int n) {
  llmk::testing::Rng rng(14);
  return llmk::testing::RandomMatrix(rng, n, n);
}

void BM_FmaPeak(benchmark::State& state) {
  if (!llmk::testing::CpuHasAvx2Fma()) {
    state.SkipWithError("this CPU has no AVX2 and FMA");
    return;
  }
  constexpr std::int64_t kChainSteps = std::int64_t{1} << 22;
  const Clock::time_point start = Clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(llmk::testing::FmaChains(kChainSteps, 1.0f));
  const double seconds = Seconds(start);
  const double flops = llmk::testing::kFmaChainFlopsPerStep * kChainSteps;
  g_peak_gflops = flops * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_NaiveNewtonSchulz(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const MatrixD g = Input(n).cast<double>();
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    MatrixD out = llmk::reference::optim::NewtonSchulz(g, kSteps);
    benchmark::DoNotOptimize(out.data());
  }
  g_naive_seconds[n] = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(NewtonSchulzFlops(n, n) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Whether NewtonSchulz runs at all: a stub throws llmk::NotImplemented, which would end
// the whole benchmark binary instead of this one benchmark. A 1 x 1 input is enough to ask.
bool Implemented() {
  try {
    benchmark::DoNotOptimize(llmk::optim::NewtonSchulz(Matrix::Ones(1, 1), 1).data());
    return true;
  } catch (const llmk::NotImplemented&) {
    return false;
  }
}

void BM_NewtonSchulz(benchmark::State& state) {
  if (!Implemented()) {
    state.SkipWithError("NewtonSchulz is not implemented yet (kata 14, step 7)");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  const Matrix g = Input(n);
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    Matrix out = llmk::optim::NewtonSchulz(g, kSteps);
    benchmark::DoNotOptimize(out.data());
  }
  const double seconds = Seconds(start) / static_cast<double>(state.iterations());
  const double flops = NewtonSchulzFlops(n, n);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (const double peak = PeakGflops(); peak > 0.0) {
    state.counters["peak"] = flops / seconds * 1e-9 / peak;
  }
  if (auto it = g_naive_seconds.find(n); it != g_naive_seconds.end()) {
    state.counters["x_naive"] = it->second / seconds;
  }
}

BENCHMARK(BM_FmaPeak)->UseRealTime();
BENCHMARK(BM_NaiveNewtonSchulz)
    ->ArgNames({"n"})
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NewtonSchulz)
    ->ArgNames({"n"})
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
