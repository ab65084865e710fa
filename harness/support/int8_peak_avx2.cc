// The int8 benchmark's yardstick: the instruction sequence of kata 13's int8 micro-kernel
// (broadcast, VPMADDWD, VPADDD) on operands that sit in L1, measured in the same run as the
// kernel it judges. Compiled with -mavx2 -mfma (harness/CMakeLists.txt) and called
// only after the CPU says it has AVX2. Nothing here but intrinsics, so no AVX2-compiled
// copy of a shared inline function can leak into the rest of the program.
#include <immintrin.h>

#include <cstdint>

#include "llmk/testing/int8_peak.h"

namespace llmk::testing {

std::int32_t MaddChains(std::int64_t steps, std::int32_t seed) {
  // Operands in L1: 6 rows of 256 int16 (a) and 128 pairs of 16 columns (b), 11 KB.
  alignas(32) static thread_local std::int16_t a[6 * 256];
  alignas(32) static thread_local std::int16_t b[128 * 32];
  for (int i = 0; i < 6 * 256; ++i) a[i] = static_cast<std::int16_t>((seed + i) % 97 - 48);
  for (int i = 0; i < 128 * 32; ++i) b[i] = static_cast<std::int16_t>((seed + 3 * i) % 89 - 44);
  __m256i c[12];
  for (__m256i& acc : c) acc = _mm256_setzero_si256();
  for (std::int64_t step = 0; step < steps; ++step) {
    const int p = static_cast<int>(step & 127);
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32 * p));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32 * p + 16));
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) {
      std::int32_t pair;
      __builtin_memcpy(&pair, a + r * 256 + 2 * p, sizeof(pair));
      const __m256i av = _mm256_set1_epi32(pair);
      c[2 * r] = _mm256_add_epi32(c[2 * r], _mm256_madd_epi16(av, b0));
      c[2 * r + 1] = _mm256_add_epi32(c[2 * r + 1], _mm256_madd_epi16(av, b1));
    }
  }
  __m256i sum = c[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_epi32(sum, c[i]);
  alignas(32) std::int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  std::int32_t total = 0;
  for (std::int32_t v : lanes) total += v;
  return total;
}

}  // namespace llmk::testing
