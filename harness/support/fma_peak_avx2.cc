// The benchmarks' yardstick: this machine's single-core AVX2 FMA peak, measured in the
// same run as the kernels it judges. Compiled with -mavx2 -mfma (harness/CMakeLists.txt)
// and called only after the CPU says it has both. Nothing here but intrinsics, so no
// AVX2-compiled copy of a shared inline function can leak into the rest of the program.
#include <immintrin.h>

#include <cstdint>

#include "llmk/testing/fma_peak.h"

namespace llmk::testing {

// Runs `steps` rounds of 12 independent dependency chains a = a·m + c, eight floats
// wide: 12·8·2 = 192 flops per round. An FMA has a latency of 4 cycles and two ports
// start one each per cycle, so at least 8 chains are needed to keep both busy; 12
// leave room and still fit the 16 ymm registers with m and c.
float FmaChains(std::int64_t steps, float seed) {
  const __m256 m = _mm256_set1_ps(0.999999f);
  const __m256 c = _mm256_set1_ps(1e-6f);
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2);
  __m256 a3 = _mm256_set1_ps(seed + 3), a4 = _mm256_set1_ps(seed + 4),
         a5 = _mm256_set1_ps(seed + 5);
  __m256 a6 = _mm256_set1_ps(seed + 6), a7 = _mm256_set1_ps(seed + 7),
         a8 = _mm256_set1_ps(seed + 8);
  __m256 a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10);
  __m256 a11 = _mm256_set1_ps(seed + 11);
  for (std::int64_t i = 0; i < steps; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c);
    a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c);
    a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c);
    a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c);
    a10 = _mm256_fmadd_ps(a10, m, c);
    a11 = _mm256_fmadd_ps(a11, m, c);
  }
  const __m256 sum =
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                  _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                    _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

}  // namespace llmk::testing
