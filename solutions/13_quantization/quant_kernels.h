// The interface between the portable part of the solution (quantization.cc) and its AVX2
// kernel (quantization_avx2.cc, the only file compiled with -mavx2 -mfma).
//
// Plain data and plain functions only: the AVX2 file shares no inline function or
// template instance with the rest of the program (the linker keeps one copy of each, and
// an AVX2 copy would crash a CPU without AVX2). Validation and dispatch live in
// quantization.cc; these functions trust their arguments.
//
// M, K, N: the product [M, K]·[K, N]; K2 = K rounded up to even (pairs of k).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmk::quant::internal {

// Columns of one packed panel of b: two ymm registers of eight int32 sums.
inline constexpr int kPanelCols = 16;

// int16 values of the packed operands (zero padded: odd K, N past the last panel).
std::size_t PackedAValues(int m, int k);  // M·K2
std::size_t PackedBValues(int k, int n);  // panels·K2·16

// a [M, K] int8, row stride lda → int16 in blocks of 256 k values: block b is [M][width]
// (width = 256, or what is left of K2 in the last block), each row's pairs (k, k+1) adjacent.
void PackAInt16(const std::int8_t* a, std::ptrdiff_t lda, int m, int k, std::int16_t* packed);
// b [K, N] int8, row stride ldb → [panel][K2/2][16 columns][2] int16: for each pair of k,
// the 16 columns' (b(k, j), b(k+1, j)) side by side, as VPMADDWD multiplies them.
void PackBInt16(const std::int8_t* b, std::ptrdiff_t ldb, int k, int n, std::int16_t* packed);

// c [M, N] int32, row stride ldc = Σ_k a(i, k)·b(k, j) from the packed operands: VPMADDWD
// on sign-extended int16 (exact: a pair of products is at most 2·128² = 2^15 in magnitude)
// and VPADDD into int32 accumulators. Blocked over K so that a block of packed a stays in
// the L2 cache while each 16-column panel of b is swept over it.
void Int8MatMulAvx2(const std::int16_t* packed_a, const std::int16_t* packed_b, int m, int k, int n,
                    std::int32_t* c, std::ptrdiff_t ldc);

}  // namespace llmk::quant::internal
