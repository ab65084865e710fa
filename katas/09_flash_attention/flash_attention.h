// Kata 09: flash attention. Online softmax, tiles, the logsumexp, causal tile
// skipping, the backward pass by recomputation, and the memory argument.
//
// The API of the kata. The stubs (katas/09_flash_attention/flash_attention.cc) and the
// solution (solutions/09_flash_attention/) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   flash::SoftmaxState s;                                     // step 1: empty state
//   s = flash::OnlineSoftmaxUpdate(s, scores_block, v_block);  //   fold in a block
//   llmk::Matrix o = flash::OnlineSoftmaxOutput(s);            //   õ / l
//   s = flash::MergeSoftmaxStates(a, b);                       // step 2
//
//   flash::FlashOptions opt;                                   // steps 3 to 5
//   opt.block_q = 64; opt.block_k = 64; opt.causal = true;
//   std::vector<float> ws(flash::ForwardWorkspaceSize(T, N, d, opt));
//   flash::FlashOutput f = flash::FlashForward(q, k, v, opt, ws);   // f.out, f.lse
//   std::vector<float> wb(flash::BackwardWorkspaceSize(T, N, d, opt));
//   flash::FlashGradients g =                                  // step 6
//       flash::FlashBackward(q, k, v, f.out, f.lse, dout, opt, wb);
//
// T = query tokens, N = key/value tokens, d = head width (d_k = d_v = d),
// H = heads, Br = block_q (query rows per tile), Bc = block_k (keys per tile),
// B = the length of one block of a stream (steps 1 and 2), d_v = width of a value.
//
// Layout. Heads sit side by side in the columns, as in kata 02: q is [T, H·d] and head
// h owns columns h·d .. h·d + d - 1 of q, k, v, out, dq, dk and dv. Every head attends
// with the scale 1/√d.
//
// Causal. With options.causal, query i may attend to key j when j <= i + (N - T): the
// queries are the last T of the N tokens (T = N is ordinary causal self-attention,
// T < N is a chunk of new queries against a cache). T > N is rejected, so every query
// sees at least one key.
//
// Memory. FlashForward and FlashBackward take their scratch memory from the caller:
// ask ForwardWorkspaceSize / BackwardWorkspaceSize how many floats they need, allocate
// once and reuse. Besides that workspace and their results they allocate nothing of
// size T·N; step 7 counts it.
//
// Errors: a shape that does not fit, an empty matrix, a head count that does not divide
// the width, a negative block size, fewer than one thread, T > N with causal, or a
// workspace that is too small throw llmk::InvalidArgument whose message names the
// argument, what was expected and what was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "llmk/core.h"

namespace llmk::flash {

// ---------------------------------------------------------------------------------
// Steps 1 and 2: the state of a softmax-weighted average over a stream.

// What the stream has contributed so far, for scores s_1..s_n and values v_1..v_n:
//   max = m = max_j s_j
//   sum = l = Σ_j exp(s_j - m)
//   acc = õ = Σ_j exp(s_j - m) · v_j          (unnormalized; the output is õ / l)
// The default state is the empty stream: m = -inf, l = 0, acc with zero columns.
struct SoftmaxState {
  float max = -std::numeric_limits<float>::infinity();  // m
  float sum = 0.0f;                                      // l
  Matrix acc;                                            // õ [1, d_v]; empty (0x0) at first
};

// Step 1. Folds one block of the stream into the state and returns the new state:
//   m' = max(m, max_j s_j),  l' = l·exp(m - m') + Σ_j exp(s_j - m'),
//   õ' = õ·exp(m - m') + Σ_j exp(s_j - m')·v_j.
// A state whose max is -inf (nothing seen, or only -inf scores) is rescaled by 0, never
// by exp(-inf - (-inf)) = NaN. Scores may be -inf (masked); then they add nothing.
//   scores [1, B], values [B, d_v]; B, d_v >= 1; state.acc [1, d_v] or empty.
SoftmaxState OnlineSoftmaxUpdate(const SoftmaxState& state, const MatrixRef& scores,
                                 const MatrixRef& values);

// Step 1. The softmax-weighted average of the values seen: õ / l, [1, d_v]. A state
// with l = 0 (every score was -inf) gives zeros, as a fully masked row does in kata 04.
// A state that has seen no block (acc with zero columns) is rejected.
Matrix OnlineSoftmaxOutput(const SoftmaxState& state);

// Step 2. The state of the concatenated stream a ++ b, from the two states alone:
//   m = max(m_a, m_b),  l = l_a·exp(m_a - m) + l_b·exp(m_b - m),  õ likewise.
// Associative and commutative; the empty state is its identity. A state with an empty
// acc counts as empty; otherwise the two acc must have the same width.
SoftmaxState MergeSoftmaxStates(const SoftmaxState& a, const SoftmaxState& b);

// ---------------------------------------------------------------------------------
// Steps 3 to 7: flash attention.

// Which kernel runs FlashForward. kAuto picks the fastest the CPU supports (checked at
// run time); kScalar is plain C++; kAvx2 is the AVX2 + FMA kernel of the solution and is
// rejected on a CPU without AVX2 and FMA. A learner's implementation is scalar: it
// treats kAuto and kAvx2 as kScalar. FlashBackward has one kernel and ignores backend.
enum class Backend { kAuto, kScalar, kAvx2 };

struct FlashOptions {
  // Tile sizes Br and Bc; 0 lets the implementation choose (kDefaultBlock for a scalar
  // kernel). Any positive value is valid; the result does not depend on them beyond
  // rounding (the AVX2 kernel rounds block_k up to a multiple of 16).
  int block_q = 0;
  int block_k = 0;
  bool causal = false;  // query i sees key j <= i + N - T (step 5)
  int num_heads = 1;    // H; q, k, v are [rows, H·d]
  int num_threads = 1;  // >= 1; work is split across heads and query blocks
  Backend backend = Backend::kAuto;
};

// The tile size a scalar kernel uses when FlashOptions leaves it at 0.
inline constexpr int kDefaultBlock = 64;

// How many (query block, key block) tiles a forward pass computed, summed over heads.
// masked counts those of them that needed the causal mask inside (step 5).
struct TileCounts {
  std::int64_t computed = 0;
  std::int64_t masked = 0;
};

struct FlashOutput {
  Matrix out;  // O [T, H·d] = softmax(q·kᵀ/√d)·v per head
  Matrix lse;  // L [T, H]: L(i, h) = log Σ_j exp(s_ij), s = q_h·k_hᵀ/√d (step 4)
  TileCounts tiles;
};

// Step 3. How many floats of workspace FlashForward needs for these sizes and options
// (d = head width). Step 7: O((T + N)·H·d + threads·(Br·Bc + (Br + Bc)·d)), never T·N.
std::size_t ForwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                 const FlashOptions& options);

// Steps 3, 4 and 5. Attention by tiles: for each block of Br queries, walk the keys in
// blocks of Bc, keep per row the running max m, sum l and unnormalized output õ (step 1),
// rescale õ when m grows, and divide by l once at the end. Also returns the logsumexp
// L = m + log l of every row and head. With options.causal, skips the tiles that lie
// entirely above the diagonal and masks only the tiles that straddle it.
//   q [T, H·d], k [N, H·d], v [N, H·d] -> out [T, H·d], lse [T, H].
//   workspace: at least ForwardWorkspaceSize(T, N, d, options) floats; any contents.
FlashOutput FlashForward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                         const FlashOptions& options, std::span<float> workspace);

// Step 6. D(i, h) = Σ_c dout(i, c)·out(i, c) over the columns c of head h: the term
// the softmax backward subtracts, D = rowsum(dO ∘ O).
//   out [T, H·d], dout [T, H·d] -> [T, H]
Matrix BackwardRowSums(const MatrixRef& out, const MatrixRef& dout, int num_heads);

struct FlashGradients {
  Matrix dq;  // [T, H·d]
  Matrix dk;  // [N, H·d]
  Matrix dv;  // [N, H·d]
};

// Step 6. How many floats of workspace FlashBackward needs. Step 7: O((T + N)·H·d +
// threads·(T·H·d + Br·Bc + (Br + Bc)·d)) (each thread may keep its own dQ), never T·N.
std::size_t BackwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                  const FlashOptions& options);

// Step 6. Gradients of a loss with respect to q, k and v, given dout = ∂loss/∂out.
// Recomputes the weights tile by tile from the saved logsumexp, P = exp(S - L), and
// never stores them whole:
//   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ∘ (dP - D),  dQ = dS·K/√d,  dK = dSᵀ·Q/√d.
//   q, k, v as in FlashForward; out [T, H·d] and lse [T, H] from FlashForward on them;
//   dout [T, H·d]. options as for the forward (causal, heads, blocks, threads).
FlashGradients FlashBackward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                             const MatrixRef& out, const MatrixRef& lse,
                             const MatrixRef& dout, const FlashOptions& options,
                             std::span<float> workspace);

}  // namespace llmk::flash
