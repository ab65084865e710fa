#include "llmk/testing/fma_peak.h"

#include <algorithm>
#include <chrono>

namespace llmk::testing {

bool CpuHasAvx2Fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

double MeasureFmaPeakGflops() {
  if (!CpuHasAvx2Fma()) return 0.0;
  constexpr std::int64_t kSteps = std::int64_t{1} << 24;
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + FmaChains(kSteps, 1.0f);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, kFmaChainFlopsPerStep * kSteps / seconds * 1e-9);
  }
  return best;
}

}  // namespace llmk::testing
