// Fuzz target: ParseSafetensors of kata 06 (solutions/06_transformer/safetensors.cc) on
// arbitrary bytes.
//
// Either an InvalidArgument status with a message, or a TensorMap in which
//   - no tensor is named "__metadata__"; every shape has rank 0 to 4, no negative
//     dimension, and data holds product(shape) floats;
//   - the tensors tile the data buffer (the bytes after the 8-byte length and the
//     header): the sum of element count x dtype size is exactly the buffer's length;
//   - every F32 and BF16 tensor's bytes, written back, occur inside the data buffer
//     (so the values come from the file and not from outside it).
// Nothing may throw.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "check.h"
#include "safetensors.h"

namespace {

using llmk::transformer::DType;
using llmk::transformer::Tensor;

std::size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

// The tensor's values in its file encoding, or empty when that is not recoverable
// from float32 (F16, or a NaN whose payload may not survive).
std::string Encoded(const Tensor& t) {
  std::string bytes;
  if (t.dtype == DType::kF16) return bytes;
  for (float x : t.data) {
    if (std::isnan(x)) return {};
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if (t.dtype == DType::kF32) {
      bytes.append(reinterpret_cast<const char*>(&bits), 4);
    } else {
      FUZZ_CHECK((bits & 0xffff) == 0, "a BF16 value {} has low bits set", x);
      const std::uint16_t top = static_cast<std::uint16_t>(bits >> 16);
      bytes.append(reinterpret_cast<const char*>(&top), 2);
    }
  }
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<llmk::transformer::TensorMap> tensors = llmk::transformer::ParseSafetensors(bytes);
  if (!tensors.ok()) {
    FUZZ_CHECK(tensors.status().code() == absl::StatusCode::kInvalidArgument,
               "ParseSafetensors failed with {}", tensors.status().ToString());
    FUZZ_CHECK(!tensors.status().message().empty(), "an error without a message");
    return 0;
  }
  FUZZ_CHECK(size >= 8, "a {}-byte file parsed", size);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | data[i];
  FUZZ_CHECK(header_len <= size - 8, "a header of {} bytes in a {}-byte file parsed", header_len,
             size);
  const std::string_view buffer = bytes.substr(8 + header_len);
  std::uint64_t covered = 0;
  for (const auto& [name, t] : *tensors) {
    FUZZ_CHECK(name != "__metadata__", "__metadata__ was read as a tensor");
    FUZZ_CHECK(t.shape.size() <= 4, "\"{}\" has rank {}", name, t.shape.size());
    std::uint64_t count = 1;
    for (std::int64_t dim : t.shape) {
      FUZZ_CHECK(dim >= 0, "\"{}\" has a dimension {}", name, dim);
      FUZZ_CHECK(dim == 0 || count <= buffer.size() / static_cast<std::uint64_t>(dim) + 1,
                 "\"{}\" has more elements than the buffer has bytes", name);
      count *= static_cast<std::uint64_t>(dim);
    }
    FUZZ_CHECK(t.data.size() == count, "\"{}\" holds {} floats for {} elements", name,
               t.data.size(), count);
    covered += count * DTypeSize(t.dtype);
    const std::string encoded = Encoded(t);
    if (!encoded.empty()) {
      FUZZ_CHECK(std::search(buffer.begin(), buffer.end(),
                             std::boyer_moore_horspool_searcher(encoded.begin(), encoded.end())) !=
                     buffer.end(),
                 "the bytes of \"{}\" are not in the data buffer", name);
    }
  }
  FUZZ_CHECK(covered == buffer.size(), "tensors cover {} bytes of a {}-byte data buffer", covered,
             buffer.size());
  return 0;
}
