// The provided models of kata 16 (see tiny_lm.h): written plainly, with Eigen products, so
// that a pass over T tokens reads every weight once.
#include "tiny_lm.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "llmk/testing/random.h"

namespace llmk::tiny_lm {
namespace {

using ::llmk::testing::RandomMatrix;


Matrix Gain(Rng& rng, int width) {
  Matrix g = RandomMatrix(rng, 1, width, 0.1);
  g.array() += 1.0f;
  return g;
}

Layer RandomLayer(Rng& rng, int d_model, int ffn_dim, float out_scale) {
  const double in_d = 1.0 / std::sqrt(static_cast<double>(d_model));
  const double in_f = 1.0 / std::sqrt(static_cast<double>(ffn_dim));
  Layer w;
  w.norm1 = Gain(rng, d_model);
  w.wq = RandomMatrix(rng, d_model, d_model, in_d);
  w.wk = RandomMatrix(rng, d_model, d_model, in_d);
  w.wv = RandomMatrix(rng, d_model, d_model, in_d);
  w.wo = RandomMatrix(rng, d_model, d_model, in_d * out_scale);
  w.norm2 = Gain(rng, d_model);
  w.w_up = RandomMatrix(rng, d_model, ffn_dim, in_d);
  w.w_down = RandomMatrix(rng, ffn_dim, d_model, in_f * out_scale);
  return w;
}

// y = γ ⊙ x / √(mean(x²) + 1e-5), row by row.
Matrix RmsNorm(const MatrixRef& x, const MatrixRef& gamma) {
  Matrix y(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const float mean_sq = x.row(i).squaredNorm() / static_cast<float>(x.cols());
    y.row(i) = x.row(i).cwiseProduct(gamma) / std::sqrt(mean_sq + 1e-5f);
  }
  return y;
}

// gelu(u) = 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))), then ·W_down.
Matrix FeedForward(const MatrixRef& a, const Layer& w) {
  const float k = std::sqrt(2.0f / 3.14159265358979f);
  Matrix up(a.rows(), w.w_up.cols());
  up.noalias() = a * w.w_up;
  up = (0.5f * up.array() * (1.0f + (k * (up.array() + 0.044715f * up.array().cube())).tanh()))
           .matrix();
  Matrix out(a.rows(), w.w_down.cols());
  out.noalias() = up * w.w_down;
  return out;
}

// Causal multi-head attention of T new queries over all P + T keys: new query t sees keys
// 0 .. P + t. keys, values [P + T, D]; q [T, D] -> [T, D].
Matrix Attend(const MatrixRef& q, const MatrixRef& keys, const MatrixRef& values, int num_heads) {
  const Eigen::Index t_count = q.rows();
  const Eigen::Index past = keys.rows() - t_count;
  const Eigen::Index d = q.cols() / num_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Matrix out(t_count, q.cols());
  Matrix scores(1, keys.rows());
  for (int h = 0; h < num_heads; ++h) {
    for (Eigen::Index t = 0; t < t_count; ++t) {
      const Eigen::Index n = past + t + 1;
      scores.leftCols(n).noalias() =
          q.block(t, h * d, 1, d) * keys.block(0, h * d, n, d).transpose();
      scores.leftCols(n) *= scale;
      const float m = scores.leftCols(n).maxCoeff();
      scores.leftCols(n) = (scores.leftCols(n).array() - m).exp().matrix();
      scores.leftCols(n) /= scores.leftCols(n).sum();
      out.block(t, h * d, 1, d).noalias() = scores.leftCols(n) * values.block(0, h * d, n, d);
    }
  }
  return out;
}

}  // namespace

void ValidateConfig(const Config& c) {
  Require(c.vocab_size >= 1 && c.model_dim >= 1 && c.num_heads >= 1 && c.ffn_dim >= 1 &&
              c.num_layers >= 1 && c.max_seq_len >= 1,
          "ValidateConfig",
          fmt::format("every size (V, D, H, F, L, max_seq_len) must be >= 1, got V = {}, D = {}, "
                      "H = {}, F = {}, L = {}, max_seq_len = {}",
                      c.vocab_size, c.model_dim, c.num_heads, c.ffn_dim, c.num_layers,
                      c.max_seq_len));
  Require(c.model_dim % c.num_heads == 0, "ValidateConfig",
          fmt::format("num_heads {} must divide model_dim {}", c.num_heads, c.model_dim));
  Require(std::isfinite(c.logit_std) && c.logit_std > 0, "ValidateConfig",
          fmt::format("logit_std must be finite and > 0, got {}", c.logit_std));
}

Model RandomModel(const Config& config, std::uint64_t seed) {
  ValidateConfig(config);
  const Config& c = config;
  Rng rng(seed);
  Model m;
  m.vocab_size = c.vocab_size;
  m.model_dim = c.model_dim;
  m.num_heads = c.num_heads;
  m.max_seq_len = c.max_seq_len;
  m.embed = RandomMatrix(rng, c.vocab_size, c.model_dim, 1.0);
  m.pos_embed = RandomMatrix(rng, c.max_seq_len, c.model_dim, 1.0);
  for (int l = 0; l < c.num_layers; ++l) {
    m.layers.push_back(RandomLayer(rng, c.model_dim, c.ffn_dim, 1.0f));
  }
  m.final_norm = Gain(rng, c.model_dim);
  m.head = RandomMatrix(rng, c.model_dim, c.vocab_size,
                  c.logit_std / std::sqrt(static_cast<double>(c.model_dim)));
  return m;
}

Model ExtendModel(const Model& draft, int extra_layers, int extra_ffn_dim, float correction,
                  std::uint64_t seed) {
  Require(extra_layers >= 0, "ExtendModel",
          fmt::format("extra_layers must be >= 0, got {}", extra_layers));
  Require(extra_ffn_dim >= 1, "ExtendModel",
          fmt::format("extra_ffn_dim must be >= 1, got {}", extra_ffn_dim));
  Require(std::isfinite(correction), "ExtendModel",
          fmt::format("correction must be finite, got {}", correction));
  Rng rng(seed);
  Model m = draft;
  for (int l = 0; l < extra_layers; ++l) {
    m.layers.push_back(RandomLayer(rng, draft.model_dim, extra_ffn_dim, correction));
  }
  return m;
}

KvCache::KvCache(int num_layers, int capacity, int model_dim)
    : num_layers_(num_layers), capacity_(capacity), model_dim_(model_dim) {
  Require(num_layers >= 1 && capacity >= 1 && model_dim >= 1, "KvCache",
          fmt::format("num_layers, capacity and model_dim must be >= 1, got {}, {}, {}",
                      num_layers, capacity, model_dim));
  keys_.assign(static_cast<size_t>(num_layers), Matrix::Zero(capacity, model_dim));
  values_.assign(static_cast<size_t>(num_layers), Matrix::Zero(capacity, model_dim));
}

KvCache KvCache::For(const Model& model, int capacity) {
  return KvCache(static_cast<int>(model.layers.size()), capacity, model.model_dim);
}

MatrixRef KvCache::Keys(int layer) const { return KeyStorage(layer).topRows(length_); }
MatrixRef KvCache::Values(int layer) const { return ValueStorage(layer).topRows(length_); }

const Matrix& KvCache::KeyStorage(int layer) const {
  Require(layer >= 0 && layer < num_layers_, "KvCache::KeyStorage",
          fmt::format("layer must be in [0, {}), got {}", num_layers_, layer));
  return keys_[static_cast<size_t>(layer)];
}

const Matrix& KvCache::ValueStorage(int layer) const {
  Require(layer >= 0 && layer < num_layers_, "KvCache::ValueStorage",
          fmt::format("layer must be in [0, {}), got {}", num_layers_, layer));
  return values_[static_cast<size_t>(layer)];
}

void KvCache::Append(const std::vector<Matrix>& keys, const std::vector<Matrix>& values) {
  Require(keys.size() == static_cast<size_t>(num_layers_) && values.size() == keys.size(),
          "KvCache::Append",
          fmt::format("keys and values must hold one matrix per layer ({}), got {} and {}",
                      num_layers_, keys.size(), values.size()));
  const Eigen::Index t_count = keys[0].rows();
  Require(t_count >= 1 && length_ + t_count <= capacity_, "KvCache::Append",
          fmt::format("{} new positions do not fit: length {}, capacity {}", t_count, length_,
                      capacity_));
  for (int l = 0; l < num_layers_; ++l) {
    RequireShape("KvCache::Append", "keys[l]", keys[static_cast<size_t>(l)], t_count, model_dim_);
    RequireShape("KvCache::Append", "values[l]", values[static_cast<size_t>(l)], t_count,
                 model_dim_);
  }
  for (int l = 0; l < num_layers_; ++l) {
    keys_[static_cast<size_t>(l)].middleRows(length_, t_count) = keys[static_cast<size_t>(l)];
    values_[static_cast<size_t>(l)].middleRows(length_, t_count) = values[static_cast<size_t>(l)];
  }
  length_ += static_cast<int>(t_count);
}

Matrix Forward(const Model& model, const std::vector<int>& tokens, KvCache& cache) {
  const int t_count = static_cast<int>(tokens.size());
  const int past = cache.length();
  Require(cache.num_layers() == static_cast<int>(model.layers.size()) &&
              cache.model_dim() == model.model_dim,
          "Forward",
          fmt::format("cache must have L = {} layers of width D = {}, got {} of width {}",
                      model.layers.size(), model.model_dim, cache.num_layers(),
                      cache.model_dim()));
  Require(t_count >= 1, "Forward", "tokens must hold at least one token, got none");
  Require(past + t_count <= cache.capacity() && past + t_count <= model.max_seq_len, "Forward",
          fmt::format("positions {} to {} do not fit: cache capacity {}, max_seq_len {}", past,
                      past + t_count - 1, cache.capacity(), model.max_seq_len));
  for (int t = 0; t < t_count; ++t) {
    const int id = tokens[static_cast<size_t>(t)];
    Require(id >= 0 && id < model.vocab_size, "Forward",
            fmt::format("tokens[{}] must be in [0, {}), got {}", t, model.vocab_size, id));
  }
  const int d_model = model.model_dim;
  Matrix x(t_count, d_model);
  for (int t = 0; t < t_count; ++t) {
    x.row(t) = model.embed.row(tokens[static_cast<size_t>(t)]) + model.pos_embed.row(past + t);
  }
  std::vector<Matrix> new_keys;
  std::vector<Matrix> new_values;
  Matrix keys(past + t_count, d_model);
  Matrix values(past + t_count, d_model);
  Matrix q(t_count, d_model);
  Matrix proj(t_count, d_model);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const Layer& w = model.layers[l];
    const Matrix a = RmsNorm(x, w.norm1);
    q.noalias() = a * w.wq;
    keys.topRows(past) = cache.Keys(static_cast<int>(l));
    values.topRows(past) = cache.Values(static_cast<int>(l));
    keys.bottomRows(t_count).noalias() = a * w.wk;
    values.bottomRows(t_count).noalias() = a * w.wv;
    new_keys.emplace_back(keys.bottomRows(t_count));
    new_values.emplace_back(values.bottomRows(t_count));
    const Matrix att = Attend(q, keys, values, model.num_heads);
    proj.noalias() = att * w.wo;
    x += proj;
    x += FeedForward(RmsNorm(x, w.norm2), w);
  }
  cache.Append(new_keys, new_values);
  Matrix logits(t_count, model.vocab_size);
  logits.noalias() = RmsNorm(x, model.final_norm) * model.head;
  return logits;
}

Matrix ForwardAll(const Model& model, const std::vector<int>& tokens) {
  Require(!tokens.empty(), "ForwardAll", "tokens must hold at least one token, got none");
  KvCache cache = KvCache::For(model, static_cast<int>(tokens.size()));
  return Forward(model, tokens, cache);
}

Probs Softmax(const MatrixRef& logits_row) {
  Require(logits_row.rows() == 1 && logits_row.cols() >= 1, "Softmax",
          fmt::format("logits_row must be 1xV, got {}", ShapeOf(logits_row)));
  const Probs z = logits_row.row(0).cast<double>();
  Require(z.allFinite(), "Softmax", "every logit must be finite");
  Probs e = (z.array() - z.maxCoeff()).exp().matrix();
  return e / e.sum();
}

int Argmax(const MatrixRef& logits_row) {
  Require(logits_row.rows() == 1 && logits_row.cols() >= 1, "Argmax",
          fmt::format("logits_row must be 1xV, got {}", ShapeOf(logits_row)));
  Eigen::Index best = 0;
  for (Eigen::Index j = 1; j < logits_row.cols(); ++j) {
    if (logits_row(0, j) > logits_row(0, best)) best = j;
  }
  return static_cast<int>(best);
}

int DrawToken(const ProbsRef& probs, double u) {
  Require(probs.size() >= 1, "DrawToken", "probs must hold at least one entry");
  Require(u >= 0.0 && u < 1.0, "DrawToken", fmt::format("u must be in [0, 1), got {}", u));
  double total = 0.0;
  int last_positive = -1;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    Require(probs(i) >= 0.0 && std::isfinite(probs(i)), "DrawToken",
            fmt::format("probs[{}] must be finite and >= 0, got {}", i, probs(i)));
    total += probs(i);
    if (probs(i) > 0.0) last_positive = static_cast<int>(i);
  }
  Require(last_positive >= 0, "DrawToken", "probs must have a positive sum, got 0");
  double cumulative = 0.0;
  for (Eigen::Index i = 0; i < probs.size(); ++i) {
    cumulative += probs(i);
    if (probs(i) > 0.0 && u * total < cumulative) return static_cast<int>(i);
  }
  return last_positive;
}

std::vector<int> Generate(const Model& model, const std::vector<int>& prompt, int num_tokens,
                          bool greedy, Rng& rng) {
  const int p = static_cast<int>(prompt.size());
  Require(p >= 1, "Generate", "prompt must hold at least one token, got none");
  Require(num_tokens >= 1, "Generate",
          fmt::format("num_tokens must be >= 1, got {}", num_tokens));
  Require(p + num_tokens <= model.max_seq_len, "Generate",
          fmt::format("prompt ({}) + num_tokens ({}) must be <= max_seq_len {}", p, num_tokens,
                      model.max_seq_len));
  KvCache cache = KvCache::For(model, p + num_tokens);
  Matrix logits = Forward(model, prompt, cache);
  std::vector<int> out;
  while (true) {
    const MatrixRef last = logits.bottomRows(1);
    const int next = greedy ? Argmax(last) : DrawToken(Softmax(last), rng.Uniform());
    out.push_back(next);
    if (static_cast<int>(out.size()) == num_tokens) return out;
    logits = Forward(model, {next}, cache);
  }
}

}  // namespace llmk::tiny_lm
