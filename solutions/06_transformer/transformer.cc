// Solution of kata 06: the blocks of a transformer and the three variants built from them.
// Each function validates its arguments, then follows the README step it names.
#include "transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace llmk::transformer {
namespace {

constexpr double kPi = 3.14159265358979323846;

void RequireRows(std::string_view where, std::string_view name, const MatrixRef& m) {
  Require(m.rows() >= 1 && m.cols() >= 1, where,
          fmt::format("{} is {}; it needs at least one row and one column", name, ShapeOf(m)));
}

// A bias is [1, out] when the configuration has biases, and empty otherwise.
void CheckBias(std::string_view where, const std::string& name, const Matrix& bias,
               Eigen::Index out, bool expected) {
  if (expected) {
    RequireShape(where, name, bias, 1, out, "a row of the projection's width");
  } else {
    RequireShape(where, name, bias, 0, 0, "empty: this configuration has no biases");
  }
}

void CheckLinear(std::string_view where, const std::string& name, const LinearWeights& w,
                 Eigen::Index in, Eigen::Index out, bool bias, std::string_view dims) {
  RequireShape(where, name + ".weight", w.weight, in, out, dims);
  CheckBias(where, name + ".bias", w.bias, out, bias);
}

void CheckEmptyLinear(std::string_view where, const std::string& name, const LinearWeights& w) {
  RequireShape(where, name + ".weight", w.weight, 0, 0, "empty in this configuration");
  RequireShape(where, name + ".bias", w.bias, 0, 0, "empty in this configuration");
}

void CheckNorm(std::string_view where, const std::string& name, const NormWeights& w,
               const Config& c) {
  RequireShape(where, name + ".weight", w.weight, 1, c.model_dim, "1 x D");
  if (c.norm == NormKind::kLayerNorm) {
    RequireShape(where, name + ".bias", w.bias, 1, c.model_dim, "1 x D, LayerNorm's shift");
  } else {
    RequireShape(where, name + ".bias", w.bias, 0, 0, "empty: RMSNorm has no shift");
  }
}

void CheckEmptyNorm(std::string_view where, const std::string& name, const NormWeights& w) {
  RequireShape(where, name + ".weight", w.weight, 0, 0, "empty in this configuration");
  RequireShape(where, name + ".bias", w.bias, 0, 0, "empty in this configuration");
}

void CheckAttention(std::string_view where, const std::string& name, const AttentionWeights& w,
                    const Config& c) {
  const int d = c.model_dim;
  CheckLinear(where, name + ".q", w.q, d, d, c.bias, "D x D");
  CheckLinear(where, name + ".k", w.k, d, d, c.bias, "D x D");
  CheckLinear(where, name + ".v", w.v, d, d, c.bias, "D x D");
  CheckLinear(where, name + ".o", w.o, d, d, c.bias, "D x D");
}

// Every weight of a block against the configuration (step 8).
void CheckBlock(std::string_view where, const BlockWeights& w, const Config& c, bool cross) {
  const int d = c.model_dim;
  const int f = c.ffn_dim;
  CheckAttention(where, "w.self_attn", w.self_attn, c);
  if (cross) {
    CheckAttention(where, "w.cross_attn", w.cross_attn, c);
  } else {
    for (const auto& [name, lin] :
         {std::pair<const char*, const LinearWeights*>{"w.cross_attn.q", &w.cross_attn.q},
          {"w.cross_attn.k", &w.cross_attn.k},
          {"w.cross_attn.v", &w.cross_attn.v},
          {"w.cross_attn.o", &w.cross_attn.o}}) {
      CheckEmptyLinear(where, name, *lin);
    }
  }
  const std::string ffn_dims = fmt::format("D x F, F = config.ffn_dim = {}", f);
  CheckLinear(where, "w.ffn.up", w.ffn.up, d, f, c.bias, ffn_dims);
  if (c.activation == Activation::kSwiGlu) {
    CheckLinear(where, "w.ffn.gate", w.ffn.gate, d, f, c.bias, ffn_dims);
  } else {
    CheckEmptyLinear(where, "w.ffn.gate", w.ffn.gate);
  }
  CheckLinear(where, "w.ffn.down", w.ffn.down, f, d, c.bias,
              fmt::format("F x D, F = config.ffn_dim = {}", f));
  CheckNorm(where, "w.norm1", w.norm1, c);
  CheckNorm(where, "w.norm2", w.norm2, c);
  if (cross) {
    CheckNorm(where, "w.norm3", w.norm3, c);
  } else {
    CheckEmptyNorm(where, "w.norm3", w.norm3);
  }
}

void CheckStack(std::string_view where, std::string_view name, const StackWeights& s,
                const Config& c) {
  Require(static_cast<int>(s.layers.size()) == c.num_layers, where,
          fmt::format("{}.layers holds {} blocks, config.num_layers L = {}", name, s.layers.size(),
                      c.num_layers));
  if (c.placement == NormPlacement::kPreNorm) {
    CheckNorm(where, fmt::format("{}.final_norm", name), s.final_norm, c);
  } else {
    CheckEmptyNorm(where, fmt::format("{}.final_norm", name), s.final_norm);
  }
}

void CheckInput(std::string_view where, const MatrixRef& x, const Config& c) {
  RequireRows(where, "x", x);
  RequireShape(where, "x", x, -1, c.model_dim, fmt::format("T x D, D = {}", c.model_dim));
}

const char* ArchitectureName(Architecture a) {
  switch (a) {
    case Architecture::kEncoderOnly:
      return "encoder-only";
    case Architecture::kDecoderOnly:
      return "decoder-only";
    case Architecture::kEncoderDecoder:
      return "encoder-decoder";
  }
  return "?";
}

void RequireArchitecture(std::string_view where, const Model& m, Architecture a) {
  Require(m.config.architecture == a, where,
          fmt::format("model.config.architecture is {}, this forward pass needs {}",
                      ArchitectureName(m.config.architecture), ArchitectureName(a)));
}

template <typename F>
Matrix Map(const MatrixRef& x, F f) {
  Matrix out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) out(i, j) = f(x(i, j));
  }
  return out;
}

// Row softmax of scores where masked entries are -inf; row i always has j = i allowed.
Matrix SoftmaxRows(const Matrix& z) {
  Matrix p(z.rows(), z.cols());
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    const float row_max = z.row(i).maxCoeff();
    p.row(i) = (z.row(i).array() - row_max).exp().matrix();
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

}  // namespace

// Step 1: row ids[t] of the table.
Matrix EmbedTokens(const std::vector<int>& ids, const MatrixRef& table) {
  constexpr std::string_view kWhere = "EmbedTokens";
  Require(!ids.empty(), kWhere, "ids is empty; a sequence needs at least one token");
  RequireRows(kWhere, "table", table);
  Matrix out(static_cast<Eigen::Index>(ids.size()), table.cols());
  for (size_t t = 0; t < ids.size(); ++t) {
    const int id = ids[t];
    Require(id >= 0 && id < table.rows(), kWhere,
            fmt::format("ids[{}] = {} is out of range [0, {}): the table is {}", t, id,
                        table.rows(), ShapeOf(table)));
    out.row(static_cast<Eigen::Index>(t)) = table.row(id);
  }
  return out;
}

// Step 2: sin on even columns, cos on odd ones, frequency 10000^(-2i/D).
Matrix SinusoidalPositions(int num_positions, int model_dim) {
  constexpr std::string_view kWhere = "SinusoidalPositions";
  Require(num_positions >= 1, kWhere,
          fmt::format("num_positions must be at least 1, got {}", num_positions));
  Require(
      model_dim >= 2 && model_dim % 2 == 0, kWhere,
      fmt::format("model_dim D = {} must be even and at least 2 (sin and cos pairs)", model_dim));
  Matrix pe(num_positions, model_dim);
  for (int p = 0; p < num_positions; ++p) {
    for (int i = 0; i < model_dim / 2; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / model_dim);
      pe(p, 2 * i) = static_cast<float>(std::sin(angle));
      pe(p, 2 * i + 1) = static_cast<float>(std::cos(angle));
    }
  }
  return pe;
}

// Step 3: rotate each pair (2i, 2i+1) of each head by p·θ_i.
Matrix ApplyRope(const MatrixRef& x, int head_dim, float base, int first_position) {
  constexpr std::string_view kWhere = "ApplyRope";
  RequireRows(kWhere, "x", x);
  Require(head_dim >= 2 && head_dim % 2 == 0, kWhere,
          fmt::format("head_dim d = {} must be even and at least 2 (pairs are rotated)", head_dim));
  Require(x.cols() % head_dim == 0, kWhere,
          fmt::format("x is {}: its {} columns are not a whole number of heads of width {}",
                      ShapeOf(x), x.cols(), head_dim));
  Require(base > 0.0f, kWhere, fmt::format("base must be positive, got {}", base));
  Require(first_position >= 0, kWhere,
          fmt::format("first_position must be at least 0, got {}", first_position));
  Matrix out(x.rows(), x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const double p = static_cast<double>(first_position + t);
    for (int i = 0; i < head_dim / 2; ++i) {
      const double angle = p * std::pow(static_cast<double>(base), -2.0 * i / head_dim);
      const auto c = static_cast<float>(std::cos(angle));
      const auto s = static_cast<float>(std::sin(angle));
      for (Eigen::Index h = 0; h < x.cols() / head_dim; ++h) {
        const Eigen::Index j = h * head_dim + 2 * i;
        const float a = x(t, j);
        const float b = x(t, j + 1);
        out(t, j) = a * c - b * s;
        out(t, j + 1) = a * s + b * c;
      }
    }
  }
  return out;
}

// Step 4: centre, divide by the standard deviation, scale and shift.
Matrix LayerNorm(const MatrixRef& x, const MatrixRef& gamma, const MatrixRef& beta, float eps) {
  constexpr std::string_view kWhere = "LayerNorm";
  RequireRows(kWhere, "x", x);
  RequireShape(kWhere, "gamma", gamma, 1, x.cols(), fmt::format("1 x D; x is {}", ShapeOf(x)));
  RequireShape(kWhere, "beta", beta, 1, x.cols(), fmt::format("1 x D; x is {}", ShapeOf(x)));
  Require(eps > 0.0f, kWhere, fmt::format("eps must be positive, got {}", eps));
  Matrix out(x.rows(), x.cols());
  const auto n = static_cast<float>(x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const float mean = x.row(t).sum() / n;
    const Eigen::ArrayXf centred = x.row(t).array().transpose() - mean;
    const float var = centred.square().sum() / n;
    const float inv = 1.0f / std::sqrt(var + eps);
    out.row(t) = (centred * inv).transpose() * gamma.array() + beta.array();
  }
  return out;
}

// Step 4: divide by the root mean square, scale.
Matrix RmsNorm(const MatrixRef& x, const MatrixRef& gamma, float eps) {
  constexpr std::string_view kWhere = "RmsNorm";
  RequireRows(kWhere, "x", x);
  RequireShape(kWhere, "gamma", gamma, 1, x.cols(), fmt::format("1 x D; x is {}", ShapeOf(x)));
  Require(eps > 0.0f, kWhere, fmt::format("eps must be positive, got {}", eps));
  Matrix out(x.rows(), x.cols());
  const auto n = static_cast<float>(x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const float inv = 1.0f / std::sqrt(x.row(t).squaredNorm() / n + eps);
    out.row(t) = (x.row(t).array() * inv) * gamma.array();
  }
  return out;
}

Matrix ApplyNorm(const MatrixRef& x, const NormWeights& w, NormKind kind, float eps) {
  if (kind == NormKind::kLayerNorm) return LayerNorm(x, w.weight, w.bias, eps);
  RequireShape("ApplyNorm", "w.bias", w.bias, 0, 0, "empty: RMSNorm has no shift");
  return RmsNorm(x, w.weight, eps);
}

// Step 5: x·W + b.
Matrix Linear(const MatrixRef& x, const LinearWeights& w) {
  constexpr std::string_view kWhere = "Linear";
  RequireRows(kWhere, "x", x);
  RequireShape(kWhere, "w.weight", w.weight, x.cols(), -1,
               fmt::format("rows must equal x's columns; x is {}", ShapeOf(x)));
  Matrix out(x.rows(), w.weight.cols());
  out.noalias() = x * w.weight;
  if (w.bias.size() != 0) {
    RequireShape(kWhere, "w.bias", w.bias, 1, w.weight.cols(),
                 fmt::format("1 x out or empty; w.weight is {}", ShapeOf(w.weight)));
    out.rowwise() += w.bias.row(0);
  }
  return out;
}

Matrix Relu(const MatrixRef& x) { return x.cwiseMax(0.0f); }

// gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
Matrix Gelu(const MatrixRef& x) {
  const double k = std::sqrt(2.0 / kPi);
  return Map(x, [k](float v) {
    const double u = v;
    return static_cast<float>(0.5 * u * (1.0 + std::tanh(k * (u + 0.044715 * u * u * u))));
  });
}

// silu(x) = x / (1 + exp(-x))
Matrix Silu(const MatrixRef& x) {
  return Map(x, [](float v) {
    const double u = v;
    return static_cast<float>(u / (1.0 + std::exp(-u)));
  });
}

// Step 5: expand to F, activate, contract back to D.
Matrix FeedForward(const MatrixRef& x, const FfnWeights& w, Activation activation,
                   FfnTrace* trace) {
  constexpr std::string_view kWhere = "FeedForward";
  RequireRows(kWhere, "x", x);
  const Eigen::Index d = x.cols();
  RequireShape(kWhere, "w.up.weight", w.up.weight, d, -1,
               fmt::format("D x F; x is {}", ShapeOf(x)));
  const Eigen::Index f = w.up.weight.cols();
  Require(f >= 1, kWhere, "w.up.weight has no columns; F must be at least 1");
  const std::string dxf = fmt::format("D x F = {}x{}, F from w.up.weight", d, f);
  RequireShape(kWhere, "w.down.weight", w.down.weight, f, d,
               fmt::format("F x D = {}x{}, F from w.up.weight", f, d));
  if (w.up.bias.size() != 0) RequireShape(kWhere, "w.up.bias", w.up.bias, 1, f, "1 x F");
  if (w.down.bias.size() != 0) {
    RequireShape(kWhere, "w.down.bias", w.down.bias, 1, d, "1 x D");
  }
  FfnTrace local;
  FfnTrace& tr = trace != nullptr ? *trace : local;
  tr.up = Linear(x, w.up);
  tr.gate = Matrix();
  switch (activation) {
    case Activation::kRelu:
      RequireShape(kWhere, "w.gate.weight", w.gate.weight, 0, 0, "empty unless SwiGLU");
      tr.hidden = Relu(tr.up);
      break;
    case Activation::kGelu:
      RequireShape(kWhere, "w.gate.weight", w.gate.weight, 0, 0, "empty unless SwiGLU");
      tr.hidden = Gelu(tr.up);
      break;
    case Activation::kSwiGlu:
      RequireShape(kWhere, "w.gate.weight", w.gate.weight, d, f, dxf);
      if (w.gate.bias.size() != 0) {
        RequireShape(kWhere, "w.gate.bias", w.gate.bias, 1, f, "1 x F");
      }
      tr.gate = Linear(x, w.gate);
      tr.hidden = Silu(tr.gate).cwiseProduct(tr.up);
      break;
  }
  return Linear(tr.hidden, w.down);
}

// Step 6: project, split into heads, (rotate,) score, mask, softmax, mix, concat, project.
Matrix MultiHeadAttention(const MatrixRef& x, const MatrixRef& memory, const AttentionWeights& w,
                          int num_heads, const AttentionOptions& options, AttentionTrace* trace) {
  constexpr std::string_view kWhere = "MultiHeadAttention";
  RequireRows(kWhere, "x", x);
  const Eigen::Index dm = x.cols();
  RequireShape(kWhere, "memory", memory, -1, dm, fmt::format("N x D, D from x ({})", ShapeOf(x)));
  Require(memory.rows() >= 1, kWhere,
          fmt::format("memory is {}; it needs at least one token", ShapeOf(memory)));
  Require(num_heads >= 1, kWhere, fmt::format("num_heads must be at least 1, got {}", num_heads));
  Require(dm % num_heads == 0, kWhere,
          fmt::format("D = {} (x is {}) is not divisible by num_heads H = {}", dm, ShapeOf(x),
                      num_heads));
  for (const auto& [name, lin] : {std::pair<const char*, const LinearWeights*>{"w.q", &w.q},
                                  {"w.k", &w.k},
                                  {"w.v", &w.v},
                                  {"w.o", &w.o}}) {
    RequireShape(kWhere, fmt::format("{}.weight", name), lin->weight, dm, dm, "D x D");
    if (lin->bias.size() != 0) {
      RequireShape(kWhere, fmt::format("{}.bias", name), lin->bias, 1, dm, "1 x D or empty");
    }
  }
  Require(!options.causal || x.rows() == memory.rows(), kWhere,
          fmt::format("a causal mask needs as many queries as keys: x is {}, memory is {}",
                      ShapeOf(x), ShapeOf(memory)));
  const int d = static_cast<int>(dm / num_heads);
  Require(!options.rope || d % 2 == 0, kWhere,
          fmt::format("RoPE needs an even head width, d = D / H = {}", d));

  Matrix q = Linear(x, w.q);
  Matrix k = Linear(memory, w.k);
  const Matrix v = Linear(memory, w.v);
  if (options.rope) {
    q = ApplyRope(q, d, options.rope_base);
    k = ApplyRope(k, d, options.rope_base);
  }
  const Eigen::Index t_len = x.rows();
  const Eigen::Index n_len = memory.rows();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Matrix concat(t_len, dm);
  if (trace != nullptr) trace->weights.clear();
  for (int h = 0; h < num_heads; ++h) {
    Matrix scores(t_len, n_len);
    scores.noalias() = q.middleCols(h * d, d) * k.middleCols(h * d, d).transpose();
    scores *= scale;
    if (options.causal) {
      for (Eigen::Index i = 0; i < t_len; ++i) {
        for (Eigen::Index j = i + 1; j < n_len; ++j) {
          scores(i, j) = -std::numeric_limits<float>::infinity();
        }
      }
    }
    const Matrix weights = SoftmaxRows(scores);
    concat.middleCols(h * d, d).noalias() = weights * v.middleCols(h * d, d);
    if (trace != nullptr) trace->weights.push_back(weights);
  }
  Matrix out = Linear(concat, w.o);
  if (trace != nullptr) {
    trace->q = std::move(q);
    trace->k = std::move(k);
    trace->v = v;
    trace->concat = std::move(concat);
  }
  return out;
}

// Step 7: x + f(norm(x)) or norm(x + f(x)).
Matrix Residual(const MatrixRef& x, const NormWeights& norm, const Config& config,
                const Sublayer& sublayer) {
  constexpr std::string_view kWhere = "Residual";
  RequireRows(kWhere, "x", x);
  Require(static_cast<bool>(sublayer), kWhere, "sublayer is empty");
  const bool pre = config.placement == NormPlacement::kPreNorm;
  const Matrix input = pre ? ApplyNorm(x, norm, config.norm, config.norm_eps) : Matrix(x);
  const Matrix y = sublayer(input);
  RequireShape(kWhere, "sublayer's output", y, x.rows(), x.cols(),
               fmt::format("the shape of x, {}", ShapeOf(x)));
  Matrix sum = x + y;
  if (pre) return sum;
  return ApplyNorm(sum, norm, config.norm, config.norm_eps);
}

// Step 8.
void ValidateConfig(const Config& c) {
  constexpr std::string_view kWhere = "ValidateConfig";
  for (const auto& [name, value] : {std::pair<const char*, int>{"vocab_size V", c.vocab_size},
                                    {"max_seq_len", c.max_seq_len},
                                    {"model_dim D", c.model_dim},
                                    {"num_heads H", c.num_heads},
                                    {"ffn_dim F", c.ffn_dim},
                                    {"num_layers L", c.num_layers}}) {
    Require(value >= 1, kWhere, fmt::format("config.{} = {} must be at least 1", name, value));
  }
  Require(c.model_dim % c.num_heads == 0, kWhere,
          fmt::format("config.model_dim D = {} is not divisible by config.num_heads H = {}",
                      c.model_dim, c.num_heads));
  Require(c.positions != Positions::kSinusoidal || c.model_dim % 2 == 0, kWhere,
          fmt::format("sinusoidal positions need an even D, config.model_dim D = {}", c.model_dim));
  Require(c.positions != Positions::kRope || (c.model_dim / c.num_heads) % 2 == 0, kWhere,
          fmt::format("RoPE needs an even head width, d = D / H = {} / {} = {}", c.model_dim,
                      c.num_heads, c.model_dim / c.num_heads));
  Require(std::isfinite(c.norm_eps) && c.norm_eps > 0.0f, kWhere,
          fmt::format("config.norm_eps must be positive and finite, got {}", c.norm_eps));
  Require(std::isfinite(c.rope_base) && c.rope_base > 0.0f, kWhere,
          fmt::format("config.rope_base must be positive and finite, got {}", c.rope_base));
}

namespace {

// The body shared by every block: self-attention, optional cross-attention, FFN.
Matrix Block(std::string_view where, const MatrixRef& x, const MatrixRef* memory,
             const BlockWeights& w, const Config& config, bool causal, BlockTrace* trace) {
  ValidateConfig(config);
  CheckInput(where, x, config);
  const bool cross = memory != nullptr;
  if (cross) {
    RequireRows(where, "memory", *memory);
    RequireShape(where, "memory", *memory, -1, config.model_dim,
                 fmt::format("N x D, D = {}", config.model_dim));
  }
  CheckBlock(where, w, config, cross);
  BlockTrace local;
  BlockTrace& tr = trace != nullptr ? *trace : local;
  const AttentionOptions self_options{.causal = causal,
                                      .rope = config.positions == Positions::kRope,
                                      .rope_base = config.rope_base};
  tr.after_self_attn = Residual(x, w.norm1, config, [&](const MatrixRef& in) {
    tr.self_attn_in = in;
    tr.self_attn_out =
        MultiHeadAttention(in, in, w.self_attn, config.num_heads, self_options, &tr.self_attn);
    return tr.self_attn_out;
  });
  Matrix stream = tr.after_self_attn;
  tr.cross_attn_in = Matrix();
  tr.cross_attn = AttentionTrace();
  tr.cross_attn_out = Matrix();
  tr.after_cross_attn = Matrix();
  if (cross) {
    tr.after_cross_attn = Residual(stream, w.norm2, config, [&](const MatrixRef& in) {
      tr.cross_attn_in = in;
      tr.cross_attn_out =
          MultiHeadAttention(in, *memory, w.cross_attn, config.num_heads, {}, &tr.cross_attn);
      return tr.cross_attn_out;
    });
    stream = tr.after_cross_attn;
  }
  tr.out = Residual(stream, cross ? w.norm3 : w.norm2, config, [&](const MatrixRef& in) {
    tr.ffn_in = in;
    tr.ffn_out = FeedForward(in, w.ffn, config.activation, &tr.ffn);
    return tr.ffn_out;
  });
  return tr.out;
}

Matrix Stack(std::string_view where, const MatrixRef& x, const MatrixRef* memory,
             const StackWeights& stack, const Config& config, bool causal, StackTrace* trace) {
  ValidateConfig(config);
  CheckInput(where, x, config);
  CheckStack(where, "stack", stack, config);
  if (trace != nullptr) trace->layers.assign(stack.layers.size(), BlockTrace());
  Matrix h = x;
  for (size_t l = 0; l < stack.layers.size(); ++l) {
    BlockTrace* block_trace = trace != nullptr ? &trace->layers[l] : nullptr;
    h = Block(where, h, memory, stack.layers[l], config, causal, block_trace);
  }
  if (config.placement == NormPlacement::kPreNorm) {
    h = ApplyNorm(h, stack.final_norm, config.norm, config.norm_eps);
  }
  if (trace != nullptr) trace->out = h;
  return h;
}

void CheckModel(std::string_view where, const Model& m) {
  const Config& c = m.config;
  ValidateConfig(c);
  RequireShape(where, "model.embed", m.embed, c.vocab_size, c.model_dim, "V x D");
  if (c.positions == Positions::kLearned) {
    RequireShape(where, "model.pos_embed", m.pos_embed, c.max_seq_len, c.model_dim,
                 "max_seq_len x D");
  }
  const bool has_encoder = c.architecture != Architecture::kDecoderOnly;
  const bool has_decoder = c.architecture != Architecture::kEncoderOnly;
  if (has_encoder) CheckStack(where, "model.encoder", m.encoder, c);
  if (has_decoder) CheckStack(where, "model.decoder", m.decoder, c);
  if (has_decoder && !c.tied_embeddings) {
    RequireShape(where, "model.lm_head", m.lm_head, c.vocab_size, c.model_dim, "V x D");
  }
}

}  // namespace

// Step 8: bidirectional self-attention, then the FFN.
Matrix EncoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace) {
  return Block("EncoderBlock", x, nullptr, w, config, /*causal=*/false, trace);
}

// Step 9: masked self-attention, then the FFN.
Matrix DecoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace) {
  return Block("DecoderBlock", x, nullptr, w, config, /*causal=*/true, trace);
}

// Step 9: masked self-attention, cross-attention to memory, then the FFN.
Matrix DecoderBlock(const MatrixRef& x, const MatrixRef& memory, const BlockWeights& w,
                    const Config& config, BlockTrace* trace) {
  return Block("DecoderBlock", x, &memory, w, config, /*causal=*/true, trace);
}

// Step 10: tokens plus positions.
Matrix InputEmbeddings(const std::vector<int>& ids, const Model& model, StackTrace* trace) {
  constexpr std::string_view kWhere = "InputEmbeddings";
  const Config& c = model.config;
  ValidateConfig(c);
  RequireShape(kWhere, "model.embed", model.embed, c.vocab_size, c.model_dim, "V x D");
  Require(!ids.empty(), kWhere, "ids is empty; a sequence needs at least one token");
  const auto t_len = static_cast<int>(ids.size());
  Require(
      t_len <= c.max_seq_len, kWhere,
      fmt::format("T = {} tokens is longer than config.max_seq_len = {}", t_len, c.max_seq_len));
  const Matrix tokens = EmbedTokens(ids, model.embed);
  Matrix positions = Matrix::Zero(t_len, c.model_dim);
  if (c.positions == Positions::kSinusoidal) {
    positions = SinusoidalPositions(t_len, c.model_dim);
  } else if (c.positions == Positions::kLearned) {
    RequireShape(kWhere, "model.pos_embed", model.pos_embed, c.max_seq_len, c.model_dim,
                 "max_seq_len x D");
    positions = model.pos_embed.topRows(t_len);
  }
  Matrix input = tokens + positions;
  if (trace != nullptr) {
    trace->tokens = tokens;
    trace->positions = std::move(positions);
    trace->input = input;
  }
  return input;
}

Matrix EncoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace) {
  return Stack("EncoderStack", x, nullptr, stack, config, /*causal=*/false, trace);
}

Matrix DecoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace) {
  return Stack("DecoderStack", x, nullptr, stack, config, /*causal=*/true, trace);
}

Matrix DecoderStack(const MatrixRef& x, const MatrixRef& memory, const StackWeights& stack,
                    const Config& config, StackTrace* trace) {
  return Stack("DecoderStack", x, &memory, stack, config, /*causal=*/true, trace);
}

// h · Eᵀ: the score of every vocabulary entry.
Matrix OutputLogits(const MatrixRef& h, const Model& model) {
  constexpr std::string_view kWhere = "OutputLogits";
  const Config& c = model.config;
  ValidateConfig(c);
  CheckInput(kWhere, h, c);
  const Matrix& head = c.tied_embeddings ? model.embed : model.lm_head;
  RequireShape(kWhere, c.tied_embeddings ? "model.embed" : "model.lm_head", head, c.vocab_size,
               c.model_dim, "V x D");
  Matrix logits(h.rows(), head.rows());
  logits.noalias() = h * head.transpose();
  return logits;
}

Matrix EncoderOnlyForward(const std::vector<int>& ids, const Model& model, ModelTrace* trace) {
  constexpr std::string_view kWhere = "EncoderOnlyForward";
  RequireArchitecture(kWhere, model, Architecture::kEncoderOnly);
  CheckModel(kWhere, model);
  StackTrace* st = trace != nullptr ? &trace->encoder : nullptr;
  const Matrix x = InputEmbeddings(ids, model, st);
  return EncoderStack(x, model.encoder, model.config, st);
}

Matrix DecoderOnlyForward(const std::vector<int>& ids, const Model& model, ModelTrace* trace) {
  constexpr std::string_view kWhere = "DecoderOnlyForward";
  RequireArchitecture(kWhere, model, Architecture::kDecoderOnly);
  CheckModel(kWhere, model);
  StackTrace* st = trace != nullptr ? &trace->decoder : nullptr;
  const Matrix x = InputEmbeddings(ids, model, st);
  const Matrix h = DecoderStack(x, model.decoder, model.config, st);
  Matrix logits = OutputLogits(h, model);
  if (trace != nullptr) trace->logits = logits;
  return logits;
}

Matrix EncoderDecoderForward(const std::vector<int>& source, const std::vector<int>& target,
                             const Model& model, ModelTrace* trace) {
  constexpr std::string_view kWhere = "EncoderDecoderForward";
  RequireArchitecture(kWhere, model, Architecture::kEncoderDecoder);
  CheckModel(kWhere, model);
  StackTrace* enc = trace != nullptr ? &trace->encoder : nullptr;
  StackTrace* dec = trace != nullptr ? &trace->decoder : nullptr;
  const Matrix memory =
      EncoderStack(InputEmbeddings(source, model, enc), model.encoder, model.config, enc);
  const Matrix h =
      DecoderStack(InputEmbeddings(target, model, dec), memory, model.decoder, model.config, dec);
  Matrix logits = OutputLogits(h, model);
  if (trace != nullptr) trace->logits = logits;
  return logits;
}

// Step 11: sum the shapes of every tensor the configuration has.
ParameterCount CountParameters(const Config& c) {
  ValidateConfig(c);
  const int64_t v = c.vocab_size;
  const int64_t d = c.model_dim;
  const int64_t f = c.ffn_dim;
  const int64_t l = c.num_layers;
  const int64_t bias = c.bias ? 1 : 0;
  const int64_t norm = c.norm == NormKind::kLayerNorm ? 2 * d : d;
  const int64_t attention = 4 * (d * d + bias * d);
  const int64_t projections = c.activation == Activation::kSwiGlu ? 2 : 1;
  const int64_t ffn = projections * (d * f + bias * f) + f * d + bias * d;
  const bool pre = c.placement == NormPlacement::kPreNorm;

  int64_t self_stacks = 0;   // stacks of blocks without cross-attention
  int64_t cross_stacks = 0;  // stacks of blocks with cross-attention
  switch (c.architecture) {
    case Architecture::kEncoderOnly:
    case Architecture::kDecoderOnly:
      self_stacks = 1;
      break;
    case Architecture::kEncoderDecoder:
      self_stacks = 1;
      cross_stacks = 1;
      break;
  }
  ParameterCount n;
  n.embedding = v * d;
  n.positions = c.positions == Positions::kLearned ? int64_t{c.max_seq_len} * d : 0;
  n.attention = l * attention * (self_stacks + 2 * cross_stacks);
  n.ffn = l * ffn * (self_stacks + cross_stacks);
  n.norms = l * norm * (2 * self_stacks + 3 * cross_stacks) +
            (pre ? norm * (self_stacks + cross_stacks) : 0);
  const bool has_head = c.architecture != Architecture::kEncoderOnly;
  n.lm_head = has_head && !c.tied_embeddings ? v * d : 0;
  n.total = n.embedding + n.positions + n.attention + n.ffn + n.norms + n.lm_head;
  return n;
}

}  // namespace llmk::transformer
