// Two small decoder-only language models and their KV cache, provided: you do not edit
// this file (except that KvCache::Truncate, Step 5, is yours to write in speculative.cc).
//
// Kata 16 speeds up generation from a large "target" model with a small "draft" model.
// This file gives both, a cache that remembers the keys and values of every position a
// model has seen (kata 07's idea, here with several tokens per call), the softmax and the
// inverse-CDF draw used for sampling, and the plain, one-token-at-a-time generation that
// speculative decoding must reproduce and beat.
//
//   tiny_lm::Model draft = tiny_lm::RandomModel(config, /*seed=*/1);
//   tiny_lm::Model target = tiny_lm::ExtendModel(draft, /*extra_layers=*/3,
//                                                /*extra_ffn_dim=*/64, /*correction=*/0.1f, 2);
//   tiny_lm::KvCache cache = tiny_lm::KvCache::For(target, /*capacity=*/32);
//   llmk::Matrix logits = tiny_lm::Forward(target, {3, 1, 4}, cache);   // [3, V]
//   std::vector<int> plain = tiny_lm::Generate(target, prompt, 16, /*greedy=*/true, rng);
//
// L = layers, D = model width, H = heads (H divides D), F = feed-forward width,
// V = vocabulary size, T = tokens of one call, P = positions already in the cache.
//
// The block is pre-norm with RMSNorm and a GELU feed-forward, no biases:
//   a = RmsNorm(x, norm1);  x = x + Attention(a)·Wo;  x = x + FeedForward(RmsNorm(x, norm2))
// Attention is causal multi-head: Q = a·Wq, K = a·Wk, V = a·Wv, all [T, D], head h is
// columns [h·d, (h+1)·d) with d = D / H. Positions are a learned table added to the token
// embedding. Logits are RmsNorm(x, final_norm)·head.
//
// How the target relates to the draft (README, "The provided models"): ExtendModel copies
// every weight of the draft and appends layers whose output projections (Wo, W_down) are
// scaled by `correction`, so the target's residual stream is the draft's plus a small
// change and its next-token distribution stays close to the draft's. The extra layers make
// the target cost several times the draft per token.
#pragma once

#include <cstdint>
#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::tiny_lm {

// One probability per vocabulary token, [V], in double.
using Probs = Eigen::RowVectorXd;
using ProbsRef = Eigen::Ref<const Probs>;

struct Config {
  int vocab_size = 16;     // V
  int model_dim = 16;      // D
  int num_heads = 2;       // H, divides D
  int ffn_dim = 32;        // F
  int num_layers = 1;      // L
  int max_seq_len = 64;    // the longest sequence the position table covers
  float logit_std = 2.0f;  // the head is N(0, logit_std² / D): logits of about this size
};

// Throws InvalidArgument unless every size is >= 1, H divides D and logit_std > 0.
void ValidateConfig(const Config& config);

struct Layer {
  Matrix norm1;   // [1, D]
  Matrix wq;      // [D, D]
  Matrix wk;      // [D, D]
  Matrix wv;      // [D, D]
  Matrix wo;      // [D, D]
  Matrix norm2;   // [1, D]
  Matrix w_up;    // [D, F] (F may differ from layer to layer)
  Matrix w_down;  // [F, D]
};

struct Model {
  int vocab_size = 0;   // V
  int model_dim = 0;    // D
  int num_heads = 0;    // H
  int max_seq_len = 0;  // rows of pos_embed
  Matrix embed;         // [V, D]
  Matrix pos_embed;     // [max_seq_len, D]
  std::vector<Layer> layers;
  Matrix final_norm;  // [1, D]
  Matrix head;        // [D, V]
};

// A model with seeded random weights (llmk::Rng): the same seed gives the same model
// everywhere. Projections are N(0, 1/in), embeddings N(0, 1), gains 1 + N(0, 0.1²).
Model RandomModel(const Config& config, std::uint64_t seed);

// The draft's weights, all of them, followed by `extra_layers` new layers with F =
// extra_ffn_dim whose Wo and W_down are multiplied by `correction`.
// extra_layers >= 0, extra_ffn_dim >= 1, correction finite.
Model ExtendModel(const Model& draft, int extra_layers, int extra_ffn_dim, float correction,
                  std::uint64_t seed);

// The keys and values of the first length() positions of a sequence, per layer, in memory
// allocated once for `capacity` positions. Rows at and after length() are zero: a new cache
// is all zeros, and Truncate zeroes what it forgets, so no row of a dropped token remains.
class KvCache {
 public:
  // An empty cache. num_layers, capacity, model_dim >= 1.
  KvCache(int num_layers, int capacity, int model_dim);
  // An empty cache that fits `model` (its L and D).
  static KvCache For(const Model& model, int capacity);

  int num_layers() const { return num_layers_; }
  int capacity() const { return capacity_; }
  int model_dim() const { return model_dim_; }
  // Positions cached (the same in every layer).
  int length() const { return length_; }

  // The cached keys / values of `layer`, without a copy: [length, D].
  MatrixRef Keys(int layer) const;
  MatrixRef Values(int layer) const;
  // The whole storage of `layer`, [capacity, D]: what a test inspects to see that nothing
  // of a dropped position is left behind.
  const Matrix& KeyStorage(int layer) const;
  const Matrix& ValueStorage(int layer) const;

  // Appends the keys and values of T new positions to every layer: rows
  // [length, length + T). keys[l], values[l] are [T, D]; one entry per layer; T >= 1;
  // length + T <= capacity. Throws and changes nothing otherwise.
  void Append(const std::vector<Matrix>& keys, const std::vector<Matrix>& values);

  // Step 5 of the kata (yours, in speculative.cc): keeps the first `length` positions of
  // every layer, forgets the rest and zeroes their rows, so that the cache equals one that
  // was only ever given those positions. 0 <= length <= length().
  void Truncate(int length);

 private:
  int num_layers_ = 0;
  int capacity_ = 0;
  int model_dim_ = 0;
  int length_ = 0;
  std::vector<Matrix> keys_;    // per layer [capacity, D]; rows >= length_ are zero
  std::vector<Matrix> values_;  // per layer [capacity, D]
};

// Runs T new tokens through the model at positions cache.length() .. + T - 1, each
// attending to every cached position and to the new ones before it, appends their keys
// and values to the cache, and returns their logits: row t predicts the token after
// tokens[t]. One call of T tokens is one "pass" of the model: the weights are read once
// for all T, which is why checking γ drafted tokens costs about as much as one token.
// The cache must fit the model and have room; tokens in [0, V); T >= 1.
//   -> [T, V]
Matrix Forward(const Model& model, const std::vector<int>& tokens, KvCache& cache);

// The logits [T, V] of a whole sequence from an empty cache (Forward on a fresh cache).
Matrix ForwardAll(const Model& model, const std::vector<int>& tokens);

// softmax of one row of logits, computed in double: exp(z_i - max z) / Σ_j exp(z_j - max z).
//   logits_row [1, V] -> [V]
Probs Softmax(const MatrixRef& logits_row);

// The index of the largest logit; the lowest index wins a tie.   logits_row [1, V].
int Argmax(const MatrixRef& logits_row);

// Inverse-CDF draw: the first token i with u < Σ_{j <= i} probs_j (sums in double). A token
// of probability 0 is never returned; if rounding leaves u at or above the total, the last
// token of positive probability is. u in [0, 1); probs non-negative with a positive sum.
int DrawToken(const ProbsRef& probs, double u);

// Plain generation, the baseline: the prompt in one pass, then one pass per new token.
// Greedy takes Argmax of each last row; sampling takes DrawToken(Softmax(row),
// rng.Uniform()), one uniform per generated token. Returns the num_tokens new tokens.
// prompt non-empty, num_tokens >= 1, prompt + num_tokens <= max_seq_len.
std::vector<int> Generate(const Model& model, const std::vector<int>& prompt, int num_tokens,
                          bool greedy, Rng& rng);

}  // namespace llmk::tiny_lm
