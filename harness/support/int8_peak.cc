#include "llmk/testing/int8_peak.h"

#include <algorithm>
#include <chrono>

namespace llmk::testing {

bool CpuHasAvx2() { return __builtin_cpu_supports("avx2"); }

double MeasureInt8PeakGops() {
  if (!CpuHasAvx2()) return 0.0;
  constexpr std::int64_t kSteps = std::int64_t{1} << 24;
  double best = 0.0;
  volatile std::int32_t sink = 0;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + MaddChains(kSteps, 1);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, kMaddChainOpsPerStep * kSteps / seconds * 1e-9);
  }
  return best;
}

}  // namespace llmk::testing
