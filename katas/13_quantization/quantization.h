// Kata 13: quantization. Symmetric int8, zero points, per-tensor / per-row / per-column /
// group-wise scales, int4 packed two to a byte, FP4 E2M1 with MXFP4 block scales, the int8
// matrix product accumulated in int32, fake quantization with the straight-through
// estimator, and the bytes of a 7B model in each format.
//
// The API of the kata. The stubs (katas/13_quantization/quantization.cc) and the solution
// (solutions/13_quantization/) implement this same header; the tests build against both.
// Read README.md beside this file for the derivation of every step.
//
//   float s = quant::SymmetricScale(x);                          // step 1: max|x| / 127
//   quant::Int8Matrix q = quant::QuantizeSymmetric(x, s);        //   round(x / s)
//   llmk::Matrix x_hat = quant::DequantizeSymmetric(q, s);       //   q · s
//   quant::AffineParams p = quant::AffineParamsFor(relu_out);    // step 2: scale, zero point
//   quant::Int8Quantized t =                                     // step 3
//       quant::QuantizeInt8(w, quant::Granularity::kPerGroup, 32);
//   quant::Int4Quantized w4 = quant::QuantizeInt4(w, 32);        // step 4: 2 values a byte
//   quant::Mxfp4Tensor f = quant::QuantizeMxfp4(w);              // step 5: E2M1, E8M0 scales
//   quant::Int32Matrix acc = quant::Int8MatMul(qa, qb);          // step 6: exact in int32
//   llmk::Matrix w_hat = quant::FakeQuantize(w, quant::QatFormat::kInt4);   // step 7
//   llmk::Matrix w = quant::TrainLogistic(task, w0, options);    //   through the rounding
//   std::int64_t b = quant::StorageBytes(7'000'000'000, quant::StorageFormat::kInt4, 128);
//
// R = rows, C = columns of the tensor being quantized; G = group size (values that share
// one scale, consecutive along a row); M, K, N = the matrix product [M, K]·[K, N].
//
// Layout. Groups, int4 pairs and MXFP4 blocks all run along a row, the contiguous
// direction of a row-major matrix. A "channel" in kPerColumn is a column: a feature of an
// activation [T, D], an output of a weight [D_in, D_out] (the layout x·W of every kata).
//
// Rounding. Every round() of this kata is round half to even (std::nearbyint in the
// default rounding mode): 2.5 → 2, 3.5 → 4, −2.5 → −2. FP4 rounds to the nearest of its
// values with ties to the even mantissa bit (step 5).
//
// Errors: an empty tensor, a NaN or infinite entry, a negative or non-finite scale, a
// group size that is not positive or does not divide the row, an odd number of values to
// pack, a code outside its range, shapes that do not fit, a product too deep for int32
// throw llmk::InvalidArgument whose message names the argument, what was expected and what
// was given. A tensor of zeros is not an error: its scale is 0 and it quantizes to zeros.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "llmk/core.h"
#include "qat_task.h"

namespace llmk::quant {

using Int8Matrix = Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Uint8Matrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Int32Matrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---------------------------------------------------------------------------------
// Step 1: symmetric absmax int8.

// The largest int8 code used by symmetric quantization: codes run over [−127, 127]
// (−128 is left out so that the range is symmetric and q = −q never overflows).
inline constexpr int kInt8Max = 127;

// s = max|x| / 127, or 0 when every entry is 0. x non-empty and finite.
float SymmetricScale(const MatrixRef& x);

// q = clamp(round(x / s), −127, 127), the division in float. s >= 0 and finite; s = 0
// only for a tensor of zeros, which gives zeros. x finite.
Int8Matrix QuantizeSymmetric(const MatrixRef& x, float scale);

// x̂ = q · s.
Matrix DequantizeSymmetric(const Int8Matrix& q, float scale);

// ---------------------------------------------------------------------------------
// Step 2: asymmetric (zero-point) uint8.

// x ≈ scale · (q − zero_point), q in [0, 255].
struct AffineParams {
  float scale = 0.0f;
  int zero_point = 0;
};

// The range is widened to hold 0: lo = min(min x, 0), hi = max(max x, 0);
// scale = (hi − lo) / 255, zero_point = clamp(round(−lo / scale), 0, 255); a tensor of
// zeros gives {0, 0}. x non-empty and finite.
AffineParams AffineParamsFor(const MatrixRef& x);

// q = clamp(round(x / scale) + zero_point, 0, 255). params.scale >= 0 and finite (0 only
// for zeros), zero_point in [0, 255]; x finite.
Uint8Matrix QuantizeAffine(const MatrixRef& x, const AffineParams& params);

// x̂ = scale · (q − zero_point).
Matrix DequantizeAffine(const Uint8Matrix& q, const AffineParams& params);

// How far a reconstruction is from the original, in double.
struct QuantError {
  double max_abs = 0.0;  // max |x − x̂|
  double rms = 0.0;      // √(mean (x − x̂)²)
};

// x and x_hat of the same non-empty shape.
QuantError ErrorOf(const MatrixRef& x, const MatrixRef& x_hat);

// ---------------------------------------------------------------------------------
// Step 3: which entries share a scale.

enum class Granularity {
  kPerTensor,  // one scale                                   scales [1, 1]
  kPerRow,     // one per row (per token of an activation)    scales [R, 1]
  kPerColumn,  // one per column (per channel)                scales [1, C]
  kPerGroup,   // one per G consecutive entries of a row      scales [R, C / G]
};

struct Int8Quantized {
  Int8Matrix q;   // [R, C], symmetric codes in [−127, 127]
  Matrix scales;  // shape by granularity, above; each = max|slice| / 127
  Granularity granularity = Granularity::kPerTensor;
  int group_size = 0;  // G for kPerGroup, 0 otherwise
};

// Symmetric int8 (step 1) with one scale per slice. group_size is used by kPerGroup only
// (> 0 and dividing C); the other granularities ignore it.
Int8Quantized QuantizeInt8(const MatrixRef& x, Granularity granularity, int group_size = 0);

// x̂(i, j) = q(i, j) · the scale of the slice holding (i, j).
Matrix DequantizeInt8(const Int8Quantized& t);

// ---------------------------------------------------------------------------------
// Step 4: int4, two values to a byte.

// Symmetric int4 codes run over [−7, 7]; −8 fits the nibble but is left out, as −128 is.
inline constexpr int kInt4Max = 7;

// Packs signed 4-bit values, each in [−8, 7], two to a byte: value 2i in the low nibble
// (bits 0-3) of byte i, value 2i + 1 in the high nibble (bits 4-7), each as its 4-bit
// two's complement. An even number of values (an odd count is an error, not padded).
std::vector<std::uint8_t> PackInt4(std::span<const std::int8_t> values);

// The inverse: 2·packed.size() values, each nibble sign-extended.
std::vector<std::int8_t> UnpackInt4(std::span<const std::uint8_t> packed);

struct Int4Quantized {
  int rows = 0;                      // R
  int cols = 0;                      // C, even
  int group_size = 0;                // G, dividing C
  std::vector<std::uint8_t> packed;  // R·C/2 bytes, row by row, PackInt4's nibble order
  Matrix scales;                     // [R, C / G], each = max|group| / 7
};

// Group-wise symmetric int4: q = clamp(round(x / s), −7, 7) with s = max|group| / 7.
// group_size > 0 dividing C, C even.
Int4Quantized QuantizeInt4(const MatrixRef& x, int group_size);

// x̂ = unpacked code · its group's scale, [R, C].
Matrix DequantizeInt4(const Int4Quantized& t);

// ---------------------------------------------------------------------------------
// Step 5: FP4 E2M1 with MXFP4 block scales.

// The value of a 4-bit E2M1 code: bit 3 sign, bits 2-1 exponent e (bias 1), bit 0
// mantissa m. e = 0: (−1)^s · m · 0.5 (subnormal: 0 and 0.5); e > 0: (−1)^s · 2^(e−1) ·
// (1 + m/2). Magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}; code 8 is −0. code < 16.
float Fp4Value(std::uint8_t code);

// The code of the E2M1 value nearest to v, ties to the code with an even mantissa bit;
// |v| > 6 saturates to ±6 (E2M1 has no infinity). The sign is kept (−0.1 → code 8, −0).
// v finite.
std::uint8_t Fp4Encode(float v);

// MXFP4: each block of 32 consecutive values of a row shares a scale 2^(E − 127) stored
// as its 8-bit exponent E (E8M0). For a block with largest magnitude a > 0,
// E − 127 = clamp(floor(log2 a) − 2, −127, 127) (2 is the exponent of E2M1's largest
// value, 6 = 1.5·2²), so a / 2^(E−127) lies in [4, 8) and values above 6 of the scale
// saturate. A block of zeros gets E = 0 (the scale 2^−127). Codes are Fp4Encode(x / scale).
inline constexpr int kMxBlock = 32;

struct Mxfp4Tensor {
  int rows = 0;                      // R
  int cols = 0;                      // C, a multiple of 32
  std::vector<std::uint8_t> codes;   // R·C E2M1 codes, row by row, one per byte here
                                     // (storage packs them two to a byte as in step 4)
  std::vector<std::uint8_t> scales;  // R·C/32 E8M0 exponents, row by row
};

// x [R, C], C a multiple of 32, finite.
Mxfp4Tensor QuantizeMxfp4(const MatrixRef& x);

// x̂ = Fp4Value(code) · 2^(E − 127), [R, C].
Matrix DequantizeMxfp4(const Mxfp4Tensor& t);

// ---------------------------------------------------------------------------------
// Step 6: the int8 matrix product.

// Which kernel runs Int8MatMul. kAuto picks the fastest the CPU supports (checked at run
// time); kScalar is plain C++; kAvx2 is the solution's AVX2 kernel and is rejected on a
// CPU without AVX2. A learner's implementation is scalar: it treats kAuto and kAvx2 as
// kScalar.
enum class Backend { kAuto, kScalar, kAvx2 };

// The deepest product whose int32 sums cannot overflow: K·128·128 <= 2^31 − 1.
inline constexpr int kMaxInt8Depth = 131071;

// acc(i, j) = Σ_k a(i, k)·b(k, j), every product and sum exact in int32.
// a [M, K], b [K, N], M, K, N >= 1, K <= kMaxInt8Depth.
Int32Matrix Int8MatMul(const Int8Matrix& a, const Int8Matrix& b, Backend backend = Backend::kAuto);

// The product of two quantized matrices, rescaled: c(i, j) = sa(i) · sb(j) · acc(i, j),
// sa the row scale of a (kPerTensor or kPerRow), sb the column scale of b (kPerTensor or
// kPerColumn). A scale that changes along K (a's kPerColumn or kPerGroup, b's kPerRow or
// kPerGroup) cannot be taken out of the sum and is rejected. [M, N].
Matrix QuantizedMatMul(const Int8Quantized& a, const Int8Quantized& b,
                       Backend backend = Backend::kAuto);

// ---------------------------------------------------------------------------------
// Step 7: quantization-aware training.

// The grid a weight is rounded to in training: int4 with one scale per row of 32
// (QuantizeInt4 with G = 32), or MXFP4 (blocks of 32).
enum class QatFormat { kInt4, kFp4 };

// ŵ = dequantize(quantize(w)): the forward pass of fake quantization. w [R, C], C a
// multiple of 32, finite.
Matrix FakeQuantize(const MatrixRef& w, QatFormat format);

// The straight-through estimator: ∂L/∂w = ∂L/∂ŵ where w is inside the grid's range and 0
// where it was clipped (int4: never, the absmax is on the grid; FP4: |w| > 6·scale of its
// block). w and d_w_hat [R, C] of FakeQuantize's shape.
Matrix FakeQuantizeBackward(const MatrixRef& w, const MatrixRef& d_w_hat, QatFormat format);

// A logistic classifier p(n) = σ(x(n)·wᵀ) trained on a LogisticTask (qat_task.h) by
// gradient descent on the mean binary cross-entropy, from w0 [1, D]. Each step t < steps:
//   ŵ = FakeQuantize(w) with options.fake_quant, else ŵ = w
//   p = σ(x·ŵᵀ)    dŵ = (p − y)ᵀ·x / N    dw = FakeQuantizeBackward(w, dŵ) or dŵ
//   w ← w − lr_t·dw,   lr_t = lr·(1 − t/steps) with options.decay, else lr
// Returns the latent w [1, D]; the deployed weight is FakeQuantize(w).
struct TrainOptions {
  int steps = 0;            // >= 0
  float lr = 0.0f;          // finite, >= 0
  bool decay = false;       // linear decay of the learning rate to 0
  bool fake_quant = false;  // quantization-aware: train through FakeQuantize
  QatFormat format = QatFormat::kInt4;
};
Matrix TrainLogistic(const LogisticTask& task, const MatrixRef& w0, const TrainOptions& options);

// The fraction of samples with (x(n)·wᵀ > 0) == (y(n) == 1). w [1, D].
double Accuracy(const LogisticTask& task, const MatrixRef& w);

// ---------------------------------------------------------------------------------
// Step 8: memory arithmetic.

enum class StorageFormat {
  kFp16,   // 2 bytes a weight, no scale
  kInt8,   // 1 byte a weight + one fp16 scale per group of G
  kInt4,   // ½ byte a weight + one fp16 scale per group of G
  kMxfp4,  // ½ byte a weight + one E8M0 byte per block of 32 (G must be 32)
};

// Bytes of `num_params` weights in `format`. num_params >= 1; for kInt8, kInt4 and kMxfp4
// group_size > 0 divides num_params (kMxfp4: group_size 32); kFp16 ignores group_size.
std::int64_t StorageBytes(std::int64_t num_params, StorageFormat format, int group_size);

}  // namespace llmk::quant
