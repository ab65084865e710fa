// Your implementation of quantization.h. Replace each `throw llmk::NotImplemented(...)` with
// the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 13` after each change.
//
// Validate inputs first: an empty tensor, a NaN or an infinity, a group size that does not
// divide the row, an odd count to pack throw llmk::InvalidArgument naming the argument, the
// expected and the given value (llmk::Require and llmk::RequireShape in llmk/core.h build
// such messages). Round with std::nearbyint (half to even), never std::round.
#include "quantization.h"

namespace llmk::quant {

// Step 1: max|x| / 127 (0 for zeros).
float SymmetricScale(const MatrixRef& x) { throw NotImplemented("SymmetricScale"); }

// Step 1: clamp(round(x / s), −127, 127).
Int8Matrix QuantizeSymmetric(const MatrixRef& x, float scale) {
  throw NotImplemented("QuantizeSymmetric");
}

// Step 1: q · s.
Matrix DequantizeSymmetric(const Int8Matrix& q, float scale) {
  throw NotImplemented("DequantizeSymmetric");
}

// Step 2: the range widened to hold 0, split into 255 steps.
AffineParams AffineParamsFor(const MatrixRef& x) { throw NotImplemented("AffineParamsFor"); }

// Step 2: clamp(round(x / s) + z, 0, 255).
Uint8Matrix QuantizeAffine(const MatrixRef& x, const AffineParams& params) {
  throw NotImplemented("QuantizeAffine");
}

// Step 2: s · (q − z).
Matrix DequantizeAffine(const Uint8Matrix& q, const AffineParams& params) {
  throw NotImplemented("DequantizeAffine");
}

// Step 2: max |x − x̂| and the root mean square, in double.
QuantError ErrorOf(const MatrixRef& x, const MatrixRef& x_hat) { throw NotImplemented("ErrorOf"); }

// Step 3: one scale per tensor, row, column or group of a row.
Int8Quantized QuantizeInt8(const MatrixRef& x, Granularity granularity, int group_size) {
  throw NotImplemented("QuantizeInt8");
}

// Step 3: each code times its slice's scale.
Matrix DequantizeInt8(const Int8Quantized& t) { throw NotImplemented("DequantizeInt8"); }

// Step 4: value 2i in the low nibble, 2i + 1 in the high one.
std::vector<std::uint8_t> PackInt4(std::span<const std::int8_t> values) {
  throw NotImplemented("PackInt4");
}

// Step 4: the nibbles back, sign-extended.
std::vector<std::int8_t> UnpackInt4(std::span<const std::uint8_t> packed) {
  throw NotImplemented("UnpackInt4");
}

// Step 4: max|group| / 7, codes in [−7, 7], packed.
Int4Quantized QuantizeInt4(const MatrixRef& x, int group_size) {
  throw NotImplemented("QuantizeInt4");
}

// Step 4: unpack, times the group's scale.
Matrix DequantizeInt4(const Int4Quantized& t) { throw NotImplemented("DequantizeInt4"); }

// Step 5: sign, exponent, mantissa.
float Fp4Value(std::uint8_t code) { throw NotImplemented("Fp4Value"); }

// Step 5: the nearest value, ties to an even mantissa, saturating at 6.
std::uint8_t Fp4Encode(float v) { throw NotImplemented("Fp4Encode"); }

// Step 5: a power-of-two scale per block of 32, then Fp4Encode.
Mxfp4Tensor QuantizeMxfp4(const MatrixRef& x) { throw NotImplemented("QuantizeMxfp4"); }

// Step 5: Fp4Value(code) · 2^(E − 127).
Matrix DequantizeMxfp4(const Mxfp4Tensor& t) { throw NotImplemented("DequantizeMxfp4"); }

// Step 6: int32 sums of int8 products.
Int32Matrix Int8MatMul(const Int8Matrix& a, const Int8Matrix& b, Backend backend) {
  throw NotImplemented("Int8MatMul");
}

// Step 6: the integer product, then sa(i) · sb(j).
Matrix QuantizedMatMul(const Int8Quantized& a, const Int8Quantized& b, Backend backend) {
  throw NotImplemented("QuantizedMatMul");
}

// Step 7: quantize, then dequantize.
Matrix FakeQuantize(const MatrixRef& w, QatFormat format) { throw NotImplemented("FakeQuantize"); }

// Step 7: the gradient straight through, 0 where the forward pass clipped.
Matrix FakeQuantizeBackward(const MatrixRef& w, const MatrixRef& d_w_hat, QatFormat format) {
  throw NotImplemented("FakeQuantizeBackward");
}

// Step 7: gradient descent, forward through FakeQuantize, backward through the STE.
Matrix TrainLogistic(const LogisticTask& task, const MatrixRef& w0, const TrainOptions& options) {
  throw NotImplemented("TrainLogistic");
}

// Step 7: the fraction of samples classified right.
double Accuracy(const LogisticTask& task, const MatrixRef& w) { throw NotImplemented("Accuracy"); }

// Step 8: bytes of the codes plus bytes of the scales.
std::int64_t StorageBytes(std::int64_t num_params, StorageFormat format, int group_size) {
  throw NotImplemented("StorageBytes");
}

}  // namespace llmk::quant
