// Kata 06, step 12: weights from a .safetensors file.
//
//   absl::StatusOr<transformer::Model> model =
//       transformer::LoadSafetensorsModel("tiny.safetensors", config);
//   if (!model.ok()) { std::cerr << model.status() << "\n"; return 1; }
//   llmk::Matrix logits = transformer::DecoderOnlyForward({1, 2, 3}, *model);
//
// The file format (the subset this kata reads):
//
//   bytes 0..7     N, the length of the header: an unsigned 64-bit little-endian integer
//   bytes 8..8+N   the header: a JSON object, UTF-8, possibly padded with trailing spaces
//                  {"__metadata__": {"format": "pt"},                     (optional)
//                   "embed.weight": {"dtype": "F32", "shape": [6, 4],
//                                    "data_offsets": [0, 96]}, ...}
//   bytes 8+N..    the data buffer; a tensor's bytes are data_offsets [begin, end)
//                  counted from the start of the buffer, little-endian, row-major
//
// Supported dtypes: F32, F16 (IEEE half) and BF16 (bfloat16), converted to float32 on
// load. Shapes of rank 0 to 4 are read; a model's tensors are rank 1 (biases, norms) or
// rank 2 (matrices). The tensors must cover the data buffer exactly, without overlaps,
// gaps or trailing bytes, and each one's byte length must be its element count times
// the dtype's size.
//
// Parameter names: see "The parameter names" in README.md (e.g. embed.weight,
// layers.0.attn.q.weight, layers.0.ffn.up.bias, layers.0.norm1.weight,
// final_norm.weight; encoder.* and decoder.* in an encoder-decoder).
//
// Errors: a file that cannot be read returns NotFound; a file that does not parse
// (truncated, a header length past the end, bad JSON, offsets out of range or
// overlapping, an unknown dtype) returns InvalidArgument; a tensor the configuration
// needs and the file lacks returns NotFound; a tensor of the wrong shape, or one the
// configuration does not have, returns InvalidArgument. Every message about a tensor
// names it. An invalid configuration is the caller's error: it throws
// llmk::InvalidArgument as in transformer.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "transformer.h"

namespace llmk::transformer {

enum class DType { kF32, kF16, kBF16 };

// One tensor of a file, converted to float32.
struct Tensor {
  DType dtype = DType::kF32;   // as stored in the file
  std::vector<int64_t> shape;  // as in the header; [] is a scalar
  std::vector<float> data;     // row-major, product(shape) entries
};

using TensorMap = std::map<std::string, Tensor, std::less<>>;

// The float32 value of an IEEE 754 half-precision number given by its 16 bits
// (1 sign, 5 exponent, 10 fraction bits; subnormals, ±inf and NaN included).
float HalfToFloat(uint16_t bits);

// The float32 value of a bfloat16 given by its 16 bits (the top half of a float32).
float BFloat16ToFloat(uint16_t bits);

// Parses the bytes of a whole .safetensors file. "__metadata__" is skipped.
absl::StatusOr<TensorMap> ParseSafetensors(std::string_view bytes);

// Reads and parses a file; NotFound if it cannot be opened.
absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path);

// Builds the model of `config` from tensors named by the README's convention. Every
// tensor of the configuration must be present with its shape (a bias or a norm weight
// of width n is stored with shape [n]); no other tensor may be present.
absl::StatusOr<Model> ModelFromTensors(const TensorMap& tensors, const Config& config);

// ReadSafetensors, then ModelFromTensors.
absl::StatusOr<Model> LoadSafetensorsModel(const std::string& path, const Config& config);

}  // namespace llmk::transformer
