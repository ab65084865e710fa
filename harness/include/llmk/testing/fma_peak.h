// This machine's single-core AVX2 FMA peak, the yardstick of the benchmarks that grade a
// kernel against the hardware (kata 09's flash attention, kata 14's Newton–Schulz).
//
//   if (llmk::testing::CpuHasAvx2Fma()) {
//     double peak = llmk::testing::MeasureFmaPeakGflops();   // float GFLOP/s, one core
//   }
#pragma once

#include <cstdint>

namespace llmk::testing {

// Whether this CPU runs AVX2 and FMA instructions.
bool CpuHasAvx2Fma();

// Flops of one step of FmaChains: 12 chains, 8 floats wide, 2 flops per FMA.
inline constexpr double kFmaChainFlopsPerStep = 12 * 8 * 2;

// Runs `steps` rounds of 12 independent dependency chains a = a·m + c, eight floats wide,
// and returns a sum of the results (so that nothing is optimized away). An FMA has a
// latency of 4 cycles and two ports start one each per cycle, so at least 8 chains keep
// both busy; 12 leave room and fit the 16 ymm registers with m and c.
// Call only when CpuHasAvx2Fma().
float FmaChains(std::int64_t steps, float seed);

// The best of five runs of 2^24 steps of FmaChains, in GFLOP/s (single precision, one
// core); 0 on a CPU without AVX2 and FMA.
double MeasureFmaPeakGflops();

}  // namespace llmk::testing
