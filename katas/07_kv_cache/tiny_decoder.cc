// The provided model of kata 07 (see tiny_decoder.h). Written plainly, not fast.
#include "tiny_decoder.h"

#include <cmath>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "llmk/random.h"

namespace llmk::tiny {
namespace {

Matrix Normal(Rng& rng, int rows, int cols, double scale) {
  Matrix m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = static_cast<float>(scale * rng.Normal());
  }
  return m;
}

Matrix Gain(Rng& rng, int width) {
  Matrix g = Normal(rng, 1, width, 0.1);
  g.array() += 1.0f;
  return g;
}

// Causal grouped-query attention of one layer: [T, H·d] from a = RmsNorm(x, norm1).
Matrix CausalAttention(const MatrixRef& a, const LayerWeights& w, const DecoderConfig& c) {
  const int d = c.head_dim();
  const int group = c.num_heads / c.num_kv_heads;
  const Matrix q = a * w.wq;
  const Matrix k = a * w.wk;
  const Matrix v = a * w.wv;
  const Eigen::Index t_count = a.rows();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Matrix out(t_count, c.num_heads * d);
  for (int h = 0; h < c.num_heads; ++h) {
    const int g = h / group;
    Matrix scores = q.middleCols(h * d, d) * k.middleCols(g * d, d).transpose() * scale;
    for (Eigen::Index i = 0; i < t_count; ++i) {
      // Query i sees keys 0..i: softmax over those, the rest weigh nothing.
      const Eigen::Index n = i + 1;
      const float m = scores.row(i).head(n).maxCoeff();
      scores.row(i).head(n) = (scores.row(i).head(n).array() - m).exp().matrix();
      scores.row(i).head(n) /= scores.row(i).head(n).sum();
      scores.row(i).tail(t_count - n).setZero();
    }
    out.middleCols(h * d, d) = scores * v.middleCols(g * d, d);
  }
  return out;
}

}  // namespace

void ValidateConfig(const DecoderConfig& c) {
  const std::pair<const char*, int> sizes[] = {
      {"num_layers", c.num_layers}, {"model_dim", c.model_dim},   {"num_heads", c.num_heads},
      {"num_kv_heads", c.num_kv_heads}, {"ffn_dim", c.ffn_dim}, {"vocab_size", c.vocab_size},
      {"max_seq_len", c.max_seq_len}};
  for (const auto& [name, value] : sizes) {
    Require(value >= 1 && value <= kMaxConfigSize, "ValidateConfig",
            fmt::format("{} must be in [1, {}], got {}", name, kMaxConfigSize, value));
  }
  Require(c.model_dim % c.num_heads == 0, "ValidateConfig",
          fmt::format("num_heads {} must divide model_dim {}", c.num_heads, c.model_dim));
  Require(c.num_heads % c.num_kv_heads == 0, "ValidateConfig",
          fmt::format("num_kv_heads {} must divide num_heads {}", c.num_kv_heads, c.num_heads));
  // The largest weight matrices: the two tables [V, D] and [max_seq_len, D], and [D, F].
  const std::pair<const char*, std::int64_t> tables[] = {
      {"vocab_size * model_dim", std::int64_t{c.vocab_size} * c.model_dim},
      {"max_seq_len * model_dim", std::int64_t{c.max_seq_len} * c.model_dim},
      {"model_dim * ffn_dim", std::int64_t{c.model_dim} * c.ffn_dim}};
  for (const auto& [name, entries] : tables) {
    Require(entries <= kMaxWeightEntries, "ValidateConfig",
            fmt::format("{} must be at most {} weights, got {}", name, kMaxWeightEntries,
                        entries));
  }
}

Decoder RandomDecoder(const DecoderConfig& config, std::uint64_t seed) {
  ValidateConfig(config);
  const DecoderConfig& c = config;
  const double in_d = 1.0 / std::sqrt(static_cast<double>(c.model_dim));
  const double in_f = 1.0 / std::sqrt(static_cast<double>(c.ffn_dim));
  Rng rng(seed);
  Decoder m;
  m.config = c;
  m.embed = Normal(rng, c.vocab_size, c.model_dim, 1.0);
  m.pos_embed = Normal(rng, c.max_seq_len, c.model_dim, 1.0);
  for (int l = 0; l < c.num_layers; ++l) {
    LayerWeights w;
    w.norm1 = Gain(rng, c.model_dim);
    w.wq = Normal(rng, c.model_dim, c.num_heads * c.head_dim(), in_d);
    w.wk = Normal(rng, c.model_dim, c.kv_width(), in_d);
    w.wv = Normal(rng, c.model_dim, c.kv_width(), in_d);
    w.wo = Normal(rng, c.num_heads * c.head_dim(), c.model_dim, in_d);
    w.norm2 = Gain(rng, c.model_dim);
    w.w_up = Normal(rng, c.model_dim, c.ffn_dim, in_d);
    w.w_down = Normal(rng, c.ffn_dim, c.model_dim, in_f);
    m.layers.push_back(std::move(w));
  }
  m.final_norm = Gain(rng, c.model_dim);
  return m;
}

Matrix EmbedToken(const Decoder& model, int token, int position) {
  const DecoderConfig& c = model.config;
  Require(token >= 0 && token < c.vocab_size, "EmbedToken",
          fmt::format("token must be in [0, {}), got {}", c.vocab_size, token));
  Require(position >= 0 && position < c.max_seq_len, "EmbedToken",
          fmt::format("position must be in [0, max_seq_len = {}), got {}", c.max_seq_len,
                      position));
  return model.embed.row(token) + model.pos_embed.row(position);
}

Matrix RmsNorm(const MatrixRef& x, const MatrixRef& gamma, float eps) {
  RequireShape("RmsNorm", "gamma", gamma, 1, x.cols());
  Matrix y(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const float mean_sq = x.row(i).squaredNorm() / static_cast<float>(x.cols());
    y.row(i) = x.row(i).cwiseProduct(gamma) / std::sqrt(mean_sq + eps);
  }
  return y;
}

Matrix FeedForward(const MatrixRef& x, const LayerWeights& w) {
  // gelu(u) = 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))
  const float k = std::sqrt(2.0f / 3.14159265358979f);
  Matrix up = x * w.w_up;
  up = (0.5f * up.array() * (1.0f + (k * (up.array() + 0.044715f * up.array().cube())).tanh()))
           .matrix();
  return up * w.w_down;
}

Matrix Logits(const MatrixRef& h, const Decoder& model) {
  return RmsNorm(h, model.final_norm) * model.embed.transpose();
}

int GreedyToken(const MatrixRef& logits_row) {
  Require(logits_row.rows() == 1 && logits_row.cols() >= 1, "GreedyToken",
          fmt::format("logits_row must be 1xV, got {}", ShapeOf(logits_row)));
  Eigen::Index best = 0;
  for (Eigen::Index j = 1; j < logits_row.cols(); ++j) {
    if (logits_row(0, j) > logits_row(0, best)) best = j;
  }
  return static_cast<int>(best);
}

Matrix Forward(const std::vector<int>& ids, const Decoder& model) {
  const DecoderConfig& c = model.config;
  const int t_count = static_cast<int>(ids.size());
  Require(t_count >= 1 && t_count <= c.max_seq_len, "Forward",
          fmt::format("ids must hold 1 to {} tokens, got {}", c.max_seq_len, t_count));
  Matrix x(t_count, c.model_dim);
  for (int t = 0; t < t_count; ++t) x.row(t) = EmbedToken(model, ids[static_cast<size_t>(t)], t);
  for (const LayerWeights& w : model.layers) {
    x += CausalAttention(RmsNorm(x, w.norm1), w, c) * w.wo;
    x += FeedForward(RmsNorm(x, w.norm2), w);
  }
  return Logits(x, model);
}

}  // namespace llmk::tiny
