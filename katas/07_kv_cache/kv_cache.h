// Kata 07: the KV cache, incremental decoding that gives the same tokens, much faster.
//
// The API of the kata. The stubs (katas/07_kv_cache/kv_cache.cc) and the solution
// (solutions/07_kv_cache/kv_cache.cc) implement this same header; the tests build
// against both. The model is provided in tiny_decoder.h. Read README.md beside this
// file for the derivation of every step.
//
//   kv_cache::KvCache cache(/*num_layers=*/2, /*capacity=*/16, /*kv_width=*/16);  // 1, 2
//   cache.Append(/*layer=*/0, k_row, v_row);                                       // step 1
//   llmk::Matrix o = kv_cache::AttendToCache(q_row, cache, 0, /*H=*/4, /*Hkv=*/2);  // step 3
//   llmk::Matrix logits = kv_cache::DecodeStep(model, token, cache);               // step 4
//   int64_t b = kv_cache::KvBytesPerToken(32, 8, 128, 2);                          // step 5
//   kv_cache::Generation g = kv_cache::GenerateCached(model, prompt, 32);           // step 6
//
// L = layers, H = query heads, Hkv = key/value heads, d = head width,
// W = Hkv·d = kv_width (the width of one token's K, and of its V, in one layer),
// p = prompt tokens, n = generated tokens, V = vocabulary size.
//
// Errors: a shape that does not fit, a layer or token out of range, head counts that do
// not fit together, and appending to a full cache throw llmk::InvalidArgument whose
// message names the argument, what was expected and what was given. A full cache is the
// caller's mistake, not a runtime condition: the caller chose the capacity knowing how
// many tokens it will decode. A failed call leaves the cache unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "llmk/core.h"
#include "tiny_decoder.h"

namespace llmk::kv_cache {

// Steps 1 and 2. The keys and values of every token decoded so far, per layer,
// in memory allocated once for `capacity` tokens.
class KvCache {
 public:
  // An empty cache. num_layers, capacity, kv_width >= 1.
  KvCache(int num_layers, int capacity, int kv_width);

  int num_layers() const { return num_layers_; }
  int capacity() const { return capacity_; }
  int kv_width() const { return kv_width_; }

  // Tokens cached in `layer`. 0 <= layer < num_layers.
  int length(int layer) const;
  // Tokens cached in every layer (a decode step appends to each layer in turn;
  // between steps all layers hold the same number).
  int length() const;

  // Appends one token's key and value to `layer` at row length(layer).
  //   k [1, W], v [1, W]; throws (and changes nothing) when the layer is full.
  void Append(int layer, const MatrixRef& k, const MatrixRef& v);

  // The first n cached keys / values of `layer`, without a copy. 0 <= n <= length(layer).
  //   -> [n, W]
  MatrixRef Keys(int layer, int n) const;
  MatrixRef Values(int layer, int n) const;

  // Forgets every token; keeps the memory and the capacity.
  void Reset();

  // Bytes of the cached entries: 2 (K and V) · Σ_layers length(layer) · W · sizeof(float).
  std::int64_t BytesInUse() const;

 private:
  int num_layers_ = 0;
  int capacity_ = 0;
  int kv_width_ = 0;
  std::vector<Matrix> keys_;    // per layer [capacity, W]; rows >= length are unused
  std::vector<Matrix> values_;  // per layer [capacity, W]
  std::vector<int> lengths_;    // per layer
};

// Step 3. The attention of ONE new query to every key cached in `layer` (its own key
// included: append first, then attend). Query head h reads cached head h / (H / Hkv):
//   out_h = softmax(q_h · K_gᵀ / √d) · V_g,  out = [out_0 | … | out_{H-1}].
//   q [1, H·d]; H divides q.cols(); Hkv divides H; cache.kv_width() == Hkv·d;
//   length(layer) >= 1 -> [1, H·d].
Matrix AttendToCache(const MatrixRef& q, const KvCache& cache, int layer, int num_heads,
                     int num_kv_heads);

// Step 4. Runs one new token through the model at position cache.length(): appends its
// K and V to every layer of the cache and returns its logits [1, V], equal (to float
// rounding) to the last row of tiny::Forward(all tokens so far).
// The cache must fit the model: num_layers == L, kv_width == Hkv·d, and not be full.
Matrix DecodeStep(const tiny::Decoder& model, int token, KvCache& cache);

// Step 5. Bytes of K and V that one token occupies in the cache of a whole model:
//   2 · num_layers · num_kv_heads · head_dim · bytes_per_element. Every argument >= 1.
std::int64_t KvBytesPerToken(int num_layers, int num_kv_heads, int head_dim,
                             int bytes_per_element);

// Step 6. The result of greedy generation.
struct Generation {
  std::vector<int> tokens;          // the n generated tokens
  Matrix logits;                    // [n, V]: row i is what chose tokens[i]
  std::int64_t token_forwards = 0;  // token positions run through the model in total
};

// Step 6. Greedy generation without a cache: for every new token, tiny::Forward over the
// prompt and everything generated so far, and take the last row's GreedyToken.
// Costs Σ_{i=0}^{n-1} (p + i) token forwards. p >= 1, n >= 1, p + n - 1 <= max_seq_len.
Generation GenerateUncached(const tiny::Decoder& model, const std::vector<int>& prompt,
                            int num_tokens);

// Step 6. The same tokens with a cache of capacity p + n - 1: DecodeStep over the
// prompt, then over each generated token but the last. Costs p + n - 1 token forwards.
Generation GenerateCached(const tiny::Decoder& model, const std::vector<int>& prompt,
                          int num_tokens);

}  // namespace llmk::kv_cache
