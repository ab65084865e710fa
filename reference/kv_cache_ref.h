// Reference of kata 07: the decoder of katas/07_kv_cache/tiny_decoder.h run over the
// whole sequence at once, in double precision with plain loops. Tests compare the
// float incremental decoding (one token at a time against a cache) with it.
//
// T = tokens, D = model width, H = query heads, Hkv = key/value heads, d = D / H,
// F = feed-forward width, V = vocabulary size.
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::reference {

struct DecoderLayerD {
  MatrixD norm1;   // [1, D]
  MatrixD wq;      // [D, H·d]
  MatrixD wk;      // [D, Hkv·d]
  MatrixD wv;      // [D, Hkv·d]
  MatrixD wo;      // [H·d, D]
  MatrixD norm2;   // [1, D]
  MatrixD w_up;    // [D, F]
  MatrixD w_down;  // [F, D]
};

struct DecoderD {
  int num_heads = 1;
  int num_kv_heads = 1;
  MatrixD embed;      // [V, D], also the output head
  MatrixD pos_embed;  // [max_seq_len, D]
  std::vector<DecoderLayerD> layers;
  MatrixD final_norm;  // [1, D]
};

// Causal grouped-query attention: row t of head h is softmax over keys 0..t of
// q_h·k_gᵀ/√d, times v_g, with g = h / (H / Hkv).
//   q [T, H·d], k [T, Hkv·d], v [T, Hkv·d] -> [T, H·d]
MatrixD CausalGroupedAttention(const MatrixD& q, const MatrixD& k, const MatrixD& v,
                               int num_heads, int num_kv_heads);

// Logits [T, V] of the pre-norm RMSNorm / GELU decoder for ids (each in [0, V)).
MatrixD DecoderLogits(const std::vector<int>& ids, const DecoderD& model);

}  // namespace llmk::reference
