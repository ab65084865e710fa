// Solution of kata 06, step 12: reading .safetensors files and loading a model by the
// README's parameter names.
#include "safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/status/status.h"

namespace llmk::transformer {
namespace {

using json = nlohmann::json;

uint64_t ReadU64(std::string_view bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) {
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  }
  return n;
}

uint32_t ReadU32(const char* p) {
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(p[i]);
  return n;
}

uint16_t ReadU16(const char* p) {
  return static_cast<uint16_t>(static_cast<unsigned char>(p[0]) |
                               (static_cast<unsigned char>(p[1]) << 8));
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

struct Entry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

absl::Status Bad(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("safetensors: tensor \"{}\": {}", name, what));
}

absl::StatusOr<Entry> ParseEntry(const std::string& name, const json& info, uint64_t data_size) {
  Entry e;
  e.name = name;
  if (!info.is_object()) return Bad(name, "its header entry is not a JSON object");
  if (!info.contains("dtype") || !info["dtype"].is_string()) {
    return Bad(name, "\"dtype\" is missing or not a string");
  }
  const std::string dtype = info["dtype"].get<std::string>();
  size_t item = 0;
  if (dtype == "F32") {
    e.dtype = DType::kF32;
    item = 4;
  } else if (dtype == "F16") {
    e.dtype = DType::kF16;
    item = 2;
  } else if (dtype == "BF16") {
    e.dtype = DType::kBF16;
    item = 2;
  } else {
    return Bad(name, fmt::format("dtype \"{}\" is not supported (F32, F16, BF16 are)", dtype));
  }
  if (!info.contains("shape") || !info["shape"].is_array() || info["shape"].size() > 4) {
    return Bad(name, "\"shape\" is missing, not a list, or of rank above 4");
  }
  uint64_t count = 1;
  for (const json& dim : info["shape"]) {
    if (!dim.is_number_unsigned()) {
      return Bad(name, fmt::format("shape {} holds a dimension that is not a non-negative "
                                   "integer",
                                   info["shape"].dump()));
    }
    const auto n = dim.get<uint64_t>();
    // Shapes are int64_t: a larger dimension would turn negative (possible when another
    // dimension is 0, since the tensor is then empty whatever this one says).
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad(name,
                 fmt::format("shape {} holds a dimension above 2^63 - 1", info["shape"].dump()));
    }
    // A tensor cannot hold more elements than the data buffer has bytes; checking that
    // before multiplying also keeps the product from overflowing.
    if (n != 0 && count > data_size / n) {
      return Bad(name, fmt::format("shape {} is larger than the data buffer ({} bytes)",
                                   info["shape"].dump(), data_size));
    }
    count *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }
  const json* offsets = info.contains("data_offsets") ? &info["data_offsets"] : nullptr;
  if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    return Bad(name, "\"data_offsets\" must be a list of two non-negative integers [begin, end]");
  }
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size) {
    return Bad(name, fmt::format("data_offsets [{}, {}] are out of range: the data buffer "
                                 "holds {} bytes",
                                 e.begin, e.end, data_size));
  }
  if (e.end - e.begin != count * item) {
    return Bad(name, fmt::format("shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}",
                                 ShapeText(e.shape), dtype, count * item, e.begin, e.end,
                                 e.end - e.begin));
  }
  return e;
}

std::vector<float> Convert(const Entry& e, std::string_view data) {
  const char* p = data.data() + e.begin;
  std::vector<float> out;
  switch (e.dtype) {
    case DType::kF32:
      out.resize((e.end - e.begin) / 4);
      for (size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(ReadU32(p + 4 * i));
      break;
    case DType::kF16:
      out.resize((e.end - e.begin) / 2);
      for (size_t i = 0; i < out.size(); ++i) out[i] = HalfToFloat(ReadU16(p + 2 * i));
      break;
    case DType::kBF16:
      out.resize((e.end - e.begin) / 2);
      for (size_t i = 0; i < out.size(); ++i) out[i] = BFloat16ToFloat(ReadU16(p + 2 * i));
      break;
  }
  return out;
}

// One parameter slot of a model: its name, where it goes, its expected shape.
struct Slot {
  std::string name;
  Matrix* target;
  int64_t rows;
  int64_t cols;
  bool vector;  // stored with shape [cols]
};

void AddLinear(std::vector<Slot>& slots, const std::string& name, LinearWeights& w, int64_t in,
               int64_t out, bool bias) {
  slots.push_back({name + ".weight", &w.weight, in, out, false});
  if (bias) slots.push_back({name + ".bias", &w.bias, 1, out, true});
}

void AddNorm(std::vector<Slot>& slots, const std::string& name, NormWeights& w, const Config& c) {
  slots.push_back({name + ".weight", &w.weight, 1, c.model_dim, true});
  if (c.norm == NormKind::kLayerNorm) {
    slots.push_back({name + ".bias", &w.bias, 1, c.model_dim, true});
  }
}

void AddStack(std::vector<Slot>& slots, const std::string& prefix, StackWeights& s, const Config& c,
              bool cross) {
  const int64_t d = c.model_dim;
  const int64_t f = c.ffn_dim;
  s.layers.assign(static_cast<size_t>(c.num_layers), BlockWeights());
  for (int i = 0; i < c.num_layers; ++i) {
    BlockWeights& b = s.layers[static_cast<size_t>(i)];
    const std::string layer = fmt::format("{}layers.{}.", prefix, i);
    for (const auto& [attn_name, attn] :
         {std::pair<const char*, AttentionWeights*>{"attn", &b.self_attn},
          {"cross_attn", cross ? &b.cross_attn : nullptr}}) {
      if (attn == nullptr) continue;
      AddLinear(slots, layer + attn_name + ".q", attn->q, d, d, c.bias);
      AddLinear(slots, layer + attn_name + ".k", attn->k, d, d, c.bias);
      AddLinear(slots, layer + attn_name + ".v", attn->v, d, d, c.bias);
      AddLinear(slots, layer + attn_name + ".o", attn->o, d, d, c.bias);
    }
    AddLinear(slots, layer + "ffn.up", b.ffn.up, d, f, c.bias);
    if (c.activation == Activation::kSwiGlu) {
      AddLinear(slots, layer + "ffn.gate", b.ffn.gate, d, f, c.bias);
    }
    AddLinear(slots, layer + "ffn.down", b.ffn.down, f, d, c.bias);
    AddNorm(slots, layer + "norm1", b.norm1, c);
    AddNorm(slots, layer + "norm2", b.norm2, c);
    if (cross) AddNorm(slots, layer + "norm3", b.norm3, c);
  }
  if (c.placement == NormPlacement::kPreNorm)
    AddNorm(slots, prefix + "final_norm", s.final_norm, c);
}

}  // namespace

float HalfToFloat(uint16_t bits) {
  const float sign = (bits & 0x8000) != 0 ? -1.0f : 1.0f;
  const int exponent = (bits >> 10) & 0x1f;
  const int fraction = bits & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(fraction), -24);  // subnormal
  if (exponent == 31) {
    return fraction == 0 ? sign * std::numeric_limits<float>::infinity()
                         : std::numeric_limits<float>::quiet_NaN();
  }
  return sign * std::ldexp(static_cast<float>(fraction + 1024), exponent - 25);
}

float BFloat16ToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

absl::StatusOr<TensorMap> ParseSafetensors(std::string_view bytes) {
  if (bytes.size() < 8) {
    return absl::InvalidArgumentError(fmt::format(
        "safetensors: the file is {} bytes long, too short for the 8-byte header length",
        bytes.size()));
  }
  const uint64_t header_len = ReadU64(bytes);
  if (header_len > bytes.size() - 8) {
    return absl::InvalidArgumentError(fmt::format(
        "safetensors: the header length {} runs past the end of the file ({} bytes follow "
        "the length); the file is truncated or not a safetensors file",
        header_len, bytes.size() - 8));
  }
  const std::string_view header = bytes.substr(8, header_len);
  const std::string_view data = bytes.substr(8 + header_len);
  const json root = json::parse(header.begin(), header.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(
        "safetensors: the header is not a JSON object (truncated or not a safetensors file)");
  }
  std::vector<Entry> entries;
  for (const auto& [name, info] : root.items()) {
    if (name == "__metadata__") continue;
    absl::StatusOr<Entry> e = ParseEntry(name, info, data.size());
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
  }
  // The tensors must tile the data buffer: sorted by offset, each starts where the last ended.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    if (e->begin < covered) {
      return Bad(e->name,
                 fmt::format("data_offsets [{}, {}] overlap tensor \"{}\" [{}, {}]", e->begin,
                             e->end, previous->name, previous->begin, previous->end));
    }
    if (e->begin > covered) {
      return Bad(e->name, fmt::format("data_offsets [{}, {}] leave bytes [{}, {}) of the data "
                                      "buffer to no tensor",
                                      e->begin, e->end, covered, e->begin));
    }
    covered = e->end;
    previous = e;
  }
  if (covered != data.size()) {
    return absl::InvalidArgumentError(
        fmt::format("safetensors: bytes [{}, {}) at the end of the data buffer belong to no tensor",
                    covered, data.size()));
  }
  TensorMap tensors;
  for (const Entry& e : entries) {
    Tensor t;
    t.dtype = e.dtype;
    t.shape = e.shape;
    t.data = Convert(e, data);
    tensors.emplace(e.name, std::move(t));
  }
  return tensors;
}

absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("safetensors: cannot open \"{}\"", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return ParseSafetensors(bytes.str());
}

absl::StatusOr<Model> ModelFromTensors(const TensorMap& tensors, const Config& config) {
  ValidateConfig(config);
  Model m;
  m.config = config;
  std::vector<Slot> slots;
  const int64_t v = config.vocab_size;
  const int64_t d = config.model_dim;
  slots.push_back({"embed.weight", &m.embed, v, d, false});
  if (config.positions == Positions::kLearned) {
    slots.push_back({"pos_embed.weight", &m.pos_embed, config.max_seq_len, d, false});
  }
  switch (config.architecture) {
    case Architecture::kEncoderOnly:
      AddStack(slots, "", m.encoder, config, false);
      break;
    case Architecture::kDecoderOnly:
      AddStack(slots, "", m.decoder, config, false);
      break;
    case Architecture::kEncoderDecoder:
      AddStack(slots, "encoder.", m.encoder, config, false);
      AddStack(slots, "decoder.", m.decoder, config, true);
      break;
  }
  if (config.architecture != Architecture::kEncoderOnly && !config.tied_embeddings) {
    slots.push_back({"lm_head.weight", &m.lm_head, v, d, false});
  }
  for (const Slot& slot : slots) {
    const auto it = tensors.find(slot.name);
    if (it == tensors.end()) {
      return absl::NotFoundError(fmt::format(
          "safetensors: tensor \"{}\" is missing; this configuration needs it", slot.name));
    }
    const Tensor& t = it->second;
    const std::vector<int64_t> expected =
        slot.vector ? std::vector<int64_t>{slot.cols} : std::vector<int64_t>{slot.rows, slot.cols};
    if (t.shape != expected) {
      return Bad(slot.name,
                 fmt::format("has shape {}, expected {}", ShapeText(t.shape), ShapeText(expected)));
    }
    *slot.target = Eigen::Map<const Matrix>(t.data.data(), slot.rows, slot.cols);
  }
  for (const auto& entry : tensors) {
    const std::string& name = entry.first;  // (clang 14 cannot capture a structured binding)
    const bool known =
        std::any_of(slots.begin(), slots.end(), [&](const Slot& s) { return s.name == name; });
    if (!known) {
      return Bad(name,
                 "is not a parameter of this configuration (see \"The parameter "
                 "names\" in README.md)");
    }
  }
  return m;
}

absl::StatusOr<Model> LoadSafetensorsModel(const std::string& path, const Config& config) {
  ValidateConfig(config);
  absl::StatusOr<TensorMap> tensors = ReadSafetensors(path);
  if (!tensors.ok()) return tensors.status();
  return ModelFromTensors(*tensors, config);
}

}  // namespace llmk::transformer
