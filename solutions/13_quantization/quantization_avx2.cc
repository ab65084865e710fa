// The solution's AVX2 int8 matrix product (README, step 6, "The solution's kernel").
// Compiled with -mavx2 -mfma and called only after the CPU says it has AVX2.
//
// Both operands are first widened to int16 (quant_kernels.h describes the packing); the
// micro-kernel then computes a 6 x 16 tile of c: per pair of k, one broadcast of
// (a(i, k), a(i, k+1)) for each of the 6 rows, two loads of the panel's 16 columns, and
// VPMADDWD, which multiplies 16 int16 pairs and adds each pair into an int32, then VPADDD
// into the 12 accumulators (6 rows x 2 registers of 8 columns). 12 accumulators, 2 b
// registers and 1 broadcast fit the 16 ymm registers.
//
// Why int16 and not VPMADDUBSW on the int8 bytes directly: VPMADDUBSW multiplies an
// unsigned by a signed byte and adds pairs with int16 saturation (127·255·2 overflows
// int16), so it needs the sign trick and can still saturate; VPMADDWD on sign-extended
// values is exact for every int8 input, which is what step 6 promises.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "quant_kernels.h"

namespace llmk::quant::internal {
namespace {

constexpr int kTileRows = 6;
// k values of one block of the K loop: a block of packed a (M·256 int16, 512 KB at
// M = 1024) stays in L2 while each panel of b (16·256 int16, 8 KB) sits in L1.
constexpr int kBlockK = 256;

int RoundUpEven(int k) { return k + (k & 1); }

// c[0..R) x [0..cols) (+)= the tile's sums over `pairs` pairs of k.
//   a: the first row's first pair; lda: int16 stride between rows of packed a
//   b: this panel's first pair (32 int16 per pair)
template <int R>
void MicroKernel(const std::int16_t* a, std::ptrdiff_t lda, const std::int16_t* b, int pairs,
                 std::int32_t* c, std::ptrdiff_t ldc, int cols, bool accumulate) {
  __m256i acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm256_setzero_si256();
    acc[r][1] = _mm256_setzero_si256();
  }
  for (int p = 0; p < pairs; ++p) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * p));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * p + 16));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      std::int32_t pair;
      __builtin_memcpy(&pair, a + r * lda + 2 * p, sizeof(pair));
      const __m256i av = _mm256_set1_epi32(pair);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < R; ++r) {
    std::int32_t* row = c + r * ldc;
    if (cols == kPanelCols) {
      __m256i* lo = reinterpret_cast<__m256i*>(row);
      __m256i* hi = reinterpret_cast<__m256i*>(row + 8);
      if (accumulate) {
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_loadu_si256(lo));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_loadu_si256(hi));
      }
      _mm256_storeu_si256(lo, acc[r][0]);
      _mm256_storeu_si256(hi, acc[r][1]);
    } else {
      // Scalar tail: the last panel's columns past N are never written.
      alignas(32) std::int32_t lanes[kPanelCols];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[r][0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), acc[r][1]);
      for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + lanes[j] : lanes[j];
    }
  }
}

void Tile(int rows, const std::int16_t* a, std::ptrdiff_t lda, const std::int16_t* b, int pairs,
          std::int32_t* c, std::ptrdiff_t ldc, int cols, bool accumulate) {
  switch (rows) {
    case 6:
      MicroKernel<6>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
    case 5:
      MicroKernel<5>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
    case 4:
      MicroKernel<4>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
    case 3:
      MicroKernel<3>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
    case 2:
      MicroKernel<2>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
    default:
      MicroKernel<1>(a, lda, b, pairs, c, ldc, cols, accumulate);
      break;
  }
}

}  // namespace

std::size_t PackedAValues(int m, int k) {
  return static_cast<std::size_t>(m) * static_cast<std::size_t>(RoundUpEven(k));
}

std::size_t PackedBValues(int k, int n) {
  const std::size_t panels = static_cast<std::size_t>((n + kPanelCols - 1) / kPanelCols);
  return panels * static_cast<std::size_t>(RoundUpEven(k)) * kPanelCols;
}

void PackAInt16(const std::int8_t* a, std::ptrdiff_t lda, int m, int k, std::int16_t* packed) {
  const int k2 = RoundUpEven(k);
  // Block by block of kBlockK k values: block kb is [M][width] at offset M·kb, contiguous, so
  // that the block the kernel sweeps over is one run of memory (pages and prefetch).
  for (int kb = 0; kb < k2; kb += kBlockK) {
    const int width = kb + kBlockK <= k2 ? kBlockK : k2 - kb;
    std::int16_t* block = packed + static_cast<std::ptrdiff_t>(m) * kb;
    for (int i = 0; i < m; ++i) {
      std::int16_t* out = block + static_cast<std::ptrdiff_t>(i) * width;
      for (int kk = 0; kk < width; ++kk) {
        out[kk] = kb + kk < k ? a[i * lda + kb + kk] : std::int16_t{0};  // odd K: pad with 0
      }
    }
  }
}

void PackBInt16(const std::int8_t* b, std::ptrdiff_t ldb, int k, int n, std::int16_t* packed) {
  const int k2 = RoundUpEven(k);
  const int panels = (n + kPanelCols - 1) / kPanelCols;
  for (int p = 0; p < panels; ++p) {
    std::int16_t* panel = packed + static_cast<std::ptrdiff_t>(p) * k2 * kPanelCols;
    for (int kk = 0; kk < k2; ++kk) {
      for (int j = 0; j < kPanelCols; ++j) {
        const int col = p * kPanelCols + j;
        const bool inside = kk < k && col < n;
        panel[(kk / 2) * 2 * kPanelCols + 2 * j + (kk & 1)] =
            inside ? b[kk * ldb + col] : std::int16_t{0};
      }
    }
  }
}

void Int8MatMulAvx2(const std::int16_t* packed_a, const std::int16_t* packed_b, int m, int k, int n,
                    std::int32_t* c, std::ptrdiff_t ldc) {
  const int k2 = RoundUpEven(k);
  const int panels = (n + kPanelCols - 1) / kPanelCols;
  for (int kb = 0; kb < k2; kb += kBlockK) {
    const int width = kb + kBlockK <= k2 ? kBlockK : k2 - kb;
    const int pairs = width / 2;
    const std::int16_t* a_block = packed_a + static_cast<std::ptrdiff_t>(m) * kb;
    for (int p = 0; p < panels; ++p) {
      const std::int16_t* b =
          packed_b + static_cast<std::ptrdiff_t>(p) * k2 * kPanelCols + kb * kPanelCols;
      const int cols = n - p * kPanelCols < kPanelCols ? n - p * kPanelCols : kPanelCols;
      for (int i = 0; i < m; i += kTileRows) {
        const int rows = m - i < kTileRows ? m - i : kTileRows;
        Tile(rows, a_block + static_cast<std::ptrdiff_t>(i) * width, width, b, pairs,
             c + i * ldc + p * kPanelCols, ldc, cols, kb > 0);
      }
    }
  }
}

}  // namespace llmk::quant::internal
