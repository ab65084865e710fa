// Your implementation of kv_cache.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 07` after each change.
//
// Validate inputs first: a shape that does not fit throws llmk::InvalidArgument
// naming the argument and the shapes (llmk::RequireShape and llmk::Require in
// llmk/core.h build such messages for you). The model is in tiny_decoder.h.
#include "kv_cache.h"

namespace llmk::kv_cache {

// Step 1: allocate [capacity, kv_width] keys and values per layer, all empty.
KvCache::KvCache(int num_layers, int capacity, int kv_width) {
  throw NotImplemented("KvCache");
}

// Step 1: tokens in one layer.
int KvCache::length(int layer) const { throw NotImplemented("KvCache::length"); }

// Step 1: tokens in every layer.
int KvCache::length() const { throw NotImplemented("KvCache::length"); }

// Steps 1 and 2: check everything, then write row length(layer).
void KvCache::Append(int layer, const MatrixRef& k, const MatrixRef& v) {
  throw NotImplemented("KvCache::Append");
}

// Step 1: the first n rows of the keys.
MatrixRef KvCache::Keys(int layer, int n) const { throw NotImplemented("KvCache::Keys"); }

// Step 1: the first n rows of the values.
MatrixRef KvCache::Values(int layer, int n) const { throw NotImplemented("KvCache::Values"); }

// Step 1: every layer empty again.
void KvCache::Reset() { throw NotImplemented("KvCache::Reset"); }

// Step 5: bytes of the cached rows.
std::int64_t KvCache::BytesInUse() const { throw NotImplemented("KvCache::BytesInUse"); }

// Step 3: the new query against every cached key, head by head.
Matrix AttendToCache(const MatrixRef& q, const KvCache& cache, int layer, int num_heads,
                     int num_kv_heads) {
  throw NotImplemented("AttendToCache");
}

// Step 4: one token through every layer, appending its K and V.
Matrix DecodeStep(const tiny::Decoder& model, int token, KvCache& cache) {
  throw NotImplemented("DecodeStep");
}

// Step 5: 2 · L · Hkv · d · bytes.
std::int64_t KvBytesPerToken(int num_layers, int num_kv_heads, int head_dim,
                             int bytes_per_element) {
  throw NotImplemented("KvBytesPerToken");
}

// Step 6: recompute the whole prefix for every new token.
Generation GenerateUncached(const tiny::Decoder& model, const std::vector<int>& prompt,
                            int num_tokens) {
  throw NotImplemented("GenerateUncached");
}

// Step 6: one DecodeStep per token.
Generation GenerateCached(const tiny::Decoder& model, const std::vector<int>& prompt,
                          int num_tokens) {
  throw NotImplemented("GenerateCached");
}

}  // namespace llmk::kv_cache
