// Benchmarks of kata 16: plain sampling from the target against your speculative sampling
// (draft and target of README "The provided models", γ = 4), 256 new tokens after an
// 8-token prompt, all measured in one run.
//   ./kata bench 16      (or run build/katas/16_speculative_decoding/16_speculative_decoding_bench)
//
// Runs in this order, because the later counters use the earlier measurements:
//   BM_DraftGeneration        plain sampling from the draft alone: one draft pass per token
//   BM_PlainGeneration        plain sampling from the target: one target pass per token (the
//                             baseline of the kata's threshold)
//   BM_SpeculativeGeneration  GenerateSpeculative(draft, target, prompt, 256, 4, kSample)
// Counters:
//   tokens/s         generated tokens per second
//   acceptance       (speculative) accepted / proposed drafts of the last run: α measured
//   tokens_per_pass  (speculative) 256 / target passes: E of Step 4, measured
//   cost_ratio       (speculative) draft time per token / target time per token: c measured
//   model_speedup    (speculative) SpeedupModel(acceptance, 4, cost_ratio): what Step 4 predicts
//   speedup          (speculative) plain time / speculative time, both measured in this run
// Times are wall-clock (UseRealTime).
#include <benchmark/benchmark.h>

#include <chrono>
#include <exception>
#include <vector>

#include "speculative.h"
#include "tiny_lm.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTokens = 256;
constexpr int kGamma = 4;

// The last measurement of each yardstick in this run, seconds per call.
double g_draft_seconds = 0.0;
double g_plain_seconds = 0.0;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// README, "The provided models": one layer of width D = 512 (F = 1024) shared by both, then
// five layers of feed-forward width 2048 whose outputs are scaled by 0.04 in the target.
llmk::tiny_lm::Config DraftConfig() {
  llmk::tiny_lm::Config c;
  c.vocab_size = 256;
  c.model_dim = 512;
  c.num_heads = 8;
  c.ffn_dim = 1024;
  c.num_layers = 1;
  c.max_seq_len = 288;
  c.logit_std = 2.0f;
  return c;
}

const llmk::tiny_lm::Model& Draft() {
  static const llmk::tiny_lm::Model model = llmk::tiny_lm::RandomModel(DraftConfig(), 16);
  return model;
}

const llmk::tiny_lm::Model& Target() {
  static const llmk::tiny_lm::Model model =
      llmk::tiny_lm::ExtendModel(Draft(), /*extra_layers=*/5, /*extra_ffn_dim=*/2048,
                                 /*correction=*/0.04f, /*seed=*/61);
  return model;
}

const std::vector<int>& Prompt() {
  static const std::vector<int> prompt = {1, 17, 42, 99, 7, 250, 3, 128};
  return prompt;
}

void Plain(benchmark::State& state, const llmk::tiny_lm::Model& model, double* seconds) {
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    llmk::Rng rng(2026);
    std::vector<int> out = llmk::tiny_lm::Generate(model, Prompt(), kTokens, false, rng);
    benchmark::DoNotOptimize(out.data());
  }
  *seconds = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["tokens/s"] =
      benchmark::Counter(kTokens, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DraftGeneration(benchmark::State& state) { Plain(state, Draft(), &g_draft_seconds); }

void BM_PlainGeneration(benchmark::State& state) { Plain(state, Target(), &g_plain_seconds); }

void BM_SpeculativeGeneration(benchmark::State& state) {
  llmk::spec::Generation g;
  const Clock::time_point start = Clock::now();
  try {
    for (auto _ : state) {
      llmk::Rng rng(2026);
      g = llmk::spec::GenerateSpeculative(Draft(), Target(), Prompt(), kTokens, kGamma,
                                          llmk::spec::Mode::kSample, rng);
      benchmark::DoNotOptimize(g.tokens.data());
    }
  } catch (const std::exception& e) {
    // A stub throws llmk::NotImplemented: report it for this benchmark, not the binary.
    state.SkipWithError(e.what());
    return;
  }
  const double seconds = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["tokens/s"] =
      benchmark::Counter(kTokens, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["acceptance"] = g.acceptance_rate();
  state.counters["tokens_per_pass"] = static_cast<double>(kTokens) / g.target_passes;
  if (g_draft_seconds > 0.0 && g_plain_seconds > 0.0) {
    const double c = g_draft_seconds / g_plain_seconds;
    state.counters["cost_ratio"] = c;
    try {
      state.counters["model_speedup"] =
          llmk::spec::SpeedupModel(g.acceptance_rate(), kGamma, c);
    } catch (const std::exception&) {
      // SpeedupModel (Step 4) is not written yet; the measured figures stand alone.
    }
  }
  if (g_plain_seconds > 0.0) state.counters["speedup"] = g_plain_seconds / seconds;
}

BENCHMARK(BM_DraftGeneration)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlainGeneration)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SpeculativeGeneration)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
