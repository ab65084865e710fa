// This machine's single-core AVX2 integer dot-product peak, the yardstick of kata 13's
// int8 matrix product: the instruction pair that kernel runs, VPMADDWD (16 products of
// sign-extended int16 values, added in pairs into 8 int32) then VPADDD (into an int32
// accumulator), measured on operands in L1 with nothing else in the loop.
//
//   if (llmk::testing::CpuHasAvx2()) {
//     double peak = llmk::testing::MeasureInt8PeakGops();   // GOP/s, one core
//   }
#pragma once

#include <cstdint>

namespace llmk::testing {

// Whether this CPU runs AVX2 instructions.
bool CpuHasAvx2();

// Integer operations of one step of MaddChains: 12 accumulators, each one VPMADDWD (16
// multiplies, 8 adds) and one VPADDD (8 adds) = 16 multiply-adds, counted as 2 ops each,
// like a flop count: 12·16·2 = 384.
inline constexpr double kMaddChainOpsPerStep = 12 * 16 * 2;

// Runs `steps` steps of a 6 x 16 int32 tile accumulated from int16 operands kept in L1 (11
// KB): per step two loads of 16 columns' pairs, for each of 6 rows one broadcast of a pair,
// two VPMADDWD and two VPADDD into 12 accumulators. This is the int8 micro-kernel's own
// instruction sequence with no cache miss and no tail, so its rate is what that kernel can
// reach at best on this core (a loop of register-only VPMADDWD chains measured lower than
// the kernel itself here). Returns a sum of the accumulators, so that nothing is optimized
// away. Call only when CpuHasAvx2().
std::int32_t MaddChains(std::int64_t steps, std::int32_t seed);

// The best of five runs of 2^24 steps of MaddChains, in GOP/s (one core); 0 on a CPU
// without AVX2.
double MeasureInt8PeakGops();

}  // namespace llmk::testing
