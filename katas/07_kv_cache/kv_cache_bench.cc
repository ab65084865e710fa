// Benchmarks of kata 07: greedy generation with and without the KV cache on a small
// model (L = 2, D = 64, H = 4, Hkv = 2, F = 256, V = 256), a prompt of 8 tokens and
// n = 32 to 512 generated tokens. Counters:
//   tokens/s         generated tokens per second
//   token_forwards   token positions run through the model (uncached Σ(p + i), cached p + n - 1)
//   speedup          BM_Speedup only: measured time without the cache / time with it
//   theory           the ratio of token forwards, uncached / cached
//   ./kata bench 07        (or run build/katas/07_kv_cache/07_kv_cache_bench)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <vector>

#include "kv_cache.h"
#include "tiny_decoder.h"

namespace {

using llmk::kv_cache::Generation;

constexpr int kPrompt = 8;

const llmk::tiny::Decoder& BenchModel() {
  static const llmk::tiny::Decoder model = [] {
    llmk::tiny::DecoderConfig c;
    c.num_layers = 2;
    c.model_dim = 64;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.ffn_dim = 256;
    c.vocab_size = 256;
    c.max_seq_len = 640;
    return llmk::tiny::RandomDecoder(c, 1);
  }();
  return model;
}

const std::vector<int>& BenchPrompt() {
  static const std::vector<int> prompt = {1, 17, 42, 99, 7, 250, 3, 128};
  return prompt;
}

// Σ_{i=0}^{n-1} (p + i) / (p + n - 1)
double TheoryRatio(int n) {
  const double uncached = static_cast<double>(n) * kPrompt + 0.5 * n * (n - 1.0);
  return uncached / (kPrompt + n - 1.0);
}

template <typename Generate>
void RunGeneration(benchmark::State& state, Generate generate) {
  const int n = static_cast<int>(state.range(0));
  std::int64_t forwards = 0;
  try {
    for (auto _ : state) {
      Generation g = generate(BenchModel(), BenchPrompt(), n);
      forwards = g.token_forwards;
      benchmark::DoNotOptimize(g.tokens.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["token_forwards"] = static_cast<double>(forwards);
}

void BM_GenerateUncached(benchmark::State& state) {
  RunGeneration(state, llmk::kv_cache::GenerateUncached);
}

void BM_GenerateCached(benchmark::State& state) {
  RunGeneration(state, llmk::kv_cache::GenerateCached);
}

// Both generations in one iteration, timed separately: the measured speedup next to the
// theoretical ratio of token forwards.
void BM_Speedup(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const int n = static_cast<int>(state.range(0));
  double uncached_s = 0.0;
  double cached_s = 0.0;
  try {
    for (auto _ : state) {
      const Clock::time_point t0 = Clock::now();
      Generation u = llmk::kv_cache::GenerateUncached(BenchModel(), BenchPrompt(), n);
      const Clock::time_point t1 = Clock::now();
      Generation c = llmk::kv_cache::GenerateCached(BenchModel(), BenchPrompt(), n);
      const Clock::time_point t2 = Clock::now();
      benchmark::DoNotOptimize(u.tokens.data());
      benchmark::DoNotOptimize(c.tokens.data());
      uncached_s += std::chrono::duration<double>(t1 - t0).count();
      cached_s += std::chrono::duration<double>(t2 - t1).count();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["speedup"] = uncached_s / cached_s;
  state.counters["theory"] = TheoryRatio(n);
}

BENCHMARK(BM_GenerateUncached)->RangeMultiplier(2)->Range(32, 512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GenerateCached)->RangeMultiplier(2)->Range(32, 512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Speedup)->RangeMultiplier(2)->Range(32, 512)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
