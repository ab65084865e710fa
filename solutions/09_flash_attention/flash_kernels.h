// The interface between the portable part of the solution (flash_attention.cc) and its
// AVX2 + FMA kernel (flash_attention_avx2.cc, the only file compiled with -mavx2 -mfma).
//
// Plain data and plain functions only. The AVX2 file must share no inline function or
// template instance with the rest of the program: the linker keeps one copy of each,
// and if it kept the AVX2 one, a CPU without AVX2 would crash in code that was meant
// to be portable. So the AVX2 file uses no Eigen and no std:: templates, and all
// threading, validation and dispatch live in flash_attention.cc.
//
// T = queries, N = keys, d = head width, d_pad = d rounded up to 16,
// Br = query rows of a block, Bc = keys of a tile (a multiple of 16 here).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmk::flash::internal {

// Keys and values are packed once per head, before any tile is computed:
//   packed keys   [panels][d][16]: panel p holds keys 16p .. 16p + 15 transposed, so the
//                 score micro-kernel loads 16 keys' c-th components with two aligned
//                 loads; keys past N are zero.            panels·d·16 floats
//   packed values [N][d_pad]: rows of v, zero past column d, so the P·V micro-kernel
//                 never needs a tail.                     N·d_pad floats
// Both buffers must be 32-byte aligned.
std::size_t PackedKeysFloats(int num_keys, int head_dim);
std::size_t PackedValuesFloats(int num_keys, int head_dim);

// Packs keys first_panel .. first_panel + num_panels - 1 of one head; k points at the
// head's first column of key 0, ldk is the row stride of k in floats.
void PackKeysAvx2(const float* k, std::ptrdiff_t ldk, int num_keys, int head_dim,
                  int first_panel, int num_panels, float* packed);
// Packs rows first_row .. first_row + num_rows - 1 of one head's values.
void PackValuesAvx2(const float* v, std::ptrdiff_t ldv, int head_dim, int first_row,
                    int num_rows, float* packed);

// Per-thread scratch of one query block: the score tile [Br, Bc], the unnormalized
// output [Br, d_pad], and m, l and the rescale factors [Br] each. 32-byte aligned.
std::size_t Avx2ScratchFloats(int block_q, int block_k, int head_dim);

// One block of query rows of one head, walked over every key tile it may see.
struct Avx2QueryBlock {
  const float* q = nullptr;   // the block's first query row, at the head's first column
  std::ptrdiff_t ldq = 0;     // row stride of q in floats
  int rows = 0;               // rows in this block (<= block_q)
  int first_row = 0;          // index of the block's first query in [0, T)
  int num_queries = 0;        // T
  int num_keys = 0;           // N
  int head_dim = 0;           // d
  int block_k = 0;            // Bc, a multiple of 16
  bool causal = false;        // query i sees keys j <= i + N - T
  float scale = 1.0f;         // 1/√d
  const float* packed_keys = nullptr;    // this head's packed keys
  const float* packed_values = nullptr;  // this head's packed values
  float* scratch = nullptr;   // Avx2ScratchFloats(block_q, block_k, d) floats
  float* out = nullptr;       // the block's first output row, at the head's first column
  std::ptrdiff_t ldo = 0;     // row stride of out
  float* lse = nullptr;       // the block's first logsumexp entry
  std::ptrdiff_t ld_lse = 0;  // stride between the rows' lse entries
  // Filled in: tiles computed, and how many of them needed the causal mask.
  std::int64_t tiles_computed = 0;
  std::int64_t tiles_masked = 0;
};

void ForwardQueryBlockAvx2(Avx2QueryBlock& block);

}  // namespace llmk::flash::internal
