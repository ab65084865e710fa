// Benchmarks of kata 13: your int8 matrix product against the naive float triple loop of
// the reference and against this machine's integer dot-product peak, all in one run.
//   ./kata bench 13      (or run build/katas/13_quantization/13_quantization_bench)
//
// Runs in this order, because the later counters use the earlier measurements:
//   BM_Int8Peak               the int8 micro-kernel's instruction sequence on operands in L1
//                             (llmk/testing/int8_peak.h): the single-core peak, GOP/s
//   BM_NaiveFloatMatMul/n     reference::quant::NaiveMatMulFloat, [n, n]·[n, n] in float
//   BM_Int8MatMul/n           Int8MatMul, Backend::kAuto
//   BM_Int8MatMulScalar/n     Int8MatMul, Backend::kScalar
// Counters of the int8 benchmarks:
//   GOP/s     2·n³ integer operations (a multiply and an add per term) per second
//   peak      GOP/s over the BM_Int8Peak figure: the fraction of the integer peak. The peak
//             loop runs the solution kernel's own sequence (broadcast, VPMADDWD on
//             sign-extended int16, VPADDD) with every operand in L1, so 1.0 is that kernel
//             without a cache miss, a packing pass or a tail.
//   x_naive   the naive float product's time at the same n over this benchmark's time
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <map>

#include "llmk/testing/int8_peak.h"
#include "llmk/testing/random.h"
#include "quantization.h"
#include "quantization_ref.h"

namespace {

using llmk::Matrix;
using llmk::quant::Backend;
using llmk::quant::Int8Matrix;
using Clock = std::chrono::steady_clock;

double g_peak_gops = 0.0;
std::map<int, double> g_naive_seconds;  // n -> s

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double PeakGops() {
  if (g_peak_gops <= 0.0) g_peak_gops = llmk::testing::MeasureInt8PeakGops();
  return g_peak_gops;
}

Int8Matrix RandomInt8(llmk::Rng& rng, int rows, int cols) {
  Int8Matrix m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      m(i, j) = static_cast<std::int8_t>(static_cast<int>(rng.Below(255)) - 127);
    }
  }
  return m;
}

void BM_Int8Peak(benchmark::State& state) {
  if (!llmk::testing::CpuHasAvx2()) {
    state.SkipWithError("this CPU has no AVX2");
    return;
  }
  constexpr std::int64_t kSteps = std::int64_t{1} << 22;
  const Clock::time_point start = Clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(llmk::testing::MaddChains(kSteps, 1));
  g_peak_gops = llmk::testing::kMaddChainOpsPerStep * kSteps *
                static_cast<double>(state.iterations()) / Seconds(start) * 1e-9;
  state.counters["GOP/s"] = benchmark::Counter(llmk::testing::kMaddChainOpsPerStep * kSteps * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void BM_NaiveFloatMatMul(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  llmk::Rng rng(1);
  const Matrix a = llmk::testing::RandomMatrix(rng, n, n);
  const Matrix b = llmk::testing::RandomMatrix(rng, n, n);
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    Matrix c = llmk::reference::quant::NaiveMatMulFloat(a, b);
    benchmark::DoNotOptimize(c.data());
  }
  g_naive_seconds[n] = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// A stub throws llmk::NotImplemented, which would end the whole binary instead of this one
// benchmark; a 1x1 product is enough to ask.
bool Implemented() {
  try {
    benchmark::DoNotOptimize(
        llmk::quant::Int8MatMul(Int8Matrix::Ones(1, 1), Int8Matrix::Ones(1, 1)).data());
    return true;
  } catch (const llmk::NotImplemented&) {
    return false;
  }
}

void Int8Benchmark(benchmark::State& state, Backend backend) {
  if (!Implemented()) {
    state.SkipWithError("Int8MatMul is not implemented yet (kata 13, step 6)");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  llmk::Rng rng(2);
  const Int8Matrix a = RandomInt8(rng, n, n);
  const Int8Matrix b = RandomInt8(rng, n, n);
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    llmk::quant::Int32Matrix c = llmk::quant::Int8MatMul(a, b, backend);
    benchmark::DoNotOptimize(c.data());
  }
  const double seconds = Seconds(start) / static_cast<double>(state.iterations());
  const double ops = 2.0 * n * n * n;
  state.counters["GOP/s"] =
      benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (const double peak = PeakGops(); peak > 0.0)
    state.counters["peak"] = ops / seconds * 1e-9 / peak;
  if (auto it = g_naive_seconds.find(n); it != g_naive_seconds.end()) {
    state.counters["x_naive"] = it->second / seconds;
  }
}

void BM_Int8MatMul(benchmark::State& state) { Int8Benchmark(state, Backend::kAuto); }
void BM_Int8MatMulScalar(benchmark::State& state) { Int8Benchmark(state, Backend::kScalar); }

BENCHMARK(BM_Int8Peak)->UseRealTime();
BENCHMARK(BM_NaiveFloatMatMul)
    ->ArgName("n")
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Int8MatMul)
    ->ArgName("n")
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Int8MatMulScalar)
    ->ArgName("n")
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
