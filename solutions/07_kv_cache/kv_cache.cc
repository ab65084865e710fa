// Solution of kata 07: the KV cache and incremental decoding.
// Each function validates its arguments, then follows the README step it names.
#include <algorithm>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "kv_cache.h"

namespace llmk::kv_cache {
namespace {

void RequireLayer(std::string_view where, const KvCache& cache, int layer) {
  Require(layer >= 0 && layer < cache.num_layers(), where,
          fmt::format("layer must be in [0, num_layers = {}), got {}", cache.num_layers(),
                      layer));
}

}  // namespace

// Step 1: the memory is allocated once; length says how much of it holds tokens.
KvCache::KvCache(int num_layers, int capacity, int kv_width) {
  Require(num_layers >= 1, "KvCache", fmt::format("num_layers must be >= 1, got {}", num_layers));
  Require(capacity >= 1, "KvCache", fmt::format("capacity must be >= 1, got {}", capacity));
  Require(kv_width >= 1, "KvCache", fmt::format("kv_width must be >= 1, got {}", kv_width));
  num_layers_ = num_layers;
  capacity_ = capacity;
  kv_width_ = kv_width;
  keys_.assign(static_cast<size_t>(num_layers), Matrix::Zero(capacity, kv_width));
  values_.assign(static_cast<size_t>(num_layers), Matrix::Zero(capacity, kv_width));
  lengths_.assign(static_cast<size_t>(num_layers), 0);
}

int KvCache::length(int layer) const {
  RequireLayer("KvCache::length", *this, layer);
  return lengths_[static_cast<size_t>(layer)];
}

int KvCache::length() const {
  int n = capacity_;
  for (int len : lengths_) n = std::min(n, len);
  return n;
}

// Steps 1 and 2: every check comes before the first write, so a refused call changes nothing.
void KvCache::Append(int layer, const MatrixRef& k, const MatrixRef& v) {
  RequireLayer("KvCache::Append", *this, layer);
  RequireShape("KvCache::Append", "k", k, 1, kv_width_, "one token of kv_width columns");
  RequireShape("KvCache::Append", "v", v, 1, kv_width_, "one token of kv_width columns");
  const int row = lengths_[static_cast<size_t>(layer)];
  Require(row < capacity_, "KvCache::Append",
          fmt::format("layer {} is full: length {} == capacity {}", layer, row, capacity_));
  keys_[static_cast<size_t>(layer)].row(row) = k;
  values_[static_cast<size_t>(layer)].row(row) = v;
  ++lengths_[static_cast<size_t>(layer)];
}

MatrixRef KvCache::Keys(int layer, int n) const {
  RequireLayer("KvCache::Keys", *this, layer);
  const int len = lengths_[static_cast<size_t>(layer)];
  Require(n >= 0 && n <= len, "KvCache::Keys",
          fmt::format("n must be in [0, length = {}], got {}", len, n));
  return keys_[static_cast<size_t>(layer)].topRows(n);
}

MatrixRef KvCache::Values(int layer, int n) const {
  RequireLayer("KvCache::Values", *this, layer);
  const int len = lengths_[static_cast<size_t>(layer)];
  Require(n >= 0 && n <= len, "KvCache::Values",
          fmt::format("n must be in [0, length = {}], got {}", len, n));
  return values_[static_cast<size_t>(layer)].topRows(n);
}

void KvCache::Reset() { lengths_.assign(lengths_.size(), 0); }

// Step 5: 2 (K and V) · rows in use · W · 4 bytes.
std::int64_t KvCache::BytesInUse() const {
  std::int64_t rows = 0;
  for (int len : lengths_) rows += len;
  return 2 * rows * kv_width_ * static_cast<std::int64_t>(sizeof(float));
}

// Step 3: out_h = softmax(q_h · K_gᵀ / √d) · V_g with g = h / (H / Hkv).
Matrix AttendToCache(const MatrixRef& q, const KvCache& cache, int layer, int num_heads,
                     int num_kv_heads) {
  constexpr std::string_view kWhere = "AttendToCache";
  RequireLayer(kWhere, cache, layer);
  Require(num_heads >= 1 && num_kv_heads >= 1, kWhere,
          fmt::format("num_heads and num_kv_heads must be >= 1, got {} and {}", num_heads,
                      num_kv_heads));
  Require(q.rows() == 1 && q.cols() >= 1 && q.cols() % num_heads == 0, kWhere,
          fmt::format("q must be one row of num_heads = {} heads, got {}", num_heads,
                      ShapeOf(q)));
  Require(num_heads % num_kv_heads == 0, kWhere,
          fmt::format("num_kv_heads = {} must divide num_heads = {}", num_kv_heads, num_heads));
  const int d = static_cast<int>(q.cols()) / num_heads;
  Require(cache.kv_width() == num_kv_heads * d, kWhere,
          fmt::format("the cache's kv_width {} must be num_kv_heads · d = {} · {} = {}",
                      cache.kv_width(), num_kv_heads, d, num_kv_heads * d));
  const int n = cache.length(layer);
  Require(n >= 1, kWhere, fmt::format("layer {} of the cache is empty", layer));
  const MatrixRef keys = cache.Keys(layer, n);
  const MatrixRef values = cache.Values(layer, n);
  const int group = num_heads / num_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Matrix out(1, q.cols());
  for (int h = 0; h < num_heads; ++h) {
    const int g = h / group;
    Matrix s(1, n);
    s.noalias() = q.middleCols(h * d, d) * keys.middleCols(g * d, d).transpose();
    s *= scale;
    s = (s.array() - s.maxCoeff()).exp().matrix();  // subtract the max before exp
    s /= s.sum();
    out.middleCols(h * d, d).noalias() = s * values.middleCols(g * d, d);
  }
  return out;
}

// Step 4: the block of tiny_decoder.h for one row, K and V appended before attending.
Matrix DecodeStep(const tiny::Decoder& model, int token, KvCache& cache) {
  constexpr std::string_view kWhere = "DecodeStep";
  const tiny::DecoderConfig& c = model.config;
  Require(cache.num_layers() == c.num_layers, kWhere,
          fmt::format("the cache has num_layers {}, the model {}", cache.num_layers(),
                      c.num_layers));
  Require(cache.kv_width() == c.kv_width(), kWhere,
          fmt::format("the cache has kv_width {}, the model num_kv_heads · d = {} · {} = {}",
                      cache.kv_width(), c.num_kv_heads, c.head_dim(), c.kv_width()));
  const int position = cache.length();
  for (int l = 0; l < c.num_layers; ++l) {
    Require(cache.length(l) == position, kWhere,
            fmt::format("layer {} holds {} tokens, layer 0 holds {}", l, cache.length(l),
                        position));
  }
  Require(position < cache.capacity(), kWhere,
          fmt::format("the cache is full: length {} == capacity {}", position,
                      cache.capacity()));
  Matrix x = tiny::EmbedToken(model, token, position);  // checks token and position
  for (int l = 0; l < c.num_layers; ++l) {
    const tiny::LayerWeights& w = model.layers[static_cast<size_t>(l)];
    const Matrix a = tiny::RmsNorm(x, w.norm1);
    const Matrix q = a * w.wq;
    cache.Append(l, a * w.wk, a * w.wv);
    x += AttendToCache(q, cache, l, c.num_heads, c.num_kv_heads) * w.wo;
    x += tiny::FeedForward(tiny::RmsNorm(x, w.norm2), w);
  }
  return tiny::Logits(x, model);
}

std::int64_t KvBytesPerToken(int num_layers, int num_kv_heads, int head_dim,
                             int bytes_per_element) {
  Require(num_layers >= 1 && num_kv_heads >= 1 && head_dim >= 1 && bytes_per_element >= 1,
          "KvBytesPerToken",
          fmt::format("num_layers, num_kv_heads, head_dim, bytes_per_element must be >= 1, "
                      "got {}, {}, {}, {}",
                      num_layers, num_kv_heads, head_dim, bytes_per_element));
  return std::int64_t{2} * num_layers * num_kv_heads * head_dim * bytes_per_element;
}

namespace {

void RequireGeneration(std::string_view where, const tiny::Decoder& model,
                       const std::vector<int>& prompt, int num_tokens) {
  const int p = static_cast<int>(prompt.size());
  Require(p >= 1, where, "prompt must hold at least one token, got 0");
  Require(num_tokens >= 1, where, fmt::format("num_tokens must be >= 1, got {}", num_tokens));
  Require(p + num_tokens - 1 <= model.config.max_seq_len, where,
          fmt::format("prompt ({}) + num_tokens ({}) - 1 must be <= max_seq_len {}", p,
                      num_tokens, model.config.max_seq_len));
}

}  // namespace

// Step 6: Forward over p + i tokens for the i-th new token.
Generation GenerateUncached(const tiny::Decoder& model, const std::vector<int>& prompt,
                            int num_tokens) {
  RequireGeneration("GenerateUncached", model, prompt, num_tokens);
  Generation g;
  g.logits.resize(num_tokens, model.config.vocab_size);
  std::vector<int> ids = prompt;
  for (int i = 0; i < num_tokens; ++i) {
    const Matrix all = tiny::Forward(ids, model);
    g.token_forwards += static_cast<std::int64_t>(ids.size());
    g.logits.row(i) = all.row(all.rows() - 1);
    const int next = tiny::GreedyToken(g.logits.row(i));
    g.tokens.push_back(next);
    ids.push_back(next);
  }
  return g;
}

// Step 6: the prompt once, then one position per new token.
Generation GenerateCached(const tiny::Decoder& model, const std::vector<int>& prompt,
                          int num_tokens) {
  RequireGeneration("GenerateCached", model, prompt, num_tokens);
  const tiny::DecoderConfig& c = model.config;
  KvCache cache(c.num_layers, static_cast<int>(prompt.size()) + num_tokens - 1, c.kv_width());
  Generation g;
  g.logits.resize(num_tokens, c.vocab_size);
  Matrix last;
  for (int token : prompt) {
    last = DecodeStep(model, token, cache);
    ++g.token_forwards;
  }
  for (int i = 0; i < num_tokens; ++i) {
    if (i > 0) {
      last = DecodeStep(model, g.tokens.back(), cache);
      ++g.token_forwards;
    }
    g.logits.row(i) = last;
    g.tokens.push_back(tiny::GreedyToken(last));
  }
  return g;
}

}  // namespace llmk::kv_cache
