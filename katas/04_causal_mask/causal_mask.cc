// Your implementation of causal_mask.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 04` after each change.
//
// Validate inputs first: a shape that does not fit throws llmk::InvalidArgument
// naming the argument and the shapes (llmk::RequireShape and llmk::Require in
// llmk/core.h build such messages for you).
#include "causal_mask.h"

namespace llmk::causal {

// Step 1: mask(i, j) = (j <= i).
Mask CausalMask(int num_tokens) {
  throw NotImplemented("CausalMask");
}

// Step 2: scores where allowed, -infinity where not.
Matrix ApplyMask(const MatrixRef& scores, const Mask& mask) {
  throw NotImplemented("ApplyMask");
}

// Step 3: row softmax over the entries that are not -inf; a row of -inf gives zeros.
Matrix MaskedSoftmax(const MatrixRef& masked_scores) {
  throw NotImplemented("MaskedSoftmax");
}

// Step 4: MaskedSoftmax(ApplyMask(q·kᵀ / √d, mask)) · v.
Matrix MaskedAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       const Mask& mask, Matrix* weights) {
  throw NotImplemented("MaskedAttention");
}

// Step 4: MaskedAttention with the causal mask.
Matrix CausalAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       Matrix* weights) {
  throw NotImplemented("CausalAttention");
}

// Step 5: true on the columns of real tokens.
Mask KeyPaddingMask(int num_tokens, int length, PadSide side) {
  throw NotImplemented("KeyPaddingMask");
}

// Step 5: entry-wise AND.
Mask CombineMasks(const Mask& a, const Mask& b) {
  throw NotImplemented("CombineMasks");
}

// Step 5: causal AND key padding, one mask per sequence.
std::vector<Mask> BatchMasks(const std::vector<int>& lengths, int num_tokens, PadSide side) {
  throw NotImplemented("BatchMasks");
}

// Step 5: masked attention per sequence of the batch.
std::vector<Matrix> BatchedCausalAttention(const std::vector<Matrix>& q,
                                           const std::vector<Matrix>& k,
                                           const std::vector<Matrix>& v,
                                           const std::vector<int>& lengths, PadSide side,
                                           std::vector<Matrix>* weights) {
  throw NotImplemented("BatchedCausalAttention");
}

}  // namespace llmk::causal
