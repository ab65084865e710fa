// Reference oracles for kata 13 (quantization): plain loops, written to be read, not to be
// fast. Scales and reconstructions in double; the integer product in int64 (no overflow is
// possible at any K the kata accepts); FP4 rounding by searching all sixteen codes, not by
// comparing with the midpoints the kata derives. The naive float product is the
// benchmark's baseline.
//
// R, C = rows and columns of a tensor; G = group size along a row; M, K, N = the product
// [M, K]·[K, N].
#pragma once

#include <cstdint>

#include "llmk/core.h"

namespace llmk::reference::quant {

using Int8MatrixR = Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Int64Matrix = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Symmetric round trip with one scale per group of G consecutive entries of a row:
// s = max|group| / qmax (in double), x̂ = s · clamp(round_half_even(x / s), −qmax, qmax);
// a zero group gives zeros. G divides C.
MatrixD SymmetricRoundTrip(const MatrixD& x, int qmax, int group_size);

// The value of E2M1 code c (0..15) from the bit fields, in double.
double Fp4CodeValue(int code);

// The E2M1 value nearest to v among all sixteen codes; on a tie the code whose mantissa
// bit is 0. Values above 6 in magnitude land on ±6 (the nearest code).
double Fp4Nearest(double v);

// MXFP4 round trip along rows (blocks of 32): X = 2^(floor(log2 max|block|) − 2), clamped
// to [2^−127, 2^127]; x̂ = X · Fp4Nearest(x / X). A zero block gives zeros.
MatrixD Mxfp4RoundTrip(const MatrixD& x);

// Σ_k a(i, k)·b(k, j) in int64.   a [M, K], b [K, N]
Int64Matrix Int8MatMul(const Int8MatrixR& a, const Int8MatrixR& b);

// The naive float product: c(i, j) = Σ_k a(i, k)·b(k, j), three loops in i, j, k order, a
// float accumulator. The benchmark's baseline.
Matrix NaiveMatMulFloat(const Matrix& a, const Matrix& b);

}  // namespace llmk::reference::quant
