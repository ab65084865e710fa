// The int8 benchmark's yardstick: VPMADDWD + VPADDD at full rate, measured in the same run
// as the kernel it judges. Compiled with -mavx2 -mfma (harness/CMakeLists.txt) and called
// only after the CPU says it has AVX2. Nothing here but intrinsics, so no AVX2-compiled
// copy of a shared inline function can leak into the rest of the program.
#include <immintrin.h>

#include <cstdint>

#include "llmk/testing/int8_peak.h"

namespace llmk::testing {

std::int32_t MaddChains(std::int64_t steps, std::int32_t seed) {
  // Chain i: c_i = c_i + madd(c_i, m). Each chain waits for its own VPMADDWD (about 5
  // cycles) and VPADDD (1), so 12 chains in flight cover the latency of the two ports
  // that start a VPMADDWD each cycle. Wrapping int32 arithmetic is well defined here.
  const __m256i m = _mm256_set1_epi16(3);
  __m256i c0 = _mm256_set1_epi32(seed), c1 = _mm256_set1_epi32(seed + 1);
  __m256i c2 = _mm256_set1_epi32(seed + 2), c3 = _mm256_set1_epi32(seed + 3);
  __m256i c4 = _mm256_set1_epi32(seed + 4), c5 = _mm256_set1_epi32(seed + 5);
  __m256i c6 = _mm256_set1_epi32(seed + 6), c7 = _mm256_set1_epi32(seed + 7);
  __m256i c8 = _mm256_set1_epi32(seed + 8), c9 = _mm256_set1_epi32(seed + 9);
  __m256i c10 = _mm256_set1_epi32(seed + 10), c11 = _mm256_set1_epi32(seed + 11);
  for (std::int64_t i = 0; i < steps; ++i) {
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(c0, m));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(c1, m));
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(c2, m));
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(c3, m));
    c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(c4, m));
    c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(c5, m));
    c6 = _mm256_add_epi32(c6, _mm256_madd_epi16(c6, m));
    c7 = _mm256_add_epi32(c7, _mm256_madd_epi16(c7, m));
    c8 = _mm256_add_epi32(c8, _mm256_madd_epi16(c8, m));
    c9 = _mm256_add_epi32(c9, _mm256_madd_epi16(c9, m));
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(c10, m));
    c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(c11, m));
  }
  const __m256i sum = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                       _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7))),
      _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11)));
  alignas(32) std::int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  std::int32_t total = 0;
  for (std::int32_t v : lanes) total += v;
  return total;
}

}  // namespace llmk::testing
