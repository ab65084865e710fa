// Reference transformer for kata 06: plain loops in double precision, written to be read,
// not to be fast. It has its own weight types (it does not include the kata's header), so
// a slip in the kata's structs or conventions cannot hide in the oracle too.
//
// T = tokens, N = memory tokens, D = model width, H = heads, d = D / H, F = FFN width,
// V = vocabulary. Projections are [in, out] and applied as x·W + b; an empty b is no bias.
#pragma once

#include <vector>

#include "attention_ref.h"
#include "llmk/core.h"

namespace llmk::reference::transformer {

enum class Act { kRelu, kGelu, kSwiGlu };
enum class Pos { kNone, kSinusoidal, kLearned, kRope };

struct Linear {
  MatrixD w;  // [in, out]
  MatrixD b;  // [1, out] or empty
};

struct Norm {
  MatrixD gamma;  // [1, D]
  MatrixD beta;   // [1, D]; empty for RMSNorm
};

struct Attention {
  Linear q, k, v, o;
};

struct Block {
  Attention self_attn;
  Attention cross_attn;      // used only when the block is given a memory
  Linear up, gate, down;     // gate only for SwiGLU
  Norm norm1, norm2, norm3;  // in the order of the sub-layers
};

struct Settings {
  int heads = 1;
  bool rms_norm = false;
  bool pre_norm = true;
  Act act = Act::kGelu;
  Pos pos = Pos::kNone;
  double eps = 1e-5;
  double rope_base = 10000.0;
};

struct Model {
  Settings s;
  MatrixD embed;      // [V, D]
  MatrixD pos_embed;  // [max_len, D] for Pos::kLearned
  std::vector<Block> encoder, decoder;
  Norm encoder_final, decoder_final;  // pre-norm only
  MatrixD lm_head;                    // [V, D]; empty means tied to embed
};

// a [n, k] · b [k, m]: the one naive product of the reference library.
using ::llmk::reference::MatMul;

// Rows ids[t] of table.
MatrixD Embed(const std::vector<int>& ids, const MatrixD& table);

// PE(p, 2i) = sin(p / 10000^(2i/D)), PE(p, 2i+1) = cos(p / 10000^(2i/D)).
MatrixD Sinusoidal(int num_positions, int model_dim);

// Pairs (2i, 2i+1) of each head rotated by (first_position + t)·base^(-2i/d).
MatrixD Rope(const MatrixD& x, int head_dim, double base, int first_position);

MatrixD LayerNorm(const MatrixD& x, const MatrixD& gamma, const MatrixD& beta, double eps);
MatrixD RmsNorm(const MatrixD& x, const MatrixD& gamma, double eps);

double Relu(double x);
double Gelu(double x);  // tanh form
double Silu(double x);

// x·w + b.
MatrixD Apply(const MatrixD& x, const Linear& l);

// act(x·up)·down, or (silu(x·gate) ⊙ x·up)·down.
MatrixD FeedForward(const MatrixD& x, const Linear& up, const Linear& gate, const Linear& down,
                    Act act);

// Multi-head attention of x to memory; `weights`, if given, receives one [T, N] matrix
// per head.
MatrixD MultiHeadAttention(const MatrixD& x, const MatrixD& memory, const Attention& w, int heads,
                           bool causal, bool rope, double rope_base,
                           std::vector<MatrixD>* weights = nullptr);

// One block; memory == nullptr means no cross-attention.
MatrixD BlockForward(const MatrixD& x, const MatrixD* memory, const Block& b, const Settings& s,
                     bool causal);

// Token embeddings plus the position table of s.pos.
MatrixD Input(const Model& m, const std::vector<int>& ids);

MatrixD EncoderOnly(const Model& m, const std::vector<int>& ids);  // [T, D]
MatrixD DecoderOnly(const Model& m, const std::vector<int>& ids);  // [T, V]
MatrixD EncoderDecoder(const Model& m, const std::vector<int>& source,
                       const std::vector<int>& target);  // [T, V]

}  // namespace llmk::reference::transformer
