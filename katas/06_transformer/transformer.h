// Kata 06: the transformer, block by block, in its three variants.
//
// The API of the kata. The stubs (katas/06_transformer/transformer.cc) and the solution
// (solutions/06_transformer/transformer.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
// Loading weights from a .safetensors file is in safetensors.h (step 12).
//
//   llmk::Matrix e = transformer::EmbedTokens({1, 2, 3}, model.embed);     // step 1
//   llmk::Matrix p = transformer::SinusoidalPositions(3, 4);               // step 2
//   llmk::Matrix q = transformer::ApplyRope(q0, /*head_dim=*/2);           // step 3
//   llmk::Matrix h = transformer::LayerNorm(x, gamma, beta);               // step 4
//   llmk::Matrix f = transformer::FeedForward(h, ffn, Activation::kGelu);  // step 5
//   llmk::Matrix a = transformer::MultiHeadAttention(h, h, attn, 2, {.causal = true});  // 6
//   llmk::Matrix r = transformer::Residual(x, norm, config, sublayer);     // step 7
//   llmk::Matrix y = transformer::EncoderBlock(x, block, config);          // step 8
//   llmk::Matrix z = transformer::DecoderBlock(x, memory, block, config);  // step 9
//   llmk::Matrix logits = transformer::DecoderOnlyForward({1, 2, 3}, model);  // step 10
//   int64_t n = transformer::CountParameters(config).total;                // step 11
//
// Dimensions:
//   T = tokens of a sequence (N = tokens of the memory in cross-attention)
//   D = model width, H = attention heads, d = D / H = head width
//   F = hidden width of the feed-forward network (usually 4·D; 8·D/3 for SwiGLU)
//   V = vocabulary size, L = blocks per stack (an encoder-decoder has L + L)
//
// Conventions:
//   - Rows are tokens: a sequence is [T, D].
//   - A projection is stored [in, out] and applied as x·W (+ b), as in kata 02. A bias
//     is a [1, out] row; an empty (0x0) bias means "no bias".
//   - The two vocabulary matrices, embed and lm_head, are [V, D]: one row per token.
//   - GELU is the tanh form (GPT-2's): gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
//   - LayerNorm and RMSNorm put eps inside the square root; the variance divides by D.
//   - RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head.
//   - Pre-norm: x + f(norm(x)). Post-norm: norm(x + f(x)). A pre-norm stack ends with a
//     final norm; a post-norm stack does not (its last block already ends with one).
//
// Errors: a shape that does not fit, a token id outside [0, V), a configuration whose
// numbers do not fit together (D not divisible by H, weights of another width than the
// configuration says) throw llmk::InvalidArgument whose message names the argument, the
// shape or value expected and the one given.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "llmk/core.h"

namespace llmk::transformer {

// ---------------------------------------------------------------------------------
// The configuration of a model.

enum class Architecture { kEncoderOnly, kDecoderOnly, kEncoderDecoder };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class NormPlacement { kPreNorm, kPostNorm };
enum class Activation { kRelu, kGelu, kSwiGlu };
// How the model learns where a token is: not at all, a fixed sinusoidal table added to
// the input, a learned table added to the input, or rotations of q and k (RoPE).
enum class Positions { kNone, kSinusoidal, kLearned, kRope };

struct Config {
  Architecture architecture = Architecture::kDecoderOnly;
  int vocab_size = 0;   // V
  int max_seq_len = 0;  // the context length: the longest sequence a forward pass accepts
  int model_dim = 0;    // D
  int num_heads = 0;    // H; must divide D
  int ffn_dim = 0;      // F
  int num_layers = 0;   // L, blocks per stack
  NormKind norm = NormKind::kLayerNorm;
  NormPlacement placement = NormPlacement::kPreNorm;
  Activation activation = Activation::kGelu;
  Positions positions = Positions::kSinusoidal;
  bool bias = true;             // attention and feed-forward projections have biases
  bool tied_embeddings = true;  // the output head reuses embed; otherwise lm_head
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
};

// ---------------------------------------------------------------------------------
// Weights. Every matrix has the shape its comment gives; "empty" means 0x0.

struct LinearWeights {
  Matrix weight;  // [in, out]
  Matrix bias;    // [1, out], or empty when the configuration has no biases
};

struct NormWeights {
  Matrix weight;  // [1, D], the gain γ
  Matrix bias;    // [1, D], the shift β of LayerNorm; empty for RMSNorm
};

struct AttentionWeights {
  LinearWeights q, k, v;  // [D, D] each: H heads of width d side by side
  LinearWeights o;        // [D, D]
};

struct FfnWeights {
  LinearWeights up;    // [D, F]: expand
  LinearWeights gate;  // [D, F]: SwiGLU only, empty otherwise
  LinearWeights down;  // [F, D]: contract
};

// One block. Norms are numbered in the order of the block's sub-layers:
// without cross-attention norm1 goes with self-attention and norm2 with the FFN;
// with cross-attention norm1 self-attention, norm2 cross-attention, norm3 the FFN.
struct BlockWeights {
  AttentionWeights self_attn;
  AttentionWeights cross_attn;  // decoder blocks of an encoder-decoder only
  FfnWeights ffn;
  NormWeights norm1, norm2, norm3;
};

struct StackWeights {
  std::vector<BlockWeights> layers;  // L blocks
  NormWeights final_norm;            // pre-norm stacks only; empty for post-norm
};

struct Model {
  Config config;
  Matrix embed;          // [V, D], token embeddings (and the output head when tied)
  Matrix pos_embed;      // [max_seq_len, D] when positions == kLearned, else empty
  StackWeights encoder;  // encoder-only and encoder-decoder
  StackWeights decoder;  // decoder-only and encoder-decoder
  Matrix lm_head;        // [V, D] when the model has an output head and is not tied
};

// ---------------------------------------------------------------------------------
// What the functions computed on the way, for the tests to check step by step.

struct FfnTrace {
  Matrix up;      // [T, F] x·W_up + b_up, before the activation
  Matrix gate;    // [T, F] x·W_gate + b_gate (SwiGLU only)
  Matrix hidden;  // [T, F] what W_down multiplies: act(up), or silu(gate) ⊙ up
};

struct AttentionTrace {
  Matrix q, k, v;               // [T, D], [N, D], [N, D] projections (q, k after RoPE)
  std::vector<Matrix> weights;  // per head: softmax weights [T, N]
  Matrix concat;                // [T, D] head outputs side by side, before W_o
};

struct BlockTrace {
  Matrix self_attn_in;  // [T, D] what self-attention reads: norm1(x) or x
  AttentionTrace self_attn;
  Matrix self_attn_out;    // [T, D] self-attention's output, after W_o
  Matrix after_self_attn;  // [T, D] x + out (pre-norm) or norm1(x + out) (post-norm)
  Matrix cross_attn_in;    // [T, D] the queries' side of cross-attention
  AttentionTrace cross_attn;
  Matrix cross_attn_out;
  Matrix after_cross_attn;
  Matrix ffn_in;  // [T, D] what the FFN reads
  FfnTrace ffn;
  Matrix ffn_out;  // [T, D]
  Matrix out;      // [T, D] the block's output
};

struct StackTrace {
  Matrix tokens;     // [T, D] token embeddings
  Matrix positions;  // [T, D] what was added for positions (zeros for kNone and kRope)
  Matrix input;      // [T, D] tokens + positions: what the first block reads
  std::vector<BlockTrace> layers;
  Matrix out;  // [T, D] after the final norm (pre-norm) or the last block
};

struct ModelTrace {
  StackTrace encoder;
  StackTrace decoder;
  Matrix logits;  // [T, V] (not for encoder-only)
};

// ---------------------------------------------------------------------------------
// Step 1. Token embedding.

// Returns the rows of `table` for the token ids: row t of the result is table(ids[t], :).
//   ids: T >= 1 ids, each in [0, V); table [V, D] -> [T, D].
Matrix EmbedTokens(const std::vector<int>& ids, const MatrixRef& table);

// ---------------------------------------------------------------------------------
// Step 2. Sinusoidal positional encoding.

// Computes the fixed position table of "Attention Is All You Need":
//   PE(p, 2i) = sin(p / 10000^(2i/D)),  PE(p, 2i+1) = cos(p / 10000^(2i/D)).
//   num_positions = T >= 1, model_dim = D >= 2 and even -> [T, D].
Matrix SinusoidalPositions(int num_positions, int model_dim);

// ---------------------------------------------------------------------------------
// Step 3. Rotary position embedding.

// Rotates every head of x by its position: row t is at position p = first_position + t;
// in each head, the pair (x[2i], x[2i+1]) turns by the angle p·θ_i, θ_i = base^(-2i/d):
//   (a, b) -> (a·cos − b·sin, a·sin + b·cos).
//   x [T, H·d] -> [T, H·d]. head_dim = d >= 2 and even, dividing x.cols();
//   base > 0; first_position >= 0.
Matrix ApplyRope(const MatrixRef& x, int head_dim, float base = 10000.0f, int first_position = 0);

// ---------------------------------------------------------------------------------
// Step 4. Layer norm and RMSNorm, applied to every row (token) separately.

// LayerNorm: y = γ ⊙ (x − μ) / √(σ² + eps) + β, with μ and σ² the mean and variance
// (divided by D) of the row.   x [T, D], gamma [1, D], beta [1, D] -> [T, D]. eps > 0.
Matrix LayerNorm(const MatrixRef& x, const MatrixRef& gamma, const MatrixRef& beta,
                 float eps = 1e-5f);

// RMSNorm: y = γ ⊙ x / √(mean(x²) + eps); no centring, no shift.
//   x [T, D], gamma [1, D] -> [T, D]. eps > 0.
Matrix RmsNorm(const MatrixRef& x, const MatrixRef& gamma, float eps = 1e-5f);

// LayerNorm(x, w.weight, w.bias, eps) or RmsNorm(x, w.weight, eps) by `kind`.
// For RMSNorm, w.bias must be empty.
Matrix ApplyNorm(const MatrixRef& x, const NormWeights& w, NormKind kind, float eps);

// ---------------------------------------------------------------------------------
// Step 5. Feed-forward networks.

// x·W + b (no b when w.bias is empty).   x [T, in], w.weight [in, out] -> [T, out].
Matrix Linear(const MatrixRef& x, const LinearWeights& w);

// Element-wise activations, any shape.
Matrix Relu(const MatrixRef& x);  // max(0, x)
Matrix Gelu(const MatrixRef& x);  // the tanh form, see the conventions above
Matrix Silu(const MatrixRef& x);  // x·σ(x) = x / (1 + exp(−x))

// The position-wise feed-forward network, applied to every token separately:
//   ReLU, GELU: act(x·W_up + b_up)·W_down + b_down
//   SwiGLU:     (silu(x·W_gate + b_gate) ⊙ (x·W_up + b_up))·W_down + b_down
//   x [T, D], up [D, F], gate [D, F] (SwiGLU only; empty otherwise), down [F, D]
//   -> [T, D]. F is up's width. If trace is not null, it is filled in.
Matrix FeedForward(const MatrixRef& x, const FfnWeights& w, Activation activation,
                   FfnTrace* trace = nullptr);

// ---------------------------------------------------------------------------------
// Step 6. Multi-head attention: self, causal, cross.

struct AttentionOptions {
  bool causal = false;  // query i sees keys 0..i only (needs T == N)
  bool rope = false;    // rotate q and k by their positions (0..T-1, 0..N-1) per head
  float rope_base = 10000.0f;
};

// Multi-head attention of queries from x to keys and values from memory:
//   Q = x·Wq + bq, K = memory·Wk + bk, V = memory·Wv + bv;
//   head h: softmax(Q_h·K_hᵀ / √d [masked]) · V_h, Q_h = columns h·d..h·d+d-1;
//   out = [head_0 | … | head_{H-1}]·Wo + bo.
// Self-attention passes x as memory too. x [T, D], memory [N, D] -> [T, D];
// H = num_heads divides D; every projection is [D, D]. If trace is not null, it is
// filled in.
Matrix MultiHeadAttention(const MatrixRef& x, const MatrixRef& memory, const AttentionWeights& w,
                          int num_heads, const AttentionOptions& options = {},
                          AttentionTrace* trace = nullptr);

// ---------------------------------------------------------------------------------
// Step 7. Residual connections, pre-norm and post-norm.

// A sub-layer of a block: self-attention, cross-attention or the FFN. [T, D] -> [T, D].
using Sublayer = std::function<Matrix(const MatrixRef&)>;

// Wraps a sub-layer in its residual connection and its norm (config.norm,
// config.norm_eps), placed as config.placement says:
//   pre-norm:  x + sublayer(norm(x))
//   post-norm: norm(x + sublayer(x))
//   x [T, D], norm.weight [1, D] -> [T, D]. The sub-layer must return [T, D].
Matrix Residual(const MatrixRef& x, const NormWeights& norm, const Config& config,
                const Sublayer& sublayer);

// ---------------------------------------------------------------------------------
// Step 8. The encoder block.

// Throws InvalidArgument unless the numbers of `config` fit together: V, D, H, F, L and
// max_seq_len >= 1; H divides D; D even for sinusoidal positions; d even for RoPE;
// norm_eps and rope_base positive and finite.
void ValidateConfig(const Config& config);

// One encoder block: bidirectional self-attention (RoPE if config.positions is kRope),
// then the FFN, each inside Residual with norm1 and norm2.
//   x [T, D] -> [T, D]. The weights must have the shapes the configuration gives.
Matrix EncoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace = nullptr);

// ---------------------------------------------------------------------------------
// Step 9. The decoder block.

// A decoder block without cross-attention (decoder-only models): masked (causal)
// self-attention, then the FFN, with norm1 and norm2. x [T, D] -> [T, D].
Matrix DecoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace = nullptr);

// A decoder block of an encoder-decoder: masked self-attention (norm1), cross-attention
// whose queries come from the decoder and keys and values from `memory`, the encoder's
// output (norm2; no RoPE), then the FFN (norm3). x [T, D], memory [N, D] -> [T, D].
Matrix DecoderBlock(const MatrixRef& x, const MatrixRef& memory, const BlockWeights& w,
                    const Config& config, BlockTrace* trace = nullptr);

// ---------------------------------------------------------------------------------
// Step 10. Encoder-only, decoder-only, encoder-decoder.

// Token embeddings plus the position table (sinusoidal, or rows 0..T-1 of pos_embed);
// nothing is added for kNone and kRope. T <= max_seq_len. -> [T, D].
Matrix InputEmbeddings(const std::vector<int>& ids, const Model& model,
                       StackTrace* trace = nullptr);

// The encoder stack: every block in turn, then the final norm of a pre-norm stack.
//   x [T, D] -> [T, D].
Matrix EncoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace = nullptr);

// The decoder stack of a decoder-only model (blocks without cross-attention), then the
// final norm of a pre-norm stack. x [T, D] -> [T, D].
Matrix DecoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace = nullptr);

// The decoder stack of an encoder-decoder: every block cross-attends to memory.
//   x [T, D], memory [N, D] -> [T, D].
Matrix DecoderStack(const MatrixRef& x, const MatrixRef& memory, const StackWeights& stack,
                    const Config& config, StackTrace* trace = nullptr);

// Logits over the vocabulary: h · embedᵀ when tied, h · lm_headᵀ otherwise.
//   h [T, D] -> [T, V].
Matrix OutputLogits(const MatrixRef& h, const Model& model);

// BERT-like: the final hidden states of the encoder, [T, D] (no output head).
Matrix EncoderOnlyForward(const std::vector<int>& ids, const Model& model,
                          ModelTrace* trace = nullptr);

// GPT-like: logits [T, V]; row t predicts the token after ids[0..t].
Matrix DecoderOnlyForward(const std::vector<int>& ids, const Model& model,
                          ModelTrace* trace = nullptr);

// The original Transformer, T5: the encoder reads `source` [N tokens], the decoder reads
// `target` [T tokens] and cross-attends to the encoder's output. -> logits [T, V].
// Both stacks share the token embedding (and the position table).
Matrix EncoderDecoderForward(const std::vector<int>& source, const std::vector<int>& target,
                             const Model& model, ModelTrace* trace = nullptr);

// ---------------------------------------------------------------------------------
// Step 11. Counting parameters.

// The number of trainable numbers of a configuration, by kind. Every norm, including
// the final ones, counts under `norms`; self- and cross-attention under `attention`.
struct ParameterCount {
  int64_t embedding = 0;  // the token embedding, V·D
  int64_t positions = 0;  // the learned position table, max_seq_len·D (else 0)
  int64_t attention = 0;
  int64_t ffn = 0;
  int64_t norms = 0;
  int64_t lm_head = 0;  // V·D when not tied and the model has an output head
  int64_t total = 0;
};

// Counts the parameters of a model of this configuration (validated first).
ParameterCount CountParameters(const Config& config);

}  // namespace llmk::transformer
