// Kata 04: causal masking, fully masked rows, and padding masks for a batch.
//
// The API of the kata. The stubs (katas/04_causal_mask/causal_mask.cc) and the solution
// (solutions/04_causal_mask/causal_mask.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   causal::Mask m = causal::CausalMask(4);                  // step 1: j <= i
//   llmk::Matrix z = causal::ApplyMask(scores, m);           // step 2: -inf where masked
//   llmk::Matrix p = causal::MaskedSoftmax(z);               // step 3: rows of weights
//   llmk::Matrix o = causal::CausalAttention(q, k, v, &p);   // step 4: all of it
//   std::vector<llmk::Matrix> out =                          // step 5: a padded batch
//       causal::BatchedCausalAttention(qs, ks, vs, {4, 2}, causal::PadSide::kLeft);
//
// T = tokens (query length, and key length in self-attention), N = key/value length,
// B = sequences in a batch, d = head width (of q and k), d_v = width of v.
//
// Masks. A Mask is a boolean matrix, mask(i, j) = true when query i may attend to key j.
// Boolean rather than additive (0 / -inf) because: masks combine with a logical AND
// (causal AND padding), which is exact, where adding -inf to -inf or to a +inf score is
// fragile; a fully masked row is visible as a row without a true; a fixture can hold 0/1
// but JSON has no -inf; and the test of "weights are zero where masked" reads the mask
// directly. The additive form appears in exactly one place, ApplyMask (step 2), because
// that is what the softmax needs: exp(-inf) = 0 exactly.
//
// Fully masked rows. A row of scores that is -inf everywhere (a query allowed to see no
// key, e.g. a left-padding position) has no softmax. This kata defines its weights as a
// row of zeros, so its attention output is a row of zeros. Never NaN, never 0/0.
//
// Errors: a shape that does not fit, an empty sequence (T = 0), a length outside
// [0, T], a batch whose parts disagree in size, throw llmk::InvalidArgument whose
// message names the argument, the shape (or value) expected and the one given.
#pragma once

#include <vector>

#include "llmk/core.h"

namespace llmk::causal {

// mask(i, j) == true: query i may attend to key j. Row-major like llmk::Matrix.
using Mask = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Where the padding of a shorter sequence goes: after its tokens (kRight, the usual
// layout for training) or before them (kLeft, the usual layout for batched generation,
// so that every sequence's newest token is in the last row).
enum class PadSide { kRight, kLeft };

// Step 1. The causal mask of T tokens: token i may attend to tokens 0..i (itself and
// the past), never to i+1..T-1 (the future). mask(i, j) = (j <= i).
//   num_tokens = T >= 1 -> [T, T]
Mask CausalMask(int num_tokens);

// Step 2. Applies a mask to scores before the softmax: returns a copy of scores with
// every forbidden entry replaced by -infinity. Allowed entries are copied bit for bit;
// forbidden entries become -inf whatever they held (even +inf or NaN).
//   scores [T, N], mask [T, N] -> [T, N]. T, N >= 1.
Matrix ApplyMask(const MatrixRef& scores, const Mask& mask);

// Step 3. Row softmax over the entries that are not -inf:
//   p(i, j) = exp(z(i, j) - m_i) / Σ_l exp(z(i, l) - m_i),   m_i = max_l z(i, l),
// where m_i is therefore the max of the unmasked entries. -inf entries get weight
// exactly 0; the unmasked entries of a row sum to 1. A row that is -inf everywhere
// gets weights all 0 (see "Fully masked rows" above). Finite logits of any size
// (±1e30, ±3e38) next to -inf entries are fine.
//   masked_scores [T, N] -> [T, N]. T, N >= 1; entries finite or -inf. A NaN or +inf
//   entry throws InvalidArgument naming masked_scores and its row ("row 2").
Matrix MaskedSoftmax(const MatrixRef& masked_scores);

// Step 4. Masked scaled dot-product attention:
//   MaskedSoftmax(ApplyMask(q·kᵀ / √d, mask)) · v,   d = q.cols().
// A row of mask without a true gives a row of zeros in the output.
// If weights is not null, it receives the softmax weights [T, N].
//   q [T, d], k [N, d], v [N, d_v], mask [T, N] -> [T, d_v]
Matrix MaskedAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       const Mask& mask, Matrix* weights = nullptr);

// Step 4. Causal self-attention: MaskedAttention with CausalMask(T). Output row t
// depends only on rows 0..t of q, k and v.
//   q [T, d], k [T, d], v [T, d_v] -> [T, d_v]; weights (if not null) [T, T]
Matrix CausalAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       Matrix* weights = nullptr);

// Step 5. The key-padding mask of one sequence of `length` real tokens padded to T:
// mask(i, j) = true when key j is a real token (j < length for kRight,
// j >= T - length for kLeft), for every query i. No query attends to padding.
//   num_tokens = T >= 1, 0 <= length <= T -> [T, T]. A bad length is named as
//   "length = 5" in the message, with num_tokens.
Mask KeyPaddingMask(int num_tokens, int length, PadSide side);

// Step 5. Both masks at once: mask(i, j) = a(i, j) AND b(i, j).
//   a [T, N], b [T, N] -> [T, N]
Mask CombineMasks(const Mask& a, const Mask& b);

// Step 5. One mask per sequence of a batch padded to T tokens:
//   CombineMasks(CausalMask(T), KeyPaddingMask(T, lengths[b], side)).
// With kLeft padding, the padding rows see no key at all: fully masked rows.
//   lengths: B >= 1 entries, each in [0, T]; num_tokens = T >= 1 -> B masks [T, T].
//   A bad length is named as "lengths[1] = 5" in the message, with num_tokens.
std::vector<Mask> BatchMasks(const std::vector<int>& lengths, int num_tokens, PadSide side);

// Step 5. Causal self-attention over a padded batch: sequence b is
// MaskedAttention(q[b], k[b], v[b], BatchMasks(lengths, T, side)[b]). The real tokens'
// outputs equal causal attention over the unpadded sequence; the outputs at padding
// positions are zero (kLeft) or a mixture of real tokens that a caller ignores (kRight).
// If weights is not null, it receives the B weight matrices [T, T].
//   q, k: B matrices [T, d]; v: B matrices [T, d_v]; lengths: B entries in [0, T]
//   -> B matrices [T, d_v]
// Errors name the part: a batch size mismatch as "q has 3 sequences, lengths has 2"
// (or k, v), a matrix of the wrong shape as "q[1]" with both shapes, lengths as above.
std::vector<Matrix> BatchedCausalAttention(const std::vector<Matrix>& q,
                                           const std::vector<Matrix>& k,
                                           const std::vector<Matrix>& v,
                                           const std::vector<int>& lengths, PadSide side,
                                           std::vector<Matrix>* weights = nullptr);

}  // namespace llmk::causal
