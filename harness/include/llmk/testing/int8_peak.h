// This machine's single-core AVX2 integer dot-product peak, the yardstick of kata 13's
// int8 matrix product: the instruction pair that kernel runs, VPMADDWD (16 products of
// sign-extended int16 values, added in pairs into 8 int32) then VPADDD (into an int32
// accumulator), measured in a loop with nothing else in it.
//
//   if (llmk::testing::CpuHasAvx2()) {
//     double peak = llmk::testing::MeasureInt8PeakGops();   // GOP/s, one core
//   }
#pragma once

#include <cstdint>

namespace llmk::testing {

// Whether this CPU runs AVX2 instructions.
bool CpuHasAvx2();

// Integer operations of one step of MaddChains: 12 chains, each one VPMADDWD (16
// multiplies, 8 adds) and one VPADDD (8 adds) = 16 multiply-adds, counted as 2 ops each,
// like a flop count: 12·16·2 = 384.
inline constexpr double kMaddChainOpsPerStep = 12 * 16 * 2;

// Runs `steps` rounds of 12 independent chains c = c + madd(c, m) and returns a sum
// of them (so that nothing is optimized away). VPMADDWD has a latency of about
// 5 cycles and VPADDD 1: 12 chains in flight keep the two ports that start a VPMADDWD
// each cycle busy. Call only when CpuHasAvx2().
std::int32_t MaddChains(std::int64_t steps, std::int32_t seed);

// The best of five runs of 2^24 steps of MaddChains, in GOP/s (one core); 0 on a CPU
// without AVX2.
double MeasureInt8PeakGops();

}  // namespace llmk::testing
